"""A company's template accounts and what the pages list of them."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..dialog360.models import Dialog360Channel, Dialog360Client
from ..meta.models import NOT_SYNCED, MetaWhatsAppClient
from ..tenancy import tenant_get, tenant_select
from ..twilio.models import TwilioSubaccount
from .core import ensure_account
from .models import STATUSES, MessageTemplate, TemplateAccount


def discover(session: Session, company_id: int) -> list[TemplateAccount]:
    """Every account the company's connections hold templates in (rows made on first
    sight), oldest first."""
    for waba_id, name in session.execute(
        select(MetaWhatsAppClient.waba_id, MetaWhatsAppClient.name).where(
            MetaWhatsAppClient.company_id == company_id,
            MetaWhatsAppClient.status.not_in(NOT_SYNCED),
        )
    ):
        ensure_account(session, company_id, "meta", waba_id, name)
    for waba_account_id, name in session.execute(
        select(Dialog360Channel.waba_account_id, Dialog360Client.name)
        .join(Dialog360Client, Dialog360Client.id == Dialog360Channel.client_id)
        .where(
            Dialog360Channel.company_id == company_id,
            Dialog360Channel.waba_account_id.is_not(None),
        )
        .distinct()
    ):
        ensure_account(session, company_id, "dialog360", str(waba_account_id), name)
    for sid, name in session.execute(
        select(TwilioSubaccount.account_sid, TwilioSubaccount.friendly_name).where(
            TwilioSubaccount.company_id == company_id,
            TwilioSubaccount.account_sid.is_not(None),
            TwilioSubaccount.status == "active",
        )
    ):
        ensure_account(session, company_id, "twilio", str(sid), name)
    return list(
        session.scalars(tenant_select(TemplateAccount, company_id).order_by(TemplateAccount.id))
    )


def account_of(session: Session, company_id: int, account_id: int) -> TemplateAccount:
    return tenant_get(session, TemplateAccount, company_id, account_id)


def template_of(session: Session, company_id: int, template_id: int) -> MessageTemplate:
    return tenant_get(session, MessageTemplate, company_id, template_id)


def listing(
    session: Session,
    company_id: int,
    *,
    status: str | None = None,
    account_id: int | None = None,
    limit: int = 500,
) -> list[MessageTemplate]:
    stmt = tenant_select(MessageTemplate, company_id)
    if status:
        stmt = stmt.where(MessageTemplate.status == status)
    if account_id:
        stmt = stmt.where(MessageTemplate.account_id == account_id)
    return list(
        session.scalars(stmt.order_by(MessageTemplate.name, MessageTemplate.language).limit(limit))
    )


def counts_by_status(session: Session, company_id: int | None = None) -> dict[str, int]:
    """Templates per status (of one company, or of every company), in STATUSES order."""
    stmt = select(MessageTemplate.status, func.count()).group_by(MessageTemplate.status)
    if company_id is not None:
        stmt = stmt.where(MessageTemplate.company_id == company_id)
    counts = {status: count for status, count in session.execute(stmt)}
    return {status: counts[status] for status in STATUSES if counts.get(status)}
