"""Webhook ingest: Meta, 360dialog and Twilio webhooks under gunicorn, next to a bare baseline.

Run by hand from the repository root (bench/README.md)::

    .venv/bin/python bench/webhook_ingest.py --rounds 3 --duration 10 --profile 500
    .venv/bin/python bench/webhook_ingest.py --sqlite --rounds 3 --duration 10

It creates a scratch database (PostgreSQL, or a SQLite file with ``--sqlite``), migrates
it, stores the Meta, 360dialog and Twilio partner configurations with random secrets, a
Twilio subaccount with its own auth token, and a baseline table of the same shape as
``webhook_events``. Per round and provider it serves both targets with gunicorn, warms
each up, then loads them in turn for short slices (the order alternating) with unique
signed bodies (so dedupe never hides a request): both see the same machine, whatever
else it runs. It checks every 2xx answer stored one row, and counts the CPU each
target's gunicorn and PostgreSQL's processes used per request (``/proc``), the figure
that moves least when the machine is shared.

- ``baseline``: :func:`baseline_app`, a bare WSGI callable: the provider's signature
  check, the same row, one commit per request (psycopg, or sqlite3 with the portal's
  pragmas: WAL, ``synchronous=NORMAL``, ``BEGIN IMMEDIATE``).
- ``portal``: ``wsgi:app`` with ``JOB_RUNNER=manual``: the apply job's wake-up is
  recorded and never runs, so this measures ingest alone (verify, store, answer).

Providers: ``meta`` (``POST /webhooks/meta``, ``X-Hub-Signature-256``), ``dialog360``
(``POST /webhooks/360dialog``, ``x-360dialog-signature``), ``twilio`` (``POST
/webhooks/twilio/status``, a form signed by the subaccount's auth token).

``--profile N`` then sends N requests of each provider through the portal in process
under cProfile and counts its database round trips per request (``--rounds 0`` profiles
without measuring).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import hashlib
import hmac
import itertools
import json
import math
import os
import platform
import pstats
import secrets
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import psycopg
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
PUBLIC_BASE_URL = "https://portal.bench"  # the URL Twilio signs (the portal rebuilds it)
SUBACCOUNT_SID = "AC" + "5" * 32
PROVIDERS = ("meta", "dialog360", "twilio")
PATHS = {
    "meta": "/webhooks/meta",
    "dialog360": "/webhooks/360dialog",
    "twilio": "/webhooks/twilio/status",
}
IDLE = psycopg.pq.TransactionStatus.IDLE
BASELINE_TABLE = "bench_webhook_events"
INSERT_EVENT = (
    f"INSERT INTO {BASELINE_TABLE} (provider, dedupe_key, event_type, payload, received_at,"
    " attempts, processed_at) VALUES (%s, %s, %s, %s, now(), %s, CASE WHEN %s THEN now() END)"
    " ON CONFLICT DO NOTHING"
)
INSERT_EVENT_SQLITE = (
    f"INSERT INTO {BASELINE_TABLE} (provider, dedupe_key, event_type, payload, received_at,"
    " attempts, processed_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)

# Same columns, defaults, indexes and unique constraint; its own id sequence.
BASELINE_DDL = (
    f"CREATE TABLE {BASELINE_TABLE} (LIKE webhook_events INCLUDING ALL)",
    f"CREATE SEQUENCE {BASELINE_TABLE}_id_seq OWNED BY {BASELINE_TABLE}.id",
    f"ALTER TABLE {BASELINE_TABLE} ALTER id SET DEFAULT nextval('{BASELINE_TABLE}_id_seq')",
)

# --- the baseline: a bare WSGI app (gunicorn imports this module in its workers) ---------

_local = threading.local()


def _connection():
    """One connection per worker thread, opened on first use (sync workers: one each)."""
    conn = getattr(_local, "conn", None)
    if conn is None:
        url = os.environ["BENCH_DATABASE_URL"]
        if url.startswith("sqlite:///"):
            conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
            conn.execute("PRAGMA busy_timeout=15000")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        else:
            conn = psycopg.connect(url)
        _local.conn = conn
    return conn


def _store(row: tuple) -> None:
    """Insert one event row and commit (sqlite3: BEGIN IMMEDIATE, as the portal does)."""
    conn = _connection()
    if isinstance(conn, sqlite3.Connection):
        now = time.strftime("%Y-%m-%d %H:%M:%S.000000", time.gmtime())
        provider, key, kind, payload, attempts, processed = row
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            INSERT_EVENT_SQLITE,
            (provider, key, kind, payload, now, attempts, now if processed else None),
        )
        conn.execute("COMMIT")
    else:
        conn.execute(INSERT_EVENT, row)
        conn.commit()


def _respond(start_response: Callable, status: str) -> list[bytes]:
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", "0")])
    return [b""]


def _hex_hmac(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _meta_row(environ: dict, body: bytes) -> tuple | int:
    expected = "sha256=" + _hex_hmac(os.environ["BENCH_META_SECRET"], body)
    if not hmac.compare_digest(expected, environ.get("HTTP_X_HUB_SIGNATURE_256", "")):
        return 403
    try:
        event_type = json.loads(body)["entry"][0]["changes"][0]["field"]
    except (ValueError, LookupError, TypeError):
        return 400
    text = body.decode("utf-8", "replace")
    return ("meta", hashlib.sha256(body).hexdigest(), str(event_type)[:80], text, 0, False)


def _dialog360_row(environ: dict, body: bytes) -> tuple | int:
    expected = _hex_hmac(os.environ["BENCH_D360_SECRET"], body)
    if not hmac.compare_digest(expected, environ.get("HTTP_X_360DIALOG_SIGNATURE", "")):
        return 403
    try:
        payload = json.loads(body)
        name, key = str(payload["event"]), str(payload["id"])
    except (ValueError, LookupError, TypeError):
        return 400
    return ("dialog360", f"{name}:{key}", name[:80], body.decode("utf-8", "replace"), 0, False)


def _twilio_row(environ: dict, body: bytes) -> tuple | int:
    params = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    url = PUBLIC_BASE_URL + environ["PATH_INFO"]
    validator = RequestValidator(os.environ["BENCH_TWILIO_TOKEN"])
    if params.get("AccountSid") != SUBACCOUNT_SID or not validator.validate(
        url, params, environ.get("HTTP_X_TWILIO_SIGNATURE", "")
    ):
        return 403
    key = ":".join(params.get(k, "") for k in ("MessageSid", "MessageStatus", "SmsStatus"))
    return ("twilio", f"status:{key}", "status", body.decode("utf-8", "replace"), 1, True)


ROWS = {
    PATHS["meta"]: _meta_row,
    PATHS["dialog360"]: _dialog360_row,
    PATHS["twilio"]: _twilio_row,
}


def baseline_app(environ: dict, start_response: Callable) -> Iterable[bytes]:
    """Check the provider's signature on the raw body, insert the event, commit, answer."""
    if environ["REQUEST_METHOD"] != "POST":
        return _respond(start_response, "405 Method Not Allowed")
    row_of = ROWS.get(environ.get("PATH_INFO", ""))
    if row_of is None:
        return _respond(start_response, "404 Not Found")
    try:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return _respond(start_response, "400 Bad Request")
    row = row_of(environ, body)
    if isinstance(row, int):
        return _respond(start_response, f"{row} Refused")
    _store(row)
    return _respond(start_response, "200 OK")


# --- the load generator -------------------------------------------------------------------


@dataclass(frozen=True)
class Secrets:
    meta: str
    dialog360: str
    twilio: str  # the subaccount's auth token


def signed_meta(secrets_: Secrets, seq: int) -> tuple[bytes, dict[str, str]]:
    """A unique Meta quality update and its ``X-Hub-Signature-256`` header."""
    change = {
        "field": "phone_number_quality_update",
        "value": {
            "display_phone_number": f"+1 555 {seq % 10_000_000:07d}",
            "event": "FLAGGED",
            "current_limit": "TIER_1K",
        },
    }
    entry = {"id": str(100_000_000_000 + seq % 2000), "time": 1_700_000_000 + seq}
    body = json.dumps(
        {"object": "whatsapp_business_account", "entry": [{**entry, "changes": [change]}]}
    ).encode()
    return body, {"X-Hub-Signature-256": "sha256=" + _hex_hmac(secrets_.meta, body)}


def signed_dialog360(secrets_: Secrets, seq: int) -> tuple[bytes, dict[str, str]]:
    """A unique 360dialog partner event (a channel update) and its signature header."""
    body = json.dumps(
        {"id": f"evt-{seq}", "event": "channel_running",
         "data": {"id": f"ch-{seq % 3000}", "status": "running"}}
    ).encode()  # fmt: skip
    return body, {"x-360dialog-signature": _hex_hmac(secrets_.dialog360, body)}


def signed_twilio(secrets_: Secrets, seq: int) -> tuple[bytes, dict[str, str]]:
    """A unique message status callback of the subaccount, form-encoded and signed."""
    params = {
        "AccountSid": SUBACCOUNT_SID,
        "MessageSid": f"SM{seq:032x}",
        "MessageStatus": "delivered",
        "SmsStatus": "delivered",
        "To": "whatsapp:+15550001111",
    }
    url = PUBLIC_BASE_URL + PATHS["twilio"]
    signature = RequestValidator(secrets_.twilio).compute_signature(url, params)
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               "X-Twilio-Signature": signature}  # fmt: skip
    return urlencode(params).encode(), headers


SIGNED = {"meta": signed_meta, "dialog360": signed_dialog360, "twilio": signed_twilio}


def provider_request(port: int, provider: str, secrets_: Secrets, seq: int) -> bytes:
    """The raw HTTP request of one delivery (the connection closes after the answer)."""
    body, headers = SIGNED[provider](secrets_, seq)
    headers = {"Content-Type": "application/json", **headers}
    head = f"POST {PATHS[provider]} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    head += f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    return head.encode() + body


@dataclass
class Phase:
    seconds: float = 0.0
    statuses: Counter = field(default_factory=Counter)
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    client_cpu: float = 0.0  # share of one CPU the load generator used
    machine_busy: float = 0.0  # share of all CPUs busy (any process, ours or not)

    @property
    def ok(self) -> int:
        return sum(n for status, n in self.statuses.items() if 200 <= status < 300)

    @property
    def requests(self) -> int:
        return sum(self.statuses.values()) + self.errors

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)] if ordered else float("nan")

    def add(self, other: Phase) -> None:
        """Count ``other`` (a later slice of the same target) in this phase."""
        seconds = self.seconds + other.seconds
        for share in ("client_cpu", "machine_busy"):
            mixed = getattr(self, share) * self.seconds + getattr(other, share) * other.seconds
            setattr(self, share, mixed / seconds if seconds else 0.0)
        self.seconds = seconds
        self.statuses.update(other.statuses)
        self.errors += other.errors
        self.latencies.extend(other.latencies)


async def _send(port: int, request: bytes) -> int:
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        writer.write(request)
        answer = await reader.read()  # gunicorn closes the connection after the answer
    finally:
        writer.close()
    return int(answer[9:12]) if answer.startswith(b"HTTP/1.") else 0


async def _load(target: tuple[int, str], secrets_: Secrets, seqs, seconds: float, clients: int):
    phase = Phase()
    port, provider = target
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        while time.perf_counter() < deadline:
            request = provider_request(port, provider, secrets_, next(seqs))
            started = time.perf_counter()
            try:
                status = await _send(port, request)
            except OSError:
                phase.errors += 1
                continue
            phase.latencies.append(time.perf_counter() - started)
            phase.statuses[status] += 1

    started, cpu, ticks = time.perf_counter(), time.process_time(), _cpu_ticks()
    await asyncio.gather(*(client() for _ in range(clients)))
    phase.seconds = time.perf_counter() - started  # in-flight requests finished too
    phase.client_cpu = (time.process_time() - cpu) / phase.seconds
    phase.machine_busy = _busy_since(ticks)
    return phase


def _cpu_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    return sum(values) - values[3] - values[4], sum(values)  # minus idle and iowait


def _busy_since(ticks: tuple[int, int]) -> float:
    busy, total = (now - then for now, then in zip(_cpu_ticks(), ticks, strict=True))
    return busy / total if total else 0.0


def busy_share(seconds: float) -> float:
    """Share of all CPUs busy over ``seconds``: other work on the machine while we idle."""
    ticks = _cpu_ticks()
    time.sleep(seconds)
    return _busy_since(ticks)


def cpu_seconds(pids: Iterable[int]) -> float:
    """User and system CPU seconds the processes ``pids`` have used (gone ones: none)."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def server_pids(server: subprocess.Popen) -> list[int]:
    """gunicorn's master and its workers."""
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    return [server.pid, *map(int, children)]


def postgres_pids() -> list[int]:
    """Every PostgreSQL process on this machine (the backends serving the load among them)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "comm").read_text().strip() == "postgres":
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def load(target: tuple[int, str], secrets_: Secrets, seqs, seconds: float, clients: int) -> Phase:
    """Keep ``clients`` requests in flight for ``seconds``; wait for the last answers."""
    return asyncio.run(_load(target, secrets_, seqs, seconds, clients))


# --- servers and the database -------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def start_gunicorn(spec: str, port: int, env: dict[str, str], workers: int, threads: int):
    command = [sys.executable, "-m", "gunicorn", spec, "--bind", f"{HOST}:{port}"]
    command += ["--workers", str(workers), "--threads", str(threads), "--log-level", "warning"]
    command += ["--preload"]  # every worker ready when the first answers (the portal boots long)
    server = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn {spec} exited with {server.returncode}")
        try:
            with socket.create_connection((HOST, port), timeout=1) as sock:
                sock.sendall(
                    f"GET / HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode()
                )
                if sock.recv(16).startswith(b"HTTP/1."):
                    return server
        except OSError:
            time.sleep(0.2)
    stop(server)
    raise SystemExit(f"gunicorn {spec} did not answer within 60 s")


def stop(server: subprocess.Popen) -> None:
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def admin_execute(server_url: str, statement: str) -> None:
    with psycopg.connect(f"{server_url}/postgres", autocommit=True) as conn:
        conn.execute(statement)


def count_rows(database_url: str, table: str, provider: str | None = None) -> int:
    where = f" WHERE provider = '{provider}'" if provider else ""
    if database_url.startswith("sqlite:///"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as conn:
            return conn.execute(f"SELECT count(*) FROM {table}{where}").fetchone()[0]
    with psycopg.connect(database_url) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}{where}").fetchone()[0]


def portal_app(database_url: str, keys: str, instance_path: str):
    """The portal built in this process, on the scratch database (jobs never run)."""
    from portal import create_app
    from portal.config import database_url as sqlalchemy_url
    from provisioning.crypto import Keyring

    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": sqlalchemy_url(database_url, ROOT),
            "JOB_RUNNER": "manual",
            "LOG_LEVEL": "WARNING",
            "SECRET_KEY": "bench",
            "KEYRING": Keyring.from_env_value(keys),
            "PROVIDER_ENVIRONMENT": "production",
            "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
            "INSTANCE_PATH": instance_path,  # nothing is written there: key and keyring given
        }
    )


def prepare_database(
    app, app_secret: str, baseline: bool = True, secrets_: Secrets | None = None
) -> None:
    """Migrate, store the partner configurations (production environment; the Meta app
    secret is ``app_secret``) and a Twilio subaccount, and create the baseline's table of
    the same shape (``baseline=False`` leaves it out)."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    from portal.demo import partner_values
    from portal.extensions import db
    from portal.providers import outbound_policy
    from provisioning import companies, partners
    from provisioning.audit import SYSTEM
    from provisioning.partners import Environment, Provider
    from provisioning.twilio.models import TwilioSubaccount

    secrets_ = secrets_ or Secrets(app_secret, secrets.token_hex(16), secrets.token_hex(16))
    with app.app_context():
        upgrade()
        values = partner_values("http://127.0.0.1:5001", "http://127.0.0.1:5000")
        values[Provider.META]["app_secret"] = secrets_.meta
        values[Provider.DIALOG360]["webhook_secret"] = secrets_.dialog360
        values[Provider.TWILIO]["auth_token"] = secrets.token_hex(16)
        for provider, provider_values in values.items():
            partners.create_configuration(
                db.session, SYSTEM, provider, Environment.PRODUCTION, "Bench", provider_values,
                outbound=outbound_policy("http://127.0.0.1:5001"),
            )  # fmt: skip
        company = companies.create_company(db.session, SYSTEM, "Bench")
        subaccount = TwilioSubaccount(
            company_id=company.id, account_sid=SUBACCOUNT_SID, auth_token=secrets_.twilio,
            friendly_name="Bench",
        )  # fmt: skip
        db.session.add(subaccount)
        if baseline:
            for statement in baseline_ddl(db.session):
                db.session.execute(text(statement))
        db.session.commit()


def baseline_ddl(session) -> list[str]:
    """The baseline table, ``webhook_events``'s twin: PostgreSQL's ``LIKE ... INCLUDING
    ALL``, SQLite's own statements for the table and its indexes, renamed."""
    from sqlalchemy import text

    if session.get_bind().dialect.name == "postgresql":
        return list(BASELINE_DDL)
    found = session.execute(
        text("SELECT sql FROM sqlite_master WHERE tbl_name = 'webhook_events' AND sql IS NOT NULL")
    ).scalars()
    return [statement.replace("webhook_events", BASELINE_TABLE) for statement in found]


# Where a portal request spends its time, per provider: (label, file suffix, function).
_WHOLE = ("whole request (the fast lane)", "portal/webhooks/ingest.py", "__call__")
_SECRET = ("    secret from the cache (or loaded)", "provisioning/ingest.py", "get")
_INSERT = ("    the INSERT, its own commit", "provisioning/event_store.py", "insert")
BREAKDOWN = {
    "meta": (
        _WHOLE,
        ("  the endpoint, meta_event", "portal/webhooks/ingest.py", "meta_event"),
        _SECRET,
        ("    signature check", "provisioning/meta/webhooks.py", "signature_valid"),
        ("    parse (JSON, digest)", "provisioning/meta/webhooks.py", "parse"),
        _INSERT,
    ),
    "dialog360": (
        _WHOLE,
        ("  the endpoint, dialog360", "portal/webhooks/ingest.py", "dialog360"),
        _SECRET,
        ("    signature check", "provisioning/dialog360/webhooks.py", "signature_valid"),
        ("    parse (JSON, digest)", "provisioning/dialog360/webhooks.py", "parse"),
        _INSERT,
    ),
    "twilio": (
        _WHOLE,
        ("  the endpoint, twilio_callback", "portal/webhooks/ingest.py", "twilio_callback"),
        _SECRET,
        ("    signature check", "provisioning/twilio/webhooks.py", "signature_valid"),
        _INSERT,
    ),
}


def _database_trips(engine) -> Counter:
    """Count what goes to the database per request, as SQLAlchemy sees it."""
    from sqlalchemy import event

    trips: Counter = Counter()

    def on_statement(conn, cursor, statement, *args) -> None:
        trips[" ".join(statement.split()[:2]) + " ..."] += 1

    def autocommit(conn) -> bool:
        return conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT"

    def on_begin(conn) -> None:
        if not autocommit(conn):
            trips["BEGIN"] += 1

    def on_commit(conn) -> None:
        if not autocommit(conn):
            trips["COMMIT"] += 1

    def on_rollback(conn) -> None:
        dbapi = conn.connection.dbapi_connection
        if getattr(getattr(dbapi, "info", None), "transaction_status", IDLE) != IDLE:
            trips["ROLLBACK"] += 1

    event.listen(engine, "before_cursor_execute", on_statement)
    event.listen(engine, "begin", on_begin)
    event.listen(engine, "commit", on_commit)
    event.listen(engine, "rollback", on_rollback)
    if engine.pool._pre_ping:
        event.listen(engine.pool, "checkout", lambda *a: trips.update(["SELECT 1 (pre-ping)"]))
    return trips


def profile_portal(
    app, secrets_: Secrets, seqs: Iterator[int], requests: int, provider: str = "meta"
) -> None:
    """Send ``requests`` signed deliveries of ``provider`` through the portal in process,
    under cProfile."""
    from portal.extensions import db

    with app.app_context():
        trips = _database_trips(db.engine)
    client = app.test_client()
    deliveries = [SIGNED[provider](secrets_, next(seqs)) for _ in range(requests)]
    path = PATHS[provider]
    client.post(path, data=deliveries[0][0], headers=deliveries[0][1])  # the cache
    trips.clear()
    profiler = cProfile.Profile()
    profiler.enable()
    for body, headers in deliveries[1:]:
        answer = client.post(path, data=body, headers=headers)
        if answer.status_code >= 300:
            raise SystemExit(f"profile: the portal answered {answer.status_code}")
    profiler.disable()
    count = requests - 1
    print(f"\nPortal, in process, {count} {provider} requests under cProfile (ms per request):")
    stats = pstats.Stats(profiler).stats  # (file, line, function) -> (cc, nc, tt, cumulative, _)
    for label, suffix, function in BREAKDOWN[provider]:
        cumulative = sum(
            row[3] for (path, _, name), row in stats.items()
            if name == function and path.endswith(suffix)
        )  # fmt: skip
        print(f"  {label:<48} {cumulative / count * 1000:6.2f}")
    print("Database round trips per request (statements, and BEGIN/COMMIT outside autocommit):")
    for trip, n in sorted(trips.items(), key=lambda item: -item[1]):
        print(f"  {n / count:5.2f}  {trip}")
    if not trips:  # EngineStore's held connection is outside SQLAlchemy's events
        print("  none through SQLAlchemy: each INSERT went to the held driver connection")


# --- the run ------------------------------------------------------------------------------


def machine(database_url: str) -> str:
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    import gunicorn

    common = (
        f"{os.cpu_count()} CPUs, {mem_kb / 1024**2:.0f} GiB RAM,"
        f" Python {platform.python_version()}, gunicorn {gunicorn.__version__},"
    )
    if database_url.startswith("sqlite:///"):
        return f"{common} SQLite {sqlite3.sqlite_version} (WAL, synchronous=NORMAL)"
    with psycopg.connect(database_url) as conn:
        pg = conn.execute("SHOW server_version").fetchone()[0]
        sync = conn.execute("SHOW synchronous_commit").fetchone()[0]
        fsync = conn.execute("SHOW fsync").fetchone()[0]
    return f"{common} PostgreSQL {pg} (fsync={fsync}, synchronous_commit={sync})"


TABLE_HEAD = (
    "| round | provider | target | requests | 2xx | other | errors | rows stored | req/s"
    " | p50 ms | p99 ms | server CPU ms/req | PostgreSQL CPU ms/req | load gen CPU"
    " | CPUs busy | busy before |\n"
    "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)
TARGETS = {  # name: (gunicorn app, table)
    "baseline": ("bench.webhook_ingest:baseline_app", BASELINE_TABLE),
    "portal": ("wsgi:app", "webhook_events"),
}


@dataclass
class Measurement:
    """One target measured in one round: its slices' phase, the rows it stored, the CPU
    its server and PostgreSQL used, the load before the round."""

    phase: Phase = field(default_factory=Phase)
    stored: int = 0
    warmup_ok: int = 0
    server_cpu: float = 0.0  # seconds: gunicorn's master and workers
    database_cpu: float | None = 0.0  # seconds: PostgreSQL's processes (None: SQLite)
    background: float = 0.0

    @property
    def rate(self) -> float:
        return self.phase.ok / self.phase.seconds if self.phase.seconds else 0.0

    def per_request(self, seconds: float | None) -> str:
        if seconds is None or not self.phase.requests:
            return "n/a"
        return f"{seconds / self.phase.requests * 1000:.3f}"

    def row(self, round_no: int, provider: str, name: str) -> str:
        p = self.phase
        return (
            f"| {round_no} | {provider} | {name} | {p.requests} | {p.ok} |"
            f" {p.requests - p.ok - p.errors} | {p.errors} | {self.stored} |"
            f" {self.rate:.0f} | {p.percentile(0.50) * 1000:.1f} |"
            f" {p.percentile(0.99) * 1000:.1f} | {self.per_request(self.server_cpu)} |"
            f" {self.per_request(self.database_cpu)} | {p.client_cpu:.0%} |"
            f" {p.machine_busy:.0%} | {self.background:.0%} |"
        )


def measure(args, provider: str, env: dict, secrets_: Secrets, seqs) -> dict[str, Measurement]:
    """Serve both targets at once, warm each up, then load them in turn, slice by slice
    (the order alternating), so that both see the same machine; count the rows each
    stored and the CPU its server and the database used while it was loaded."""
    url = env["BENCH_DATABASE_URL"]
    on_postgres = not url.startswith("sqlite:///")
    background = busy_share(1.0)  # the machine before the round, the same for both
    database_cpu = 0.0 if on_postgres else None  # None: SQLite runs in the server's processes
    done = {name: Measurement(database_cpu=database_cpu, background=background) for name in TARGETS}
    servers: dict[str, tuple[subprocess.Popen, int]] = {}
    try:
        for name, (spec, _) in TARGETS.items():
            port = free_port()
            servers[name] = start_gunicorn(spec, port, env, args.workers, args.threads), port
        for name, (_, port) in servers.items():
            done[name].warmup_ok = load(
                (port, provider), secrets_, seqs, args.warmup, args.concurrency
            ).ok
        before = {name: count_rows(url, table, provider) for name, (_, table) in TARGETS.items()}
        slices = max(1, round(args.duration / args.slice))
        seconds = args.duration / slices
        for number in range(slices):
            for name in list(servers)[:: 1 if number % 2 == 0 else -1]:
                server, port = servers[name]
                measured = done[name]
                pids = server_pids(server)
                started = cpu_seconds(pids), cpu_seconds(postgres_pids()) if on_postgres else 0
                measured.phase.add(
                    load((port, provider), secrets_, seqs, seconds, args.concurrency)
                )
                measured.server_cpu += cpu_seconds(pids) - started[0]
                if measured.database_cpu is not None:
                    measured.database_cpu += cpu_seconds(postgres_pids()) - started[1]
        for name, (_, table) in TARGETS.items():
            done[name].stored = count_rows(url, table, provider) - before[name]
    finally:
        for server, _ in servers.values():
            stop(server)
    return done


def run(args, app, database_url: str, secrets_: Secrets, keys: str) -> None:
    env = {
        "BENCH_DATABASE_URL": database_url,
        "BENCH_META_SECRET": secrets_.meta,
        "BENCH_D360_SECRET": secrets_.dialog360,
        "BENCH_TWILIO_TOKEN": secrets_.twilio,
        "DATABASE_URL": database_url,
        "PORTAL_ENV": "production",
        "PROVIDER_ENVIRONMENT": "production",
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "SECRET_KEY": secrets.token_urlsafe(48),
        "ENCRYPTION_KEYS": keys,
        "JOB_RUNNER": "manual",
        "LOG_LEVEL": "WARNING",
    }
    providers = args.providers.split(",")
    seqs = itertools.count(1)
    print(f"Machine: {machine(database_url)}")
    print(
        f"gunicorn: {args.workers} worker(s) x {args.threads} thread(s) per target, both"
        f" serving; load: {args.concurrency} connections in flight, one request per"
        f" connection; {args.warmup:g} s warm-up, then {args.duration:g} s measured per target"
        f" in {args.slice:g} s slices, the targets taking turns\n"
    )
    print(TABLE_HEAD)
    results: dict[tuple[str, str], list[Measurement]] = {
        (p, name): [] for p in providers for name in TARGETS if args.rounds
    }
    for round_no in range(1, args.rounds + 1):
        for provider in providers:
            for name, done in measure(args, provider, env, secrets_, seqs).items():
                results[provider, name].append(done)
                print(done.row(round_no, provider, name), flush=True)
    print()
    lost = False
    for (provider, name), measured in results.items():
        table = TARGETS[name][1]
        answered = sum(m.phase.ok + m.warmup_ok for m in measured)
        rows = count_rows(database_url, table, provider)
        lost |= rows != answered
        p99s = [m.phase.percentile(0.99) * 1000 for m in measured]
        cpu = [(m.server_cpu + (m.database_cpu or 0)) / m.phase.requests for m in measured]
        print(
            f"{provider} {name}: median {statistics.median(m.rate for m in measured):.0f}"
            f" req/s, median p99 {statistics.median(p99s):.1f} ms, median CPU"
            f" {statistics.median(cpu) * 1000:.3f} ms per request (server"
            f"{' and PostgreSQL' if measured[0].database_cpu is not None else ''});"
            f" {answered} 2xx answers (warm-up included), {rows} rows in {table}:"
            f" {'OK' if rows == answered else 'MISMATCH'}"
        )
    for provider in providers if args.rounds else ():
        portal, baseline = (
            statistics.median(m.rate for m in results[provider, name])
            for name in ("portal", "baseline")
        )
        print(f"{provider}: portal / baseline = {portal / baseline:.2f}")
    for provider in providers if args.profile else ():
        profile_portal(app, secrets_, seqs, args.profile, provider)
    if lost:
        raise SystemExit("rows stored differ from 2xx answers")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--sqlite", action="store_true", help="a SQLite file, not PostgreSQL")
    parser.add_argument("--database", default="bench_ingest", help="scratch database (recreated)")
    parser.add_argument("--providers", default=",".join(PROVIDERS), help="comma-separated")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds measured per target")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of warm-up per target")
    parser.add_argument("--concurrency", type=int, default=8, help="requests kept in flight")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers per target")
    parser.add_argument("--threads", type=int, default=1, help="threads per worker (1 = sync)")
    parser.add_argument("--slice", type=float, default=1.0, help="seconds per turn of a target")
    parser.add_argument("--rounds", type=int, default=1, help="both targets measured N times")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="profile N requests")
    parser.add_argument("--keep-db", action="store_true", help="leave the scratch database")
    args = parser.parse_args()

    secrets_ = Secrets(secrets.token_hex(16), secrets.token_hex(16), secrets.token_hex(16))
    keys = "bench:" + secrets.token_urlsafe(32)
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as instance_path:
        if args.sqlite:
            database_url = f"sqlite:///{instance_path}/{args.database}.db"
        else:
            database_url = f"{args.postgres}/{args.database}"
            admin_execute(args.postgres, f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
            admin_execute(args.postgres, f'CREATE DATABASE "{args.database}"')
        try:
            app = portal_app(database_url, keys, instance_path)
            prepare_database(app, secrets_.meta, secrets_=secrets_)
            run(args, app, database_url, secrets_, keys)
            with app.app_context():
                app.extensions["sqlalchemy"].engine.dispose()
        finally:
            if not args.sqlite and not args.keep_db:
                admin_execute(
                    args.postgres, f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)'
                )


def signed_request(port: int, secret: bytes, seq: int) -> bytes:
    """A signed Meta delivery for ``secret`` (what the other benchmarks send)."""
    return provider_request(port, "meta", Secrets(secret.decode(), "", ""), seq)


if __name__ == "__main__":
    main()
