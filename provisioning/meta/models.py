"""Meta's tables (seed 003): a client per WABA, and its phone numbers."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..crypto import EncryptedText
from ..db import Base, created_at, intpk, updated_at
from ..tenancy import CompanyOwned

# Client states the platform no longer reads the WABA in (the sync skips them).
NOT_SYNCED = ("reauthorization_required", "offboarded")
# Client states that stop every number of the WABA, whatever the number's own status.
BLOCKING_CLIENT_STATES = ("disabled", "restricted", "offboarded")


def blocking_status(client_status: str) -> str | None:
    """The channel status a client's state imposes on all its numbers, if it imposes one."""
    return client_status.upper() if client_status in BLOCKING_CLIENT_STATES else None


class MetaWhatsAppClient(CompanyOwned, Base):
    """A company's WhatsApp Business Account, shared with the platform's app."""

    __tablename__ = "meta_whatsapp_clients"

    id: Mapped[intpk]
    partner_configuration_id: Mapped[int | None] = mapped_column(
        ForeignKey("partner_configurations.id", ondelete="RESTRICT")
    )
    waba_id: Mapped[str] = mapped_column(String(32), unique=True)
    business_id: Mapped[str | None] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200), default="")
    # The business integration system-user token from the code exchange.
    access_token: Mapped[str | None] = mapped_column(
        EncryptedText("meta_whatsapp_clients.access_token")
    )
    status: Mapped[str] = mapped_column(String(40), default="active")
    reauthorization_reason: Mapped[str | None] = mapped_column(String(500))
    account_review_status: Mapped[str | None] = mapped_column(String(40))
    restriction: Mapped[dict[str, Any]] = mapped_column(default=dict)
    subscribed_at: Mapped[dt.datetime | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    phone_numbers: Mapped[list[MetaWhatsAppPhoneNumber]] = relationship(back_populates="client")

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
    messaging_limit: Mapped[str | None] = mapped_column(String(40))  # current field
    messaging_limit_tier: Mapped[str | None] = mapped_column(String(40))  # deprecated field
    throughput_level: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str | None] = mapped_column(String(40))
    code_verification_status: Mapped[str | None] = mapped_column(String(40))
    platform_type: Mapped[str | None] = mapped_column(String(40))
    health_status: Mapped[dict[str, Any]] = mapped_column(default=dict)
    pin: Mapped[str | None] = mapped_column(EncryptedText("meta_whatsapp_phone_numbers.pin"))
    registered_at: Mapped[dt.datetime | None]
    last_synced_at: Mapped[dt.datetime | None]
    # Meta's time of the newest webhook applied: an older delivery changes nothing.
    provider_observed_at: Mapped[dt.datetime | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    client: Mapped[MetaWhatsAppClient] = relationship(back_populates="phone_numbers")
