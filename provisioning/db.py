"""The shared declarative base, constraint naming convention and column types."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Annotated, Any

from sqlalchemy import JSON, BigInteger, DateTime, Enum, Integer, MetaData, String, func
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import DeclarativeBase, Session, mapped_column, registry
from sqlalchemy.sql import Executable
from sqlalchemy.types import TypeDecorator

# Named constraints make migrations reproducible on every backend (SQLite batch mode
# needs names to drop or alter a constraint).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    """The current time, timezone-aware in UTC."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware timestamp; SQLite hands back naive values, so tag them UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> Any:
        if value is not None and value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        return value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> Any:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value


# Primary keys are 64-bit on PostgreSQL and INTEGER (a rowid alias) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")

intpk = Annotated[int, mapped_column(BigId, primary_key=True)]
created_at = Annotated[
    dt.datetime, mapped_column(UTCDateTime(), default=utcnow, server_default=func.now())
]
updated_at = Annotated[
    dt.datetime,
    mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow, server_default=func.now()),
]
str_short = Annotated[str, mapped_column(String(255))]


def enum_column(enum_cls: type[enum.Enum]) -> Enum:
    """A portable enum column: VARCHAR holding the member values (no native PG type)."""
    return Enum(
        enum_cls,
        native_enum=False,
        length=32,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    """Every table of the platform derives from this base."""

    # The registry is explicit (not ``type_annotation_map`` on the class) so that
    # Flask-SQLAlchemy can derive its own model class from this base.
    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={
            dt.datetime: UTCDateTime(),
            dict[str, Any]: JSON(),
            dict[str, str]: JSON(),
            list[Any]: JSON(),
        },
    )
    metadata = registry.metadata

    def __repr__(self) -> str:
        # Only the primary key: a repr must never leak a secret or personal data.
        ident = getattr(self, "id", None)
        return f"<{type(self).__name__} id={ident}>"


# Statements that write (or, for SELECT ... FOR UPDATE, announce a write): the first one
# of a transaction takes SQLite's write lock; reads before it take none.
_WRITE_KEYWORDS = frozenset(
    {"INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER", "SAVEPOINT"}
)


def _writes(statement: str, context: Any) -> bool:
    keyword = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else ""
    if keyword in _WRITE_KEYWORDS:
        return True
    compiled = getattr(context, "compiled", None)
    # SQLite drops FOR UPDATE from the SQL; a locking read still means "I am about to write".
    return getattr(getattr(compiled, "statement", None), "_for_update_arg", None) is not None


def configure_sqlite(engine: Any) -> None:
    """Make SQLite safe for the embedded default: foreign keys, WAL, and lock-free reads.

    - WAL journal mode: readers never block the writer, nor the writer readers.
    - pysqlite's own transaction handling is off (SQLAlchemy's documented recipe), and no
      ``BEGIN`` is sent when SQLAlchemy begins: statements read in autocommit (each sees
      the latest commit, as READ COMMITTED does on PostgreSQL), so an idle or read-only
      session never holds a lock.
    - The first write of a transaction (or a ``SELECT ... FOR UPDATE``, or a SAVEPOINT)
      opens it with ``BEGIN IMMEDIATE``: the write lock is taken up front, so concurrent
      writers wait their turn (busy timeout) instead of failing with "database is locked"
      when two transactions upgrade at once. Commit and rollback end it as usual.

    PostgreSQL is for real concurrency; this keeps the zero-setup default from hanging.
    """
    from sqlalchemy import event

    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=15000")
        if cursor.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal":
            cursor.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; WAL's default
        cursor.close()

    @event.listens_for(engine, "before_cursor_execute")
    def _begin_on_first_write(
        conn: Any, cursor: Any, statement: str, _params: Any, context: Any, _many: bool
    ) -> None:
        begun = cursor.connection.in_transaction
        if conn.in_transaction() and not begun and _writes(statement, context):
            cursor.execute("BEGIN IMMEDIATE")


def affected_rows(session: Session, statement: Executable) -> int:
    """Run an ``UPDATE`` or ``DELETE`` and return how many rows it matched."""
    result = session.execute(statement)
    if not isinstance(result, CursorResult):
        raise TypeError(f"{type(statement).__name__} returned rows, not a row count")
    return result.rowcount
