"""Webhooks while Redis is frozen: the portal under gunicorn, a Celery worker and beat.

Run by hand from the repository root (bench/README.md)::

    .venv/bin/python bench/redis_stall.py --stall 20 --before 10 --after 10

It starts a Redis server of its own on a free loopback port (``--redis URL`` uses another
one: it will be frozen), a scratch PostgreSQL database with a Meta configuration, the
portal under gunicorn with ``JOB_RUNNER=celery``, one Celery worker on every queue and one
beat. It posts signed Meta webhooks (``--concurrency`` in flight) and probes ``/healthz``
twice a second; after ``--before`` seconds it freezes Redis with ``CLIENT PAUSE <ms> ALL``
for ``--stall`` seconds, and goes on ``--after`` seconds past the stall. Then it waits
until every stored event has been applied (by its job, or by the sweep), and prints the
latency per phase and how long the last event took to be applied.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.webhook_ingest import (  # noqa: E402
    HOST,
    _send,
    admin_execute,
    free_port,
    machine,
    portal_app,
    prepare_database,
    signed_request,
    stop,
)

PHASES = ("before", "stall", "after")


@dataclass
class Sample:
    started: float  # seconds since the load began
    latency: float
    status: int  # 0: connection error


@dataclass
class Timeline:
    webhooks: list[Sample] = field(default_factory=list)
    health: list[Sample] = field(default_factory=list)


def phase_of(at: float, args) -> str:
    """Which phase a request started in."""
    return "before" if at < args.before else "stall" if at < args.before + args.stall else "after"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(q * len(ordered) + 0.999999) - 1)] if ordered else float("nan")


async def _get(port: int, path: str) -> int:
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode())
        answer = await reader.read()
    finally:
        writer.close()
    return int(answer[9:12]) if answer.startswith(b"HTTP/1.") else 0


async def _load(port: int, secret: bytes, seconds: float, clients: int) -> Timeline:
    timeline = Timeline()
    begin = time.perf_counter()
    deadline = begin + seconds
    seqs = itertools.count(1)

    async def timed(coroutine) -> tuple[float, float, int]:
        started = time.perf_counter()
        try:
            status = await coroutine
        except OSError:
            status = 0
        return started - begin, time.perf_counter() - started, status

    async def poster() -> None:
        while time.perf_counter() < deadline:
            sample = await timed(_send(port, signed_request(port, secret, next(seqs))))
            timeline.webhooks.append(Sample(*sample))

    async def prober() -> None:
        while time.perf_counter() < deadline:
            timeline.health.append(Sample(*await timed(_get(port, "/healthz"))))
            await asyncio.sleep(0.5)

    await asyncio.gather(prober(), *(poster() for _ in range(clients)))
    return timeline


def start_portal(port: int, env: dict[str, str], workers: int, log) -> subprocess.Popen:
    """gunicorn serving the portal, its output (the portal's log) into ``log``."""
    command = [sys.executable, "-m", "gunicorn", "wsgi:app", "--bind", f"{HOST}:{port}",
               "--workers", str(workers), "--log-level", "warning"]  # fmt: skip
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}")
        try:
            if asyncio.run(_get(port, "/healthz")) == 200:
                return server
        except OSError:
            time.sleep(0.2)
    stop(server)
    raise SystemExit("the portal did not answer within 60 s")


def start_redis(port: int, workdir: str) -> subprocess.Popen:
    options = ["--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no", "--dir"]
    server = subprocess.Popen(["redis-server", *options, workdir], stdout=subprocess.DEVNULL)
    for _ in range(100):
        if subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).stdout:
            return server
        time.sleep(0.1)
    raise SystemExit("redis-server did not start")


def pause(redis_url: str, seconds: float) -> None:
    subprocess.run(
        ["redis-cli", "-u", redis_url, "CLIENT", "PAUSE", str(int(seconds * 1000)), "ALL"],
        check=True, capture_output=True,
    )  # fmt: skip


def unapplied(database_url: str) -> tuple[int, int]:
    """(events stored, events not applied yet)."""
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE processed_at IS NULL) FROM webhook_events"
        ).fetchone()


def report(timeline: Timeline, args, applied_after: float | None, stored: int, log: str) -> None:
    print("| phase | requests | 2xx | other | errors | p50 ms | p99 ms | max ms |"
          " /healthz probes | /healthz max ms |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for phase in PHASES:
        hooks = [s for s in timeline.webhooks if phase_of(s.started, args) == phase]
        probes = [s for s in timeline.health if phase_of(s.started, args) == phase]
        statuses = Counter(s.status for s in hooks)
        ok = sum(n for status, n in statuses.items() if 200 <= status < 300)
        lat = [s.latency * 1000 for s in hooks]
        health = [s.latency * 1000 for s in probes]
        print(
            f"| {phase} | {len(hooks)} | {ok} | {len(hooks) - ok - statuses[0]} | {statuses[0]} |"
            f" {percentile(lat, 0.5):.1f} | {percentile(lat, 0.99):.1f} | {max(lat):.1f} |"
            f" {len(probes)} | {max(health):.1f} |"
        )
    answered = sum(1 for s in timeline.webhooks if 200 <= s.status < 300)
    print(f"\n2xx answers: {answered}; events stored: {stored}")
    unpublished = log.count("not queued")
    print(f"jobs the broker did not take (left to the sweep): {unpublished}")
    if applied_after is None:
        print("NOT every event was applied within the wait")
    else:
        print(f"every event applied {applied_after:.1f} s after the stall ended")


def run(args, database_url: str, redis_url: str, app_secret: str, keys: str, workdir: str):
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PORTAL_ENV": "production",
        "PROVIDER_ENVIRONMENT": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "ENCRYPTION_KEYS": keys,
        "CELERY_BROKER_URL": redis_url,
        "JOB_RUNNER": "celery",
        "JOB_POLL_SECONDS": str(args.poll),
        "QUALITY_SYNC_INTERVAL_SECONDS": "0",
        "LOG_LEVEL": "WARNING",
    }
    celery = [sys.executable, "-m", "celery", "-A", "portal.queue"]
    log_path = Path(workdir) / "processes.log"
    with log_path.open("w") as log:
        worker = subprocess.Popen(
            [*celery, "worker", "--concurrency", "2", "--loglevel", "WARNING",
             "--without-mingle", "--without-gossip"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        beat = subprocess.Popen(
            [*celery, "beat", "--loglevel", "WARNING", "-s", f"{workdir}/celerybeat-schedule"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        port = free_port()
        server = start_portal(port, env, args.workers, log)
        try:
            seconds = args.before + args.stall + args.after
            freeze = threading.Timer(args.before, pause, (redis_url, args.stall))
            freeze.start()
            timeline = asyncio.run(_load(port, app_secret.encode(), seconds, args.concurrency))
            freeze.join()
            stall_end = args.before + args.stall
            waited_from = time.perf_counter() - (seconds - stall_end)
            applied_after = None
            deadline = time.monotonic() + args.wait
            while time.monotonic() < deadline:
                stored, left = unapplied(database_url)
                if not left:
                    applied_after = time.perf_counter() - waited_from
                    break
                time.sleep(0.5)
            stored, _ = unapplied(database_url)
        finally:
            stop(server)
            stop(beat)
            stop(worker)
    report(timeline, args, applied_after, stored, log_path.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--database", default="bench_redis_stall", help="scratch (recreated)")
    parser.add_argument("--redis", default=None, help="a Redis to freeze (default: own server)")
    parser.add_argument("--before", type=float, default=10.0, help="seconds before the stall")
    parser.add_argument("--stall", type=float, default=20.0, help="seconds Redis is frozen")
    parser.add_argument("--after", type=float, default=10.0, help="seconds after the stall")
    parser.add_argument("--concurrency", type=int, default=8, help="webhooks in flight")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--poll", type=float, default=5.0, help="JOB_POLL_SECONDS")
    parser.add_argument("--wait", type=float, default=300.0, help="seconds to wait for the jobs")
    args = parser.parse_args()

    database_url = f"{args.postgres}/{args.database}"
    app_secret = secrets.token_hex(16)
    keys = "bench:" + secrets.token_urlsafe(32)
    admin_execute(args.postgres, f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
    admin_execute(args.postgres, f'CREATE DATABASE "{args.database}"')
    redis = None
    try:
        with tempfile.TemporaryDirectory(prefix="bench-stall-") as workdir:
            redis_url = args.redis
            if redis_url is None:
                redis_port = free_port()
                redis = start_redis(redis_port, workdir)
                redis_url = f"redis://{HOST}:{redis_port}/0"
            app = portal_app(database_url, keys, workdir)
            prepare_database(app, app_secret)
            with app.app_context():
                app.extensions["sqlalchemy"].engine.dispose()
            import celery
            import kombu

            print(f"Machine: {machine(database_url)}, celery {celery.__version__},"
                  f" kombu {kombu.__version__}")  # fmt: skip
            print(
                f"gunicorn {args.workers} sync workers; 1 Celery worker (2 processes, every"
                f" queue) and beat; {args.concurrency} webhooks in flight; Redis frozen"
                f" (CLIENT PAUSE ALL) from {args.before:g} s for {args.stall:g} s; load"
                f" until {args.before + args.stall + args.after:g} s\n"
            )
            run(args, database_url, redis_url, app_secret, keys, workdir)
    finally:
        if redis is not None:
            stop(redis)
        admin_execute(args.postgres, f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')


if __name__ == "__main__":
    main()
