"""``flask sync quality``, the sync jobs, and which WABAs a Meta webhook refreshes."""

from __future__ import annotations

import datetime as dt
import itertools
import json

from sqlalchemy import select

from portal.extensions import db
from portal.jobs import enqueue
from portal.jobs.sync import refresh_wabas_named_in
from provisioning.channels import Channel
from provisioning.events import WebhookEvent
from provisioning.meta.models import MetaWhatsAppClient
from provisioning.meta.sync import MetaWabaRefresh, clients_to_refresh
from provisioning.partners import Provider
from provisioning.sync import SyncRun


def invoke(app, *args: str):
    return app.test_cli_runner().invoke(args=["sync", "quality", *args])


def test_the_command_prints_what_each_provider_pass_did(app, session, fleet):
    setup = fleet()
    result = invoke(app)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    # default pages of 100: one call per WABA and subaccount, one 360dialog page
    assert lines == [
        "meta: succeeded, 2 call(s), 6 seen, 6 changed, 0 to reauthorize, 0 error(s)",
        "dialog360: succeeded, 1 call(s), 6 seen, 6 changed, 0 to reauthorize, 0 error(s)",
        "twilio: succeeded, 2 call(s), 6 seen, 6 changed, 0 to reauthorize, 0 error(s)",
    ]
    again = invoke(app, "--provider", "meta")
    assert again.output.splitlines() == [
        "meta: succeeded, 2 call(s), 6 seen, 0 changed, 0 to reauthorize, 0 error(s)"
    ]
    assert setup.calls(Provider.META) == 4


def test_the_command_takes_a_company_slug(app, session, fleet):
    setup = fleet()
    company = setup.companies[1]
    result = invoke(app, "--company", company.slug, "--provider", "twilio")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("twilio: succeeded, 1 call(s), 3 seen, 3 changed")
    run = session.scalars(select(SyncRun)).one()
    assert run.company_id == company.id


def test_bad_options_are_explained_without_a_traceback(app, session, fleet):
    fleet()
    unknown = invoke(app, "--company", "no-such-company")
    assert unknown.exit_code == 2 and "no company has the slug 'no-such-company'" in (
        unknown.output
    )
    wrong = invoke(app, "--provider", "telegram")
    assert wrong.exit_code == 2 and "'telegram' is not one of" in wrong.output
    assert session.scalars(select(SyncRun)).all() == []


def test_a_pass_that_failed_entirely_exits_non_zero(app, session, fleet):
    setup = fleet()
    config = setup.sandbox.configs[Provider.DIALOG360]
    config.secrets = {**config.secrets, "api_key": "revoked-key"}
    session.commit()
    result = invoke(app, "--provider", "dialog360")
    assert result.exit_code == 1
    assert result.output.startswith("dialog360: failed, 1 call(s), 0 seen, 0 changed")
    assert "360dialog channels from 0: dialog360: Invalid API key" in result.output


def test_the_quality_job_syncs_every_provider_and_changes_nothing_twice(app, session, fleet):
    fleet()
    with app.app_context():
        enqueue("sync.quality")
        enqueue("sync.quality", "twilio")
    first, second = app.extensions["job_runner"].drain()
    assert len(first) == 3 and len(second) == 1
    runs = {run.id: run for run in session.scalars(select(SyncRun))}
    assert sum(runs[i].changed for i in first) == 18 and runs[second[0]].changed == 0


def test_the_waba_job_lists_one_waba_once(app, session, fleet):
    setup = fleet()
    waba = setup.fleet.meta[1]
    client = session.scalars(
        select(MetaWhatsAppClient).where(MetaWhatsAppClient.waba_id == waba.waba_id)
    ).one()
    with app.app_context():
        enqueue("sync.meta_wabas", client.company_id, client.id)
    (run_id,) = app.extensions["job_runner"].drain()
    run = session.get(SyncRun, run_id)
    assert (run.provider, run.company_id, run.calls, run.changed) == (
        Provider.META, client.company_id, 1, 3,
    )  # fmt: skip
    assert setup.calls(Provider.META) == 1
    refreshed = session.scalars(select(Channel).where(Channel.quality_rating == "GREEN")).all()
    assert {c.provider_ref for c in refreshed} == set(waba.phone_number_ids)


_deliveries = itertools.count(1)


def stored_event(session, *changes: tuple[str, str]) -> WebhookEvent:
    entries = [
        {"id": waba_id, "time": 1767225600 + next(_deliveries),
         "changes": [{"field": field, "value": {}}]}
        for waba_id, field in changes
    ]  # fmt: skip
    body = json.dumps({"object": "whatsapp_business_account", "entry": entries})
    event = WebhookEvent(
        provider=Provider.META, dedupe_key=str(hash(body)), event_type="", payload=body
    )
    session.add(event)
    session.commit()
    return event


def asks(session) -> dict[int, bool]:
    """Client id -> whether a listing of its WABA is asked for."""
    rows = session.execute(select(MetaWabaRefresh.client_id, MetaWabaRefresh.requested_at))
    return {client_id: requested is not None for client_id, requested in rows}


def test_quality_and_account_webhooks_name_the_wabas_to_refresh(app, session, fleet):
    setup = fleet()
    first, second = (w.waba_id for w in setup.fleet.meta)
    ids = dict(session.execute(select(MetaWhatsAppClient.waba_id, MetaWhatsAppClient.id)).all())
    event = stored_event(
        session,
        (first, "phone_number_quality_update"),
        (second, "phone_number_name_update"),
        ("999000111", "account_update"),  # not connected here
    )
    assert clients_to_refresh(session, event) == [ids[first]]
    both = stored_event(session, (first, "account_update"), (second, "account_update"))
    with app.app_context():
        assert refresh_wabas_named_in(both) == sorted([ids[first], ids[second]])
        db.session.commit()
        assert refresh_wabas_named_in(both) == []  # asked for already
        db.session.commit()
    assert asks(session) == {ids[first]: True, ids[second]: True}


def test_a_burst_of_quality_events_on_one_waba_costs_one_listing(app, session, fleet, monkeypatch):
    """Every Meta quality event names its WABA; a burst of them lists the WABA once per
    ``META_REFRESH_SECONDS`` (one Graph call, one quality_sync_runs row), not once each."""
    monkeypatch.setitem(app.config, "META_REFRESH_SECONDS", 30.0)
    setup = fleet()
    waba = setup.fleet.meta[0].waba_id
    runner = app.extensions["job_runner"]

    def burst(events: int) -> None:
        for _ in range(events):
            event = stored_event(session, (waba, "phone_number_quality_update"))
            with app.app_context():
                enqueue("webhooks.apply_meta", event.id)
        runner.drain()

    burst(20)
    assert setup.calls(Provider.META, "phone_numbers") == 1
    assert len(session.scalars(select(SyncRun)).all()) == 1
    (client_id,) = asks(session)
    assert asks(session) == {client_id: False}  # done

    burst(5)  # within the interval: asked for, listed once the interval has passed
    assert setup.calls(Provider.META, "phone_numbers") == 1
    assert asks(session) == {client_id: True}
    refresh = session.get(MetaWabaRefresh, client_id)
    refresh.listed_at -= dt.timedelta(seconds=app.config["META_REFRESH_SECONDS"])
    session.commit()
    with app.app_context():
        enqueue("sync.meta_refreshes")  # the periodic tick
    runner.drain()
    assert setup.calls(Provider.META, "phone_numbers") == 2
    assert len(session.scalars(select(SyncRun)).all()) == 2
    assert asks(session) == {client_id: False}
