"""Idempotent API requests: the first answer to a key's ``Idempotency-Key``, kept.

The answer is stored in the same transaction as what the request created, so either
both are there or neither: a replay of a request that went through gets the stored
answer and changes nothing; one that failed (nothing stored) runs again. Two copies of
one request at once: the unique key lets one commit; the other is refused (409) and, sent
again, gets the first one's answer. A key reused for another request is refused (422).
"""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from .db import Base, intpk, utcnow

KEY_LENGTH = 255
KEPT_FOR = dt.timedelta(days=7)


class IdempotentRequest(Base):
    __tablename__ = "idempotent_requests"
    __table_args__ = (UniqueConstraint("api_key_id", "key"),)

    id: Mapped[intpk]
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(KEY_LENGTH))
    fingerprint: Mapped[str] = mapped_column(String(64))  # the request: method, path, body
    status_code: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


def fingerprint(method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256(f"{method} {path}\n".encode())
    digest.update(body)
    return digest.hexdigest()


def stored(
    session: Session, api_key_id: int, key: str, now: dt.datetime | None = None
) -> IdempotentRequest | None:
    """The answer kept for ``key`` of this API key (kept ``KEPT_FOR``)."""
    since = (now or utcnow()) - KEPT_FOR
    return session.scalars(
        select(IdempotentRequest).where(
            IdempotentRequest.api_key_id == api_key_id,
            IdempotentRequest.key == key,
            IdempotentRequest.created_at > since,
        )
    ).one_or_none()


def keep(
    session: Session, api_key_id: int, key: str, fingerprint_: str, status: int, body: str
) -> None:
    """Keep the answer, with the request's transaction. An expired row of the same key
    makes way."""
    session.execute(
        delete(IdempotentRequest).where(
            IdempotentRequest.api_key_id == api_key_id,
            IdempotentRequest.key == key,
            IdempotentRequest.created_at <= utcnow() - KEPT_FOR,
        )
    )
    session.add(
        IdempotentRequest(
            api_key_id=api_key_id, key=key, fingerprint=fingerprint_, status_code=status,
            body=body,
        )
    )  # fmt: skip
