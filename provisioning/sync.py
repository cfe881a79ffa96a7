"""The quality sync: refresh every channel's health with as few provider calls as possible.

Each provider's ``sync.py`` lists its fleet in pages (Meta per WABA, 360dialog one partner
listing, Twilio per subaccount) and feeds what it sees to :func:`provisioning.health.observe`,
which writes only what changed. A :class:`SyncRun` records each pass.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from .db import Base, enum_column, intpk, utcnow
from .partners import Provider


class SyncRun(Base):
    """One pass of the quality sync over one provider's fleet (or one company's part)."""

    __tablename__ = "quality_sync_runs"

    id: Mapped[intpk]
    provider: Mapped[Provider] = mapped_column(enum_column(Provider))
    company_id: Mapped[int | None] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(20), default="running")
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    finished_at: Mapped[dt.datetime | None]
    calls: Mapped[int] = mapped_column(default=0)  # provider requests made
    seen: Mapped[int] = mapped_column(default=0)  # channels the provider reported
    changed: Mapped[int] = mapped_column(default=0)  # channels whose health changed
    reauthorization: Mapped[int] = mapped_column(default=0)  # clients flagged
    errors: Mapped[list[Any]] = mapped_column(default=list)
