"""The template sync over 1,000 Meta WABAs of 250 templates each: listing calls against the
minimum, time, memory, rows written.

Run by hand from the repository root (needs a PostgreSQL server the ``postgres`` role can
create databases on)::

    .venv/bin/python bench/templates_sync.py --no-trace   # wall times
    .venv/bin/python bench/templates_sync.py              # peak memory (tracemalloc)
    .venv/bin/python bench/templates_sync.py --scale 0.05 # 50 WABAs: a quick check

The provider sandbox runs in a child process behind a real HTTP port (the demo's server),
seeded with ``--scale`` x 1,000 WABAs of one number each, every WABA holding
``--templates`` (250) APPROVED templates (``control_seed_templates``). A latency fault
makes every provider call wait ``--latency`` seconds (100 ms). This process creates a
scratch PostgreSQL database (``--database``, dropped at the end unless ``--keep``),
migrates it, records the fleet as connected Meta clients (``bench.fleet_seed``) and runs
``provisioning.templates.sync.sync_templates`` as the ``sync.templates`` job does: over
the network, every provider, no transport injected. Webhooks from the sandbox go nowhere.

Three passes, an hour apart on the sandbox's clock:

1. ``first``: no template is known here, so every one is created;
2. ``unchanged``: nothing changed at Meta: one listing per WABA (250 per page) and no
   template row written; only the accounts' ``last_synced_at`` stamp (one UPDATE per
   batch), reported apart;
3. ``1% changed``: 1 % of the templates, spread over the WABAs, changed at Meta (half got
   quality YELLOW, half were paused: quality RED and status PAUSED).

For each pass: listing calls counted by the sandbox's server against the minimum (one
page of 250 per WABA), other provider calls, wall time, peak traced memory of this
process (tracemalloc slows Python down: ``--no-trace`` for times alone), SQL statements
by verb, rows inserted, updated and deleted per table, and the sync's ``Summary``.
"""

from __future__ import annotations

import argparse
import logging
import math
import multiprocessing
import os
import platform
import re
import resource
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
from sqlalchemy import event  # noqa: E402

from bench.fleet_seed import seed_fleet  # noqa: E402
from bench.sync_fleet import (  # noqa: E402
    HOST,
    NOWHERE,
    free_port,
    migrated_app,
    record_platform_side,
)
from portal.demo import META_APP  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.providers import provider_transport  # noqa: E402
from portal.sandbox_seed import seed_sandbox  # noqa: E402
from provisioning.sandbox import Sandbox  # noqa: E402
from provisioning.sandbox.server import serve  # noqa: E402
from provisioning.sync import SyncPolicy  # noqa: E402
from provisioning.templates.sync import sync_templates  # noqa: E402

PAGE_SIZE = 250  # what provisioning.meta.templates.list_templates asks Graph for
LISTING = re.compile(r"^/graph/[^/]+/[^/]+/message_templates$")
# sync._stamp: "UPDATE template_accounts SET last_synced_at=... WHERE template_accounts.id IN"
STAMP = re.compile(r"^UPDATE template_accounts SET last_synced_at=[^,]* WHERE \S+\.id IN")


def minimum_listings(templates: dict[str, list[str]]) -> int:
    """One Graph page of 250 per WABA (an empty WABA still costs one)."""
    return sum(max(1, math.ceil(len(ids) / PAGE_SIZE)) for ids in templates.values())


# -- the sandbox, in a child process ------------------------------------------------------
def serve_fleet(conn: Any, port: int, wabas: int, per_waba: int, latency: float) -> None:
    """Seed the WABAs and their templates, serve them over HTTP, answer the parent."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    sandbox = Sandbox(seed=2026, base_url=f"http://{HOST}:{port}")
    seed_sandbox(sandbox, NOWHERE)
    fleet = seed_fleet(sandbox, meta_app_id=META_APP["app_id"], wabas=wabas, numbers_per_waba=1)
    started = time.perf_counter()
    templates = {
        waba.waba_id: sandbox.meta.control_seed_templates(waba_id=waba.waba_id, count=per_waba)[
            "template_ids"
        ]
        for waba in fleet.meta
    }
    seeding = time.perf_counter() - started
    calls: Counter[str] = Counter()
    lock = threading.Lock()
    answer = sandbox.wsgi_app

    def counted(environ: dict, start_response: Any) -> Any:
        provider, tail = sandbox.route(environ.get("PATH_INFO", "/"))
        listing = provider == "meta" and environ["REQUEST_METHOD"] == "GET" and LISTING.match(tail)
        with lock:
            calls["meta listing" if listing else f"{provider} other"] += 1
        return answer(environ, start_response)

    sandbox.wsgi_app = counted  # the server's fault middleware calls this
    sandbox.faults.add("latency", seconds=latency)
    server = serve(sandbox, HOST, port)
    conn.send((fleet, templates, seeding))
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
                conn.send(change_some(sandbox, templates, argument))
        else:
            server.shutdown()
            conn.send(None)
            return


def change_some(sandbox: Sandbox, templates: dict[str, list[str]], share: float) -> dict:
    """Change ``share`` of all templates at Meta, evenly spread over the WABAs: every
    other one gets quality YELLOW, the rest are paused (quality RED, status PAUSED)."""
    every = [template_id for ids in templates.values() for template_id in ids]
    step = max(1, round(1 / share))
    picked = every[step // 2 :: step]
    started = time.perf_counter()
    for i, template_id in enumerate(picked):
        if i % 2:
            sandbox.meta.control_pause_template(template_id=template_id)
        else:
            sandbox.meta.control_set_template_quality(template_id=template_id, score="YELLOW")
    wabas = {sandbox.meta.templates[t].waba_id for t in picked}
    return {
        "quality YELLOW": (len(picked) + 1) // 2,
        "paused": len(picked) // 2,
        "wabas": len(wabas),
        "seconds": time.perf_counter() - started,
    }


# -- the platform's database --------------------------------------------------------------
def scratch_database(server_url: str) -> str:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{ARGS.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{ARGS.database}"')
    return f"{server_url.rstrip('/')}/{ARGS.database}"


def drop_database(server_url: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{ARGS.database}" WITH (FORCE)')


class Statements:
    """SQL statements by verb, and rows inserted, updated or deleted per table; the
    accounts' ``last_synced_at`` stamp is counted apart."""

    def __init__(self, engine: Any) -> None:
        self.take()
        event.listen(engine, "after_cursor_execute", self._count)

    def _count(self, conn, cursor, statement, parameters, context, executemany) -> None:
        words = statement.split(None, 3)
        verb = words[0].upper() if words else ""
        self.verbs[verb] += 1
        if verb not in ("INSERT", "UPDATE", "DELETE"):
            return
        table = (words[2] if verb in ("INSERT", "DELETE") else words[1]).strip('"')
        rows = cursor.rowcount if cursor.rowcount >= 0 else len(parameters or ())
        if STAMP.match(statement):
            self.stamped += rows
            self.stamps += 1
        else:
            self.rows[f"{table} {verb}"] += rows

    def take(self) -> tuple[Counter, Counter, int, int]:
        taken = (
            getattr(self, "verbs", None),
            getattr(self, "rows", None),
            getattr(self, "stamps", 0),
            getattr(self, "stamped", 0),
        )
        self.verbs, self.rows, self.stamps, self.stamped = Counter(), Counter(), 0, 0
        return taken


# -- the passes ---------------------------------------------------------------------------
def run_pass(policy: SyncPolicy, trace: bool) -> dict[str, Any]:
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    cpu = time.process_time()
    transport = provider_transport()  # the sandbox is the app's SANDBOX_URL
    try:
        summary = sync_templates(db.session, db.session.commit, transport=transport, policy=policy)
    finally:
        transport.close()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak = tracemalloc.get_traced_memory()[1] if trace else None
    if trace:
        tracemalloc.stop()
    return {"summary": summary.as_dict(), "wall": wall, "cpu": cpu, "peak": peak}


def report(label: str, result: dict[str, Any], minimum: int, calls: dict, sql) -> None:
    verbs, rows, stamps, stamped = sql
    peak = f"{result['peak'] / 2**20:.1f} MiB" if result["peak"] is not None else "not traced"
    print(f"\n### {label}")
    print(f"wall {result['wall']:.1f} s (CPU of this process {result['cpu']:.1f} s)")
    print(f"peak traced memory: {peak}")
    other = {k: v for k, v in sorted(calls.items()) if k != "meta listing"}
    print(
        f"listing calls (sandbox): {calls.get('meta listing', 0)}, minimum {minimum}; "
        f"other provider calls: {other or 'none'}"
    )
    print("SQL statements: " + ", ".join(f"{v} {n}" for v, n in sorted(verbs.items())))
    written = ", ".join(f"{key} {n}" for key, n in sorted(rows.items())) or "none"
    print(f"rows written: {sum(rows.values())} ({written})")
    print(f"template_accounts last_synced_at stamp: {stamped} rows in {stamps} UPDATEs")
    print(f"summary: {result['summary']}")


def machine() -> str:
    with open("/proc/meminfo") as meminfo:
        total_kb = int(meminfo.readline().split()[1])
    with open("/proc/cpuinfo") as cpuinfo:
        model = next((ln.split(":", 1)[1].strip() for ln in cpuinfo if "model name" in ln), "")
    with psycopg.connect(ARGS.postgres) as conn:
        pg = conn.execute("SHOW server_version").fetchone()[0]
    return (
        f"{os.cpu_count()} CPUs ({model or platform.machine()}), {total_kb / 2**20:.0f} GiB RAM, "
        f"Python {platform.python_version()}, PostgreSQL {pg}, "
        f"{platform.system()} {platform.release()}"
    )


def main() -> None:
    wabas = round(1000 * ARGS.scale)
    policy = SyncPolicy(workers=ARGS.workers)
    port = free_port()
    context = multiprocessing.get_context("fork")
    parent, child_end = context.Pipe()
    child = context.Process(
        target=serve_fleet, args=(child_end, port, wabas, ARGS.templates, ARGS.latency)
    )
    child.start()
    try:
        fleet, templates, seeding = parent.recv()
        minimum = minimum_listings(templates)
        print(f"Machine: {machine()}")
        print(
            f"Fleet: {wabas} WABAs x {ARGS.templates} templates = "
            f"{sum(len(t) for t in templates.values())} templates (seeded in {seeding:.1f} s); "
            f"latency {ARGS.latency * 1000:.0f} ms per call; {policy.workers} fetch threads; "
            f"minimum listing calls {minimum}"
        )
        url = scratch_database(ARGS.postgres)
        with tempfile.TemporaryDirectory() as instance:
            app = migrated_app(url, instance, f"http://{HOST}:{port}")
            with app.app_context():
                record_platform_side(fleet, f"http://{HOST}:{port}")
                statements = Statements(db.engine)
                parent.send(("calls", None))
                parent.recv()  # nothing so far; start counting from zero
                for label in ("first", "unchanged", "1% changed"):
                    parent.send(("advance", 3600))
                    parent.recv()
                    if label == "1% changed":
                        parent.send(("change", 0.01))
                        print(f"\nchanged at Meta: {parent.recv()}")
                    statements.take()
                    result = run_pass(policy, not ARGS.no_trace)
                    sql = statements.take()
                    parent.send(("calls", None))
                    report(label, result, minimum, parent.recv(), sql)
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
    parser.add_argument("--database", default="bench_templates_sync", help="scratch database")
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 1,000 WABAs")
    parser.add_argument("--templates", type=int, default=250, help="templates per WABA")
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per provider call")
    parser.add_argument("--workers", type=int, default=SyncPolicy.workers)
    parser.add_argument("--no-trace", action="store_true", help="no tracemalloc (times only)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    return parser.parse_args()


if __name__ == "__main__":
    ARGS = parse_args()
    main()
