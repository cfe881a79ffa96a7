"""360dialog partner webhooks: verify, parse, apply (fact sheet "Partner webhook events").

Body: ``{"id": ..., "event": "<name>", "data": <channel object>}``. When a signing secret
is configured, ``x-360dialog-signature`` is the hex HMAC-SHA256 of the raw body.

``waba_template_status_changed`` (the Partners V2 API's "Template Status Changed" webhook,
docs.360dialog.com/partner/partner-api/api-reference/webhooks) carries a template instead;
it updates the stored template of the company whose template account is that WABA account.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..channels import Channel
from ..errors import DomainError
from ..event_store import EventStore
from ..events import NewEvent, WebhookEvent, body_digest
from ..health import observe
from ..ingest import Secret, configuration_secret, ingest_delivery
from ..partners import Environment, Provider
from ..templates import core
from ..templates.models import TemplateAccount
from . import templates
from .models import Dialog360Channel
from .onboarding import apply_channel, publish_channel, resume_runs_for_client, revoke_channel

CHANNEL_EVENTS = {
    "channel_created",
    "channel_submitted",
    "channel_ready",
    "channel_running",
    "channel_live",
    "account_violation",
    "account_restriction",
    "cancellation_request",
    "cancellation_revoke",
    "cancellation_processed",
}
# Partner API v2 "Webhooks": whether the channel may send template messages.
TEMPLATE_MESSAGING_EVENTS = {
    "template_messaging_enabled": True,
    "template_messaging_disabled": False,
}
TEMPLATE_STATUS_EVENT = "waba_template_status_changed"


MIN_TOKEN_LENGTH = 24  # a webhook URL token shorter than this is not accepted


def signature_valid(secret: str, body: bytes, signature: str | None) -> bool:
    if not signature:
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature.strip().lower())


def parse(body: bytes) -> tuple[str, str]:
    """(dedupe key, event name) of a delivery, or DomainError for a malformed one."""
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise DomainError("The body is not JSON.") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("event"), str):
        raise DomainError("The body is not a 360dialog partner event.")
    key = str(payload.get("id") or "") or body_digest(body)
    return f"{payload['event']}:{key}", payload["event"]


def ingest(
    store: EventStore,
    environment: Environment | str,
    body: bytes,
    signature: str | None,
    token: str | None,
) -> bool:
    """Verify a partner event (signed with the webhook secret, else carrying the webhook
    URL's unguessable token) and store it: True, or False when it was stored before.
    Raises ``Unverified`` (``Unconfigured`` without a configuration) and ``DomainError``
    for a malformed body."""

    def verify(secret: Secret) -> bool:
        if key := secret.value("webhook_secret"):
            return signature_valid(key, body, signature)
        expected = secret.value("webhook_url").rstrip("/").rpartition("/")[2]
        return (
            bool(token)
            and len(expected) >= MIN_TOKEN_LENGTH
            and hmac.compare_digest(str(token).encode(), expected.encode())
        )

    return ingest_delivery(
        store,
        (Provider.DIALOG360, environment),
        configuration_secret(Provider.DIALOG360, environment),
        verify,
        lambda secret: NewEvent(Provider.DIALOG360, *parse(body), body),
    )


def apply(session: Session, event: WebhookEvent) -> list[int]:
    """Update the stored channel; returns the ids of runs the event makes due."""
    payload = json.loads(event.payload)
    name, data = payload.get("event"), payload.get("data") or {}
    if name == TEMPLATE_STATUS_EVENT:
        if isinstance(data, dict):
            template_status_changed(session, data, event.received_at)
        return []
    known = name in CHANNEL_EVENTS or name in TEMPLATE_MESSAGING_EVENTS
    if not known or not isinstance(data, dict) or not data.get("id"):
        return []  # client events are stored for later use
    row = session.scalars(
        select(Dialog360Channel).where(Dialog360Channel.dialog_channel_id == data["id"])
    ).one_or_none()
    if name in TEMPLATE_MESSAGING_EVENTS:
        if row is not None:
            template_messaging(session, row, TEMPLATE_MESSAGING_EVENTS[name])
        return []
    due: list[int] = []
    if row is not None and row.revoked_at is None:
        status_before = row.status
        apply_channel(session, row.client, _channel_object(data, row))
        if name in ("account_violation", "account_restriction"):
            row.status = name
        if row.channel_id:
            publish_channel(session, row, source="webhook")
        if name == "cancellation_processed":  # the number left 360dialog: its key is dead
            revoke_channel(session, row)
        if row.status != status_before:
            due = resume_runs_for_client(session, row.client.client_id)
    client_id = data.get("client_id") or (data.get("client") or {}).get("id")
    if client_id and name in ("channel_ready", "channel_running", "channel_live"):
        due = sorted(set(due) | set(resume_runs_for_client(session, client_id)))
    return due


def template_messaging(session: Session, row: Dialog360Channel, enabled: bool) -> None:
    """Record whether the channel may send templates; losing it alerts once."""
    if row.template_messaging is enabled:
        return  # a replayed or repeated event changes nothing
    row.template_messaging = enabled
    channel = session.get(Channel, row.channel_id) if row.channel_id else None
    if not enabled and channel is not None:
        reason = "360dialog disabled template messaging: business-initiated messages fail"
        observe(session, channel, source="webhook", reasons=[reason])


def template_status_changed(
    session: Session, data: dict[str, Any], received_at: dt.datetime
) -> None:
    """Apply a template's change to the stored template (created when the platform has not
    listed it yet; the next sync completes it). An event of a WABA account no company holds
    templates for is only kept with the stored event."""
    change = templates.status_change(data)
    if change is None:
        return
    account = session.scalars(
        select(TemplateAccount).where(
            TemplateAccount.provider == Provider.DIALOG360.value,
            TemplateAccount.account_key == change.waba_account_id,
        )
    ).one_or_none()
    if account is None:
        return
    at = change.at or received_at
    row = core.find(
        session,
        account,
        provider_template_id=change.template_id,
        name=change.name,
        language=change.language,
    )
    if row is None:
        if not (change.name and change.language):
            return
        row = core.create(session, account, change.remote(), source="webhook", at=at)
        row.fingerprint = ""  # incomplete: the next listing fills it in
    core.update(
        session,
        row,
        source="webhook",
        at=at,
        status=change.status,
        reason=change.reason,
        quality_score=change.quality_score,
        category=change.category,
        impending_category=change.impending_category,
        components=change.components,
    )


def _channel_object(data: dict[str, Any], row: Dialog360Channel) -> dict[str, Any]:
    """The event's channel, with the flat fields some events carry folded into setup_info."""
    item = dict(data)
    setup = dict(item.get("setup_info") or {})
    setup.setdefault("phone_number", data.get("phone_number") or row.phone_number)
    setup.setdefault("phone_name", data.get("phone_name") or row.phone_name)
    item["setup_info"] = setup
    item.setdefault("status", row.status)
    item.setdefault("current_quality_rating", row.quality_rating)
    item.setdefault("current_limit", row.messaging_limit)
    return item
