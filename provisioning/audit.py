"""The audit log: who did what to which target, in which company, and when.

Entries never hold secret values: callers pass field *names* of changed secrets.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from .db import Base, intpk, utcnow


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[intpk]
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_email: Mapped[str] = mapped_column(String(254), default="system")
    action: Mapped[str] = mapped_column(String(80), index=True)
    target_type: Mapped[str] = mapped_column(String(80))
    target_id: Mapped[str | None] = mapped_column(String(80))
    target_label: Mapped[str] = mapped_column(String(255), default="")
    company_id: Mapped[int | None] = mapped_column(
        ForeignKey("companies.id", ondelete="SET NULL"), index=True
    )
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Actor:
    """Who acts: a user (id + email) or the system (a job, the CLI)."""

    def __init__(self, user_id: int | None = None, email: str = "system") -> None:
        self.user_id = user_id
        self.email = email

    @classmethod
    def of(cls, user: Any) -> Actor:
        return cls(user.id, user.email) if user is not None else cls()


SYSTEM = Actor()


def record(
    session: Session,
    actor: Actor,
    action: str,
    target: Any = None,
    *,
    target_type: str | None = None,
    target_id: Any = None,
    label: str = "",
    company_id: int | None = None,
    **details: Any,
) -> AuditEntry:
    """Add an audit entry (flushed with the caller's transaction)."""
    if target is not None:
        if getattr(target, "id", None) is None:
            session.flush()  # a new target needs its id before it is recorded
        target_type = target_type or getattr(target, "__tablename__", type(target).__name__)
        target_id = target_id if target_id is not None else getattr(target, "id", None)
        if company_id is None:
            company_id = getattr(target, "company_id", None)
    entry = AuditEntry(
        actor_id=actor.user_id,
        actor_email=actor.email,
        action=action,
        target_type=target_type or "",
        target_id=None if target_id is None else str(target_id),
        target_label=label[:255],
        company_id=company_id,
        details=details,
    )
    session.add(entry)
    return entry
