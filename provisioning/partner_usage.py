"""What uses a partner configuration: every row that references it, counted in words.

Every foreign key to ``partner_configurations`` is found in the schema itself, so a table
added later counts as a use without being listed here; the words (companies, accounts,
numbers, runs) come from the provider tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Column, func, select, union
from sqlalchemy.orm import Session

from .db import Base
from .dialog360.models import Dialog360Channel, Dialog360Client
from .meta.models import MetaWhatsAppClient, MetaWhatsAppPhoneNumber
from .partners import PartnerConfiguration, Provider
from .runs import ProvisioningRun, RunStatus
from .twilio.models import SmsPhoneNumber, TwilioSubaccount, TwilioWhatsAppSender

ACCOUNTS = {  # the provider's account a company holds through the configuration
    Provider.META: (MetaWhatsAppClient, "WhatsApp Business account"),
    Provider.DIALOG360: (Dialog360Client, "360dialog client"),
    Provider.TWILIO: (TwilioSubaccount, "Twilio subaccount"),
}
FINISHED_RUNS = (RunStatus.COMPLETED, RunStatus.CANCELLED, RunStatus.FAILED)


@dataclass(frozen=True)
class Usage:
    """The rows that use one configuration."""

    provider: Provider
    companies: int = 0
    accounts: int = 0  # WABAs, 360dialog clients or Twilio subaccounts
    numbers: int = 0  # WhatsApp numbers, 360dialog channels, Twilio senders and SMS numbers
    runs: int = 0  # onboarding runs on record
    runs_under_way: int = 0
    references: dict[str, int] = field(default_factory=dict)  # table -> rows

    @property
    def in_use(self) -> bool:
        return any(self.references.values())

    def describe(self) -> str:
        """Like ``2 companies: 3 WhatsApp Business accounts, 7 numbers, 4 onboarding runs``."""
        account = ACCOUNTS[self.provider][1]
        parts = [
            plural(self.accounts, account),
            plural(self.numbers, "number"),
            plural(self.runs, "onboarding run"),
        ]
        counted = {ACCOUNTS[self.provider][0].__tablename__, ProvisioningRun.__tablename__}
        parts += [f"{n} row(s) of {table}" for table, n in self.references.items()
                  if table not in counted]  # fmt: skip
        listed = ", ".join(p for p in parts if not p.startswith("0 "))
        return f"{plural(self.companies, 'company', 'companies')}: {listed or 'nothing'}"


def plural(count: int, singular: str, many: str | None = None) -> str:
    return f"{count} {singular if count == 1 else many or singular + 's'}"


def referencing_columns() -> list[Column]:
    """Every column, in every table, that is a foreign key to a partner configuration."""
    target = Base.metadata.tables[PartnerConfiguration.__tablename__]
    return [
        fk.parent
        for table in Base.metadata.sorted_tables
        for fk in table.foreign_keys
        if fk.references(target)
    ]


def usage(session: Session, config: PartnerConfiguration) -> Usage:
    columns = referencing_columns()
    references = {
        column.table.name: session.scalar(
            select(func.count()).select_from(column.table).where(column == config.id)
        )
        or 0
        for column in columns
    }
    owners = [
        select(column.table.c.company_id).where(column == config.id)
        for column in columns
        if "company_id" in column.table.c
    ]
    companies = session.scalar(select(func.count()).select_from(union(*owners).subquery()))
    runs_under_way = session.scalar(
        select(func.count(ProvisioningRun.id)).where(
            ProvisioningRun.partner_configuration_id == config.id,
            ProvisioningRun.status.not_in(FINISHED_RUNS),
        )
    )
    account_model = ACCOUNTS[config.provider][0]
    return Usage(
        provider=config.provider,
        companies=companies or 0,
        accounts=references.get(account_model.__tablename__, 0),
        numbers=_numbers(session, config),
        runs=references.get(ProvisioningRun.__tablename__, 0),
        runs_under_way=runs_under_way or 0,
        references=references,
    )


def _numbers(session: Session, config: PartnerConfiguration) -> int:
    """The numbers connected through the configuration."""
    if config.provider is Provider.META:
        stmt = (
            select(func.count(MetaWhatsAppPhoneNumber.id))
            .join(MetaWhatsAppClient)
            .where(MetaWhatsAppClient.partner_configuration_id == config.id)
        )
        return session.scalar(stmt) or 0
    if config.provider is Provider.DIALOG360:
        stmt = (
            select(func.count(Dialog360Channel.id))
            .join(Dialog360Client)
            .where(
                Dialog360Client.partner_configuration_id == config.id,
                Dialog360Channel.revoked_at.is_(None),
            )
        )
        return session.scalar(stmt) or 0
    subaccounts = select(TwilioSubaccount.id).where(
        TwilioSubaccount.partner_configuration_id == config.id
    )
    senders = session.scalar(
        select(func.count(TwilioWhatsAppSender.id)).where(
            TwilioWhatsAppSender.subaccount_id.in_(subaccounts)
        )
    )
    sids = select(TwilioSubaccount.account_sid).where(
        TwilioSubaccount.partner_configuration_id == config.id
    )
    sms = session.scalar(
        select(func.count(SmsPhoneNumber.id)).where(
            SmsPhoneNumber.account_sid.in_(sids), SmsPhoneNumber.status == "active"
        )
    )
    return (senders or 0) + (sms or 0)
