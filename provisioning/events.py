"""Provider webhooks, stored raw before anything else happens (one table for every provider).

A verified delivery is stored with a dedupe key and answered at once; applying it is a
job. Applying the same event twice changes nothing, and a duplicate delivery is not
stored twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import weakref
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Engine,
    ForeignKey,
    Index,
    Insert,
    String,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    create_engine,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from . import audit, metrics
from .backoff import exponential
from .db import Base, enum_column, intpk, utcnow
from .partners import Provider

PENDING = text("processed_at IS NULL")


class WebhookEvent(Base):
    __tablename__ = "webhook_events"
    __table_args__ = (
        UniqueConstraint("provider", "dedupe_key"),
        # the events not yet applied, in arrival order: what the apply job claims
        Index("ix_webhook_events_pending", "id", postgresql_where=PENDING, sqlite_where=PENDING),
    )

    id: Mapped[intpk]
    provider: Mapped[Provider] = mapped_column(enum_column(Provider))
    dedupe_key: Mapped[str] = mapped_column(String(128))
    event_type: Mapped[str] = mapped_column(String(80), default="")
    payload: Mapped[str] = mapped_column(Text)
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    processed_at: Mapped[dt.datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    # The company whose own endpoint received it (a Twilio Event Streams sink is per
    # subaccount); applying it touches that company's rows only. None: platform-wide.
    company_id: Mapped[int | None] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )


# INSERT ... ON CONFLICT DO NOTHING RETURNING: a duplicate costs no extra round trip.
INSERTS: dict[str, Any] = {"postgresql": postgresql_insert, "sqlite": sqlite_insert}
_COLUMNS = WebhookEvent.__table__.c


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


@dataclass(frozen=True)
class NewEvent:
    """A verified delivery, ready to store.

    ``processed`` marks an event that needs no application (kept for later use);
    ``company_id`` names the company whose endpoint received it.
    """

    provider: Provider
    dedupe_key: str
    event_type: str
    body: bytes = field(repr=False)
    processed: bool = False
    company_id: int | None = None

    def params(self) -> dict[str, Any]:
        """The bound parameters of :func:`insert_event`'s statement."""
        now = utcnow()
        return {
            "ev_provider": self.provider,
            "ev_dedupe_key": _storable(self.dedupe_key)[:128],
            "ev_event_type": _storable(self.event_type)[:80],
            "ev_payload": _storable(self.body.decode("utf-8", "replace")),
            "ev_received_at": now,
            "ev_attempts": 1 if self.processed else 0,
            "ev_processed_at": now if self.processed else None,
            "ev_company_id": self.company_id,
        }


def insert_event(
    dialect: str, only_while: ColumnElement[bool] | None = None, returning: bool = True
) -> Insert:
    """The ``INSERT ... ON CONFLICT DO NOTHING [RETURNING id]`` of an event, built once
    per dialect, condition and ``returning``; its parameters are :meth:`NewEvent.params`.
    With ``only_while`` (a condition with bound parameters of its own) the row is
    inserted only while the condition holds, in the same statement (``INSERT ... SELECT
    ... WHERE``): a secret's row still unchanged."""
    key = (dialect, only_while, returning)
    statement = _STATEMENTS.get(key)
    if statement is None:
        params = {name: bindparam(f"ev_{name}", type_=_COLUMNS[name].type) for name in _FIELDS}
        insert = INSERTS[dialect](_COLUMNS[0].table)  # Core: the session runs it as is
        if only_while is None:
            insert = insert.values(params)
        else:
            insert = insert.from_select(list(params), select(*params.values()).where(only_while))
        statement = insert.on_conflict_do_nothing(index_elements=["provider", "dedupe_key"])
        if returning:
            statement = statement.returning(_COLUMNS.id)
        else:  # the row count tells whether a row was stored
            statement = statement.execution_options(preserve_rowcount=True)
        _STATEMENTS[key] = statement
    return statement


_FIELDS = (
    "provider", "dedupe_key", "event_type", "payload", "received_at", "attempts",
    "processed_at", "company_id",
)  # fmt: skip
_STATEMENTS: dict[tuple[str, Any, bool], Insert] = {}


def store_event(
    session: Session,
    provider: Provider,
    dedupe_key: str,
    event_type: str,
    body: bytes,
    *,
    processed: bool = False,
    company_id: int | None = None,
) -> int | None:
    """Store a delivery in one statement: its id, or None when it was stored before
    (flushed with the caller's transaction)."""
    event = NewEvent(provider, dedupe_key, event_type, body, processed, company_id)
    statement = insert_event(session.get_bind().dialect.name)
    event_id = session.scalar(statement, event.params())
    metrics.webhook_stored(provider.value, event_id is not None)
    return event_id


@dataclass(frozen=True)
class DriverStatement:
    """A statement compiled once for a dialect: its SQL, parameter order (positional
    drivers) and the bind processing of its typed parameters (enums, timestamps)."""

    sql: str
    positions: tuple[str, ...] | None
    processors: tuple[tuple[str, Any], ...]  # (name, bind processor) of typed parameters

    @classmethod
    def of(cls, dialect: Any, statement: Insert) -> DriverStatement:
        key = (dialect.name, dialect.paramstyle, statement)
        if (driver := _DRIVER.get(key)) is None:
            compiled = statement.compile(dialect=dialect)
            processors = tuple(
                (name, processor)
                for name, bind in compiled.binds.items()
                if (processor := bind.type.dialect_impl(dialect).bind_processor(dialect))
            )
            positions = tuple(compiled.positiontup) if compiled.positiontup else None
            driver = _DRIVER[key] = cls(compiled.string, positions, processors)
        return driver

    def parameters(self, values: dict[str, Any]) -> Any:
        """``values`` (consumed: processed in place) as the driver takes them."""
        for name, processor in self.processors:
            if name in values:
                values[name] = processor(values[name])
        if self.positions is None:
            return values
        return tuple([values[name] for name in self.positions])


_DRIVER: dict[tuple[str, str, Insert], DriverStatement] = {}


_AUTOCOMMIT: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()


def autocommit_engine(engine: Engine) -> Engine:
    """PostgreSQL: an engine of the same database whose connections stay in autocommit
    mode (a pool of its own: nothing to switch on every checkout). With psycopg its
    statements compile with libpq's own ``$n`` placeholders, for
    :class:`~provisioning.event_store.EngineStore`, which prepares them on its connections
    and runs them through libpq. SQLite: ``engine``."""
    if engine.dialect.name != "postgresql":
        return engine
    if (twin := _AUTOCOMMIT.get(engine)) is None:
        libpq = {"paramstyle": "numeric_dollar"} if engine.dialect.driver == "psycopg" else {}
        twin = create_engine(engine.url, isolation_level="AUTOCOMMIT", **libpq)
        _AUTOCOMMIT[engine] = twin
    return twin


def _storable(text: str) -> str:
    """No text column takes NUL on PostgreSQL: shown as U+FFFD, like undecodable bytes."""
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


MAX_ATTEMPTS = 8
REDELIVER_AFTER = 300  # seconds: an event handed to a job and still not applied goes again
SECRET_KEYS = re.compile(r"(?i)token|secret|password|api_?key|pin|signature|authorization")


def mark_processed(event: WebhookEvent, error: str | None = None) -> None:
    """Record an application; a failure is retried later with exponential backoff."""
    event.attempts += 1
    event.error = error
    event.processed_at = None if error else utcnow()
    event.next_attempt_at = None
    if error and event.attempts < MAX_ATTEMPTS:
        event.next_attempt_at = utcnow() + dt.timedelta(seconds=exponential(event.attempts, 30))


def due_retries(session: Session, limit: int = 100, stale_after: int = 60) -> list[int]:
    """Unprocessed events due (again): failed ones past their backoff, ones handed to a
    job that has not applied them (:func:`postpone`), and ones never attempted
    ``stale_after`` seconds after they arrived (their job was not published, or lost)."""
    now = utcnow()
    never_attempted = and_(
        WebhookEvent.attempts == 0,
        WebhookEvent.next_attempt_at.is_(None),
        WebhookEvent.received_at <= now - dt.timedelta(seconds=stale_after),
    )
    return list(
        session.scalars(
            select(WebhookEvent.id)
            .where(
                WebhookEvent.processed_at.is_(None),
                or_(WebhookEvent.next_attempt_at <= now, never_attempted),
            )
            .order_by(WebhookEvent.id)
            .limit(limit)
        )
    )


def claim_pending(session: Session, limit: int = 100) -> list[tuple[int, Provider]]:
    """Hand out up to ``limit`` stored events that no job has taken yet, oldest first:
    (id, provider) of each. They are handed out for ``REDELIVER_AFTER`` seconds (the
    sweep sends one again if it is still not applied then); a worker claiming at the same
    time takes other ones (PostgreSQL: ``SKIP LOCKED``; SQLite writes one at a time)."""
    untaken = (
        WebhookEvent.processed_at.is_(None),
        WebhookEvent.attempts == 0,
        WebhookEvent.next_attempt_at.is_(None),
    )
    oldest = (
        select(WebhookEvent.id)
        .where(*untaken)
        .order_by(WebhookEvent.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = session.execute(
        update(WebhookEvent)
        .where(WebhookEvent.id.in_(oldest.scalar_subquery()), *untaken)
        .values(next_attempt_at=utcnow() + dt.timedelta(seconds=REDELIVER_AFTER))
        .returning(WebhookEvent.id, WebhookEvent.provider)
        .execution_options(synchronize_session=False)
    ).all()
    return sorted((event_id, provider) for event_id, provider in claimed)


def postpone(session: Session, ids: list[int], seconds: float = REDELIVER_AFTER) -> None:
    """The events are handed to jobs: the sweep sends them again only if they are still
    not applied ``seconds`` from now (a queued job is not sent twice on every tick)."""
    if ids:
        session.execute(
            update(WebhookEvent)
            .where(WebhookEvent.id.in_(ids), WebhookEvent.processed_at.is_(None))
            .values(next_attempt_at=utcnow() + dt.timedelta(seconds=seconds))
            .execution_options(synchronize_session=False)
        )


def replay(session: Session, actor: audit.Actor, event: WebhookEvent) -> None:
    """Apply a stored event again (an admin asked), audited: its effects are idempotent.
    If the job is lost, the sweep sends it again after ``REDELIVER_AFTER``."""
    audit.record(
        session, actor, "webhook_event.replay", event,
        label=f"{event.provider.value} {event.event_type}"[:255],
        dedupe_key=event.dedupe_key, previous_error=(event.error or "")[:200] or None,
    )  # fmt: skip
    event.processed_at, event.error = None, None
    event.next_attempt_at = utcnow() + dt.timedelta(seconds=REDELIVER_AFTER)


def redacted(value: Any) -> Any:
    """The payload as an admin may see it: values of secret-looking keys masked."""
    if isinstance(value, dict):
        return {k: "***" if SECRET_KEYS.search(str(k)) else redacted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redacted(v) for v in value]
    return value


def payload_of(event: WebhookEvent) -> Any:
    return json.loads(event.payload)
