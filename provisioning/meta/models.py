"""Meta's tables (seed 003): business portfolios, a client per WABA, and its numbers."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..crypto import EncryptedText
from ..db import Base, created_at, intpk, updated_at
from ..tenancy import CompanyOwned

# Client states the platform no longer reads the WABA in (the sync skips them).
NOT_SYNCED = ("reauthorization_required", "offboarded", "disconnected")
# Client states that stop every number of the WABA, whatever the number's own status.
BLOCKING_CLIENT_STATES = ("disabled", "restricted", "offboarded", "disconnected")


def blocking_status(client_status: str) -> str | None:
    """The channel status a client's state imposes on all its numbers, if it imposes one."""
    return client_status.upper() if client_status in BLOCKING_CLIENT_STATES else None


class MetaBusinessPortfolio(CompanyOwned, Base):
    """A customer's business portfolio (Meta "business"): it owns WABAs and, since October
    2025, the messaging limit all their numbers share (M-limits)."""

    __tablename__ = "meta_business_portfolios"
    __table_args__ = (UniqueConstraint("company_id", "business_id"),)

    id: Mapped[intpk]
    business_id: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200), default="")
    verification_status: Mapped[str | None] = mapped_column(String(40))
    # Raw tier (TIER_250 ... TIER_UNLIMITED): the portfolio's one messaging limit.
    messaging_limit: Mapped[str | None] = mapped_column(String(40))
    limit_observed_at: Mapped[dt.datetime | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    clients: Mapped[list[MetaWhatsAppClient]] = relationship(back_populates="portfolio")

    @property
    def phone_numbers(self) -> list[MetaWhatsAppPhoneNumber]:
        return [number for client in self.clients for number in client.phone_numbers]


class MetaWhatsAppClient(CompanyOwned, Base):
    """A company's WhatsApp Business Account, shared with the platform's app."""

    __tablename__ = "meta_whatsapp_clients"

    id: Mapped[intpk]
    partner_configuration_id: Mapped[int | None] = mapped_column(
        ForeignKey("partner_configurations.id", ondelete="RESTRICT")
    )
    waba_id: Mapped[str] = mapped_column(String(32), unique=True)
    business_id: Mapped[str | None] = mapped_column(String(32))
    portfolio_id: Mapped[int | None] = mapped_column(
        ForeignKey("meta_business_portfolios.id", ondelete="SET NULL"), index=True
    )
    name: Mapped[str] = mapped_column(String(200), default="")
    # The business integration system-user token from the code exchange.
    access_token: Mapped[str | None] = mapped_column(
        EncryptedText("meta_whatsapp_clients.access_token")
    )
    status: Mapped[str] = mapped_column(String(40), default="active")
    reauthorization_reason: Mapped[str | None] = mapped_column(String(500))
    account_review_status: Mapped[str | None] = mapped_column(String(40))
    restriction: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # What Meta told about the account that has no column: account alerts, security
    # events, events this version does not know (newest last, a bounded list).
    notices: Mapped[list[Any]] = mapped_column(default=list)
    subscribed_at: Mapped[dt.datetime | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    phone_numbers: Mapped[list[MetaWhatsAppPhoneNumber]] = relationship(back_populates="client")
    portfolio: Mapped[MetaBusinessPortfolio | None] = relationship(back_populates="clients")

    @property
    def readable(self) -> bool:
        """Whether the platform can still read this WABA with the stored token."""
        return self.status not in NOT_SYNCED and self.access_token is not None


class MetaWhatsAppPhoneNumber(CompanyOwned, Base):
    __tablename__ = "meta_whatsapp_phone_numbers"

    id: Mapped[intpk]
    client_id: Mapped[int] = mapped_column(
        ForeignKey("meta_whatsapp_clients.id", ondelete="CASCADE"), index=True
    )
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channels.id", ondelete="SET NULL"))
    phone_number_id: Mapped[str] = mapped_column(String(32), unique=True)
    display_phone_number: Mapped[str] = mapped_column(String(32), default="")
    verified_name: Mapped[str] = mapped_column(String(200), default="")
    name_status: Mapped[str | None] = mapped_column(String(40))
    quality_rating: Mapped[str | None] = mapped_column(String(20))
    # The portfolio's limit as Graph reported it on this number (the portfolio row holds
    # the one that counts); messaging_limit_tier is the deprecated per-number field (<v25).
    messaging_limit: Mapped[str | None] = mapped_column(String(40))
    messaging_limit_tier: Mapped[str | None] = mapped_column(String(40))
    # Throughput is the number's own (STANDARD, HIGH): never a messaging limit (M-tput).
    throughput_level: Mapped[str | None] = mapped_column(String(40))
    is_on_biz_app: Mapped[bool] = mapped_column(Boolean, default=False)  # coexistence
    status: Mapped[str | None] = mapped_column(String(40))
    code_verification_status: Mapped[str | None] = mapped_column(String(40))
    platform_type: Mapped[str | None] = mapped_column(String(40))
    health_status: Mapped[dict[str, Any]] = mapped_column(default=dict)
    pin: Mapped[str | None] = mapped_column(EncryptedText("meta_whatsapp_phone_numbers.pin"))
    # A PIN being set at Meta: kept until Meta confirms it, so a lost answer loses no PIN.
    pin_pending: Mapped[str | None] = mapped_column(
        EncryptedText("meta_whatsapp_phone_numbers.pin_pending")
    )
    # Meta said the PIN changed elsewhere (security webhook): the stored one may be wrong.
    pin_stale_at: Mapped[dt.datetime | None]
    # The register and deregister calls the platform made (ISO times; Meta allows 10 per
    # 72 hours and does not tell how many are left).
    register_calls: Mapped[list[Any]] = mapped_column(default=list)
    # A display name change asked for (number_profile): Meta's new_display_name and
    # new_name_status, why Meta rejected it (phone_number_name_update), when it was asked.
    new_display_name: Mapped[str | None] = mapped_column(String(200))
    new_name_status: Mapped[str | None] = mapped_column(String(40))
    name_rejection_reason: Mapped[str | None] = mapped_column(String(60))
    name_requested_at: Mapped[dt.datetime | None]
    registered_at: Mapped[dt.datetime | None]
    last_synced_at: Mapped[dt.datetime | None]
    # Meta's time of the newest webhook applied: an older delivery changes nothing.
    provider_observed_at: Mapped[dt.datetime | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    client: Mapped[MetaWhatsAppClient] = relationship(back_populates="phone_numbers")
