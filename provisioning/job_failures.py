"""Jobs that failed for good: their last retry spent, kept for an admin to look at."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .db import Base, intpk, utcnow


class JobFailure(Base):
    __tablename__ = "job_failures"

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(80), index=True)
    args: Mapped[list[Any]] = mapped_column(default=list)
    attempts: Mapped[int] = mapped_column(default=1)
    error: Mapped[str] = mapped_column(Text)
    failed_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
