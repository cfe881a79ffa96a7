"""The toll-free verification table: one row per submission for a toll-free number.

A number has at most one *active* submission (a partial unique index): a rejected one that
Twilio still lets edit is updated and stays the active row; one that can no longer be
edited is deactivated when a new submission replaces it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, created_at, intpk, updated_at

# Twilio's statuses (spec enum ``tollfree_verification_enum_status``), and ours before it
# has one: REQUESTED while the create is on record but not answered.
REQUESTED = "REQUESTED"
PENDING_REVIEW, IN_REVIEW = "PENDING_REVIEW", "IN_REVIEW"
APPROVED, REJECTED = "TWILIO_APPROVED", "TWILIO_REJECTED"
STATUSES = (REQUESTED, PENDING_REVIEW, IN_REVIEW, APPROVED, REJECTED)


class TollfreeVerification(Base):
    """A toll-free verification request (``HH`` sid) and what was submitted in it."""

    __tablename__ = "twilio_tollfree_verifications"
    __table_args__ = (
        Index(
            "uq_twilio_tollfree_verifications_active_number_id",
            "number_id",
            unique=True,
            postgresql_where=text("is_active"),
            sqlite_where=text("is_active"),
        ),
    )

    id: Mapped[intpk]
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    number_id: Mapped[int] = mapped_column(
        ForeignKey("sms_phone_pool.id", ondelete="CASCADE"), index=True
    )
    verification_sid: Mapped[str | None] = mapped_column(String(34), unique=True)
    # Sent with the create and echoed by Twilio: finds the request after a lost answer.
    external_reference_id: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(40), default=REQUESTED)
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    rejection_reasons: Mapped[list[Any]] = mapped_column(default=list)
    error_code: Mapped[int | None] = mapped_column(Integer)
    edit_allowed: Mapped[bool] = mapped_column(Boolean, default=False)
    edit_expiration: Mapped[dt.datetime | None]
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    requested_at: Mapped[dt.datetime | None]  # the create (or update) is on record
    submitted_at: Mapped[dt.datetime | None]
    decided_at: Mapped[dt.datetime | None]
    last_synced_at: Mapped[dt.datetime | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]
