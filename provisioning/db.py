"""The shared declarative base, constraint naming convention and column types."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Annotated, Any

from sqlalchemy import JSON, BigInteger, DateTime, Enum, Integer, MetaData, String, func
from sqlalchemy.orm import DeclarativeBase, mapped_column, registry
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


def configure_sqlite(engine: Any) -> None:
    """Make SQLite enforce foreign keys and honour transactions and savepoints.

    pysqlite opens transactions lazily on its own; handing BEGIN to SQLAlchemy gives
    SAVEPOINT and rollback the semantics PostgreSQL has (SQLAlchemy's documented recipe).
    ``BEGIN IMMEDIATE`` takes the write lock up front: the demo's threads (requests, jobs,
    webhooks) then wait their turn (busy timeout) instead of failing with "database is
    locked" when two readers both try to write. PostgreSQL is for real concurrency.
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
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
