"""A2P 10DLC tables (seed 000): the editable business profile and immutable brand snapshots.

``tenant_business_info`` is the company's current profile, always editable. Submitting it
copies it into a new ``tenant_10dlc_brands`` row. Once the provider approves a brand,
its snapshot can no longer change: a database trigger refuses it (see the migration), and
new business details mean a new submission, the old row deactivated with a reason.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, created_at, intpk, updated_at

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
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]


# Columns an approved brand may never change (the trigger's list).
SNAPSHOT_COLUMNS = (*BUSINESS_FIELDS, "provider", "provider_brand_id", "provider_approved_at",
                    "company_id")  # fmt: skip
