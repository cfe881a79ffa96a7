"""The coexistence webhooks applied (issue 17 item 4): ``history``, ``smb_app_state_sync``
and ``smb_message_echoes``, dispatched here by :func:`provisioning.meta.webhooks.apply`.

Meta's pages (developers.facebook.com/documentation/business-messaging/whatsapp/):
``webhooks/reference/history``, ``webhooks/reference/smb_app_state_sync`` and
``webhooks/reference/smb_message_echoes``; the shapes are read by
:mod:`.coexistence`'s parsers.

- ``history``: the number's sync state records the furthest progress, its phase, the
  messages received and when it completed (progress 100), or the business's decline (code
  2593109: one informational alert). Each change is relayed as a ``coexistence.history``
  event carrying Meta's own body for it.
- ``smb_app_state_sync``: the contacts received are counted and relayed as
  ``coexistence.contacts``.
- ``smb_message_echoes``: a message the business sent from the WhatsApp Business app, an
  outbound message of the channel: relayed like the channel's other messages
  (:mod:`provisioning.relay`) as ``message.echo``, with Meta's body for that one echo (as
  pywa reads it).

Events derive their ids from the change's content (an echo's from its message id), so a
change delivered or applied again relays nothing twice. A value the parsers refuse is kept
as a notice on the client, like an account event this code does not know, and changes
nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import platform_events
from ..channels import Channel
from ..db import utcnow
from ..events import WebhookEvent
from ..relay import OUTBOUND, Message, envelope, phone, relay
from . import coexistence, coexistence_sync
from .coexistence_models import MetaCoexistenceSync
from .models import MetaWhatsAppClient, MetaWhatsAppPhoneNumber

FIELDS = coexistence.FIELDS
ECHO = "message.echo"
MAX_NOTICES = 50


def apply(
    session: Session,
    client: MetaWhatsAppClient,
    entry: dict[str, Any],
    field: str,
    value: dict[str, Any],
    event: WebhookEvent,
) -> None:
    """Apply one coexistence change of a stored webhook."""
    try:
        parsed = coexistence.PARSERS[field](value)
    except coexistence.MalformedCoexistenceWebhook as exc:
        _notice(client, field, value, str(exc))
        return
    phone_number_id = str(value["metadata"]["phone_number_id"])
    number = session.scalars(
        select(MetaWhatsAppPhoneNumber).where(
            MetaWhatsAppPhoneNumber.client_id == client.id,
            MetaWhatsAppPhoneNumber.phone_number_id == phone_number_id,
        )
    ).one_or_none()
    if number is None:
        return  # not a number connected here: stored, nothing to apply
    channel = session.get(Channel, number.channel_id) if number.channel_id else None
    one = _body(entry, field, value)
    source = hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()
    if isinstance(parsed, coexistence.HistoryUpdate):
        _history(session, number, channel, parsed, one, source)
    elif isinstance(parsed, coexistence.StateSync):
        _contacts(session, number, channel, parsed, one, source)
    elif channel is not None:
        _echoes(session, channel, entry, value, event)


def _history(
    session: Session,
    number: MetaWhatsAppPhoneNumber,
    channel: Channel | None,
    update: coexistence.HistoryUpdate,
    body: dict[str, Any],
    source: str,
) -> None:
    state = coexistence_sync.state_for(session, number)
    before = (state.history_status, state.history_progress)
    now = utcnow()
    _heard_of(state, "history", now)
    if update.declined and not state.history_declined:
        state.history_declined = True
        coexistence_sync.notify(
            session, number,
            f"{coexistence_sync.label_of(number)}: the business chose not to share its "
            "WhatsApp Business app chat history (Meta's code 2593109). Its contacts and new "
            "messages still synchronize; the history could only come with a new signup in "
            "which the business agrees to share it.",
        )  # fmt: skip
    progress = update.progress
    if progress is not None and (state.history_progress or 0) <= progress:
        state.history_progress = progress
        state.history_phase = max(
            (c.phase for c in update.chunks if c.progress == progress and c.phase is not None),
            default=state.history_phase,
        )
    state.history_messages += sum(chunk.messages for chunk in update.chunks)
    if progress == 100 and state.history_completed_at is None:
        state.history_completed_at = now
    data = {
        "phases": [
            {"phase": c.phase, "chunk_order": c.chunk_order, "progress": c.progress,
             "threads": c.threads, "messages": c.messages}
            for c in update.chunks if c.error is None
        ],
        "media_message_ids": list(update.media_message_ids),
        "declined": update.declined,
        "errors": [
            {"code": c.error.code, "title": c.error.title, "details": c.error.details}
            for c in update.chunks if c.error is not None
        ],
    }  # fmt: skip
    _relay(session, number, channel, "coexistence.history", source, data, body)
    if (state.history_status, state.history_progress) != before:
        coexistence_sync.announce(session, state)


def _contacts(
    session: Session,
    number: MetaWhatsAppPhoneNumber,
    channel: Channel | None,
    update: coexistence.StateSync,
    body: dict[str, Any],
    source: str,
) -> None:
    state = coexistence_sync.state_for(session, number)
    before = state.contacts_status
    _heard_of(state, "contacts", utcnow())
    state.contacts_count += update.count
    contacts = [
        {"phone_number": phone(c.phone_number) or c.phone_number, "action": c.action,
         "full_name": c.full_name, "first_name": c.first_name, "at": _iso(c.at)}
        for c in update.contacts
    ]  # fmt: skip
    _relay(session, number, channel, "coexistence.contacts", source, {"contacts": contacts}, body)
    if state.contacts_status != before:
        coexistence_sync.announce(session, state)


def _heard_of(state: MetaCoexistenceSync, prefix: str, now: dt.datetime) -> None:
    """A webhook of the sync confirms its request (even one made outside the platform)."""
    for name in ("requested_at", "confirmed_at"):
        if getattr(state, f"{prefix}_{name}") is None:
            setattr(state, f"{prefix}_{name}", now)
    state.last_event_at = now


def _relay(
    session: Session,
    number: MetaWhatsAppPhoneNumber,
    channel: Channel | None,
    event_type: str,
    source: str,
    data: dict[str, Any],
    body: dict[str, Any],
) -> None:
    """One event for one change, its id derived from the change's content (``source``):
    the same change, delivered or applied again, is relayed once."""
    digest = hashlib.sha256(f"meta-coexistence:{number.id}:{source}".encode()).hexdigest()
    key = f"channel:{channel.id}" if channel else f"number:{number.id}"
    shown = {"id": channel.id, "provider": channel.provider.value,
             "phone_number": channel.phone_number} if channel else None  # fmt: skip
    platform_events.emit(
        session, event_type, number.company_id, key,
        {"channel": shown, "phone_number_id": number.phone_number_id, **data,
         "provider_payload": body},
        public_id="msg_" + digest[:24],
    )  # fmt: skip


def _echoes(
    session: Session,
    channel: Channel,
    entry: dict[str, Any],
    value: dict[str, Any],
    event: WebhookEvent,
) -> None:
    """Each echo as the channel's outbound message (``message.echo``)."""
    contacts = [c for c in value.get("contacts") or [] if isinstance(c, dict)]
    messages = []
    for raw, echo in zip(value["message_echoes"], coexistence.parse_echoes(value), strict=True):
        contact = next(
            (c for c in contacts if (echo.to and c.get("wa_id") == echo.to)
             or (echo.to_user_id and c.get("user_id") == echo.to_user_id)),
            contacts[0] if len(contacts) == 1 else {},
        )  # fmt: skip
        fields = envelope(
            message_id=echo.message_id, direction=OUTBOUND, sender=channel.phone_number,
            recipient=phone(echo.to), user_id=echo.to_user_id or contact.get("user_id"),
            message_type=echo.type, occurred_at=echo.timestamp,
        )  # fmt: skip
        one = {k: v for k, v in value.items() if k not in ("message_echoes", "contacts")}
        if contact:
            one["contacts"] = [contact]
        one["message_echoes"] = [raw]
        body = _body(entry, "smb_message_echoes", one)
        messages.append(Message(ECHO, f"{echo.message_id}:echo", fields, body))
    relay(session, channel, messages, event.received_at)


def _body(entry: dict[str, Any], field: str, value: dict[str, Any]) -> dict[str, Any]:
    """The webhook body Meta would send with only this change."""
    head = {k: entry[k] for k in ("id", "time") if k in entry}
    return {"object": "whatsapp_business_account",
            "entry": [{**head, "changes": [{"field": field, "value": value}]}]}  # fmt: skip


def _notice(client: MetaWhatsAppClient, field: str, value: dict[str, Any], why: str) -> None:
    """Keep what could not be read where the company sees Meta's other notices."""
    notice = {"field": field, "at": _iso(utcnow()), "value": value, "unreadable": why}
    client.notices = [*(client.notices or []), notice][-MAX_NOTICES:]


def _iso(at: dt.datetime | None) -> str | None:
    return at.isoformat().replace("+00:00", "Z") if at else None
