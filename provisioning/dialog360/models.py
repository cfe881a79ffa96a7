"""360dialog's tables (seed 003): a client per company hub account, and its channels."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..crypto import EncryptedText
from ..db import Base, created_at, intpk, updated_at
from ..tenancy import CompanyOwned


class Dialog360Client(CompanyOwned, Base):
    __tablename__ = "dialog_360_clients"

    id: Mapped[intpk]
    partner_configuration_id: Mapped[int | None] = mapped_column(
        ForeignKey("partner_configurations.id", ondelete="RESTRICT")
    )
    client_id: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str | None] = mapped_column(String(40))
    partner_payload: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    channels: Mapped[list[Dialog360Channel]] = relationship(back_populates="client")


class Dialog360Channel(CompanyOwned, Base):
    __tablename__ = "dialog_360_channels"

    id: Mapped[intpk]
    client_id: Mapped[int] = mapped_column(
        ForeignKey("dialog_360_clients.id", ondelete="CASCADE"), index=True
    )
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channels.id", ondelete="SET NULL"))
    dialog_channel_id: Mapped[str] = mapped_column(String(40), unique=True)
    phone_number: Mapped[str] = mapped_column(String(32), default="")
    phone_name: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str | None] = mapped_column(String(40))
    waba_account_id: Mapped[str | None] = mapped_column(String(40))
    external_id: Mapped[str | None] = mapped_column(String(40))
    quality_rating: Mapped[str | None] = mapped_column(String(20))
    messaging_limit: Mapped[str | None] = mapped_column(String(40))
    api_key: Mapped[str | None] = mapped_column(EncryptedText("dialog_360_channels.api_key"))
    api_key_id: Mapped[str | None] = mapped_column(String(80))
    # Set before asking 360dialog for a key; a key request revokes the older keys.
    api_key_requested_at: Mapped[dt.datetime | None]
    webhook_url: Mapped[str | None] = mapped_column(String(500))
    # SHA-256 of the secret the channel's messaging webhook carries (the secret itself is
    # handed to 360dialog with the webhook and never stored); see dialog360/messaging.py.
    webhook_token_digest: Mapped[str | None] = mapped_column(String(64), unique=True)
    # template_messaging_enabled / _disabled partner events; None until one arrives.
    template_messaging: Mapped[bool | None]
    health: Mapped[dict[str, Any]] = mapped_column(default=dict)
    revoked_at: Mapped[dt.datetime | None]
    last_synced_at: Mapped[dt.datetime | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    client: Mapped[Dialog360Client] = relationship(back_populates="channels")


class Dialog360MessagingEvent(CompanyOwned, Base):
    """A stored messaging webhook (messages, statuses, errors) of one channel."""

    __tablename__ = "dialog_360_messaging_events"
    __table_args__ = (Index("ix_dialog_360_messaging_events_channel_id_id", "channel_id", "id"),)

    id: Mapped[intpk]
    channel_id: Mapped[int] = mapped_column(
        ForeignKey("dialog_360_channels.id", ondelete="CASCADE")
    )
    webhook_event_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_events.id", ondelete="CASCADE"), unique=True
    )
    kind: Mapped[str] = mapped_column(String(20))  # messages, statuses, errors, other
    summary: Mapped[str] = mapped_column(String(200), default="")
    received_at: Mapped[created_at]
