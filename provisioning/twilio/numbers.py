"""Subaccounts and numbers: create on first need, search, buy exactly once, release, move.

A purchase is paid and must never happen twice. The pool row is written (``pending``)
and committed before the purchase call; after an error or a lost answer, the subaccount's
numbers are read before anything else, and a number that is there is kept.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from .. import audit, clients, phones, platform_events
from ..db import utcnow
from ..errors import DomainError, ProviderError
from ..partners import PartnerConfiguration
from ..tenancy import Company
from . import claims, regulatory
from .api import TwilioApi
from .models import SmsPhoneNumber, TwilioSubaccount

NUMBER_TYPES = ("local", "toll_free", "mobile")


def friendly_name(company: Company) -> str:
    return f"{company.name} [{company.public_id}]"


def subaccount_of(session: Session, company_id: int) -> TwilioSubaccount | None:
    return session.scalars(
        select(TwilioSubaccount).where(TwilioSubaccount.company_id == company_id)
    ).one_or_none()


def ensure_subaccount(
    session: Session,
    actor: audit.Actor,
    company: Company,
    config: PartnerConfiguration,
    transport: httpx.BaseTransport | None = None,
    *,
    commit: Callable[[], None],
) -> TwilioSubaccount:
    """The company's subaccount, created on first need (an earlier one is adopted).

    The claim (a ``pending`` row) is committed before Twilio is called: a second request
    meanwhile is told to try again in a moment instead of creating a second subaccount,
    and after a lost answer the next attempt finds the subaccount by its friendly name.
    """
    row = subaccount_of(session, company.id)
    if row is None or not row.account_sid:
        row = _claim_subaccount(session, company, config, row)
    if row.account_sid:
        if row.status == "closed":
            raise DomainError("The company's Twilio subaccount is closed.")
        return row
    commit()  # the claim is on record before Twilio is called
    master, name = clients.twilio_master(config, transport), row.friendly_name
    try:  # one made earlier (a lost answer, or the console) is adopted
        account = master.find_subaccount(name) or master.create_subaccount(name)
    except ProviderError:
        row.status = "failed"  # the claim ends; the next attempt looks the subaccount up first
        commit()
        raise
    row.account_sid, row.auth_token = account.sid, account.auth_token
    row.status = account.status or "active"
    audit.record(session, actor, "twilio_subaccount.create", row, label=name)
    return row


def _claim_subaccount(
    session: Session,
    company: Company,
    config: PartnerConfiguration,
    row: TwilioSubaccount | None,
) -> TwilioSubaccount:
    """The company's row, claimed for this request (or completed by another meanwhile)."""
    if row is None:
        mine = TwilioSubaccount(company_id=company.id, partner_configuration_id=config.id,
                                friendly_name=friendly_name(company), status="pending")  # fmt: skip
        row = claims.insert_or_reread(session, mine, lambda: subaccount_of(session, company.id))
        if row is mine:
            return row
    lapsed = or_(
        TwilioSubaccount.status != "pending", TwilioSubaccount.updated_at < claims.lapsed_before()
    )
    free = (TwilioSubaccount.account_sid.is_(None), lapsed)
    if claims.take(session, row, {"status": "pending", "updated_at": utcnow()}, *free):
        return row
    if row.account_sid:
        return row
    raise claims.busy("Creating the company's Twilio subaccount")


def subaccount_client(
    sub: TwilioSubaccount, config: PartnerConfiguration, transport: httpx.BaseTransport | None
) -> TwilioApi:
    """The subaccount's own credentials: product APIs refuse the parent's (fact sheet §1)."""
    if not sub.account_sid or not sub.auth_token:
        raise DomainError("The company's Twilio subaccount is still being created.")
    return clients.twilio_subaccount(config, sub.account_sid, sub.auth_token, transport)


def search_numbers(
    client: TwilioApi,
    country: str,
    number_type: str = "local",
    *,
    area_code: str | None = None,
    contains: str | None = None,
    sms: bool | None = None,
    mms: bool | None = None,
    voice: bool | None = None,
    limit: int = 20,
) -> list[dict[str, Any]]:
    if number_type not in NUMBER_TYPES:
        raise DomainError(f"Choose a number type among {', '.join(NUMBER_TYPES)}.")
    options = {
        "area_code": area_code or None,
        "contains": contains or None,
        "sms_enabled": sms,
        "mms_enabled": mms,
        "voice_enabled": voice,
        "limit": limit,
    }
    filters = {k: v for k, v in options.items() if v is not None}
    found = client.available_numbers(country, number_type, **filters)
    return [
        {
            "phone_number": n.phone_number,
            "friendly_name": n.friendly_name,
            "locality": n.locality,
            "region": n.region,
            "iso_country": n.iso_country,
            "capabilities": dict(n.capabilities or {}),
        }
        for n in found
    ]


def _activate(row: SmsPhoneNumber, number: Any, company_id: int, account_sid: str) -> None:
    row.provider_phone_id, row.account_sid = number.sid, account_sid
    row.company_id, row.status, row.failure_reason = company_id, "active", None
    row.capabilities = dict(number.capabilities or {})
    row.sms_url, row.status_callback = number.sms_url or None, number.status_callback or None
    row.allocated_at = row.allocated_at or utcnow()


def pool_row(session: Session, phone_number: str) -> SmsPhoneNumber | None:
    return session.scalars(
        select(SmsPhoneNumber).where(SmsPhoneNumber.phone_number == phone_number)
    ).one_or_none()


def buy_number(
    session: Session,
    actor: audit.Actor,
    company: Company,
    sub: TwilioSubaccount,
    client: TwilioApi,
    phone_number: str,
    commit: Callable[[], None],
    *,
    sms_url: str | None = None,
    status_callback: str | None = None,
    number_type: str = "local",
) -> SmsPhoneNumber:
    """Buy ``phone_number`` into the company's subaccount, at most once, whatever fails.

    The pool row is claimed (``pending``, stamped) and committed before any call: a
    second request meanwhile is told to try again in a moment, and after an error or a
    lost answer the next attempt reads the subaccount's numbers before buying. A number
    whose country regulates its ``number_type`` is bought with the company's approved
    regulatory bundle and its address, and refused before any paid call without one.
    """
    try:
        phone_number = phones.e164(phone_number)
    except phones.InvalidPhoneNumber as exc:
        raise DomainError(str(exc)) from exc
    account_sid = sub.account_sid
    if not account_sid:
        raise DomainError("The company's Twilio subaccount is still being created.")
    country = phones.country_of(phone_number)
    bundle = regulatory.bundle_for_purchase(session, company.id, client, country, number_type)
    row, tried = _claim_number(session, company, sub, phone_number)
    if row.status == "active":
        return row
    commit()  # the intent is on record before the paid call
    try:
        # A failed or lost earlier attempt may have bought it: look before buying.
        number = client.owned_number(phone_number) if tried else None
        action = "number.reconcile" if number is not None else "number.purchase"
        number = number or client.buy_number(
            phone_number, sms_url=sms_url, status_callback=status_callback,
            bundle_sid=bundle.bundle_sid, address_sid=bundle.address_sid,
        )  # fmt: skip
    except ProviderError as exc:
        explained = regulatory.explain(exc)  # 21649 & co. in plain words
        row.status, row.failure_reason = "failed", str(explained)[:500]
        audit.record(session, actor, "number.purchase_failed", row, label=phone_number,
                     company_id=company.id, code=exc.code)  # fmt: skip
        commit()
        if explained is exc:
            raise
        raise explained from exc
    _activate(row, number, company.id, account_sid)
    audit.record(session, actor, action, row, label=phone_number, company_id=company.id)
    announce(session, "number.purchased", row)
    return row


def announce(session: Session, event_type: str, row: SmsPhoneNumber) -> None:
    """``number.purchased`` or ``number.released``, with the change it announces."""
    data = {
        "number": {
            "id": row.id, "phone_number": row.phone_number, "sid": row.provider_phone_id,
            "status": row.status, "capabilities": dict(row.capabilities or {}),
        }
    }  # fmt: skip
    platform_events.emit(session, event_type, row.company_id, f"number:{row.id}", data)


def _claim_number(
    session: Session, company: Company, sub: TwilioSubaccount, phone_number: str
) -> tuple[SmsPhoneNumber, bool]:
    """The pool row, claimed for this purchase (unless it is active already), and whether
    an earlier attempt was made (which may have bought the number)."""
    row = pool_row(session, phone_number)
    if row is None:
        mine = SmsPhoneNumber(
            phone_number=phone_number, company_id=company.id, account_sid=sub.account_sid,
            status="pending", purchase_requested_at=utcnow(),
        )  # fmt: skip
        row = claims.insert_or_reread(session, mine, lambda: pool_row(session, phone_number))
        if row is mine:
            return row, False
    tried = row.purchase_requested_at is not None
    if row.status != "active":
        values = {"status": "pending", "purchase_requested_at": utcnow(), "failure_reason": None,
                  "company_id": company.id, "account_sid": sub.account_sid}  # fmt: skip
        ours = or_(SmsPhoneNumber.company_id.is_(None), SmsPhoneNumber.company_id == company.id)
        lapsed = or_(
            SmsPhoneNumber.status != "pending",
            SmsPhoneNumber.purchase_requested_at.is_(None),
            SmsPhoneNumber.purchase_requested_at < claims.lapsed_before(),
        )
        if claims.take(session, row, values, SmsPhoneNumber.status != "active", ours, lapsed):
            return row, tried
    if row.company_id not in (None, company.id):
        raise DomainError("This number belongs to another company.")
    if row.status == "active":
        return row, tried
    raise claims.busy(f"The purchase of {phone_number}")


def release_number(
    session: Session, actor: audit.Actor, row: SmsPhoneNumber, client: TwilioApi
) -> None:
    """Release for good (Twilio cannot undo it); an already released number is fine."""
    if row.status != "active" or not row.provider_phone_id:
        raise DomainError("Only an active number can be released.")
    client.release_number(row.provider_phone_id)
    row.status = "retired"
    audit.record(session, actor, "number.release", row, label=row.phone_number,
                 company_id=row.company_id)  # fmt: skip
    announce(session, "number.released", row)


def set_number_webhooks(
    session: Session,
    actor: audit.Actor,
    row: SmsPhoneNumber,
    client: TwilioApi,
    sms_url: str | None,
    status_callback: str | None,
) -> None:
    if not row.provider_phone_id:
        raise DomainError("Only an active number has webhooks.")
    number = client.update_number(
        row.provider_phone_id, sms_url=sms_url or "", status_callback=status_callback or ""
    )
    row.sms_url, row.status_callback = number.sms_url or None, number.status_callback or None
    audit.record(session, actor, "number.webhooks", row, label=row.phone_number,
                 company_id=row.company_id)  # fmt: skip


def reassign_number(
    session: Session,
    actor: audit.Actor,
    row: SmsPhoneNumber,
    target: TwilioSubaccount,
    master: TwilioApi,
) -> None:
    """Move a number to another company's subaccount (parent credentials, fact sheet §2)."""
    if row.status != "active" or not row.provider_phone_id or not row.account_sid:
        raise DomainError("Only an active number can be moved.")
    if target.account_sid == row.account_sid:
        return
    if not target.account_sid:
        raise DomainError("The company's Twilio subaccount is still being created.")
    master.move_number(row.account_sid, row.provider_phone_id, target.account_sid)
    previous = row.company_id
    row.account_sid, row.company_id, row.allocated_at = (
        target.account_sid,
        target.company_id,
        utcnow(),
    )
    audit.record(session, actor, "number.reassign", row, label=row.phone_number,
                 company_id=target.company_id, previous_company_id=previous)  # fmt: skip


def set_subaccount_status(
    session: Session,
    actor: audit.Actor,
    sub: TwilioSubaccount,
    master: TwilioApi,
    status: str,
) -> None:
    """Suspend, reactivate or close; closing releases every number (Twilio does it)."""
    if status not in ("active", "suspended", "closed"):
        raise DomainError("Unknown subaccount status.")
    if sub.status == "closed":
        raise DomainError("A closed subaccount cannot change any more.")
    if not sub.account_sid:
        raise DomainError("This subaccount is still being created at Twilio.")
    master.set_account_status(sub.account_sid, status)
    sub.status = status
    if status == "closed":
        sub.closed_at = utcnow()
        active = select(SmsPhoneNumber).where(
            SmsPhoneNumber.account_sid == sub.account_sid, SmsPhoneNumber.status == "active"
        )
        for row in session.scalars(active).all():
            row.status, row.failure_reason = "retired", "released when the subaccount closed"
            announce(session, "number.released", row)
    audit.record(session, actor, f"twilio_subaccount.{status}", sub, label=sub.friendly_name,
                 company_id=sub.company_id)  # fmt: skip
