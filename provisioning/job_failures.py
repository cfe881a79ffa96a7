"""Jobs that failed for good: their last retry spent, kept for an admin to look at."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import String, Text, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Mapped, Session, mapped_column

from .db import Base, intpk, utcnow

MAX_ERROR_LENGTH = 4000


class JobFailure(Base):
    __tablename__ = "job_failures"

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(80), index=True)
    args: Mapped[list[Any]] = mapped_column(default=list)
    attempts: Mapped[int] = mapped_column(default=1)
    error: Mapped[str] = mapped_column(Text)
    failed_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


def record(
    session: Session, name: str, args: tuple[Any, ...], attempts: int, exc: BaseException
) -> JobFailure:
    """Keep a job's terminal failure: its name, ids, attempts made and the last error."""
    failure = JobFailure(
        name=name[:80],
        args=list(args),
        attempts=attempts,
        error=describe(exc)[:MAX_ERROR_LENGTH],
    )
    session.add(failure)
    session.flush()
    return failure


def describe(exc: BaseException) -> str:
    """The error as a person reads it; a database error without its SQL and parameters."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        return f"{type(exc).__name__}: {str(exc.orig).strip()}"
    return f"{type(exc).__name__}: {exc}"


def recent(session: Session, limit: int = 50, name: str | None = None) -> list[JobFailure]:
    """The latest failures first, optionally of one job."""
    stmt = select(JobFailure).order_by(JobFailure.failed_at.desc(), JobFailure.id.desc())
    if name:
        stmt = stmt.where(JobFailure.name == name)
    return list(session.scalars(stmt.limit(limit)))
