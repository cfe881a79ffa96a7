"""Meta's webhooks: verify on the raw bytes, then apply account and number changes (§2).

``entry[].id`` is the WABA, except for the partner events of ``account_update``
(PARTNER_ADDED, PARTNER_APP_INSTALLED, PARTNER_APP_UNINSTALLED, PARTNER_REMOVED), where it
is the customer's business and the WABA is ``value.waba_info.waba_id``
(M-wh/account_update). Management fields name numbers by display number within the WABA,
not by id. Deliveries repeat and arrive out of order: an event older than what the row
last observed changes nothing.

What each field means today (December 2026):

- ``phone_number_quality_update`` is a throughput event (ONBOARDING, THROUGHPUT_UPGRADE):
  it sets the number's throughput and never its messaging limit; a quality rating is read
  from Graph by the sync (M-wh/phone_number_quality_update).
- ``business_capability_update`` carries the business portfolio's messaging limit
  (M-wh/business_capability_update, M-limits): applied to the whole portfolio.
- ``account_alerts``, ``security`` and account events this code does not know are kept as
  the client's notices and shown, never an error.
- ``message_template_status_update``, ``message_template_quality_update``,
  ``message_template_components_update`` and ``template_category_update`` update the
  stored template at once (:mod:`.template_updates`).
- ``messages`` (a customer's message, the status of one the business sent) is relayed to
  the platform as ``message.*`` events (:mod:`provisioning.relay`) when its
  ``metadata.phone_number_id`` is a connected number of the WABA; other numbers' are kept.
- ``history``, ``smb_app_state_sync`` and ``smb_message_echoes`` (a WhatsApp Business app
  number's synced history and contacts, and what the business sent from the app) update its
  coexistence sync and are relayed (:mod:`.coexistence_webhooks`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..channels import Channel, mark_needing_reauthorization
from ..errors import DomainError
from ..event_store import EventStore
from ..events import NewEvent, WebhookEvent, body_digest
from ..health import observe, observe_group
from ..ingest import configuration_secret, ingest_delivery
from ..partners import Environment, Provider
from ..phones import digits_of
from ..relay import cloud_api_messages, epoch, relay
from . import coexistence_webhooks, template_updates
from .lifecycle import mark_pin_stale
from .models import MetaWhatsAppClient, MetaWhatsAppPhoneNumber, blocking_status
from .portfolios import apply_limit, client_portfolio

BAN_STATES = {"DISABLE": "disabled", "SCHEDULE_FOR_DISABLE": "disable_scheduled"}
PARTNER_EVENTS = ("PARTNER_ADDED", "PARTNER_APP_INSTALLED", "PARTNER_APP_UNINSTALLED",
                  "PARTNER_REMOVED")  # fmt: skip
DISCONNECTING = {
    "PARTNER_REMOVED": "The customer removed the platform as a partner of the WhatsApp "
    "Business Account",
    "PARTNER_APP_UNINSTALLED": "The customer uninstalled the platform's app from the "
    "WhatsApp Business Account",
}
MAX_NOTICES = 50


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


def ingest(
    store: EventStore, environment: Environment | str, body: bytes, signature: str | None
) -> bool:
    """Verify a delivery with the app secret and store it: True, or False when it was
    stored before. Raises ``Unverified`` (403) and ``DomainError`` (400)."""
    return ingest_delivery(
        store,
        (Provider.META, environment),
        configuration_secret(Provider.META, environment),
        lambda secret: signature_valid(secret.value("app_secret"), body, signature),
        lambda secret: NewEvent(Provider.META, *parse(body), body),
    )


def _is_change(change: Any) -> bool:
    return (
        isinstance(change, dict)
        and isinstance(change.get("field", ""), str)
        and isinstance(change.get("value", {}), dict)
    )


def apply(session: Session, event: WebhookEvent) -> list[int]:
    payload = json.loads(event.payload)
    for entry in payload.get("entry") or []:
        at = epoch(entry.get("time"))
        for change in entry.get("changes") or []:
            field, value = change.get("field"), change.get("value") or {}
            client = _client(session, str(entry.get("id") or ""), field, value)
            if client is None:
                continue  # not (or no longer) connected here: stored, nothing to apply
            match field:
                case "phone_number_quality_update":
                    _throughput(session, client, value, at)
                case "business_capability_update":
                    _capability(session, client, value, at)
                case "phone_number_name_update":
                    _name(session, client, value, at)
                case "account_update":
                    _account(session, client, value, at)
                case "account_review_update":
                    client.account_review_status = value.get("decision")
                case "account_alerts":
                    _notice(client, "account_alerts", value, at)
                case "security":
                    _security(session, client, value, at)
                case "messages":
                    _relay(session, client, entry, value, event)
                case field if field in template_updates.FIELDS:
                    template_updates.apply(session, client, field, value, at)
                case field if field in coexistence_webhooks.FIELDS:
                    coexistence_webhooks.apply(session, client, entry, field, value, event)
    return []


def _client(session: Session, entry_id: str, field: Any, value: dict[str, Any]):
    """The client a change is about: by ``waba_info`` for partner events (keyed by the
    business), by ``entry[].id`` otherwise."""
    waba_id = entry_id
    info = value.get("waba_info")
    if field == "account_update" and isinstance(info, dict) and info.get("waba_id"):
        waba_id = str(info["waba_id"])
    return session.scalars(
        select(MetaWhatsAppClient).where(MetaWhatsAppClient.waba_id == waba_id)
    ).one_or_none()


def _relay(session, client, entry: dict[str, Any], value: dict[str, Any], event) -> None:
    """Relay the messages of one of the client's numbers connected as a channel."""
    metadata = value.get("metadata")
    phone_number_id = (
        str(metadata.get("phone_number_id") or "") if isinstance(metadata, dict) else ""
    )
    channel_id = session.scalar(
        select(MetaWhatsAppPhoneNumber.channel_id).where(
            MetaWhatsAppPhoneNumber.client_id == client.id,
            MetaWhatsAppPhoneNumber.phone_number_id == phone_number_id,
        )
    )
    channel = session.get(Channel, channel_id) if channel_id else None
    if channel is not None:
        messages = cloud_api_messages(channel, entry, value, f"webhook:{event.id}")
        relay(session, channel, messages, event.received_at)


def _number(session: Session, client: MetaWhatsAppClient, display: Any):
    digits = digits_of(str(display or ""))
    for number in client.phone_numbers:
        if digits_of(number.display_phone_number) == digits:
            return number
    return None


def _fresh(number: MetaWhatsAppPhoneNumber, at: dt.datetime | None) -> bool:
    """Newer observations win: compare Meta's event times with each other only."""
    if at is None or number.provider_observed_at is None or at >= number.provider_observed_at:
        number.provider_observed_at = at or number.provider_observed_at
        return True
    return False


def _throughput(session, client, value: dict[str, Any], at) -> None:
    """A throughput change of one number (M-tput): THROUGHPUT_UPGRADE means 1,000 messages
    per second. Its ``max_daily_conversations_per_business`` (TIER_UNLIMITED: "higher
    throughput") is not the portfolio's messaging limit, and legacy FLAGGED/UPGRADE
    events carry nothing the sync does not read better: neither touches the limit."""
    number = _number(session, client, value.get("display_phone_number"))
    if number is None or not _fresh(number, at):
        return
    if value.get("event") == "THROUGHPUT_UPGRADE":
        number.throughput_level = "HIGH"


def _capability(session, client, value: dict[str, Any], at) -> None:
    """The portfolio's messaging limit (``max_daily_conversations_per_business``, or the
    integer ``max_daily_conversation_per_phone`` of older versions)."""
    limit = value.get("max_daily_conversations_per_business")
    if limit is None:
        limit = value.get("max_daily_conversation_per_phone")
    portfolio = client_portfolio(session, client)
    if portfolio is not None and limit is not None:
        apply_limit(session, portfolio, limit, source="webhook", at=at)


def _name(session, client, value: dict[str, Any], at) -> None:
    """A display name decision: a requested change (applied at the next registration when
    the number is registered) or the current name's; a rejection is explained and alerts."""
    from .number_profile import apply_name_decision  # the profile's services, kept apart

    number = _number(session, client, value.get("display_phone_number"))
    if number is None or not _fresh(number, at):
        return
    apply_name_decision(session, number, value, at)
    _publish(session, number, at)


def _account(session, client: MetaWhatsAppClient, value: dict[str, Any], at) -> None:
    kind = value.get("event")
    if kind in DISCONNECTING:
        _disconnect(session, client, DISCONNECTING[kind], at)
        return
    if kind == "DISABLED_UPDATE":
        state = str((value.get("ban_info") or {}).get("waba_ban_state") or "")
        client.status = BAN_STATES.get(state, "active" if state == "REINSTATE" else client.status)
        client.restriction = {"ban_info": value.get("ban_info")}
    elif kind == "ACCOUNT_RESTRICTION":
        client.restriction = {"restriction_info": value.get("restriction_info")}
        client.status = "restricted"
    elif kind == "ACCOUNT_VIOLATION":
        client.restriction = {"violation_info": value.get("violation_info") or value}
    elif kind in ("ACCOUNT_DELETED", "ACCOUNT_OFFBOARDED"):
        client.status = "offboarded"
    elif kind == "ACCOUNT_RECONNECTED":
        if client.status == "offboarded":
            client.status = "active"
    elif kind in PARTNER_EVENTS:
        return  # shared (again): a signup stores the token and the numbers
    else:
        _notice(client, "account_update", value, at)
        return
    for number in client.phone_numbers:
        _publish(session, number, at)


def _disconnect(session, client: MetaWhatsAppClient, reason: str, at) -> None:
    """The customer took the account away: the client and its numbers are disconnected
    and need a new signup, with one alert for all of them."""
    if client.status == "disconnected":
        return
    client.status = "disconnected"
    client.reauthorization_reason = f"{reason}."
    channel_ids = select(MetaWhatsAppPhoneNumber.channel_id).where(
        MetaWhatsAppPhoneNumber.client_id == client.id
    )
    mark_needing_reauthorization(session, channel_ids)
    channels = session.scalars(select(Channel).where(Channel.id.in_(channel_ids))).all()
    label = client.name or f"WABA {client.waba_id}"
    observe_group(
        session,
        channels,
        source="webhook",
        at=at,
        reason=f"{reason}: its numbers are disconnected until a company admin connects again",
        message=f"{label}: {reason}. Its {len(channels)} number(s) are disconnected until a "
        "company admin connects the account again.",
        status=blocking_status(client.status),
    )


def _security(session, client: MetaWhatsAppClient, value: dict[str, Any], at) -> None:
    """The two-step verification PIN changed outside the platform: the stored PIN is
    marked stale (a registration with it would fail with 133005), and the number's page
    asks for the new one."""
    number = _number(session, client, value.get("display_phone_number"))
    if number is not None and value.get("event") in ("PIN_CHANGED", "PIN_RESET_SUCCESS"):
        mark_pin_stale(number, at)
    _notice(client, "security", value, at)


def _notice(client: MetaWhatsAppClient, field: str, value: dict[str, Any], at) -> None:
    """Keep what Meta said (newest last, bounded) so the company sees it."""
    notice = {"field": field, "at": at.isoformat() if at else None, "value": value}
    client.notices = [*(client.notices or []), notice][-MAX_NOTICES:]


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
