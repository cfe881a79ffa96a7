"""A channel's messaging webhook: what 360dialog forwards from Meta for one number.

The platform points each channel's webhook (``POST /v1/configs/webhook`` on waba-v2) at
``/webhooks/whatsapp/360dialog`` with a header 360dialog sends back on every delivery
(docs.360dialog.com, Messaging API "Webhook": "headers may be used to add authorization of
webhook calls"): ``Authorization: Bearer <secret>``, one random secret per channel. Only its
SHA-256 is stored, so the header both authenticates the delivery and names the channel.

The body is Meta's unmodified Cloud API envelope. A delivery is stored once (messages by
their id, statuses by id and status, so 360dialog's retries are duplicates) with a row per
channel that the company's channel page lists, and its messages, statuses and errors are
written to the outbox as ``message.*`` events in the same transaction
(:mod:`provisioning.relay`): a few inserts, no call; the delivery job sends them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..channels import Channel
from ..db import utcnow
from ..errors import DomainError
from ..events import body_digest, store_event
from ..partners import Provider
from ..relay import cloud_api_messages, relay
from ..tenancy import tenant_select
from ..tokens import digest
from .models import Dialog360Channel, Dialog360MessagingEvent

HEADER = "Authorization"
SCHEME = "Bearer "
KINDS = ("messages", "statuses", "errors")


def headers(token: str) -> dict[str, str]:
    """The headers 360dialog is asked to send with every delivery of the channel."""
    return {HEADER: SCHEME + token}


def channel_for(session: Session, header: str | None) -> Dialog360Channel | None:
    """The connected channel whose secret the ``Authorization`` header carries."""
    if not header or not header.startswith(SCHEME) or len(header) > 200:
        return None
    return session.scalars(
        select(Dialog360Channel).where(
            Dialog360Channel.webhook_token_digest == digest(header[len(SCHEME) :]),
            Dialog360Channel.revoked_at.is_(None),
        )
    ).one_or_none()


@dataclass(frozen=True)
class Delivery:
    dedupe_key: str
    kind: str
    summary: str


def parse(body: bytes) -> Delivery:
    """What a delivery is, or DomainError when it is not a Cloud API webhook."""
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise DomainError("The body is not JSON.") from exc
    if not isinstance(payload, dict) or payload.get("object") != "whatsapp_business_account":
        raise DomainError("The body is not a WhatsApp Business Account webhook.")
    values = [
        change.get("value") or {}
        for entry in payload.get("entry") or []
        if isinstance(entry, dict)
        for change in entry.get("changes") or []
        if isinstance(change, dict)
    ]
    if not values or not all(isinstance(v, dict) for v in values):
        raise DomainError("The webhook has no changes.")
    keys: list[str] = []
    found: list[tuple[str, dict[str, Any]]] = []
    for value in values:
        for kind in KINDS:
            for item in value.get(kind) or []:
                if isinstance(item, dict):
                    found.append((kind, item))
                    keys.append(_key(kind, item))
    kind = found[0][0] if found else "other"
    key = ",".join(sorted(set(filter(None, keys))))
    if not key or len(key) > 110:
        key = body_digest(body) if not key else hashlib.sha256(key.encode()).hexdigest()
    return Delivery(f"messaging:{key}", kind, _summary(found))


def _key(kind: str, item: dict[str, Any]) -> str:
    if kind == "messages":
        return str(item.get("id") or "")
    if kind == "statuses":
        return f"{item.get('id') or ''}:{item.get('status') or ''}"
    return ""  # errors carry no id: the body's digest stands in


def _summary(found: list[tuple[str, dict[str, Any]]]) -> str:
    parts = []
    for kind, item in found[:3]:
        if kind == "messages":
            parts.append(f"{item.get('type') or 'message'} from {item.get('from') or '?'}")
        elif kind == "statuses":
            parts.append(f"{item.get('status') or '?'} for {item.get('recipient_id') or '?'}")
        else:
            parts.append(f"error {item.get('code') or '?'}: {item.get('title') or ''}".strip())
    more = len(found) - len(parts)
    return ("; ".join(parts) + (f" and {more} more" if more > 0 else ""))[:200]


def store(session: Session, channel: Dialog360Channel, body: bytes, delivery: Delivery) -> bool:
    """Store a verified delivery for its channel and relay what it carries; False when it
    was stored before."""
    event_id = store_event(
        session, Provider.DIALOG360, delivery.dedupe_key, delivery.kind, body, processed=True
    )
    if event_id is None:
        return False
    session.add(
        Dialog360MessagingEvent(
            company_id=channel.company_id,
            channel_id=channel.id,
            webhook_event_id=event_id,
            kind=delivery.kind,
            summary=delivery.summary,
        )
    )
    session.flush()
    connected = session.get(Channel, channel.channel_id) if channel.channel_id else None
    if connected is not None:
        messages = [
            message
            for entry in json.loads(body).get("entry") or []
            if isinstance(entry, dict)
            for change in entry.get("changes") or []
            if isinstance(change, dict)
            and change.get("field", "messages") == "messages"
            and isinstance(change.get("value"), dict)
            for message in cloud_api_messages(
                connected, entry, change["value"], f"webhook:{event_id}"
            )
        ]
        relay(session, connected, messages, utcnow())
    return True


def recent(
    session: Session, company_id: int, channel_ref: str, limit: int = 50
) -> list[Dialog360MessagingEvent]:
    """The company's channel's newest stored deliveries (``channel_ref``: 360dialog's id)."""
    return list(
        session.scalars(
            tenant_select(Dialog360MessagingEvent, company_id)
            .join(Dialog360Channel, Dialog360Channel.id == Dialog360MessagingEvent.channel_id)
            .where(Dialog360Channel.dialog_channel_id == channel_ref)
            .order_by(Dialog360MessagingEvent.id.desc())
            .limit(limit)
        )
    )
