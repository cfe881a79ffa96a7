"""Secret tokens for links, sessions and nonces: random, and stored only as a digest.

A token is handed out once (a link in an e-mail, a cookie, a launch's ``state``); the
database keeps its SHA-256, so a copy of the database opens nothing. Looking a token up
means looking its digest up.

:class:`SingleUseLink` is a row such a token opens once before it expires (a password
reset link, a platform admin's set-password link): one check and one atomic spend for all.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Self

from sqlalchemy import String, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from .db import affected_rows


def digest(token: str) -> str:
    """The hex SHA-256 of ``token``: what the database stores and is searched by."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(nbytes: int = 32) -> tuple[str, str]:
    """A new URL-safe token of ``nbytes`` random bytes, and its :func:`digest`."""
    token = secrets.token_urlsafe(nbytes)
    return token, digest(token)


class SingleUseLink:
    """Mixin for a row that a token opens once, until ``expires_at``."""

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]

    def is_live(self, now: dt.datetime) -> bool:
        return self.used_at is None and now < self.expires_at

    @classmethod
    def find_live(cls, session: Session, token: str, now: dt.datetime) -> Self | None:
        """The unused, unexpired row of ``token``, or None (unknown, used or expired)."""
        row = session.scalars(select(cls).where(cls.token_hash == digest(token))).one_or_none()
        return row if row is not None and row.is_live(now) else None

    @classmethod
    def spend(cls, session: Session, token: str, now: dt.datetime) -> Self | None:
        """Mark the row of ``token`` used, once, and return it; None when it is not live.

        One conditional ``UPDATE``: of two submissions at once, the second waits for the
        first's row lock and then matches nothing, whatever either of them read before."""
        spent = affected_rows(
            session,
            update(cls)
            .where(cls.token_hash == digest(token), cls.used_at.is_(None), cls.expires_at > now)
            .values(used_at=now)
            .execution_options(synchronize_session=False),
        )
        if spent != 1:
            return None
        return session.scalars(
            select(cls)
            .where(cls.token_hash == digest(token))
            .execution_options(populate_existing=True)
        ).one()
