"""Server-side sign-in sessions: one row per sign-in, revocable at any time.

The browser's cookie carries only a random session token; the database keeps its SHA-256
(a copy of the table gives no usable session). Every request resumes the session by its
token and refuses it once it is ended (sign-out, password change, ended by the user,
deactivation), idle for longer than the idle timeout, or older than the absolute
lifetime. A new sign-in always starts a new session (no session fixation).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import ForeignKey, String, delete, select, update
from sqlalchemy.orm import Mapped, Session, joinedload, mapped_column, relationship

from .db import Base, affected_rows, intpk, utcnow
from .tenancy import User
from .tokens import digest, new_token

# last_seen_at is written at most once per this interval (not on every request)
TOUCH_INTERVAL = dt.timedelta(seconds=60)
# sessions past their absolute limit are kept this long (for inquiries), then deleted
KEEP_EXPIRED = dt.timedelta(days=30)


class UserSession(Base):
    __tablename__ = "user_sessions"

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)
    ended_at: Mapped[dt.datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(32))
    address: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(200), default="")

    user: Mapped[User] = relationship()

    def is_live(self, idle_timeout: dt.timedelta, now: dt.datetime) -> bool:
        return (
            self.ended_at is None
            and now < self.expires_at
            and now < self.last_seen_at + idle_timeout
        )


def start(
    session: Session,
    user: User,
    *,
    lifetime: dt.timedelta,
    address: str = "",
    user_agent: str = "",
) -> tuple[UserSession, str]:
    """A new session for ``user`` and its token (for the cookie; stored only hashed)."""
    now = utcnow()
    token, token_hash = new_token()
    row = UserSession(
        user_id=user.id,
        token_hash=token_hash,
        created_at=now,
        last_seen_at=now,
        expires_at=now + lifetime,
        address=address[:64],
        user_agent="".join(ch for ch in user_agent if ch.isprintable())[:200],
    )
    session.add(row)
    session.flush()
    return row, token


def resume(session: Session, token: str, idle_timeout: dt.timedelta) -> UserSession | None:
    """The live session of an active user with this token, or None; notes it was seen."""
    if not token or len(token) > 100:
        return None
    row = session.scalars(
        select(UserSession)
        .where(UserSession.token_hash == digest(token))
        .options(joinedload(UserSession.user))
    ).one_or_none()
    now = utcnow()
    if row is None or not row.is_live(idle_timeout, now) or not row.user.is_active:
        return None
    if now - row.last_seen_at >= TOUCH_INTERVAL:
        row.last_seen_at = now
    return row


def end(session: Session, row: UserSession, reason: str) -> None:
    if row.ended_at is None:
        row.ended_at, row.end_reason = utcnow(), reason


def end_all(session: Session, user_id: int, reason: str, *, keep: UserSession | None = None) -> int:
    """End every open session of the user (but ``keep``); returns how many were open."""
    stmt = update(UserSession).where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
    if keep is not None:
        stmt = stmt.where(UserSession.id != keep.id)
    return affected_rows(
        session,
        stmt.values(ended_at=utcnow(), end_reason=reason).execution_options(
            synchronize_session="fetch"
        ),
    )


def end_some(session: Session, user_id: int, ids: Sequence[int], reason: str) -> int:
    """End the user's open sessions among ``ids`` (another user's ids are ignored)."""
    if not ids:
        return 0
    return affected_rows(
        session,
        update(UserSession)
        .where(
            UserSession.user_id == user_id,
            UserSession.id.in_(ids),
            UserSession.ended_at.is_(None),
        )
        .values(ended_at=utcnow(), end_reason=reason)
        .execution_options(synchronize_session="fetch"),
    )


def live_sessions(session: Session, user_id: int, idle_timeout: dt.timedelta) -> list[UserSession]:
    """The user's live sessions, the most recently seen first."""
    now = utcnow()
    rows = session.scalars(
        select(UserSession)
        .where(
            UserSession.user_id == user_id,
            UserSession.ended_at.is_(None),
            UserSession.expires_at > now,
            UserSession.last_seen_at > now - idle_timeout,
        )
        .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())
    )
    return list(rows)


def purge(session: Session, now: dt.datetime) -> int:
    """Delete the sessions that expired more than :data:`KEEP_EXPIRED` ago."""
    return affected_rows(
        session, delete(UserSession).where(UserSession.expires_at < now - KEEP_EXPIRED)
    )
