"""Twilio's webhooks: signature checks per (sub)account, and applying A2P events (§4, §5).

Callbacks are signed ``X-Twilio-Signature`` with the auth token of the account named by
``AccountSid``: a subaccount's own token for its numbers, senders and services. JSON
bodies carry ``bodySHA256`` in the URL. Event Streams sinks are created in each
subaccount; their URL carries a token derived from the subaccount's secret (stored as a
hash: one indexed lookup finds the subaccount), and Twilio signs each delivery with the
subaccount's auth token like any JSON webhook ("Webhook Quickstart" of Event Streams,
and Twilio's "How to validate Event Streams webhooks" posts). A delivery's events are
applied to the rows of the company that owns the sink, never to another company's.

Message callbacks (``/webhooks/twilio/messages``: a WhatsApp sender's incoming messages;
``/webhooks/twilio/status``: the statuses of the messages it sent) are stored, then
relayed as ``message.*`` events (:mod:`provisioning.relay`) when the sender is a channel
of the subaccount the callback is signed for.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import Text, bindparam, exists, select, type_coerce
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator, compare

from ..channels import Channel
from ..db import utcnow
from ..errors import DomainError
from ..event_store import EventStore
from ..events import NewEvent, WebhookEvent, body_digest
from ..ingest import Loader, Secret, configuration_secret, ingest_delivery
from ..partners import Environment, Provider
from ..relay import INBOUND, OUTBOUND, RECEIVED, STATUS, Message, envelope, phone, relay
from ..runs import ProvisioningRun, RunStatus
from . import tollfree
from .models import Tenant10DLCBrand, TwilioSubaccount, TwilioWhatsAppSender, events_token_hash
from .onboarding import (
    A2P_REGISTRATION,
    apply_brand_identity,
    apply_brand_status,
    apply_campaign_status,
)

BRAND_EVENT = "com.twilio.messaging.compliance.brand-registration."
CAMPAIGN_EVENT = "com.twilio.messaging.compliance.campaign-registration."
CALLBACK_KINDS = ("messages", "status")  # the <kind> of /webhooks/twilio/<kind>


def signature_valid(auth_token: str, url: str, body: Any, signature: str | None) -> bool:
    """Twilio's documented check (constant-time), for form params or a JSON body string.

    A JSON body is signed through the ``bodySHA256`` of its URL: without one, it is not.
    """
    if not signature:
        return False
    validator = RequestValidator(auth_token)
    if isinstance(body, str):
        if not parse_qs(urlsplit(url).query).get("bodySHA256"):
            return False
    elif compare(validator.compute_signature(url, body), signature):
        return True  # signed on the URL as called: the common case, one HMAC
    # the validator tries the URL with and without its default port (Twilio signs either)
    return bool(validator.validate(url, body, signature))


def ingest_callback(
    store: EventStore,
    environment: Environment | str,
    kind: str,
    url: str,
    raw: bytes,
    form: dict[str, str] | None,
    signature: str | None,
) -> bool:
    """Verify a message callback (``form``: its parameters; None: a JSON body, signed
    through the URL's ``bodySHA256``) with the token of the account in ``AccountSid``
    and store it for the apply job (:func:`apply_event` relays it): True, or False when
    it was stored before."""
    if form is None:
        try:
            payload = json.loads(raw)
        except ValueError as exc:
            raise DomainError("The body is not JSON.") from exc
        body: Any = raw.decode()
    else:
        payload = body = form
    fields = payload if isinstance(payload, dict) else {}
    account_sid = str(fields.get("AccountSid") or "")
    key = ":".join(str(fields.get(k, "")) for k in ("MessageSid", "MessageStatus", "SmsStatus"))
    event = NewEvent(Provider.TWILIO, f"{kind}:{key or body_digest(raw)}", kind, raw)
    return ingest_delivery(
        store,
        ("account", environment, account_sid),
        account_secret(account_sid, environment),
        lambda secret: signature_valid(secret.value("auth_token"), url, body, signature),
        lambda secret: event,
    )


def ingest_events(
    store: EventStore, token: str, url: str, raw: bytes, signature: str | None
) -> bool:
    """Verify an Event Streams delivery (the sink URL's ``token`` names the subaccount,
    whose auth token signs it) and store it for that subaccount's company: True, or
    False when it was stored before."""
    hashed = events_token_hash(token)

    def event(secret: Secret) -> NewEvent:
        events = parse_events(raw)
        key = ",".join(sorted(str(e.get("id") or "") for e in events)) or body_digest(raw)
        name = str(events[0].get("type") or "event") if events else "event"
        return NewEvent(Provider.TWILIO, f"events:{key}", name[-80:], raw,
                        company_id=secret.company_id)  # fmt: skip

    return ingest_delivery(
        store,
        ("events", hashed),
        _subaccount_secret(TwilioSubaccount.events_token_hash, hashed),
        lambda secret: signature_valid(
            secret.value("auth_token"), url, raw.decode("utf-8", "replace"), signature
        ),
        event,
    )


def account_secret(account_sid: str, environment: Environment | str) -> Loader:
    """The auth token of ``account_sid``: the master's (from the configuration) or a
    subaccount's own."""
    master = configuration_secret(Provider.TWILIO, environment)
    subaccount = _subaccount_secret(TwilioSubaccount.account_sid, account_sid)

    def load(session: Session) -> Secret | None:
        config = master(session)
        if config is not None and account_sid == config.value("account_sid"):
            return config if config.value("auth_token") else None
        return subaccount(session)

    return load


_SEALED = type_coerce(TwilioSubaccount.auth_token, Text)
# A subaccount's token is versioned by its ciphertext: any change of the token changes it.
SUBACCOUNT_UNCHANGED = exists().where(
    TwilioSubaccount.id == bindparam("secret_id"), bindparam("secret_sealed") == _SEALED
)


def _subaccount_secret(column: Any, value: str) -> Loader:
    """The auth token of the subaccount whose ``column`` is ``value`` (the query is built
    on a cache miss only)."""

    def load(session: Session) -> Secret | None:
        row = session.execute(
            select(
                TwilioSubaccount.id,
                TwilioSubaccount.company_id,
                TwilioSubaccount.auth_token,
                _SEALED.label("sealed"),
            ).where(column == value)
        ).first()
        if row is None or not row.auth_token:
            return None
        params = {"secret_id": row.id, "secret_sealed": row.sealed}
        return Secret(("twilio_subaccounts", row.id, row.sealed), {"auth_token": row.auth_token},
                      SUBACCOUNT_UNCHANGED, params, row.company_id)  # fmt: skip

    return load


def parse_events(body: bytes) -> list[dict[str, Any]]:
    try:
        events = json.loads(body)
    except ValueError as exc:
        raise DomainError("The body is not JSON.") from exc
    if isinstance(events, dict):
        events = [events]
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise DomainError("The body is not a list of CloudEvents.")
    return events


def apply_event(session: Session, event: WebhookEvent) -> list[int]:
    """Relay a stored message callback, or apply stored A2P CloudEvents to the brands of
    the company whose sink received them (an event naming another company's brand
    changes nothing); returns the ids of registration runs made due."""
    kind = event.dedupe_key.partition(":")[0]
    if kind in CALLBACK_KINDS:
        relay_callback(session, event, kind)
        return []
    due: list[int] = []
    if event.company_id is None:  # not received on a company's sink: nothing it may change
        return due
    for item in parse_events(event.payload.encode()):
        kind, data = str(item.get("type") or ""), item.get("data") or {}
        if kind.startswith(tollfree.EVENT_PREFIX) and isinstance(data, dict):
            tollfree.apply_event(session, event.company_id, data)
            continue
        brand_sid = data.get("brandsid") if isinstance(data, dict) else None
        if not brand_sid or not isinstance(brand_sid, str):  # (None would match drafts)
            continue
        brand = session.scalars(
            select(Tenant10DLCBrand).where(
                Tenant10DLCBrand.company_id == event.company_id,
                Tenant10DLCBrand.provider_brand_id == brand_sid,
            )
        ).one_or_none()
        if brand is None:
            continue
        if kind.startswith(BRAND_EVENT):
            apply_brand_status(session, brand, data.get("brandstatus"), data.get("failurereason"))
            apply_brand_identity(session, brand, data.get("identitystatus"))
        elif kind.startswith(CAMPAIGN_EVENT):
            deleted = "DELETED" if kind.endswith(".campaign-deleted") else None  # or expired
            status = data.get("externalstatus") or deleted or data.get("campaignregistrationstatus")
            failure = data.get("failurereason") or data.get("errorcode")
            apply_campaign_status(
                session,
                brand,
                status and str(status),
                failure and (data.get("errorcode"), data.get("failurereason")),
            )
        run = session.get(ProvisioningRun, brand.run_id) if brand.run_id else None
        if (
            run is not None
            and run.status is RunStatus.WAITING
            and run.flow == A2P_REGISTRATION.name
        ):
            run.resume_at = utcnow()
            due.append(run.id)
    return due


def callback_params(payload: str) -> dict[str, str]:
    """A stored callback's parameters: a form's (the first value of each) or a JSON body's."""
    if payload.lstrip().startswith("{"):
        try:
            fields = json.loads(payload)
        except ValueError:
            return {}
        return {str(k): str(v) for k, v in fields.items()} if isinstance(fields, dict) else {}
    return {k: v[0] for k, v in parse_qs(payload, keep_blank_values=True).items()}


def relay_callback(session: Session, event: WebhookEvent, kind: str) -> int:
    """Relay a message callback of a WhatsApp sender that is a channel of the subaccount
    in ``AccountSid`` (whose token signed it): an incoming message is addressed ``To`` the
    sender, a status is of a message ``From`` it. Anything else (an SMS number, the
    master account, a sender of another subaccount) is kept, not relayed."""
    params = callback_params(event.payload)
    inbound = kind == "messages"
    if not params.get("AccountSid"):
        return 0
    channel = session.scalar(
        select(Channel)
        .join(TwilioWhatsAppSender, TwilioWhatsAppSender.channel_id == Channel.id)
        .join(TwilioSubaccount, TwilioSubaccount.id == TwilioWhatsAppSender.subaccount_id)
        .where(
            TwilioSubaccount.account_sid == params["AccountSid"],
            TwilioWhatsAppSender.company_id == TwilioSubaccount.company_id,
            TwilioWhatsAppSender.sender_id == params.get("To" if inbound else "From", ""),
        )
    )
    if channel is None:
        return 0
    sid = params.get("MessageSid") or params.get("SmsSid") or ""
    status = params.get("MessageStatus") or params.get("SmsStatus") or None
    fields = envelope(
        message_id=sid or None, direction=INBOUND if inbound else OUTBOUND,
        sender=phone(params.get("From")), recipient=phone(params.get("To")),
        message_type=_message_type(params) if inbound else None,
        status=None if inbound else status, errors=_errors(params),
    )  # fmt: skip
    key = sid if inbound else f"{sid}:{status}"
    message = Message(RECEIVED if inbound else STATUS, key or event.dedupe_key, fields, params)
    return relay(session, channel, [message], event.received_at)


def _message_type(params: dict[str, str]) -> str:
    """``MessageType`` (WhatsApp), else text or media as ``NumMedia`` says."""
    if params.get("MessageType"):
        return params["MessageType"]
    return "media" if params.get("NumMedia", "0") not in ("", "0") else "text"


def _errors(params: dict[str, str]) -> list[dict[str, Any]]:
    code = params.get("ErrorCode")
    if not code:
        return []
    return [{"code": int(code) if code.isdigit() else code,
             "title": params.get("ErrorMessage") or "", "details": None}]  # fmt: skip
