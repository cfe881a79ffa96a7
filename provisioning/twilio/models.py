"""Twilio's tables: a subaccount per company, and the SMS phone pool (seed 000)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, validates

from ..crypto import EncryptedText
from ..db import Base, created_at, intpk, updated_at


def events_token_of(auth_token: str) -> str:
    """The secret path segment of a subaccount's Event Streams sink URL."""
    digest = hmac.new(auth_token.encode(), b"event-streams-sink", hashlib.sha256)
    return digest.hexdigest()[:40]


def events_token_hash(token: str) -> str:
    """How a sink token is stored and looked up (one indexed lookup, nothing decrypted)."""
    return hashlib.sha256(token.encode()).hexdigest()


class TwilioSubaccount(Base):
    """A company's subaccount.

    The row is written ``pending`` (no SID, no token) and committed before Twilio is asked
    to create the subaccount: a second request finds the claim instead of creating a
    second one (see :func:`provisioning.twilio.numbers.ensure_subaccount`).
    """

    __tablename__ = "twilio_subaccounts"

    id: Mapped[intpk]
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), unique=True
    )
    partner_configuration_id: Mapped[int | None] = mapped_column(
        ForeignKey("partner_configurations.id", ondelete="RESTRICT")
    )
    account_sid: Mapped[str | None] = mapped_column(String(34), unique=True)
    auth_token: Mapped[str | None] = mapped_column(EncryptedText("twilio_subaccounts.auth_token"))
    # SHA-256 of the sink token, kept in step with auth_token: finds the sink's subaccount
    events_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    friendly_name: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(20), default="active")
    closed_at: Mapped[dt.datetime | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    @validates("auth_token")
    def _keep_events_token_hash(self, key: str, auth_token: str | None) -> str | None:
        self.events_token_hash = (
            events_token_hash(events_token_of(auth_token)) if auth_token else None
        )
        return auth_token

    def events_token(self) -> str:
        """The secret path segment of this subaccount's Event Streams sink: it names the
        subaccount; ``X-Twilio-Signature`` (its auth token) proves the sender."""
        if not self.auth_token:
            raise ValueError("a subaccount still being created has no events token")
        return events_token_of(self.auth_token)


class SmsPhoneNumber(Base):
    """A number of the platform's pool: who holds it, and in which state.

    ``pending`` is written before a purchase is attempted, so a purchase whose answer was
    lost is looked up in the subaccount instead of being made a second time.
    """

    __tablename__ = "sms_phone_pool"

    id: Mapped[intpk]
    phone_number: Mapped[str] = mapped_column(String(20), unique=True)
    provider_phone_id: Mapped[str | None] = mapped_column(String(34), unique=True)
    company_id: Mapped[int | None] = mapped_column(
        ForeignKey("companies.id", ondelete="SET NULL"), index=True
    )
    account_sid: Mapped[str | None] = mapped_column(String(34))
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    failure_reason: Mapped[str | None] = mapped_column(String(500))
    capabilities: Mapped[dict[str, Any]] = mapped_column(default=dict)
    sms_url: Mapped[str | None] = mapped_column(String(500))
    status_callback: Mapped[str | None] = mapped_column(String(500))
    purchase_requested_at: Mapped[dt.datetime | None]
    allocated_at: Mapped[dt.datetime | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]


class TwilioWhatsAppSender(Base):
    """A WhatsApp sender in a company's subaccount (Senders API v2, fact sheet §3)."""

    __tablename__ = "twilio_whatsapp_senders"

    id: Mapped[intpk]
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    subaccount_id: Mapped[int] = mapped_column(
        ForeignKey("twilio_subaccounts.id", ondelete="CASCADE"), index=True
    )
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channels.id", ondelete="SET NULL"))
    sender_id: Mapped[str] = mapped_column(String(40), unique=True)  # whatsapp:+E164
    sender_sid: Mapped[str | None] = mapped_column(String(34), unique=True)
    waba_id: Mapped[str] = mapped_column(String(32))
    profile_name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(40), default="REQUESTED")
    offline_reasons: Mapped[list[Any]] = mapped_column(default=list)
    quality_rating: Mapped[str | None] = mapped_column(String(40))
    messaging_limit: Mapped[str | None] = mapped_column(String(60))
    last_error: Mapped[str | None] = mapped_column(String(500))
    last_synced_at: Mapped[dt.datetime | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]
