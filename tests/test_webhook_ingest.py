"""Webhook ingest: a cached secret that a rotation replaces at once, one INSERT per
delivery and no configuration lookup on a cached hit, and the apply job woken instead of
a job per event."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import event, func, select, text

from portal.demo import partner_values
from portal.extensions import db
from portal.jobs import ManualRunner
from portal.jobs.celery_runner import CeleryRunner
from provisioning import partners
from provisioning.audit import SYSTEM
from provisioning.event_store import EngineStore
from provisioning.events import (
    NewEvent,
    WebhookEvent,
    autocommit_engine,
    insert_event,
)
from provisioning.ingest import SECRETS
from provisioning.outbound import OutboundPolicy
from provisioning.partners import Environment, Provider

SANDBOX = "http://127.0.0.1:5001"


def configure_meta(session, app_secret: str) -> partners.PartnerConfiguration:
    values = partner_values(SANDBOX, "http://127.0.0.1:5000")[Provider.META]
    values["app_secret"] = app_secret
    config = partners.create_configuration(
        session, SYSTEM, Provider.META, Environment.SANDBOX, "Meta", values,
        outbound=OutboundPolicy.build(production=False, provider_hosts=frozenset(),
                                     allowlist=(), sandbox_urls=(SANDBOX,)),
    )  # fmt: skip
    session.commit()
    return config


def rotate(session, config: partners.PartnerConfiguration, app_secret: str) -> None:
    values = {**config.settings, "app_secret": app_secret}
    partners.update_configuration(
        session, SYSTEM, config, config.environment, config.name, values,
        outbound=OutboundPolicy.build(production=False, provider_hosts=frozenset(),
                                     allowlist=(), sandbox_urls=(SANDBOX,)),
    )  # fmt: skip
    session.commit()


_seq = iter(range(1, 10**9))


def delivery(app_secret: str) -> tuple[bytes, dict[str, str]]:
    change = {"field": "account_alerts", "value": {"n": next(_seq)}}
    body = json.dumps({"entry": [{"id": "1", "changes": [change]}]}).encode()
    digest = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return body, {"X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}


def post(client, app_secret: str) -> int:
    body, headers = delivery(app_secret)
    return client.post("/webhooks/meta", data=body, headers=headers).status_code


def test_a_rotated_app_secret_takes_effect_at_once(app, client, session):
    config = configure_meta(session, "first-secret")
    assert post(client, "first-secret") == 200  # now cached in this process
    rotate(session, config, "second-secret")
    assert post(client, "first-secret") == 403  # the old one is refused from now on
    assert post(client, "second-secret") == 200
    assert session.scalar(select(db.func.count()).select_from(WebhookEvent)) == 2


def test_a_secret_rotated_in_another_process_is_used_for_a_delivery_signed_with_it(
    app, client, session
):
    """A delivery that does not verify with the cached secret is checked again with the
    stored one (another process may have rotated it a moment ago)."""
    config = configure_meta(session, "first-secret")
    assert post(client, "first-secret") == 200
    rotate(session, config, "second-secret")
    assert post(client, "second-secret") == 200


def test_a_duplicate_delivery_is_answered_once_stored(app, client, session):
    configure_meta(session, "a-secret")
    body, headers = delivery("a-secret")
    for _ in range(2):
        assert client.post("/webhooks/meta", data=body, headers=headers).status_code == 200
    assert session.scalar(select(db.func.count()).select_from(WebhookEvent)) == 1


def test_ingest_wakes_the_apply_job_which_applies_what_is_stored(app, client, session):
    configure_meta(session, "a-secret")
    runner = app.extensions["job_runner"]
    assert post(client, "a-secret") == 200 and post(client, "a-secret") == 200
    assert runner.queue == [("webhooks.apply_pending", ())] * 2  # no job per event
    assert runner.drain() == [2, 0]  # the first run applies both, the second finds none
    events = session.scalars(select(WebhookEvent)).all()
    assert [e.processed_at is not None for e in events] == [True, True]


def test_the_celery_runner_sends_a_waiting_wake_up_once(app, monkeypatch):
    monkeypatch.setitem(app.config, "CELERY_BROKER_URL", "memory://")
    runner = CeleryRunner(app)
    del app.extensions["celery"]
    sent: list[tuple] = []
    entered, release = threading.Event(), threading.Event()

    def publish(name, args, enqueued_at=None):
        entered.set()
        release.wait(10)
        sent.append((name, args))
        return True

    monkeypatch.setattr(runner, "publish", publish)
    runner.enqueue("webhooks.apply_pending")
    assert entered.wait(10)  # taken by the publisher, held in publish
    for _ in range(50):  # a burst while it is being sent: one more wake-up waits
        runner.enqueue("webhooks.apply_pending")
    release.set()
    assert runner.wait_sent(10)
    assert sent == [("webhooks.apply_pending", ())] * 2


@pytest.fixture
def live_app(scratch_app: Flask) -> Iterator[Flask]:
    """A migrated app on an engine of its own: ingest runs as in production."""
    from flask_migrate import upgrade

    upgrade()
    scratch_app.extensions["job_runner"] = ManualRunner(scratch_app)  # nothing applied meanwhile
    SECRETS.clear()
    yield scratch_app
    SECRETS.clear()


def test_a_cached_hit_sends_one_insert_and_no_configuration_query(live_app):
    """The INSERT goes to the thread's held driver connection, compiled once, so
    SQLAlchemy's statement events see only the refused delivery's lookup; the driver's
    own trace (SQLite) sees the INSERT."""
    configure_meta(db.session, "live-secret")
    db.session.remove()
    client = live_app.test_client()
    assert post(client, "live-secret") == 200  # loads and caches the secret
    store = EngineStore.of(db.engine)
    store.close()  # the next delivery takes a new connection: the trace goes on it
    statements: list[str] = []
    sent: list[str] = []

    def record(conn, cursor, statement, *args) -> None:
        statements.append(statement.split(None, 1)[0].upper())

    def trace(dbapi_connection, record_, proxy) -> None:
        if db.engine.dialect.name == "sqlite":
            dbapi_connection.set_trace_callback(sent.append)

    engines = {db.engine, autocommit_engine(db.engine)}  # PostgreSQL: two
    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
        event.listen(engine.pool, "checkout", trace)
    try:
        assert post(client, "live-secret") == 200
        assert post(client, "wrong-secret") == 403
        assert post(client, "live-secret") == 200
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", record)
            event.remove(engine.pool, "checkout", trace)
    assert statements == ["SELECT"]  # the refused one reads the configuration again
    if db.engine.dialect.name == "sqlite":
        inserts = [s.split(None, 1)[0] for s in sent if not s.startswith(("PRAGMA", "SELECT"))]
        assert inserts == ["INSERT", "INSERT"]  # one statement each, nothing around it
    else:  # prepared once on the held connection, run twice
        prepared = store._connection().execute(
            "SELECT statement, generic_plans + custom_plans FROM pg_prepared_statements"
        )
        assert [(s.split(None, 1)[0], runs) for s, runs in prepared] == [("INSERT", 2)]
    stored = db.session.scalars(select(WebhookEvent)).all()
    assert len(stored) == 3 and all(e.received_at.tzinfo is not None for e in stored)
    assert {e.provider for e in stored} == {Provider.META}


def test_a_held_connection_the_server_dropped_is_replaced_and_the_delivery_stored(live_app):
    configure_meta(db.session, "live-secret")
    db.session.remove()
    client = live_app.test_client()
    assert post(client, "live-secret") == 200
    store = EngineStore.of(db.engine)
    store._connection().close()  # as if the server went away between two deliveries
    assert post(client, "live-secret") == 200
    assert post(client, "live-secret") == 200
    assert db.session.scalar(select(func.count()).select_from(WebhookEvent)) == 3


def test_a_failing_insert_is_not_sent_twice_and_its_connection_is_replaced(live_app, monkeypatch):
    """Only a lost connection is worth a second try; any other error surfaces at once."""
    configure_meta(db.session, "live-secret")
    db.session.remove()
    client = live_app.test_client()
    assert post(client, "live-secret") == 200
    store = EngineStore.of(db.engine)
    held = store._held()
    taken: list[object] = []
    with db.engine.connect() as connection:  # a table the INSERT cannot write to
        connection.execute(text("ALTER TABLE webhook_events RENAME TO webhook_events_away"))
        connection.commit()
    try:
        with monkeypatch.context() as patch:
            patch.setattr(store, "_held", lambda: taken.append(held) or held)
            with pytest.raises(store.engine.dialect.loaded_dbapi.Error, match="webhook_events"):
                store.insert(
                    insert_event(store.dialect, returning=False),
                    NewEvent(Provider.META, "k", "t", b"{}").params(),
                )
        assert len(taken) == 1  # sent once
        assert store._held() is not held  # and the connection not kept
    finally:
        with db.engine.connect() as connection:
            connection.execute(text("ALTER TABLE webhook_events_away RENAME TO webhook_events"))
            connection.commit()


def test_on_an_engine_a_rotation_takes_effect_at_once_too(live_app):
    config = configure_meta(db.session, "live-secret")
    client = live_app.test_client()
    assert post(client, "live-secret") == 200
    rotate(db.session, config, "rotated-secret")
    assert post(client, "live-secret") == 403
    assert post(client, "rotated-secret") == 200


def closed(connection) -> bool:
    """Whether a driver connection (psycopg or sqlite3) was closed."""
    if hasattr(connection, "closed"):
        return bool(connection.closed)
    try:
        connection.execute("SELECT 1")
    except db.engine.dialect.loaded_dbapi.ProgrammingError:
        return True
    return False


def test_a_finished_threads_held_connection_is_closed(live_app):
    """A server that starts a thread per request (Werkzeug's) leaves no connection behind."""
    store = EngineStore.of(db.engine)
    taken: list[object] = []

    def deliver(key: str) -> None:
        store.insert(
            insert_event(store.dialect, returning=False),
            NewEvent(Provider.META, key, "t", b"{}").params(),
        )
        taken.append(store._connection())

    for key in ("a", "b", "c"):
        thread = threading.Thread(target=deliver, args=(key,))
        thread.start()
        thread.join()
    assert len(taken) == 3 and all(closed(connection) for connection in taken)
    assert db.session.scalar(select(func.count()).select_from(WebhookEvent)) == 3
    store.insert(insert_event(store.dialect, returning=False),
                 NewEvent(Provider.META, "d", "t", b"{}").params())  # fmt: skip
    kept = store._connection()
    store.close()  # the engine disposed: this thread's too
    assert closed(kept)
