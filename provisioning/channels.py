"""The unified channel: one row per connected number, whatever the provider.

Provider tables hold the provider's own detail; this row holds what the company's views,
the fleet dashboard and the quality sync need. Provider values are stored raw (enums are
open sets) and read through :func:`quality_label` style helpers with safe defaults.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Index, Select, String, UniqueConstraint, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from .db import Base, created_at, enum_column, intpk, updated_at
from .partners import Provider
from .tenancy import CompanyOwned

QUALITY_LABELS = {"GREEN": "High", "YELLOW": "Medium", "RED": "Low"}


class Channel(CompanyOwned, Base):
    __tablename__ = "channels"
    __table_args__ = (
        UniqueConstraint("provider", "provider_ref"),
        # The fleet dashboard filters on these and pages by id.
        Index("ix_channels_provider_id", "provider", "id"),
        Index("ix_channels_quality_id", "quality_rating", "id"),
        Index("ix_channels_status_id", "status", "id"),
    )

    id: Mapped[intpk]
    provider: Mapped[Provider] = mapped_column(enum_column(Provider))
    # The provider's id of the number (Meta phone number id, 360dialog channel id, sender SID).
    provider_ref: Mapped[str] = mapped_column(String(64))
    phone_number: Mapped[str] = mapped_column(String(32), index=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(40), default="UNKNOWN")
    quality_rating: Mapped[str] = mapped_column(String(20), default="UNKNOWN")
    messaging_limit: Mapped[str] = mapped_column(String(40), default="")
    needs_reauthorization: Mapped[bool] = mapped_column(Boolean, default=False)
    last_synced_at: Mapped[dt.datetime | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    @property
    def quality_label(self) -> str:
        return QUALITY_LABELS.get(self.quality_rating, "Unknown")


def mark_needing_reauthorization(session: Session, channel_ids: Select[int | None]) -> None:
    """Flag the channels ``channel_ids`` selects: the provider refused our credentials."""
    session.execute(
        update(Channel)
        .where(Channel.id.in_(channel_ids), Channel.needs_reauthorization.is_(False))
        .values(needs_reauthorization=True)
        .execution_options(synchronize_session="fetch")
    )
