"""Twilio's webhooks: signature checks per (sub)account, and applying A2P events (§4, §5).

Callbacks are signed ``X-Twilio-Signature`` with the auth token of the account named by
``AccountSid``: a subaccount's own token for its numbers, senders and services. JSON
bodies carry ``bodySHA256`` in the URL. Event Streams sinks are created in each
subaccount; their URL carries a token derived from the subaccount's secret (stored as a
hash: one indexed lookup finds the subaccount), and Twilio signs each delivery with the
subaccount's auth token like any JSON webhook ("Webhook Quickstart" of Event Streams,
and Twilio's "How to validate Event Streams webhooks" posts). A delivery's events are
applied to the rows of the company that owns the sink, never to another company's.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from ..db import utcnow
from ..errors import DomainError
from ..events import WebhookEvent
from ..partners import PartnerConfiguration
from ..runs import ProvisioningRun, RunStatus
from .models import Tenant10DLCBrand, TwilioSubaccount, events_token_hash
from .onboarding import A2P_REGISTRATION, apply_brand_status

BRAND_EVENT = "com.twilio.messaging.compliance.brand-registration."
CAMPAIGN_EVENT = "com.twilio.messaging.compliance.campaign-registration."


def auth_token_for(
    session: Session, account_sid: str, master: PartnerConfiguration | None
) -> str | None:
    """The token that signs ``account_sid``'s webhooks: its own, or the master's."""
    if master is not None and account_sid == master.value("account_sid"):
        return master.value("auth_token") or None
    sub = session.scalars(
        select(TwilioSubaccount).where(TwilioSubaccount.account_sid == account_sid)
    ).one_or_none()
    return sub.auth_token if sub is not None else None


def signature_valid(auth_token: str, url: str, body: Any, signature: str | None) -> bool:
    """Twilio's documented check (constant-time), for form params or a JSON body string.

    A JSON body is signed through the ``bodySHA256`` of its URL: without one, it is not.
    """
    if not signature:
        return False
    if isinstance(body, str) and not parse_qs(urlsplit(url).query).get("bodySHA256"):
        return False
    return bool(RequestValidator(auth_token).validate(url, body, signature))


def subaccount_for_events_token(session: Session, token: str) -> TwilioSubaccount | None:
    """The subaccount whose sink URL carries ``token``: one indexed lookup by its hash."""
    return session.scalars(
        select(TwilioSubaccount).where(
            TwilioSubaccount.events_token_hash == events_token_hash(token)
        )
    ).one_or_none()


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
    """Apply stored A2P CloudEvents to the brands of the company whose sink received them
    (an event naming another company's brand changes nothing); returns the ids of
    registration runs made due."""
    due: list[int] = []
    if event.company_id is None:  # not received on a company's sink: nothing it may change
        return due
    for item in parse_events(event.payload.encode()):
        kind, data = str(item.get("type") or ""), item.get("data") or {}
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
        elif kind.startswith(CAMPAIGN_EVENT):
            brand.campaign_status = data.get("externalstatus") or data.get(
                "campaignregistrationstatus"
            )
        run = session.get(ProvisioningRun, brand.run_id) if brand.run_id else None
        waiting = run is not None and run.status is RunStatus.WAITING
        if waiting and run.flow == A2P_REGISTRATION.name:
            run.resume_at = utcnow()
            due.append(run.id)
    return due
