"""Meta's webhooks: verify on the raw bytes, then apply account and number changes (§2).

Management fields name numbers by display number within the WABA (``entry[].id``), not
by id. Deliveries repeat and arrive out of order: an event older than what the row last
observed changes nothing.
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
from ..events import WebhookEvent, body_digest
from ..health import observe
from .models import MetaWhatsAppClient, MetaWhatsAppPhoneNumber, blocking_status

BAN_STATES = {"DISABLE": "disabled", "SCHEDULE_FOR_DISABLE": "disable_scheduled"}


def signature_valid(app_secret: str, body: bytes, header: str | None) -> bool:
    """``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>``."""
    if not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha256=").strip().lower())


def parse(body: bytes) -> tuple[str, str]:
    """(dedupe key, the first field) of a delivery; Meta sends no event id."""
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise DomainError("The body is not JSON.") from exc
    entries = payload.get("entry") if isinstance(payload, dict) else None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise DomainError("The body is not a Meta webhook: 'entry' must be a list of objects.")
    changes = [e.get("changes") or [] for e in entries]
    if not all(isinstance(c, list) and all(_is_change(x) for x in c) for c in changes):
        raise DomainError(
            "The body is not a Meta webhook: each change must be an object with a text "
            "'field' and an object 'value'."
        )
    fields = [change.get("field", "") for listed in changes for change in listed]
    return body_digest(body), (fields[0] if fields else "")


def _is_change(change: Any) -> bool:
    return (
        isinstance(change, dict)
        and isinstance(change.get("field", ""), str)
        and isinstance(change.get("value", {}), dict)
    )


def apply(session: Session, event: WebhookEvent) -> list[int]:
    payload = json.loads(event.payload)
    for entry in payload.get("entry") or []:
        waba_id, at = str(entry.get("id") or ""), _time(entry.get("time"))
        client = session.scalars(
            select(MetaWhatsAppClient).where(MetaWhatsAppClient.waba_id == waba_id)
        ).one_or_none()
        if client is None:
            continue  # not (or no longer) connected here: stored, nothing to apply
        for change in entry.get("changes") or []:
            value = change.get("value") or {}
            match change.get("field"):
                case "phone_number_quality_update":
                    _quality(session, client, value, at)
                case "phone_number_name_update":
                    _name(session, client, value, at)
                case "account_update":
                    _account(session, client, value, at)
                case "account_review_update":
                    client.account_review_status = value.get("decision")
    return []


def _time(value: Any) -> dt.datetime | None:
    try:
        return dt.datetime.fromtimestamp(int(value), dt.UTC)
    except (TypeError, ValueError):
        return None


def _number(session: Session, client: MetaWhatsAppClient, display: Any):
    digits = "".join(c for c in str(display or "") if c.isdigit())
    for number in client.phone_numbers:
        if "".join(c for c in number.display_phone_number if c.isdigit()) == digits:
            return number
    return None


def _fresh(number: MetaWhatsAppPhoneNumber, at: dt.datetime | None) -> bool:
    """Newer observations win: compare Meta's event times with each other only."""
    if at is None or number.provider_observed_at is None or at >= number.provider_observed_at:
        number.provider_observed_at = at or number.provider_observed_at
        return True
    return False


def _quality(session, client, value: dict[str, Any], at) -> None:
    number = _number(session, client, value.get("display_phone_number"))
    if number is None or not _fresh(number, at):
        return
    kind = value.get("event")
    # FLAGGED / UNFLAGGED name no colour. A readable WABA is listed right after this
    # (one call, ``clients_to_refresh``) for the exact rating; guessing here would alert
    # twice (YELLOW, then RED). Only an unreadable one gets the guess.
    if not client.readable:
        if kind == "FLAGGED" and number.quality_rating in (None, "GREEN", "UNKNOWN"):
            number.quality_rating = "YELLOW"
        elif kind == "UNFLAGGED":
            number.quality_rating = "GREEN"
    limit = value.get("current_limit") or value.get("max_daily_conversations_per_business")
    if limit:
        number.messaging_limit = str(limit)
    _publish(session, number, at)


def _name(session, client, value: dict[str, Any], at) -> None:
    number = _number(session, client, value.get("display_phone_number"))
    if number is None or not _fresh(number, at):
        return
    number.name_status = value.get("decision") or number.name_status
    if value.get("decision") == "APPROVED" and value.get("requested_verified_name"):
        number.verified_name = value["requested_verified_name"]
    _publish(session, number, at)


def _account(session, client: MetaWhatsAppClient, value: dict[str, Any], at) -> None:
    kind = value.get("event")
    if kind == "DISABLED_UPDATE":
        state = (value.get("ban_info") or {}).get("waba_ban_state")
        client.status = BAN_STATES.get(state, "active" if state == "REINSTATE" else client.status)
        client.restriction = {"ban_info": value.get("ban_info")}
    elif kind == "ACCOUNT_RESTRICTION":
        client.restriction = {"restriction_info": value.get("restriction_info")}
        client.status = "restricted"
    elif kind == "ACCOUNT_VIOLATION":
        client.restriction = {"violation_info": value.get("violation_info") or value}
    elif kind in ("ACCOUNT_DELETED", "ACCOUNT_OFFBOARDED", "PARTNER_REMOVED"):
        client.status = "offboarded"
    for number in client.phone_numbers:
        _publish(session, number, at)


def _publish(session: Session, number: MetaWhatsAppPhoneNumber, at: dt.datetime | None) -> None:
    channel = session.get(Channel, number.channel_id) if number.channel_id else None
    if channel is None:
        return
    status = blocking_status(number.client.status) or number.status or None
    if number.verified_name:
        channel.display_name = number.verified_name
    observe(
        session,
        channel,
        source="webhook",
        at=at,
        status=status,
        quality_rating=number.quality_rating,
        messaging_limit=number.messaging_limit,
    )
