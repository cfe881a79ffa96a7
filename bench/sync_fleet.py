"""The quality sync over a 10,000-channel fleet: calls against the minimum, time, memory,
rows written.

Run by hand from the repository root (needs a PostgreSQL server)::

    .venv/bin/python bench/sync_fleet.py --postgres postgresql://postgres@127.0.0.1:5432

The provider sandbox runs in a child process behind a real HTTP port (the demo's server),
seeded with the fleet: 2,000 Meta WABAs with one number each, 1,000 360dialog clients
with 3 channels each, 200 Twilio subaccounts with 25 senders each (``--scale`` shrinks or
grows every count). A latency fault makes every provider call wait ``--latency`` seconds.
This process creates a scratch PostgreSQL database, migrates it, records the fleet as
connected (health unknown) and runs the sync the way production does: over the network,
no transport injected. Passes:

The passes run an hour apart on the sandbox's clock (as a periodic sync would), so each
starts with Graph's hourly usage windows renewed:

1. ``first``: every channel's health is unknown here, so every channel changes;
2. ``unchanged``: nothing changed at the providers; no row may be written;
3. ``1% changed``: 1 % of each provider's channels changed quality at the provider.

For each pass: provider calls made (counted by the sync and, independently, by the
sandbox's server) against the minimum possible at the page sizes used (Graph's 100 per
page, 360dialog and Twilio asked for 100), wall time, peak memory of this process
(tracemalloc, which slows Python down: ``--no-trace`` for times alone) and rows written
(INSERT/UPDATE/DELETE rows, the sync's own run rows excluded).
"""

from __future__ import annotations

import argparse
import logging
import math
import multiprocessing
import os
import platform
import resource
import socket
import sys
import tempfile
import threading
import time
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from sqlalchemy import event, insert  # noqa: E402

from bench.fleet_seed import Fleet, record_fleet, seed_fleet  # noqa: E402
from portal import create_app  # noqa: E402
from portal.config import database_url  # noqa: E402
from portal.demo import META_APP, partner_values  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.providers import outbound_policy, provider_transport  # noqa: E402
from portal.sandbox_seed import seed_sandbox  # noqa: E402
from provisioning import partners  # noqa: E402
from provisioning.audit import SYSTEM  # noqa: E402
from provisioning.crypto import Keyring  # noqa: E402
from provisioning.partners import Environment, Provider  # noqa: E402
from provisioning.sandbox import Sandbox  # noqa: E402
from provisioning.sandbox.server import serve  # noqa: E402
from provisioning.sync import SyncPolicy, sync_quality  # noqa: E402
from provisioning.tenancy import Company  # noqa: E402

HOST = "127.0.0.1"
NOWHERE = "http://127.0.0.1:9"  # the sandbox's webhooks are refused at once: not measured


def fleet_shape(scale: float) -> dict[str, int]:
    return {
        "wabas": round(2000 * scale),
        "numbers_per_waba": 1,
        "dialog360_clients": round(1000 * scale),
        "channels_per_client": 3,
        "twilio_subaccounts": round(200 * scale),
        "senders_per_subaccount": 25,
    }


def minimum_calls(fleet: Fleet, page_size: int) -> dict[Provider, int]:
    """One page per WABA and subaccount page, one listing for 360dialog's whole fleet."""
    meta = sum(math.ceil(len(w.phone_number_ids) / page_size) for w in fleet.meta)
    channels = sum(len(c.channel_ids) for c in fleet.dialog360)
    twilio = sum(math.ceil(len(s.sender_sids) / page_size) for s in fleet.twilio)
    return {
        Provider.META: meta,
        Provider.DIALOG360: max(1, math.ceil(channels / page_size)),
        Provider.TWILIO: twilio,
    }


# -- the sandbox, in a child process ------------------------------------------------------
def serve_fleet(conn: Any, port: int, shape: dict[str, int], latency: float) -> None:
    """Seed the fleet, serve it over HTTP, and answer the parent's commands."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    sandbox = Sandbox(seed=2026, base_url=f"http://{HOST}:{port}")
    seed_sandbox(sandbox, NOWHERE)
    fleet = seed_fleet(sandbox, meta_app_id=META_APP["app_id"], **shape)
    calls: Counter[str] = Counter()
    lock = threading.Lock()
    answer = sandbox.wsgi_app

    def counted(environ: dict, start_response: Any) -> Any:
        provider, _ = sandbox.route(environ.get("PATH_INFO", "/"))
        with lock:
            calls[provider] += 1
        return answer(environ, start_response)

    sandbox.wsgi_app = counted  # the server's fault middleware calls this
    sandbox.faults.add("latency", seconds=latency)
    server = serve(sandbox, HOST, port)
    conn.send(fleet)
    while True:
        command, argument = conn.recv()
        if command == "calls":
            with lock:
                conn.send(dict(calls))
                calls.clear()
        elif command == "advance":  # passes an hour apart: Graph's usage windows renew
            sandbox.advance(argument)
            conn.send(None)
        elif command == "change":
            with sandbox.lock:
                conn.send(change_some(sandbox, fleet, argument))
        else:
            server.shutdown()
            conn.send(None)
            return


def change_some(sandbox: Sandbox, fleet: Fleet, share: float) -> int:
    """Lower the quality of ``share`` of each provider's channels at the provider."""
    meta = [p for w in fleet.meta for p in w.phone_number_ids]
    dialog360 = [c for client in fleet.dialog360 for c in client.channel_ids]
    twilio = [s for sub in fleet.twilio for s in sub.sender_sids]
    picked = [items[: max(1, round(len(items) * share))] for items in (meta, dialog360, twilio)]
    for phone_id in picked[0]:
        sandbox.meta.control_set_quality(phone_number_id=phone_id, quality_rating="RED")
    for channel_id in picked[1]:
        sandbox.dialog360.control_set_quality(channel_id=channel_id, quality_rating="YELLOW")
    for sid in picked[2]:
        sandbox.twilio.control_set_sender_quality(sender_sid=sid, quality_rating="LOW")
    return sum(len(p) for p in picked)


# -- the platform's database --------------------------------------------------------------
def scratch_database(server_url: str) -> str:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{ARGS.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{ARGS.database}"')
    return f"{server_url.rstrip('/')}/{ARGS.database}"


def drop_database(server_url: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{ARGS.database}" WITH (FORCE)')


def migrated_app(url: str, instance: str, sandbox_url: str):
    """The portal on the scratch database ``url``, migrated, jobs never run by themselves."""
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url(url, Path(instance)),
            "SECRET_KEY": "bench",
            "KEYRING": Keyring.generate(),
            "INSTANCE_PATH": instance,
            "JOB_RUNNER": "manual",
            "LOG_LEVEL": "ERROR",
            "SANDBOX_URL": sandbox_url,
        }
    )
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
    return app


def record_platform_side(fleet: Fleet, sandbox_url: str) -> None:
    """Companies, partner configurations and the fleet's rows, as after onboarding."""
    session = db.session
    count = max(len(fleet.meta), len(fleet.dialog360), len(fleet.twilio))
    rows = [{"name": f"Fleet company {i}", "slug": f"fleet-{i}"} for i in range(count)]
    company_ids = list(
        session.scalars(insert(Company).returning(Company.id, sort_by_parameter_order=True), rows)
    )
    configs = {
        provider: partners.create_configuration(
            session, SYSTEM, provider, Environment.SANDBOX, "", values, outbound=outbound_policy()
        ).id
        for provider, values in partner_values(sandbox_url, NOWHERE).items()
    }
    record_fleet(session, fleet, company_ids, configs)
    session.commit()


class WriteCounter:
    """Rows the database was asked to insert, update or delete (run rows excluded)."""

    def __init__(self, engine: Any) -> None:
        self.rows = Counter()
        event.listen(engine, "after_cursor_execute", self._count)

    def _count(self, conn, cursor, statement, parameters, context, executemany) -> None:
        words = statement.split()
        verb = words[0].upper() if words else ""
        if verb not in ("INSERT", "UPDATE", "DELETE") or "quality_sync_runs" in statement:
            return
        table = words[2] if verb in ("INSERT", "DELETE") else words[1]
        rows = cursor.rowcount if cursor.rowcount >= 0 else len(parameters or ())
        self.rows[table.strip('"')] += rows

    def take(self) -> Counter:
        rows, self.rows = self.rows, Counter()
        return rows


# -- the passes ---------------------------------------------------------------------------
def run_pass(label: str, policy: SyncPolicy, trace: bool) -> dict[str, Any]:
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    transport = provider_transport()  # the sandbox is the app's SANDBOX_URL
    try:
        runs = sync_quality(db.session, db.session.commit, policy=policy, transport=transport)
    finally:
        transport.close()
    wall = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] if trace else None
    if trace:
        tracemalloc.stop()
    return {"label": label, "runs": runs, "wall": wall, "peak": peak}


def report(result: dict[str, Any], minimum: dict[Provider, int], server: dict, rows) -> None:
    peak = f"{result['peak'] / 2**20:.1f} MiB" if result["peak"] is not None else "not traced"
    print(f"\n### {result['label']}: {result['wall']:.1f} s wall, peak traced memory {peak}")
    print(
        "| provider | calls (sync) | calls (sandbox) | minimum | seen | changed | errors | time |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for run in result["runs"]:
        seconds = (run.finished_at - run.started_at).total_seconds()
        print(
            f"| {run.provider.value} | {run.calls} | {server.get(run.provider.value, 0)} "
            f"| {minimum[run.provider]} | {run.seen} | {run.changed} | {len(run.errors)} "
            f"| {seconds:.1f} s |"
        )
    written = ", ".join(f"{table} {n}" for table, n in sorted(rows.items())) or "none"
    print(f"rows written: {sum(rows.values())} ({written})")


def machine() -> str:
    with open("/proc/meminfo") as meminfo:
        total_kb = int(meminfo.readline().split()[1])
    with psycopg.connect(ARGS.postgres) as conn:
        pg = conn.execute("SHOW server_version").fetchone()[0]
    return (
        f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), "
        f"{total_kb / 2**20:.0f} GiB RAM, Python {platform.python_version()}, "
        f"PostgreSQL {pg}, {platform.system()} {platform.release()}"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def main() -> None:
    shape = fleet_shape(ARGS.scale)
    policy = SyncPolicy(workers=ARGS.workers)
    port = free_port()
    context = multiprocessing.get_context("fork")
    parent, child_end = context.Pipe()
    child = context.Process(target=serve_fleet, args=(child_end, port, shape, ARGS.latency))
    child.start()
    try:
        fleet: Fleet = parent.recv()
        total = sum(fleet.channels().values())
        minimum = minimum_calls(fleet, policy.page_size)
        print(f"Machine: {machine()}")
        print(
            f"Fleet: {total} channels ({shape}); latency {ARGS.latency * 1000:.0f} ms per "
            f"call; {policy.workers} fetch threads per provider; "
            f"minimum calls {sum(minimum.values())}"
        )
        url = scratch_database(ARGS.postgres)
        with tempfile.TemporaryDirectory() as instance:
            app = migrated_app(url, instance, f"http://{HOST}:{port}")
            with app.app_context():
                record_platform_side(fleet, f"http://{HOST}:{port}")
                writes = WriteCounter(db.engine)
                parent.send(("calls", None))
                parent.recv()  # nothing so far; start counting from zero
                for label in ("first", "unchanged", "1% changed"):
                    parent.send(("advance", 3600))
                    parent.recv()
                    if label == "1% changed":
                        parent.send(("change", 0.01))
                        print(f"\n{parent.recv()} channels changed quality at the providers")
                    result = run_pass(label, policy, not ARGS.no_trace)
                    parent.send(("calls", None))
                    report(result, minimum, parent.recv(), writes.take())
                db.session.remove()
                db.engine.dispose()
        usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"\nmax RSS of this process over the whole run: {usage:.0f} MiB")
        if not ARGS.keep:
            drop_database(ARGS.postgres)
    finally:
        parent.send(("stop", None))
        parent.recv()
        child.join(10)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--database", default="bench_sync_fleet", help="scratch database")
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 10,000 channels")
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per provider call")
    parser.add_argument("--workers", type=int, default=SyncPolicy.workers)
    parser.add_argument("--no-trace", action="store_true", help="no tracemalloc (times only)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    return parser.parse_args()


if __name__ == "__main__":
    ARGS = parse_args()
    main()
