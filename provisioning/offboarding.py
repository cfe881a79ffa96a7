"""Offboarding, across providers: what a number's or a company's teardown covers, and the
runs that do it (docs/offboarding.md).

One number: a Meta number (deregistered, its alternate callback cleared), a 360dialog
channel (its webhooks cleared, its keys revoked), a Twilio sender (deleted) or a Twilio
number (released, or returned to the platform's pool). A whole company: one run per Meta
WhatsApp account (every number, then the app unsubscribed), one per 360dialog client,
and one for the Twilio subaccount (senders, numbers, then the subaccount closed, last of
all). The runs share a key (:mod:`provisioning.offboarded`); the last to end marks the
company offboarded. Views call these services and enqueue the runs they return.

The provider packages never meet but here and in :mod:`provisioning.offboarded`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from . import audit, offboarded
from .dialog360 import offboarding as dialog360_offboarding
from .dialog360.models import Dialog360Channel, Dialog360Client
from .errors import DomainError
from .meta import offboarding as meta_offboarding
from .meta.models import MetaWhatsAppClient, MetaWhatsAppPhoneNumber
from .runs import ProvisioningRun
from .tenancy import Company, tenant_get, tenant_select
from .twilio import offboarding as twilio_offboarding
from .twilio.models import SmsPhoneNumber, TwilioSubaccount, TwilioWhatsAppSender

FLOWS = (meta_offboarding.FLOW_NAME, dialog360_offboarding.FLOW_NAME,
         twilio_offboarding.FLOW_NAME)  # fmt: skip
# A Meta account already gone from the platform's reach: nothing to undo through the API.
META_GONE = ("offboarded", "disconnected")


@dataclass
class Plan:
    """What a company's offboarding tears down, per provider."""

    meta: list[MetaWhatsAppClient] = field(default_factory=list)
    dialog360: list[Dialog360Client] = field(default_factory=list)
    twilio: TwilioSubaccount | None = None
    twilio_numbers: list[SmsPhoneNumber] = field(default_factory=list)
    twilio_senders: list[TwilioWhatsAppSender] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.meta or self.dialog360 or self.twilio)


def plan(session: Session, company_id: int) -> Plan:
    """The company's accounts and numbers still connected through the platform."""
    result = Plan()
    result.meta = [
        client
        for client in session.scalars(
            tenant_select(MetaWhatsAppClient, company_id).order_by(MetaWhatsAppClient.id)
        )
        if client.status not in META_GONE and client.access_token
    ]
    result.dialog360 = [
        client
        for client in session.scalars(
            tenant_select(Dialog360Client, company_id).order_by(Dialog360Client.id)
        )
        if client.status != "offboarded" and any(c.revoked_at is None for c in client.channels)
    ]
    sub = session.scalars(tenant_select(TwilioSubaccount, company_id)).one_or_none()
    if sub is not None and sub.account_sid and sub.status != "closed":
        result.twilio = sub
        result.twilio_numbers = list(session.scalars(
            tenant_select(SmsPhoneNumber, company_id).where(
                SmsPhoneNumber.account_sid == sub.account_sid, SmsPhoneNumber.status == "active"
            ).order_by(SmsPhoneNumber.phone_number)
        ))  # fmt: skip
        result.twilio_senders = [
            row
            for row in session.scalars(
                tenant_select(TwilioWhatsAppSender, company_id)
                .where(TwilioWhatsAppSender.subaccount_id == sub.id)
                .order_by(TwilioWhatsAppSender.sender_id)
            )
            if row.status != twilio_offboarding.OFFBOARDED
        ]
    return result


def offboard_company(
    session: Session, actor: audit.Actor, company: Company, *, return_numbers_to_pool: bool = False
) -> list[ProvisioningRun]:
    """Start the company's offboarding (or return the runs of the one under way). A company
    with nothing left to tear down is marked offboarded at once."""
    under_way = [
        run for run in offboarded.latest_company_runs(session, company.id)
        if not run.status.finished
    ]  # fmt: skip
    if under_way:
        return offboarded.latest_company_runs(session, company.id)
    todo = plan(session, company.id)
    audit.record(session, actor, "company.offboard", company, label=company.name,
                 company_id=company.id, return_numbers_to_pool=return_numbers_to_pool)  # fmt: skip
    if todo.empty:
        offboarded.mark_company(session, company)
        return []
    key = f"{company.public_id}-{offboarded.company_offboardings(session, company.id) + 1}"
    extra = {offboarded.COMPANY_KEY: key}
    started = [meta_offboarding.start_account(session, actor, c, **extra) for c in todo.meta]
    started += [dialog360_offboarding.start_client(session, actor, c, **extra)
                for c in todo.dialog360]  # fmt: skip
    if todo.twilio is not None:  # last: its subaccount closes after everything else
        started.append(twilio_offboarding.start_company(
            session, actor, todo.twilio, return_to_pool=return_numbers_to_pool, **extra
        ))  # fmt: skip
    session.flush()
    return started


def offboard_meta_number(
    session: Session, actor: audit.Actor, company_id: int, number_id: int
) -> ProvisioningRun:
    number = tenant_get(session, MetaWhatsAppPhoneNumber, company_id, number_id)
    if number.client.status in META_GONE:
        raise DomainError("This number's WhatsApp account is no longer connected.")
    return meta_offboarding.start_number(session, actor, number)


def offboard_dialog360_channel(
    session: Session, actor: audit.Actor, company_id: int, channel_id: int
) -> ProvisioningRun:
    row = tenant_get(session, Dialog360Channel, company_id, channel_id)
    if row.revoked_at is not None:
        raise DomainError("This 360dialog channel is no longer connected.")
    return dialog360_offboarding.start_channel(session, actor, row)


def offboard_twilio_sender(
    session: Session, actor: audit.Actor, company_id: int, sender_id: int
) -> ProvisioningRun:
    row = tenant_get(session, TwilioWhatsAppSender, company_id, sender_id)
    if row.status == twilio_offboarding.OFFBOARDED:
        raise DomainError("This sender was offboarded already.")
    return twilio_offboarding.start_sender(session, actor, _subaccount(session, company_id), row)


def offboard_twilio_number(
    session: Session,
    actor: audit.Actor,
    company_id: int,
    number_id: int,
    *,
    return_to_pool: bool = False,
) -> ProvisioningRun:
    row = tenant_get(session, SmsPhoneNumber, company_id, number_id)
    if row.status != "active":
        raise DomainError("Only an active number can be released or returned to the pool.")
    sub = _subaccount(session, company_id)
    return twilio_offboarding.start_number(session, actor, sub, row, return_to_pool=return_to_pool)


def _subaccount(session: Session, company_id: int) -> TwilioSubaccount:
    sub = session.scalars(tenant_select(TwilioSubaccount, company_id)).one_or_none()
    if sub is None or sub.status == "closed":
        raise DomainError("The company's Twilio subaccount is closed.")
    return sub


def runs_of(session: Session, company_id: int, limit: int = 20) -> list[ProvisioningRun]:
    """The company's offboarding runs, newest first."""
    return list(session.scalars(
        tenant_select(ProvisioningRun, company_id)
        .where(ProvisioningRun.flow.in_(FLOWS))
        .order_by(ProvisioningRun.id.desc()).limit(limit)
    ))  # fmt: skip
