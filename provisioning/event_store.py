"""Where a verified delivery's INSERT runs: its own commit, on a session or an engine.

:class:`EngineStore` is the production path: each event's INSERT (no RETURNING) runs on a
driver connection the thread holds, compiled once (:class:`~provisioning.events.
DriverStatement`); on PostgreSQL in autocommit mode, so the INSERT is its own
transaction, one round trip, durable when it returns. No pool checkout, no pre-ping, no
ORM session per request: what a bare WSGI app with a thread-local connection does. With
psycopg, the statement is prepared once on the connection and run through libpq
(``PGconn.exec_prepared``) with psycopg's own dumpers, which skips the cursor's per-call
work (half the client CPU of an INSERT). A connection the server dropped is replaced
and the INSERT sent once more, which is safe (``ON CONFLICT DO NOTHING``: an INSERT that
did land is then "stored before"). A thread's connection is closed when the thread ends
(Werkzeug's server starts one per request) and when the engine is disposed.

:class:`SessionStore` runs it in a session's transaction and commits that (the tests'
connection-bound sessions, whose savepoints roll back after each test).
"""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import psycopg
from psycopg import pq
from psycopg.adapt import PyFormat, Transformer
from sqlalchemy import Engine, Insert, event
from sqlalchemy.orm import Session

from .events import DriverStatement, autocommit_engine

T = TypeVar("T")


class EventStore(Protocol):
    """Runs an event's INSERT as a commit of its own, and the secret loads around it."""

    dialect: str

    def insert(self, statement: Insert, params: dict[str, Any]) -> bool:
        """Run ``statement``, committed: whether it stored a row."""
        ...

    def read(self, query: Callable[[Session], T]) -> T:
        """``query(session)`` on a session of this store's database."""
        ...


class SessionStore:
    """Events stored through ``session``; on an engine-bound session, by its engine's
    :class:`EngineStore`."""

    def __init__(self, session: Session) -> None:
        self.session = session
        bind = session.get_bind()
        self.dialect = bind.dialect.name
        self._engine = EngineStore.of(bind) if isinstance(bind, Engine) else None

    def insert(self, statement: Insert, params: dict[str, Any]) -> bool:
        if self._engine is not None:
            return self._engine.insert(statement, params)
        stored = self.session.execute(statement, params).rowcount == 1  # type: ignore[attr-defined]
        self.session.commit()
        return stored

    def read(self, query: Callable[[Session], T]) -> T:
        return query(self.session)


class EngineStore:
    """Event INSERTs on a driver connection held per thread (see the module's text)."""

    _stores: weakref.WeakKeyDictionary[Engine, EngineStore] = weakref.WeakKeyDictionary()
    _lock = threading.Lock()

    @classmethod
    def of(cls, engine: Engine) -> EngineStore:
        """The one store of ``engine`` (its held connections close when it is disposed)."""
        with cls._lock:
            if (store := cls._stores.get(engine)) is None:
                store = cls._stores[engine] = cls(engine)
            return store

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self._writer = autocommit_engine(engine)
        # statements compiled for libpq (``$n``, psycopg's twin engine) run through libpq
        libpq = self._writer.dialect.paramstyle == "numeric_dollar"
        self._held_type = _HeldLibpq if libpq else _Held
        self._local = threading.local()
        self._held_by_threads: weakref.WeakSet[_Held] = weakref.WeakSet()  # closed on dispose
        self._held_lock = threading.Lock()
        event.listen(engine, "engine_disposed", lambda _engine: self.close())

    def insert(self, statement: Insert, params: dict[str, Any]) -> bool:
        driver = DriverStatement.of(self._writer.dialect, statement)
        values = driver.parameters(params)
        for attempt in (1, 2):
            held = self._held()
            try:
                return held.insert(driver, values)
            except self._writer.dialect.loaded_dbapi.Error as exc:
                lost = self._writer.dialect.is_disconnect(exc, held.connection, None)
                self._drop()
                if attempt == 2 or not lost:
                    raise
        raise AssertionError("unreachable")

    def read(self, query: Callable[[Session], T]) -> T:
        with Session(self.engine) as session:
            return query(session)

    def close(self) -> None:
        """Close every thread's held connection (the engine was disposed)."""
        with self._held_lock:
            held = list(self._held_by_threads)
        for each in held:
            each.close()
        self._local = threading.local()

    def _connection(self) -> Any:
        """The driver connection this thread holds (taken on first use)."""
        return self._held().connection

    def _held(self) -> _Held:
        held = getattr(self._local, "held", None)
        if held is None or held.pid != os.getpid():  # a fork's parent's: never ours
            fairy = self._writer.raw_connection()  # through the engine: its connect hooks ran
            fairy.detach()  # ours from now on: the pool neither counts nor recycles it
            held = self._local.held = self._held_type(fairy)
            with self._held_lock:
                self._held_by_threads.add(held)
        return held

    def _drop(self) -> None:
        held = getattr(self._local, "held", None)
        self._local.held = None
        if held is not None:
            held.close()


class _Held:
    """A driver connection held by one thread of one process; INSERTs through a cursor.

    It is closed when the thread ends (its thread-local value goes), by :meth:`close`,
    never by a forked child (the socket is the parent's)."""

    def __init__(self, fairy: Any) -> None:
        self.pid = os.getpid()
        self.connection = fairy.dbapi_connection
        self.close = weakref.finalize(self, _close, fairy, self.pid)

    def insert(self, driver: DriverStatement, values: Any) -> bool:
        cursor = self.connection.cursor()
        cursor.execute(driver.sql, values)
        stored = cursor.rowcount == 1
        cursor.close()
        self.connection.commit()  # no transaction (SQLite's autocommit mode): a no-op
        return stored


class _HeldLibpq(_Held):
    """psycopg's connection, in autocommit mode: each statement (``$n`` placeholders) is
    prepared once, then run by libpq with its values dumped by psycopg's adapters."""

    def __init__(self, fairy: Any) -> None:
        super().__init__(fairy)
        self._prepared: dict[DriverStatement, tuple[bytes, list[PyFormat]]] = {}
        self._adapt = Transformer(self.connection)

    def insert(self, driver: DriverStatement, values: Any) -> bool:
        pgconn = self.connection.pgconn
        if (prepared := self._prepared.get(driver)) is None:
            name = b"ingest_%d" % len(self._prepared)
            self._check(pgconn.prepare(name, driver.sql.encode(self.connection.info.encoding)))
            prepared = self._prepared[driver] = name, [PyFormat.TEXT] * len(values)
        name, formats = prepared
        dumped = self._adapt.dump_sequence(values, formats)
        return self._check(pgconn.exec_prepared(name, dumped)).command_tuples == 1

    def _check(self, result: Any) -> Any:
        if result.status not in _DONE:
            raise psycopg.errors.error_from_result(result, self.connection.info.encoding)
        return result


def _close(fairy: Any, pid: int) -> None:
    if os.getpid() == pid:
        with contextlib.suppress(Exception):  # broken already, or SQLite's other thread
            fairy.close()


# What a statement that worked answers: no rows, or the rows of a RETURNING (SQLAlchemy
# adds one to an INSERT ... VALUES to learn the primary key).
_DONE = (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK)
