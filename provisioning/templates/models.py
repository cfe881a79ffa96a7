"""Message templates of every provider in one model (issue 16).

A :class:`TemplateAccount` is where a provider keeps templates: a Meta WABA, a 360dialog
WABA (its ``waba_account_id``) or a Twilio subaccount (Content API). Each of its
:class:`MessageTemplate` rows is one name and language, in Meta's vocabulary whatever the
provider (status ``APPROVED``, category ``MARKETING``, components ``HEADER``/``BODY``...).
Every change lands in :class:`TemplateChange`, oldest first.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, UTCDateTime, created_at, intpk, updated_at, utcnow
from ..tenancy import CompanyOwned

# Statuses a template can be sent in.
SENDABLE = frozenset({"APPROVED"})
# Statuses that end in an alert to the company's admins (with a re-categorisation).
ALERTING = frozenset({"REJECTED", "PAUSED", "DISABLED"})
STATUSES = (
    "APPROVED", "PENDING", "REJECTED", "PAUSED", "DISABLED", "IN_APPEAL", "FLAGGED",
    "ARCHIVED", "PENDING_DELETION", "DELETED", "LIMIT_EXCEEDED", "DRAFT",
)  # fmt: skip
CATEGORIES = ("MARKETING", "UTILITY", "AUTHENTICATION")


class TemplateAccount(CompanyOwned, Base):
    """A provider account that holds templates, and how its last sync went."""

    __tablename__ = "template_accounts"
    __table_args__ = (UniqueConstraint("provider", "account_key"),)

    id: Mapped[intpk]
    provider: Mapped[str] = mapped_column(String(20))  # meta | dialog360 | twilio
    # The WABA id (Meta), the 360dialog waba_account_id, or the Twilio subaccount SID.
    account_key: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(200), default="")
    last_synced_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(String(500))
    # Templates the last sync could not read: [{"id", "name", "problem"}].
    skipped: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[created_at]

    templates: Mapped[list[MessageTemplate]] = relationship(back_populates="account")


class MessageTemplate(CompanyOwned, Base):
    """One template (a name in one language) as the provider last told."""

    __tablename__ = "message_templates"
    __table_args__ = (
        UniqueConstraint("account_id", "name", "language"),
        Index("ix_message_templates_company_status", "company_id", "status"),
    )

    id: Mapped[intpk]
    account_id: Mapped[int] = mapped_column(
        ForeignKey("template_accounts.id", ondelete="CASCADE"), index=True
    )
    provider_template_id: Mapped[str | None] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(512))
    language: Mapped[str] = mapped_column(String(20))
    category: Mapped[str] = mapped_column(String(20))
    components: Mapped[list[Any]] = mapped_column(default=list)
    parameter_format: Mapped[str] = mapped_column(String(12), default="POSITIONAL")
    status: Mapped[str] = mapped_column(String(20))
    rejected_reason: Mapped[str | None] = mapped_column(String(60))
    quality_score: Mapped[str | None] = mapped_column(String(12))
    previous_category: Mapped[str | None] = mapped_column(String(20))
    # Announced by Meta (template_category_update, impending form): the category the
    # template moves to at ``category_change_at``.
    impending_category: Mapped[str | None] = mapped_column(String(20))
    category_change_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    library_template_name: Mapped[str | None] = mapped_column(String(200))
    # A digest of what the provider's listing said: an unchanged template writes nothing.
    fingerprint: Mapped[str] = mapped_column(String(64), default="")
    # The provider's time of the newest webhook applied: older deliveries change nothing.
    observed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    account: Mapped[TemplateAccount] = relationship(back_populates="templates")

    @property
    def sendable(self) -> bool:
        return self.status in SENDABLE


class TemplateChange(CompanyOwned, Base):
    """One change of a template: what changed, from what to what, and who said so."""

    __tablename__ = "template_changes"
    __table_args__ = (Index("ix_template_changes_template_id", "template_id", "id"),)

    id: Mapped[intpk]
    template_id: Mapped[int] = mapped_column(ForeignKey("message_templates.id", ondelete="CASCADE"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    source: Mapped[str] = mapped_column(String(20))  # sync | webhook | builder
    # created | status | quality | category | category_impending | components | deleted
    kind: Mapped[str] = mapped_column(String(30))
    before: Mapped[str | None] = mapped_column(String(60))
    after: Mapped[str | None] = mapped_column(String(60))
    detail: Mapped[str] = mapped_column(Text, default="")
