"""Fixtures: one app per session, the schema migrated once, a rolled-back transaction per test.

Set ``TEST_DATABASE_URL`` to run on PostgreSQL (CI does); the default is a throwaway
SQLite file. Provider calls go to the in-process sandbox; the network is never used.
"""

from __future__ import annotations

import itertools
import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from flask import Flask
from flask.globals import _cv_app
from flask.testing import FlaskClient
from sqlalchemy import MetaData, text
from sqlalchemy.orm import scoped_session, sessionmaker

from portal import create_app
from portal.extensions import db
from provisioning import accounts, companies
from provisioning.audit import SYSTEM
from provisioning.crypto import Keyring
from provisioning.tenancy import Company, Role, User
from tests.smtp_inbox import Inbox, running_inbox

pytest_plugins = ["tests.hermetic"]

PASSWORD = "correct-horse-battery"
PUBLIC = "http://portal.test"


def _blocked_network(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError(f"network disabled in tests: {request.url.host}", request=request)


def offline() -> httpx.MockTransport:
    """A transport that fails every request as an unreachable host does, without DNS: for
    a sandbox whose webhooks no test receives."""
    return httpx.MockTransport(_blocked_network)


def reset_database(url: str) -> None:
    """Drop everything in the test database (PostgreSQL is reused between runs)."""
    from sqlalchemy import create_engine

    engine = create_engine(url)
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # tables, and the functions triggers call
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        else:
            meta = MetaData()
            meta.reflect(conn)
            meta.drop_all(conn)
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()


@contextmanager
def _created_database(database_url: str, name: str) -> Iterator[str]:
    """A new, empty PostgreSQL database ``name`` on the server of ``database_url`` (any
    leftover of that name is dropped first); dropped again afterwards."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(database_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The suite's database: a SQLite file in the (per-worker) temporary directory, or
    ``TEST_DATABASE_URL``; under pytest-xdist each worker gets its own PostgreSQL database,
    named after that one and the worker, created here and dropped at the end."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        return
    from sqlalchemy.engine import make_url

    from portal.config import database_url as normalise

    url = normalise(url, Path("."))
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        reset_database(url)
        yield url
        return
    with _created_database(url, f"{make_url(url).database}_{worker}") as worker_url:
        yield worker_url


@contextmanager
def scratch_database(database_url: str, directory: Path) -> Iterator[str]:
    """An empty database of the same kind as the suite's (a file in ``directory`` for
    SQLite), dropped afterwards."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{directory / 'scratch.db'}"
        return
    with _created_database(database_url, f"scratch_{uuid.uuid4().hex[:10]}") as url:
        yield url


@pytest.fixture
def scratch_database_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of the same kind as the suite's, dropped afterwards."""
    with scratch_database(database_url, tmp_path) as url:
        yield url


@pytest.fixture
def scratch_app(scratch_database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """An app on an empty scratch database, its context pushed; for tests that commit."""
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": scratch_database_url,
            "SECRET_KEY": "x",
            "KEYRING": Keyring.generate(),
            "INSTANCE_PATH": str(tmp_path),
        }
    )
    with app.app_context():
        yield app
        db.engine.dispose()


@pytest.fixture(scope="session")
def app(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    from flask_migrate import upgrade

    app = create_app(
        {
            "TESTING": True,
            "PORTAL_ENV": "development",
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": "test-secret-key",
            "KEYRING": Keyring.generate(),
            "INSTANCE_PATH": str(tmp_path_factory.mktemp("instance")),
            "PROVIDER_TRANSPORT": offline(),
            "SERVER_NAME": "portal.test",
            "PUBLIC_BASE_URL": PUBLIC,  # the links in e-mails
            "JOB_RUNNER": "manual",
            "META_REFRESH_SECONDS": 0,  # a WABA listed after every event; coalescing: tests/sync
        }
    )
    with app.app_context():
        upgrade()
    yield app


def _context_scope() -> int:
    """One session per app context (each request), and one for the test body itself."""
    ctx = _cv_app.get(None)
    return id(ctx) if ctx is not None else 0


@pytest.fixture
def session(app: Flask) -> Iterator:
    """Sessions bound to one connection whose outer transaction rolls back after the test.

    No app context stays pushed during the test, so every request gets its own context,
    ``g`` and session, as in production; all of them share the one connection.
    """
    app.extensions["job_runner"].queue.clear()  # jobs never outlive their test
    with app.app_context():
        connection = db.engine.connect()
    outer = connection.begin()
    original = db.session
    # A plain SQLAlchemy session: Flask-SQLAlchemy's own would pick the engine over the
    # connection and commit for real.
    db.session = scoped_session(
        sessionmaker(bind=connection, join_transaction_mode="create_savepoint"),
        scopefunc=_context_scope,
    )
    try:
        yield db.session
    finally:
        db.session.remove()
        db.session = original
        outer.rollback()
        connection.close()


@pytest.fixture
def client(app: Flask, session) -> FlaskClient:
    return app.test_client()


_counter = itertools.count(1)


class Factory:
    """Callable factories for the rows tests need."""

    def __init__(self, session) -> None:
        self.session = session

    def company(self, name: str | None = None) -> Company:
        company = companies.create_company(
            self.session, SYSTEM, name or f"Company {next(_counter)}"
        )
        self.session.commit()
        return company

    def user(
        self,
        company: Company | None = None,
        role: Role = Role.MEMBER,
        *,
        email: str | None = None,
        platform_admin: bool = False,
    ) -> User:
        user = accounts.create_user(
            self.session,
            SYSTEM,
            email or f"user{next(_counter)}@example.com",
            password=PASSWORD,
            platform_admin=platform_admin,
        )
        if company is not None:
            accounts.set_membership(self.session, SYSTEM, user, company, role)
        self.session.commit()
        return user

    def admin(self) -> User:
        return self.user(platform_admin=True)


@pytest.fixture
def make(session) -> Factory:
    return Factory(session)


def csrf_token(client: FlaskClient, url: str) -> str:
    html = client.get(url, follow_redirects=True).get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert match, f"no CSRF token on {url}"
    return match.group(1)


class Auth:
    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def login(self, user: User | str, password: str = PASSWORD):
        email = user if isinstance(user, str) else user.email
        token = csrf_token(self.client, "/login")
        return self.client.post(
            "/login", data={"email": email, "password": password, "csrf_token": token}
        )

    def logout(self):
        token = csrf_token(self.client, "/")
        return self.client.post("/logout", data={"csrf_token": token})

    def post(self, url: str, data: dict | None = None, *, form_page: str | None = None, **kw):
        """POST with a valid CSRF token taken from ``form_page`` (or any signed-in page)."""
        token = csrf_token(self.client, form_page or "/companies")
        return self.client.post(url, data={**(data or {}), "csrf_token": token}, **kw)


@pytest.fixture
def auth(client: FlaskClient) -> Auth:
    return Auth(client)


@pytest.fixture
def inbox(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    """A real SMTP server on loopback (``tests/smtp_inbox.py``) set as the app's mail server."""
    with running_inbox() as (handler, url):
        monkeypatch.setitem(app.config, "SMTP_URL", url)
        monkeypatch.setitem(app.config, "MAIL_FROM", "portal@portal.test")
        yield handler


FROZEN_AT = 1_767_225_600.0  # 2026-01-01T00:00:00Z


@pytest.fixture
def connected_sandbox(app, monkeypatch, session):
    """Build a seeded sandbox wired into the app, with partner configurations.

    ``connected_sandbox(seed, Provider.META, ...)`` (no provider: all three);
    ``webhooks_to_app=True`` delivers the sandbox's webhooks to the app in process.
    """
    from portal.demo import partner_values
    from portal.sandbox_seed import seed_sandbox
    from provisioning import partners
    from provisioning.audit import SYSTEM
    from provisioning.partners import Environment, Provider
    from provisioning.sandbox import Sandbox, SimClock

    def build(seed: int, *providers: Provider, webhooks_to_app: bool = False) -> Sandbox:
        outbound = httpx.WSGITransport(app=app) if webhooks_to_app else offline()
        sandbox = Sandbox(seed=seed, clock=SimClock(start=FROZEN_AT), outbound_transport=outbound)
        seed_sandbox(sandbox, PUBLIC)
        for key, value in (
            ("PROVIDER_TRANSPORT", sandbox.transport()),
            ("PUBLIC_BASE_URL", PUBLIC),
            ("SANDBOX_URL", sandbox.base_url),
        ):
            monkeypatch.setitem(app.config, key, value)
        values = partner_values(sandbox.base_url, PUBLIC)
        sandbox.configs = {
            provider: partners.create_configuration(
                session, SYSTEM, provider, Environment.SANDBOX, "", values[provider]
            )
            for provider in providers or tuple(Provider)
        }
        session.commit()
        return sandbox

    return build
