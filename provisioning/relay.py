"""The message relay: a channel's messages and statuses as ``message.*`` platform events.

Each provider's messaging webhooks are verified and stored first; the provider has its
answer before anything here runs. Their applier (Meta: ``meta.webhooks.apply``; Twilio:
``twilio.webhooks.apply_event``; a 360dialog channel webhook: ``dialog360.messaging.store``,
in the transaction that stores it) reads them into :class:`Message` items and calls
:func:`relay`, which writes one event per message or status to the outbox
(:mod:`provisioning.platform_events`); the delivery job sends them, signed, in order per
channel. An event's id is derived from the channel and the provider's message id (and
status), so applying a webhook again, or a provider sending one message in two
deliveries, relays it once.

Every event's ``data`` has the same fields (docs/api.md, "Message events"): the channel,
``message_id``, ``direction``, ``from``/``to`` in E.164, ``user_id`` (Meta's
business-scoped user id), ``message_type``, ``status``, ``errors``, ``occurred_at`` (the
provider's time), ``received_at`` (when the portal stored the webhook) and
``provider_payload``: the provider's own payload for this one message (for Meta and
360dialog a Cloud API webhook body holding only this message or status, for Twilio the
callback's parameters).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from . import platform_events
from .channels import Channel

RECEIVED, STATUS, ERROR = "message.received", "message.status", "message.error"
INBOUND, OUTBOUND = "inbound", "outbound"


@dataclass(frozen=True)
class Message:
    """One message, status or error of a channel, read from a provider's webhook."""

    event_type: str
    key: str  # unique within the channel: the message id, with the status for a status
    fields: dict[str, Any]  # the envelope's fields that vary (see envelope())
    provider_payload: Any


def envelope(
    *,
    message_id: str | None = None,
    direction: str | None = None,
    sender: str | None = None,
    recipient: str | None = None,
    user_id: str | None = None,
    message_type: str | None = None,
    status: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    occurred_at: dt.datetime | None = None,
) -> dict[str, Any]:
    """The normalised fields, every one present (None when the provider did not say)."""
    return {
        "message_id": message_id, "direction": direction, "from": sender, "to": recipient,
        "user_id": user_id, "message_type": message_type, "status": status,
        "errors": errors or [], "occurred_at": _iso(occurred_at),
    }  # fmt: skip


def relay(
    session: Session, channel: Channel, messages: Iterable[Message], received_at: dt.datetime
) -> int:
    """Write an event per message not relayed before, for the endpoints that want it (in
    the caller's transaction); how many were written."""
    written = 0
    ordering_key = f"channel:{channel.id}"
    for message in messages:
        data = {
            "channel": {"id": channel.id, "provider": channel.provider.value,
                        "phone_number": channel.phone_number},
            **message.fields,
            "received_at": _iso(received_at),
            "provider_payload": message.provider_payload,
        }  # fmt: skip
        event = platform_events.emit(
            session, message.event_type, channel.company_id, ordering_key, data,
            public_id=event_id(channel, message.key),
        )  # fmt: skip
        written += event is not None
    return written


def event_id(channel: Channel, key: str) -> str:
    """The event's ``webhook-id``: the same for the same message of the same channel."""
    digest = hashlib.sha256(f"{channel.provider.value}:{channel.id}:{key}".encode())
    return "msg_" + digest.hexdigest()[:24]


def phone(value: Any) -> str | None:
    """A provider's number (``16505551234``, ``+16505551234``, ``whatsapp:+16505551234``)
    in E.164; None for anything else (a business-scoped user id, an empty field)."""
    if not isinstance(value, str):
        return None
    digits = value.removeprefix("whatsapp:").removeprefix("+")
    return (
        f"+{digits}" if digits.isascii() and digits.isdigit() and 6 <= len(digits) <= 15 else None
    )


def epoch(value: Any) -> dt.datetime | None:
    """A provider's Unix time (a string of digits, as Meta sends it)."""
    try:
        return dt.datetime.fromtimestamp(int(value), dt.UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _iso(at: dt.datetime | None) -> str | None:
    if at is None:
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


# --- Meta's Cloud API envelope (Meta's own webhooks, and 360dialog's channel webhooks) ---


def cloud_api_messages(
    channel: Channel, entry: dict[str, Any], value: dict[str, Any], source: str
) -> list[Message]:
    """The messages, statuses and errors of one ``messages`` change of ``entry``.

    A user who adopted a username may come without a phone number: the business-scoped
    user id (``contacts[].user_id``, ``messages[].from_user_id``,
    ``statuses[].recipient_user_id``) is then the only way to answer them. ``source``
    names the stored webhook (errors carry no id of their own)."""
    contacts = [c for c in value.get("contacts") or [] if isinstance(c, dict)]
    found: list[Message] = []
    for item in _objects(value.get("messages")):
        sender = item.get("from")
        contact = _contact(contacts, sender, item.get("from_user_id"))
        fields = envelope(
            message_id=_text(item.get("id")), direction=INBOUND, sender=phone(sender),
            recipient=channel.phone_number,
            user_id=_text(item.get("from_user_id") or contact.get("user_id")),
            message_type=_text(item.get("type")), occurred_at=epoch(item.get("timestamp")),
        )  # fmt: skip
        key = str(item.get("id") or f"{source}:{len(found)}")
        payload = _one(entry, value, "messages", item, contact)
        found.append(Message(RECEIVED, key, fields, payload))
    for item in _objects(value.get("statuses")):
        recipient = item.get("recipient_id")
        contact = _contact(contacts, recipient, item.get("recipient_user_id"))
        status = _text(item.get("status"))
        fields = envelope(
            message_id=_text(item.get("id")), direction=OUTBOUND, sender=channel.phone_number,
            recipient=phone(recipient),
            user_id=_text(item.get("recipient_user_id") or contact.get("user_id")),
            status=status, errors=_meta_errors(item.get("errors")),
            occurred_at=epoch(item.get("timestamp")),
        )  # fmt: skip
        key = f"{item.get('id') or f'{source}:{len(found)}'}:{status}"
        found.append(Message(STATUS, key, fields, _one(entry, value, "statuses", item, contact)))
    for index, item in enumerate(_objects(value.get("errors"))):
        fields = envelope(errors=_meta_errors([item]))
        payload = _one(entry, value, "errors", item, {})
        found.append(Message(ERROR, f"{source}:error:{index}", fields, payload))
    return found


def _objects(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _contact(contacts: list[dict[str, Any]], wa_id: Any, user_id: Any) -> dict[str, Any]:
    """The contact of a message or status: by phone number or user id, else the only one."""
    for contact in contacts:
        if (wa_id and contact.get("wa_id") == wa_id) or (
            user_id and contact.get("user_id") == user_id
        ):
            return contact
    return contacts[0] if len(contacts) == 1 else {}


def _meta_errors(errors: Any) -> list[dict[str, Any]]:
    """Meta's ``errors`` as ``{code, title, details}``."""
    found = []
    for error in _objects(errors):
        data = error.get("error_data")
        details = data.get("details") if isinstance(data, dict) else None
        title = error.get("title") or error.get("message") or ""
        found.append({"code": error.get("code"), "title": title, "details": details})
    return found


def _one(
    entry: dict[str, Any],
    value: dict[str, Any],
    kind: str,
    item: dict[str, Any],
    contact: dict[str, Any],
) -> dict[str, Any]:
    """The webhook body Meta would send for this one item: the same envelope, metadata
    and contact, only this message, status or error."""
    one = {k: v for k, v in value.items() if k not in ("messages", "statuses", "errors",
                                                       "contacts")}  # fmt: skip
    if contact:
        one["contacts"] = [contact]
    one[kind] = [item]
    head = {k: entry[k] for k in ("id", "time") if k in entry}
    return {"object": "whatsapp_business_account",
            "entry": [{**head, "changes": [{"field": "messages", "value": one}]}]}  # fmt: skip
