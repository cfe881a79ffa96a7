"""Webhook jobs: apply a stored event, and deliver the events that are due again.

A request stores the event and commits, then hands its applier the id; whatever was not
applied (a lost job, a failure past its backoff) is delivered by ``webhooks.retry_failed``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioning import platform_events, zero_touch
from provisioning.dialog360 import webhooks as dialog360_webhooks
from provisioning.events import WebhookEvent, due_retries, mark_processed, postpone
from provisioning.meta import webhooks as meta_webhooks
from provisioning.twilio import webhooks as twilio_webhooks

from ..extensions import db
from . import sync
from .runner import enqueue

log = logging.getLogger("portal.jobs")

# The applier job of each provider's stored events.
APPLIERS = {
    "meta": "webhooks.apply_meta",
    "dialog360": "webhooks.apply_dialog360",
    "twilio": "webhooks.apply_twilio_events",
}

Apply = Callable[[Session, WebhookEvent], list[int]]


def apply_stored_event(
    event_id: int, apply: Apply, then: Callable[[WebhookEvent], Any] | None = None
) -> list[int]:
    """Apply a stored webhook event once; resume the runs it makes due, then ``then(event)``."""
    event = db.session.get(WebhookEvent, event_id)
    if event is None or event.processed_at is not None:
        return []
    if event.error and event.next_attempt_at is None and event.attempts:
        return []  # gave up after the last attempt; an admin may replay it
    try:
        due = apply(db.session, event)
    except Exception as exc:
        db.session.rollback()
        platform_events.take_emitted(db.session)  # rolled back: nothing to deliver
        event = db.session.get_one(WebhookEvent, event_id)
        mark_processed(event, f"{type(exc).__name__}: {exc}")
        db.session.commit()
        log.warning(
            "webhook event %d failed (%s); retried with backoff", event_id, type(exc).__name__
        )
        return []  # the webhook pipeline keeps the failure and retries it
    mark_processed(event)
    db.session.commit()
    if platform_events.take_emitted(db.session):
        enqueue("events.deliver")  # relayed messages go now, not at the next poll
    for run_id in due:
        enqueue("provisioning.execute_run", run_id)
    if then is not None:
        then(event)
    return due


def apply_meta_event(event_id: int) -> list[int]:
    """Apply, and ask for a listing of the WABAs the event names (Meta's quality events
    carry no colour); the asks are coalesced per WABA (``sync.meta_refreshes``)."""
    asked: list[int] = []

    def apply_and_ask(session: Session, event: WebhookEvent) -> list[int]:
        due = meta_webhooks.apply(session, event)
        asked.extend(sync.refresh_wabas_named_in(event))
        return due

    def hand_out(event: WebhookEvent) -> None:
        if asked:
            enqueue("sync.meta_refreshes")

    return apply_stored_event(event_id, apply_and_ask, then=hand_out)


def apply_dialog360_event(event_id: int) -> list[int]:
    return apply_stored_event(event_id, dialog360_webhooks.apply)


def apply_twilio_events(event_id: int) -> list[int]:
    """Apply, and hand a WhatsApp code arriving by SMS to the registration waiting for it."""

    def apply(session: Session, event: WebhookEvent) -> list[int]:
        return twilio_webhooks.apply_event(session, event) + zero_touch.capture_code(session, event)

    return apply_stored_event(event_id, apply)


PENDING_BATCHES = 10  # batches of 100 events per run; then the job goes on in another run


def apply_pending_events() -> int:
    """Apply the stored events no job has taken yet, oldest first: ingest wakes this job
    (a wake-up, not a job per event), and it runs periodically in case a wake-up was
    lost. Returns how many it applied."""
    from provisioning.events import claim_pending

    appliers = {
        "meta": apply_meta_event,
        "dialog360": apply_dialog360_event,
        "twilio": apply_twilio_events,
    }
    applied = 0
    for _ in range(PENDING_BATCHES):
        claimed = claim_pending(db.session)
        db.session.commit()
        for event_id, provider in claimed:
            appliers[provider.value](event_id)
        applied += len(claimed)
        if not claimed:
            return applied
    enqueue("webhooks.apply_pending")  # more are waiting: go on in a run of its own
    return applied


def retry_failed_events() -> int:
    """Queue stored events that are due: failed ones past their backoff, and ones whose
    job was never published or was lost. Each goes again only after ``REDELIVER_AFTER``
    if its job still has not applied it."""
    ids = due_retries(db.session)
    providers = dict(
        db.session.execute(
            select(WebhookEvent.id, WebhookEvent.provider).where(WebhookEvent.id.in_(ids))
        ).all()
    )
    postpone(db.session, ids)
    db.session.commit()
    for event_id in ids:
        enqueue(APPLIERS[providers[event_id].value], event_id)
    return len(ids)
