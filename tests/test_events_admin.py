"""The shared webhook pipeline: failures retry with backoff; admins inspect and replay."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select

from provisioning.db import utcnow
from provisioning.events import MAX_ATTEMPTS, WebhookEvent, due_retries, mark_processed, store_event
from provisioning.partners import Provider


def stored(session, payload: dict, provider=Provider.META) -> WebhookEvent:
    event_id = store_event(
        session, provider, f"k{json.dumps(payload)}", "test", json.dumps(payload).encode()
    )
    session.commit()
    return session.get(WebhookEvent, event_id)


def test_failures_back_off_then_stop(session):
    event = stored(session, {"entry": []})
    for attempt in range(1, MAX_ATTEMPTS + 1):
        mark_processed(event, "boom")
        if attempt < MAX_ATTEMPTS:
            assert event.next_attempt_at > utcnow() + dt.timedelta(seconds=29 * 2 ** (attempt - 1))
    assert event.next_attempt_at is None and event.attempts == MAX_ATTEMPTS
    session.commit()
    assert due_retries(session) == []


def test_due_events_are_retried_by_the_periodic_job(app, session):
    event = stored(session, {"object": "whatsapp_business_account", "entry": []})
    mark_processed(event, "database was away")
    event.next_attempt_at = utcnow() - dt.timedelta(seconds=1)
    session.commit()
    runner = app.extensions["job_runner"]
    runner.enqueue("webhooks.retry_failed")
    runner.drain()
    session.refresh(event)
    assert event.processed_at is not None and event.error is None and event.attempts == 2


def test_admins_see_failures_with_secrets_masked_and_replay(app, client, auth, make, session):
    event = stored(session, {"entry": [], "access_token": "EAAG-very-secret", "name": "x"})
    mark_processed(event, "KeyError: 'entry'")
    session.commit()
    auth.login(make.admin())
    listing = client.get("/admin/events/?state=failed").get_data(as_text=True)
    assert f">{event.id}<" in listing and "failed" in listing
    page = client.get(f"/admin/events/{event.id}").get_data(as_text=True)
    assert "EAAG-very-secret" not in page and "***" in page and "KeyError" in page
    auth.post(f"/admin/events/{event.id}/replay", form_page=f"/admin/events/{event.id}")
    app.extensions["job_runner"].drain()
    session.refresh(event)
    assert event.processed_at is not None and event.error is None


def test_members_cannot_see_events(client, auth, make, session):
    event = stored(session, {"entry": []})
    company = make.company()
    auth.login(make.user(company))
    assert client.get("/admin/events/").status_code == 404
    assert client.get(f"/admin/events/{event.id}").status_code == 404
    assert session.scalars(select(WebhookEvent)).one().id == event.id
