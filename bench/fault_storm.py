"""The fault storm: hundreds of onboarding journeys with a fifth of provider calls faulted.

Run by hand from the repository root (bench/README.md)::

    .venv/bin/python bench/fault_storm.py --companies 170
    .venv/bin/python bench/fault_storm.py --companies 170 --postgres postgresql://postgres@127.0.0.1:5432

Each company's admin connects a number with Meta's Embedded Signup, one with 360dialog's
Integrated Onboarding, and on Twilio buys a number, registers it as a WhatsApp sender and
submits the A2P 10DLC registration: three provisioning runs per company, ``--people``
journeys at once, through the portal's pages (tests/storm). The sandbox faults
``--fault-rate`` of every provider call (5xx, timeouts, answers dropped after the provider
acted, throttling, in equal parts). Then time passes until every run has ended, and the
census counts duplicates from the sandbox's own state (tests/storm/census.py). It prints
the census and the timings, and exits non-zero when a count that must be zero is not.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from portal.extensions import db  # noqa: E402
from tests.storm import census  # noqa: E402
from tests.storm.harness import Storm, StormSize  # noqa: E402
from tests.storm.journeys import JOURNEYS, Person  # noqa: E402


def scratch_postgres(server: str) -> tuple[str, str]:
    name = f"storm_{uuid.uuid4().hex[:8]}"
    engine = create_engine(f"{server.rstrip('/')}/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return f"{server.rstrip('/')}/{name}", name


def drop_postgres(server: str, name: str) -> None:
    engine = create_engine(f"{server.rstrip('/')}/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--companies", type=int, default=170, help="3 runs each (default 170)")
    parser.add_argument("--people", type=int, default=8, help="journeys at once")
    parser.add_argument("--fault-rate", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--postgres", help="a PostgreSQL server URL (default: SQLite)")
    parser.add_argument("--settle", type=float, default=600.0, help="seconds at most")
    parser.add_argument("--time-scale", type=float, default=10.0, help="portal waits speed-up")
    parser.add_argument("--patience", type=float, default=120.0, help="seconds people watch")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    size = StormSize(
        args.companies, args.people, args.fault_rate, args.seed, settle_seconds=args.settle,
        time_scale=args.time_scale, patience=args.patience,
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        url, scratch = f"sqlite:///{tmp}/storm.db", None
        if args.postgres:
            url, scratch = scratch_postgres(args.postgres)
        try:
            return storm(url, Path(tmp), size)
        finally:
            if scratch:
                drop_postgres(args.postgres, scratch)


def storm(url: str, instance: Path, size: StormSize) -> int:
    started = time.monotonic()
    with Storm(url, instance, size) as s:
        ready = time.monotonic()
        outcomes = s.run(JOURNEYS, Person)
        journeys = time.monotonic()
        settled = s.settle()
        with s.app.app_context():
            told = [m for o in outcomes for m in o.messages]
            result = census.take(s.sandbox, db.session, s.answers.errors, told)
            failures = census.failure_messages(db.session)
            delays = census.code_exchange_delays(db.session)
            db.session.remove()
        calls = dict(s.transport.calls)
        faults = Counter({f.kind: f.hits for f in s.sandbox.faults.list()})
        statuses = dict(sorted(s.answers.statuses.items()))
        breakdowns = list(s.breakdowns)
        tracebacks = list(s.answers.tracebacks)
    print(f"database: {url.split('://')[0]}; companies {size.companies}, people {size.people}")
    print(f"journeys: {len(outcomes)}")
    for name in sorted({o.journey for o in outcomes}):
        mine = sorted(o.seconds for o in outcomes if o.journey == name)
        ends = Counter(o.status for o in outcomes if o.journey == name)
        print(f"  {name}: {dict(ends)}; seconds median {mine[len(mine) // 2]:.1f}, "
              f"max {mine[-1]:.1f}")  # fmt: skip
    told = Counter(m for o in outcomes for m in o.messages)
    print("people were told (most frequent):")
    for message, n in told.most_common(10):
        print(f"  {n:4d} x {message[:150]}")
    total = sum(calls.values())
    print(f"provider calls: {total} {calls}; faulted {sum(faults.values())} "
          f"({sum(faults.values()) / max(total, 1):.1%}) {dict(faults)}")  # fmt: skip
    print(f"portal answers by status: {statuses}")
    print(f"set-up {ready - started:.1f} s, journeys {journeys - ready:.1f} s, "
          f"settling {settled:.1f} s, total {time.monotonic() - started:.1f} s")  # fmt: skip
    print(result.table())
    if delays:
        late, median = sum(d > 30 for d in delays), delays[len(delays) // 2]
        print(f"meta code exchange, seconds after the signup: median {median:.1f}, "
              f"90th {delays[int(len(delays) * 0.9)]:.1f}, max {delays[-1]:.1f}; "
              f"over 30 s: {late} of {len(delays)}")  # fmt: skip
    print("failed runs said:")
    for message, n in failures.most_common():
        print(f"  {n:4d} x {message[:200]}")
    for line in breakdowns[:5]:
        print("journey or clock broke down:", line)
    for line in tracebacks[:3]:
        print("the portal failed on:", line)
    if result.problems():
        print(result.problems())
    return 1 if result.problems() or breakdowns else 0


if __name__ == "__main__":
    sys.exit(main())
