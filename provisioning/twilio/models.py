"""Twilio's tables (seed 000): a subaccount per company, the SMS phone pool, WhatsApp
senders, and the A2P 10DLC business profile with its brand snapshots.

``tenant_business_info`` is the company's current profile, always editable. Submitting it
copies it into a new ``tenant_10dlc_brands`` row. Once the provider approves a brand,
its snapshot can no longer change: a database trigger refuses it (see the migration), and
new business details mean a new submission, the old row deactivated with a reason.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, validates

from ..crypto import EncryptedJSON, EncryptedText
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
    # The Messaging Service it sends from (a 10DLC number: its company's campaign service)
    messaging_service_sid: Mapped[str | None] = mapped_column(String(34))
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


# The business fields both tables carry (the snapshot is a copy of these).
BUSINESS_FIELDS = (
    "legal_business_name",
    "dba_name",
    "business_website",
    "business_type",
    "industry_vertical",
    "business_registration_number",
    "country",
    "business_address",
    "business_city",
    "business_state",
    "business_zip",
    "owner_name",
    "owner_title",
    "owner_email",
    "owner_phone",
    "company_type",
    "use_case",
    "campaign_description",
    "message_flow",
    "sample_message_1",
    "sample_message_2",
    "opt_in_keywords",
    "opt_out_keywords",
    "privacy_policy_url",
    "terms_url",
    "brand_type",
)
LONG_FIELDS = {"campaign_description", "message_flow", "sample_message_1", "sample_message_2"}


class BusinessProfile:
    """The business columns: the editable profile and every brand snapshot carry them."""

    legal_business_name: Mapped[str] = mapped_column(String(255), default="")
    dba_name: Mapped[str] = mapped_column(String(255), default="")
    business_website: Mapped[str] = mapped_column(String(255), default="")
    business_type: Mapped[str] = mapped_column(String(255), default="")
    industry_vertical: Mapped[str] = mapped_column(String(255), default="")
    business_registration_number: Mapped[str] = mapped_column(String(255), default="")
    country: Mapped[str] = mapped_column(String(255), default="US")
    business_address: Mapped[str] = mapped_column(String(255), default="")
    business_city: Mapped[str] = mapped_column(String(255), default="")
    business_state: Mapped[str] = mapped_column(String(255), default="")
    business_zip: Mapped[str] = mapped_column(String(255), default="")
    owner_name: Mapped[str] = mapped_column(String(255), default="")
    owner_title: Mapped[str] = mapped_column(String(255), default="")
    owner_email: Mapped[str] = mapped_column(String(255), default="")
    owner_phone: Mapped[str] = mapped_column(String(255), default="")
    company_type: Mapped[str] = mapped_column(String(255), default="private")
    use_case: Mapped[str] = mapped_column(String(255), default="")
    campaign_description: Mapped[str] = mapped_column(Text, default="")
    message_flow: Mapped[str] = mapped_column(Text, default="")
    sample_message_1: Mapped[str] = mapped_column(Text, default="")
    sample_message_2: Mapped[str] = mapped_column(Text, default="")
    opt_in_keywords: Mapped[str] = mapped_column(String(255), default="START")
    opt_out_keywords: Mapped[str] = mapped_column(String(255), default="STOP")
    privacy_policy_url: Mapped[str] = mapped_column(String(255), default="")
    terms_url: Mapped[str] = mapped_column(String(255), default="")
    # 10DLC brand types (issue 18): SOLE_PROPRIETOR | LOW_VOLUME_STANDARD | STANDARD
    brand_type: Mapped[str] = mapped_column(String(30), default="STANDARD")


class TenantBusinessInfo(BusinessProfile, Base):
    __tablename__ = "tenant_business_info"

    id: Mapped[intpk]
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), unique=True
    )
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]


class Tenant10DLCBrand(BusinessProfile, Base):
    __tablename__ = "tenant_10dlc_brands"
    # One active submission per company, even when two requests submit at once.
    __table_args__ = (
        Index(
            "uq_tenant_10dlc_brands_active_company_id",
            "company_id",
            unique=True,
            postgresql_where=text("is_active"),
            sqlite_where=text("is_active"),
        ),
    )

    id: Mapped[intpk]
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    # -- the snapshot (the business columns, immutable once approved) ------------------
    provider: Mapped[str] = mapped_column(String(20), default="twilio")
    provider_brand_id: Mapped[str | None] = mapped_column(String(34), unique=True)
    provider_approved_at: Mapped[dt.datetime | None]
    # -- what keeps changing ----------------------------------------------------------
    provider_status: Mapped[str] = mapped_column(String(40), default="DRAFT")
    provider_status_reason: Mapped[str | None] = mapped_column(Text)
    campaign_status: Mapped[str | None] = mapped_column(String(40))
    provider_config_json: Mapped[dict[str, Any]] = mapped_column(default=dict)
    run_id: Mapped[int | None] = mapped_column(
        ForeignKey("provisioning_runs.id", ondelete="SET NULL")
    )
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    deprecation_reason: Mapped[str | None] = mapped_column(String(500))
    provider_verified_at: Mapped[dt.datetime | None]
    # -- 10DLC brand types (issue 18): identity, trust score, the sole proprietor's code --
    identity_status: Mapped[str | None] = mapped_column(String(40))
    brand_score: Mapped[int | None]
    otp_sent_at: Mapped[dt.datetime | None]  # when the current code was texted
    otp_resends: Mapped[int] = mapped_column(default=0)  # "Send the code again" requests
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]


# Columns an approved brand may never change (the trigger's list).
SNAPSHOT_COLUMNS = (*BUSINESS_FIELDS, "provider", "provider_brand_id", "provider_approved_at",
                    "company_id")  # fmt: skip


# -- Regulatory compliance bundles: numbers outside the US (issue 18 item 2) ------------


class RegulatoryBundle(Base):
    """A company's regulatory bundle (numbers v2) for one country, number type and end-user
    type, with what went into it and how Twilio's review went.

    The end user's details and the address are personal data: stored encrypted. A copy
    made when a regulation changed (``copy_of_id``) replaces its original's items once
    approved (see :mod:`provisioning.twilio.regulatory`).
    """

    __tablename__ = "twilio_regulatory_bundles"

    id: Mapped[intpk]
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    iso_country: Mapped[str] = mapped_column(String(2))
    number_type: Mapped[str] = mapped_column(String(20))
    end_user_type: Mapped[str] = mapped_column(String(20))
    regulation_sid: Mapped[str] = mapped_column(String(34))
    friendly_name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(255))
    bundle_sid: Mapped[str | None] = mapped_column(String(34), unique=True)
    status: Mapped[str] = mapped_column(String(30), default="draft", index=True)
    # what Twilio's evaluation or review found wrong, in its words: [{requirement, reason}]
    failure_reasons: Mapped[list[Any]] = mapped_column(default=list)
    valid_until: Mapped[dt.datetime | None]
    end_user_sid: Mapped[str | None] = mapped_column(String(34))
    address_sid: Mapped[str | None] = mapped_column(String(34))
    item_sids: Mapped[list[Any]] = mapped_column(default=list)
    # the sids of the creates sent (intent) and made, for a resumed run
    provider_ids: Mapped[dict[str, Any]] = mapped_column(default=dict)
    end_user_attributes: Mapped[dict[str, Any] | None] = mapped_column(
        EncryptedJSON("twilio_regulatory_bundles.end_user_attributes")
    )
    address: Mapped[dict[str, Any] | None] = mapped_column(
        EncryptedJSON("twilio_regulatory_bundles.address")
    )
    copy_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("twilio_regulatory_bundles.id", ondelete="SET NULL")
    )
    run_id: Mapped[int | None] = mapped_column(
        ForeignKey("provisioning_runs.id", ondelete="SET NULL")
    )
    approved_at: Mapped[dt.datetime | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]


class RegulatoryDocument(Base):
    """A supporting document of a bundle: its attributes and the uploaded file, both
    encrypted at rest (the file as base64 text under the keyring)."""

    __tablename__ = "twilio_regulatory_documents"

    id: Mapped[intpk]
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    bundle_id: Mapped[int] = mapped_column(
        ForeignKey("twilio_regulatory_bundles.id", ondelete="CASCADE"), index=True
    )
    requirement_name: Mapped[str] = mapped_column(String(120))
    document_type: Mapped[str] = mapped_column(String(120))
    attributes: Mapped[dict[str, Any] | None] = mapped_column(
        EncryptedJSON("twilio_regulatory_documents.attributes")
    )
    file_name: Mapped[str | None] = mapped_column(String(255))
    mime_type: Mapped[str | None] = mapped_column(String(100))
    size: Mapped[int | None]
    content_b64: Mapped[str | None] = mapped_column(
        EncryptedText("twilio_regulatory_documents.content")
    )
    document_sid: Mapped[str | None] = mapped_column(String(34))
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]
