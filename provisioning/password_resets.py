"""Forgotten passwords: a single-use link, valid for 30 minutes, sent by e-mail.

Asking for a link answers the same whether the address has an account or not; for an
account, a row is queued and the mail job (``portal.auth.jobs``) sends it. The token is
made when the mail is sent and only its SHA-256 is stored, so neither the queue nor the
database ever holds a usable link. Using the link spends it (an atomic update), spends
the account's other links, and ends every session of the account.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import ForeignKey, String, delete, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from . import accounts, user_sessions
from .audit import Actor, record
from .db import Base, intpk, utcnow
from .errors import DomainError
from .tenancy import User

LINK_LIFETIME = dt.timedelta(minutes=30)
# a mailbox gets at most this many links an hour, however often someone asks
MAX_LINKS_PER_HOUR = 3
# dead links are kept this long (they count towards the hourly limit), then deleted
KEEP_DEAD = dt.timedelta(days=1)


class InvalidResetLink(DomainError):
    def __init__(self) -> None:
        super().__init__("This link is invalid, used or expired. Ask for a new one.")


class PasswordReset(Base):
    __tablename__ = "password_resets"

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    requested_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)
    # pending -> sending -> sent | failed | skipped (no mail server)
    email_status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    used_at: Mapped[dt.datetime | None]

    user: Mapped[User] = relationship()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def request_link(session: Session, email: str) -> PasswordReset | None:
    """Queue a link for the active account with this e-mail; None (silently) when there
    is no such account or it had its links for this hour."""
    user = accounts.find_user(session, email)
    if user is None or not user.is_active:
        return None
    now = utcnow()
    recent = session.scalar(
        select(func.count()).where(
            PasswordReset.user_id == user.id,
            PasswordReset.requested_at > now - dt.timedelta(hours=1),
        )
    )
    if recent >= MAX_LINKS_PER_HOUR:
        return None
    row = PasswordReset(user_id=user.id, requested_at=now, expires_at=now + LINK_LIFETIME)
    session.add(row)
    record(session, Actor(None, "anonymous"), "user.password_reset_request", user, label=user.email)
    return row


def claim_pending(session: Session) -> list[PasswordReset]:
    """Mark the queued links ``sending`` and return them (each is sent once at most)."""
    ids = session.scalars(
        update(PasswordReset)
        .where(PasswordReset.email_status == "pending")
        .values(email_status="sending")
        .returning(PasswordReset.id)
        .execution_options(synchronize_session=False)
    ).all()
    return list(
        session.scalars(
            select(PasswordReset).where(PasswordReset.id.in_(ids)).order_by(PasswordReset.id)
        )
    )


def issue_token(row: PasswordReset) -> str:
    """A new token for the mail; the link is valid for :data:`LINK_LIFETIME` from now."""
    token = secrets.token_urlsafe(32)
    row.token_hash, row.expires_at = _digest(token), utcnow() + LINK_LIFETIME
    return token


def user_for(session: Session, token: str) -> User:
    """The account a live link belongs to, or :class:`InvalidResetLink`."""
    row = session.scalars(
        select(PasswordReset).where(PasswordReset.token_hash == _digest(token))
    ).one_or_none()
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        raise InvalidResetLink()
    if not row.user.is_active:
        raise InvalidResetLink()
    return row.user


def reset_password(session: Session, token: str, password: str) -> User:
    """Spend the link and set the new password; every session of the account ends."""
    now = utcnow()
    user_id = session.scalar(
        update(PasswordReset)
        .where(
            PasswordReset.token_hash == _digest(token),
            PasswordReset.used_at.is_(None),
            PasswordReset.expires_at > now,
        )
        .values(used_at=now)
        .returning(PasswordReset.user_id)
        .execution_options(synchronize_session=False)
    )
    user = session.get(User, user_id) if user_id is not None else None
    if user is None or not user.is_active:
        raise InvalidResetLink()
    accounts.set_password(session, user, password)
    session.execute(  # the account's other links die with this one
        update(PasswordReset)
        .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    user_sessions.end_all(session, user.id, "password reset")
    record(session, Actor.of(user), "user.password_reset", user, label=user.email)
    return user


def purge(session: Session, now: dt.datetime) -> int:
    """Delete the links that expired more than :data:`KEEP_DEAD` ago."""
    result = session.execute(
        delete(PasswordReset).where(PasswordReset.expires_at < now - KEEP_DEAD)
    )
    return result.rowcount  # type: ignore[attr-defined]
