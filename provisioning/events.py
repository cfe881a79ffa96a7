"""Provider webhooks, stored raw before anything else happens (one table for every provider).

A verified delivery is stored with a dedupe key and answered at once; applying it is a
job. Applying the same event twice changes nothing, and a duplicate delivery is not
stored twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from sqlalchemy import String, Text, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from .db import Base, enum_column, intpk, utcnow
from .partners import Provider


class WebhookEvent(Base):
    __tablename__ = "webhook_events"
    __table_args__ = (UniqueConstraint("provider", "dedupe_key"),)

    id: Mapped[intpk]
    provider: Mapped[Provider] = mapped_column(enum_column(Provider))
    dedupe_key: Mapped[str] = mapped_column(String(128))
    event_type: Mapped[str] = mapped_column(String(80), default="")
    payload: Mapped[str] = mapped_column(Text)
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    processed_at: Mapped[dt.datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def store_event(
    session: Session, provider: Provider, dedupe_key: str, event_type: str, body: bytes
) -> WebhookEvent | None:
    """Store a delivery; None when the same event was stored before (a duplicate)."""
    exists = session.scalars(
        select(WebhookEvent.id).where(
            WebhookEvent.provider == provider, WebhookEvent.dedupe_key == dedupe_key
        )
    ).first()
    if exists is not None:
        return None
    event = WebhookEvent(
        provider=provider,
        dedupe_key=dedupe_key[:128],
        event_type=event_type[:80],
        payload=body.decode("utf-8", "replace"),
    )
    try:
        with session.begin_nested():
            session.add(event)
    except IntegrityError:  # a concurrent delivery of the same event won
        return None
    return event


def mark_processed(event: WebhookEvent, error: str | None = None) -> None:
    event.attempts += 1
    event.error = error
    event.processed_at = None if error else utcnow()


def payload_of(event: WebhookEvent) -> Any:
    return json.loads(event.payload)
