"""Webhook ingest: ``POST /webhooks/meta`` under gunicorn on PostgreSQL, next to a bare baseline.

Run by hand from the repository root (bench/README.md)::

    .venv/bin/python bench/webhook_ingest.py --rounds 5 --duration 20 --profile 500

It creates a scratch database, migrates it, stores a Meta partner configuration with a
random app secret and a baseline table ``LIKE webhook_events``. Per round it serves each
target alone with gunicorn, warms it up, loads it for a fixed time with unique signed
bodies (so dedupe never hides a request) and checks every 2xx answer stored one row.

- ``baseline``: :func:`baseline_app`, a bare WSGI callable: the same HMAC check
  (``hmac.compare_digest``), the same row, one psycopg commit per request.
- ``portal``: ``wsgi:app`` with ``JOB_RUNNER=manual``: the apply job is queued and never
  runs, so this measures ingest alone (verify, store, commit, answer).

``--profile N`` then sends N requests through the portal in process under cProfile and
counts its database round trips per request.
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

import psycopg

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
SIGNATURE = "X-Hub-Signature-256"
IDLE = psycopg.pq.TransactionStatus.IDLE
BASELINE_TABLE = "bench_webhook_events"
INSERT_EVENT = (
    f"INSERT INTO {BASELINE_TABLE} (provider, dedupe_key, event_type, payload, received_at,"
    " attempts) VALUES ('meta', %s, %s, %s, now(), 0) ON CONFLICT DO NOTHING"
)

# Same columns, defaults, indexes and unique constraint; its own id sequence.
BASELINE_DDL = (
    f"CREATE TABLE {BASELINE_TABLE} (LIKE webhook_events INCLUDING ALL)",
    f"CREATE SEQUENCE {BASELINE_TABLE}_id_seq OWNED BY {BASELINE_TABLE}.id",
    f"ALTER TABLE {BASELINE_TABLE} ALTER id SET DEFAULT nextval('{BASELINE_TABLE}_id_seq')",
)

# --- the baseline: a bare WSGI app (gunicorn imports this module in its workers) ---------

_local = threading.local()


def _connection() -> psycopg.Connection:
    """One connection per worker thread, opened on first use (sync workers: one each)."""
    conn = getattr(_local, "conn", None)
    if conn is None or conn.closed:
        conn = _local.conn = psycopg.connect(os.environ["BENCH_DATABASE_URL"])
    return conn


def _respond(start_response: Callable, status: str) -> list[bytes]:
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", "0")])
    return [b""]


def baseline_app(environ: dict, start_response: Callable) -> Iterable[bytes]:
    """Check ``X-Hub-Signature-256`` on the raw body, insert the event, commit, answer 200."""
    if environ["REQUEST_METHOD"] != "POST":
        return _respond(start_response, "405 Method Not Allowed")
    try:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return _respond(start_response, "400 Bad Request")
    secret = os.environ["BENCH_APP_SECRET"].encode()
    expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, environ.get("HTTP_X_HUB_SIGNATURE_256", "")):
        return _respond(start_response, "403 Forbidden")
    try:
        event_type = json.loads(body)["entry"][0]["changes"][0]["field"]
    except (ValueError, LookupError, TypeError):
        return _respond(start_response, "400 Bad Request")
    conn = _connection()
    digest = hashlib.sha256(body).hexdigest()
    conn.execute(INSERT_EVENT, (digest, str(event_type)[:80], body.decode("utf-8", "replace")))
    conn.commit()
    return _respond(start_response, "200 OK")


# --- the load generator -------------------------------------------------------------------


def signed_delivery(secret: bytes, seq: int) -> tuple[bytes, str]:
    """A unique Meta quality update and its ``X-Hub-Signature-256`` header value."""
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
    return body, "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def signed_request(port: int, secret: bytes, seq: int) -> bytes:
    """The raw HTTP request of one delivery (the connection closes after the answer)."""
    body, signature = signed_delivery(secret, seq)
    head = (
        f"POST /webhooks/meta HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        f"X-Hub-Signature-256: {signature}\r\nConnection: close\r\n\r\n"
    )
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


async def _send(port: int, request: bytes) -> int:
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        writer.write(request)
        answer = await reader.read()  # gunicorn closes the connection after the answer
    finally:
        writer.close()
    return int(answer[9:12]) if answer.startswith(b"HTTP/1.") else 0


async def _load(port: int, secret: bytes, seqs: Iterator[int], seconds: float, clients: int):
    phase = Phase()
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        while time.perf_counter() < deadline:
            request = signed_request(port, secret, next(seqs))
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


def load(port: int, secret: bytes, seqs: Iterator[int], seconds: float, clients: int) -> Phase:
    """Keep ``clients`` requests in flight for ``seconds``; wait for the last answers."""
    return asyncio.run(_load(port, secret, seqs, seconds, clients))


# --- servers and the database -------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def start_gunicorn(spec: str, port: int, env: dict[str, str], workers: int, threads: int):
    command = [sys.executable, "-m", "gunicorn", spec, "--bind", f"{HOST}:{port}"]
    command += ["--workers", str(workers), "--threads", str(threads), "--log-level", "warning"]
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


def count_rows(database_url: str, table: str) -> int:
    with psycopg.connect(database_url) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


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
            "PROVIDER_ENVIRONMENT": "sandbox",
            "INSTANCE_PATH": instance_path,  # nothing is written there: key and keyring given
        }
    )


def prepare_database(app, app_secret: str, baseline: bool = True) -> None:
    """Migrate, store the Meta configuration, create the baseline's table of the same shape
    (PostgreSQL only; ``baseline=False`` leaves it out)."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    from portal.demo import partner_values
    from portal.extensions import db
    from portal.providers import outbound_policy
    from provisioning import partners
    from provisioning.audit import SYSTEM
    from provisioning.partners import Environment, Provider

    with app.app_context():
        upgrade()
        values = partner_values("http://127.0.0.1:5001", "http://127.0.0.1:5000")[Provider.META]
        values["app_secret"] = app_secret
        partners.create_configuration(
            db.session, SYSTEM, Provider.META, Environment.SANDBOX, "Bench", values,
            outbound=outbound_policy("http://127.0.0.1:5001"),
        )  # fmt: skip
        for statement in BASELINE_DDL if baseline else ():
            db.session.execute(text(statement))
        db.session.commit()


# Where a portal request spends its time: (label, file suffix, function) of the profile.
BREAKDOWN = (
    ("whole request (Flask wsgi_app)", "flask/app.py", "wsgi_app"),
    ("  the view, meta_event", "portal/webhooks/routes.py", "meta_event"),
    ("    configuration lookup + decrypt", "provisioning/partners.py", "active_configuration"),
    ("    signature check", "provisioning/meta/webhooks.py", "signature_valid"),
    ("    parse (JSON, digest)", "provisioning/meta/webhooks.py", "parse"),
    ("    store_event (one INSERT ... ON CONFLICT)", "provisioning/events.py", "store_event"),
    ("    commit", "sqlalchemy/orm/scoping.py", "commit"),
)


def _database_trips(engine) -> Counter:
    """Count what goes to PostgreSQL per request, as SQLAlchemy sees it."""
    from sqlalchemy import event

    trips: Counter = Counter()

    def on_statement(conn, cursor, statement, *args) -> None:
        trips[" ".join(statement.split()[:2]) + " ..."] += 1

    def on_rollback(conn) -> None:
        if conn.connection.dbapi_connection.info.transaction_status != IDLE:
            trips["ROLLBACK"] += 1

    def on_reset(dbapi_connection, record, state) -> None:
        if dbapi_connection.info.transaction_status != IDLE:
            trips["ROLLBACK (connection returned to the pool)"] += 1

    event.listen(engine, "before_cursor_execute", on_statement)
    event.listen(engine, "begin", lambda conn: trips.update(["BEGIN"]))
    event.listen(engine, "commit", lambda conn: trips.update(["COMMIT"]))
    event.listen(engine, "rollback", on_rollback)
    event.listen(engine.pool, "checkout", lambda *a: trips.update(["SELECT 1 (pool pre-ping)"]))
    event.listen(engine.pool, "reset", on_reset)
    return trips


def profile_portal(app, secret: bytes, seqs: Iterator[int], requests: int) -> None:
    """Send ``requests`` signed deliveries through the portal in process, under cProfile."""
    from portal.extensions import db

    with app.app_context():
        trips = _database_trips(db.engine)
    client = app.test_client()
    deliveries = [signed_delivery(secret, next(seqs)) for _ in range(requests)]
    profiler = cProfile.Profile()
    profiler.enable()
    for body, signature in deliveries:
        answer = client.post("/webhooks/meta", data=body, headers={SIGNATURE: signature})
        if answer.status_code != 200:
            raise SystemExit(f"profile: the portal answered {answer.status_code}")
    profiler.disable()
    print(f"\nPortal, in process, {requests} requests under cProfile (ms per request):")
    stats = pstats.Stats(profiler).stats  # (file, line, function) -> (cc, nc, tt, cumulative, _)
    for label, suffix, function in BREAKDOWN:
        cumulative = sum(
            row[3] for (path, _, name), row in stats.items()
            if name == function and path.endswith(suffix)
        )  # fmt: skip
        print(f"  {label:<48} {cumulative / requests * 1000:6.2f}")
    print("Database round trips per request:")
    for trip, n in sorted(trips.items(), key=lambda item: -item[1]):
        print(f"  {n / requests:5.2f}  {trip}")


# --- the run ------------------------------------------------------------------------------


def machine(database_url: str) -> str:
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    with psycopg.connect(database_url) as conn:
        pg = conn.execute("SHOW server_version").fetchone()[0]
        sync = conn.execute("SHOW synchronous_commit").fetchone()[0]
        fsync = conn.execute("SHOW fsync").fetchone()[0]
    import gunicorn

    return (
        f"{os.cpu_count()} CPUs, {mem_kb / 1024**2:.0f} GiB RAM,"
        f" Python {platform.python_version()}, gunicorn {gunicorn.__version__},"
        f" PostgreSQL {pg} (fsync={fsync}, synchronous_commit={sync})"
    )


TABLE_HEAD = (
    "| round | target | requests | 2xx | other | errors | rows stored | req/s | p50 ms | p99 ms"
    " | load gen CPU | CPUs busy | busy before |\n"
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


@dataclass
class Measurement:
    """One target measured once: the phase, the rows it stored, the load before it."""

    phase: Phase
    stored: int
    warmup_ok: int
    background: float

    def row(self, round_no: int, name: str) -> str:
        p = self.phase
        return (
            f"| {round_no} | {name} | {p.requests} | {p.ok} | {p.requests - p.ok - p.errors} |"
            f" {p.errors} | {self.stored} | {p.ok / p.seconds:.0f} |"
            f" {p.percentile(0.50) * 1000:.1f} | {p.percentile(0.99) * 1000:.1f} |"
            f" {p.client_cpu:.0%} | {p.machine_busy:.0%} | {self.background:.0%} |"
        )


def measure(args, spec: str, table: str, env: dict, secret: bytes, seqs, database_url: str):
    """Serve ``spec`` with gunicorn, warm it up, load it, count the rows it stored."""
    background = busy_share(1.0)
    port = free_port()
    server = start_gunicorn(spec, port, env, args.workers, args.threads)
    try:
        warm = load(port, secret, seqs, args.warmup, args.concurrency)
        before = count_rows(database_url, table)
        phase = load(port, secret, seqs, args.duration, args.concurrency)
        stored = count_rows(database_url, table) - before
    finally:
        stop(server)
    return Measurement(phase, stored, warm.ok, background)


def run(args, app, database_url: str, app_secret: str, keys: str) -> None:
    secret = app_secret.encode()
    targets = {
        "baseline": ("bench.webhook_ingest:baseline_app", BASELINE_TABLE),
        "portal": ("wsgi:app", "webhook_events"),
    }
    env = {
        "BENCH_DATABASE_URL": database_url,
        "BENCH_APP_SECRET": app_secret,
        "DATABASE_URL": database_url,
        "PORTAL_ENV": "production",
        "PROVIDER_ENVIRONMENT": "sandbox",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "ENCRYPTION_KEYS": keys,
        "JOB_RUNNER": "manual",
        "LOG_LEVEL": "WARNING",
    }
    seqs = itertools.count(1)
    print(f"Machine: {machine(database_url)}")
    print(
        f"gunicorn: {args.workers} worker(s) x {args.threads} thread(s) per target;"
        f" load: {args.concurrency} connections in flight, one request per connection;"
        f" {args.warmup:g} s warm-up, {args.duration:g} s measured\n"
    )
    print(TABLE_HEAD)
    results: dict[str, list[Measurement]] = {name: [] for name in targets}
    for round_no in range(1, args.rounds + 1):
        for name, (spec, table) in targets.items():
            done = measure(args, spec, table, env, secret, seqs, database_url)
            results[name].append(done)
            print(done.row(round_no, name), flush=True)
    print()
    lost = False
    for name, (_, table) in targets.items():
        answered = sum(m.phase.ok + m.warmup_ok for m in results[name])
        rows = count_rows(database_url, table)
        lost |= rows != answered
        rates = [m.phase.ok / m.phase.seconds for m in results[name]]
        p99s = [m.phase.percentile(0.99) * 1000 for m in results[name]]
        print(
            f"{name}: median {statistics.median(rates):.0f} req/s, median p99"
            f" {statistics.median(p99s):.1f} ms; {answered} 2xx answers (warm-up included),"
            f" {rows} rows in {table}: {'OK' if rows == answered else 'MISMATCH'}"
        )
    if args.profile:
        profile_portal(app, secret, seqs, args.profile)
    if lost:
        raise SystemExit("rows stored differ from 2xx answers")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--database", default="bench_ingest", help="scratch database (recreated)")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds measured per target")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of warm-up per target")
    parser.add_argument("--concurrency", type=int, default=8, help="requests kept in flight")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers per target")
    parser.add_argument("--threads", type=int, default=1, help="threads per worker (1 = sync)")
    parser.add_argument("--rounds", type=int, default=1, help="baseline then portal, N times")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="profile N requests")
    parser.add_argument("--keep-db", action="store_true", help="leave the scratch database")
    args = parser.parse_args()

    database_url = f"{args.postgres}/{args.database}"
    app_secret = secrets.token_hex(16)
    keys = "bench:" + secrets.token_urlsafe(32)
    admin_execute(args.postgres, f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
    admin_execute(args.postgres, f'CREATE DATABASE "{args.database}"')
    try:
        with tempfile.TemporaryDirectory(prefix="bench-ingest-") as instance_path:
            app = portal_app(database_url, keys, instance_path)
            prepare_database(app, app_secret)
            run(args, app, database_url, app_secret, keys)
            with app.app_context():
                app.extensions["sqlalchemy"].engine.dispose()
    finally:
        if not args.keep_db:
            admin_execute(args.postgres, f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')


if __name__ == "__main__":
    main()
