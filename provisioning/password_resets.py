"""Forgotten passwords: a single-use link, valid for 30 minutes, sent by e-mail.

Asking for a link answers the same whether the address has an account or not. For an
active account a token is made, only its SHA-256 is stored here, and the link is queued in
the mail outbox (:mod:`provisioning.mail`), the one sender of every e-mail: the outbox body
is the only place the token exists, encrypted at rest and dropped once the message is
done, or once the link is dead if it could not be sent in time. Using the link spends it
(an atomic update), spends the account's other links, ends every session of the account
and e-mails the account a notice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import ForeignKey, delete, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from . import accounts, mail, user_sessions
from .audit import Actor, record
from .db import Base, affected_rows, intpk, utcnow
from .errors import DomainError
from .tenancy import User
from .tokens import SingleUseLink, new_token

LINK_LIFETIME = dt.timedelta(minutes=30)
# a mailbox gets at most this many links an hour, however often someone asks
MAX_LINKS_PER_HOUR = 3
# dead links are kept this long (they count towards the hourly limit), then deleted
KEEP_DEAD = dt.timedelta(days=1)


class InvalidResetLink(DomainError):
    def __init__(self) -> None:
        super().__init__("This link is invalid, used or expired. Ask for a new one.")


class PasswordReset(SingleUseLink, Base):
    __tablename__ = "password_resets"

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    requested_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)  # the purge deletes by it

    user: Mapped[User] = relationship()


def request_link(
    session: Session, email: str, *, link: Callable[[str], str]
) -> PasswordReset | None:
    """Queue an e-mail with a new link (``link(token)``) to the active account with this
    e-mail; None (silently) when there is no such account or it had its links this hour."""
    user = accounts.find_user(session, email)
    if user is None or not user.is_active:
        return None
    now = utcnow()
    recent = session.scalars(
        select(func.count()).where(
            PasswordReset.user_id == user.id,
            PasswordReset.requested_at > now - dt.timedelta(hours=1),
        )
    ).one()
    if recent >= MAX_LINKS_PER_HOUR:
        return None
    token, token_hash = new_token()
    row = PasswordReset(
        user_id=user.id, token_hash=token_hash, requested_at=now, expires_at=now + LINK_LIFETIME
    )
    session.add(row)
    minutes = int(LINK_LIFETIME.total_seconds() // 60)
    mail.queue(
        session,
        kind="password_reset",
        to=user.email,
        subject="Choose a new password for the Partner Portal",
        body=(
            "Someone, hopefully you, asked to reset the password of the Partner Portal\n"
            f"account {user.email}. Open this link to choose a new password:\n\n{link(token)}\n\n"
            f"It works once, until {row.expires_at:%Y-%m-%d %H:%M} UTC ({minutes} minutes\n"
            "after it was asked for).\n\n"
            "If you did not ask for it, ignore this e-mail: your password stays as it is.\n"
        ),
        send_before=row.expires_at,
    )
    record(session, Actor(None, "anonymous"), "user.password_reset_request", user, label=user.email)
    return row


def user_for(session: Session, token: str) -> User:
    """The account a live link belongs to, or :class:`InvalidResetLink`."""
    row = PasswordReset.find_live(session, token, utcnow())
    if row is None or not row.user.is_active:
        raise InvalidResetLink()
    return row.user


def reset_password(session: Session, token: str, password: str, *, forgot_link: str) -> User:
    """Spend the link and set the new password; every session of the account ends, and
    the account is told by e-mail (with ``forgot_link`` in case it was not its owner)."""
    now = utcnow()
    row = PasswordReset.spend(session, token, now)
    if row is None or not row.user.is_active:
        raise InvalidResetLink()
    user = row.user
    accounts.set_password(session, user, password)
    session.execute(  # the account's other links die with this one
        update(PasswordReset)
        .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    user_sessions.end_all(session, user.id, "password reset")
    accounts.notify_password_changed(
        session, user, "with a reset link sent to this address", forgot_link
    )
    record(session, Actor.of(user), "user.password_reset", user, label=user.email)
    return user


def purge(session: Session, now: dt.datetime) -> int:
    """Delete the links that expired more than :data:`KEEP_DEAD` ago."""
    return affected_rows(
        session, delete(PasswordReset).where(PasswordReset.expires_at < now - KEEP_DEAD)
    )
