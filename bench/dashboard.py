"""Fleet dashboard at scale: server time and SQL statements per page with 50,000 channels.

Run by hand from the repository root (needs a PostgreSQL server the ``postgres`` role can
create databases on)::

    .venv/bin/python bench/dashboard.py --channels 50000 --companies 1000 --requests 100 --explain

The script creates a scratch database (dropped at the end unless ``--keep-db``), migrates
it, and loads a fleet with bulk inserts: companies, channels spread over them unevenly
and over the three providers, 1 to 7 history rows per channel over 90 days, an alert for
every YELLOW or RED history row with a notification for the platform admin, and a few
quality sync runs. Then it signs in through the Flask test client (a platform admin, and
a company admin of the largest company) and requests each page ``--requests`` times after
a warm-up: the wall time of each request in the app (median, p95), the SQL statements it
sent and the time spent in them. ``--explain`` prints PostgreSQL's plans of the deep page's
keyset query next to the OFFSET query it replaces, and of the unfiltered counts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy import event, func, insert, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from portal import create_app
from portal.extensions import db
from provisioning import accounts, fleet
from provisioning.audit import SYSTEM
from provisioning.channels import Channel
from provisioning.crypto import Keyring
from provisioning.health import ChannelHistory
from provisioning.partners import Provider
from provisioning.sync import SyncRun
from provisioning.tenancy import Company, Role

PASSWORD = "bench-password-long-enough"
# What a page lists: channel rows, notifications, points of a chart.
ITEMS = ("data-channel-id=", "data-notification-id=", '<circle class="quality"')
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
PROVIDERS = [(Provider.META, 0.6), (Provider.DIALOG360, 0.3), (Provider.TWILIO, 0.1)]
QUALITIES = [("GREEN", 0.85), ("YELLOW", 0.09), ("RED", 0.04), ("UNKNOWN", 0.02)]
LIMITS = [
    ("TIER_250", 0.3),
    ("TIER_1K", 0.4),
    ("TIER_10K", 0.2),
    ("TIER_100K", 0.07),
    ("TIER_UNLIMITED", 0.03),
]
STATUSES = [
    ("CONNECTED", 0.93),
    ("PENDING", 0.03),
    ("FLAGGED", 0.02),
    ("RESTRICTED", 0.01),
    ("DISCONNECTED", 0.01),
]


def pick(rng: random.Random, weighted: list[tuple[object, float]]):
    values, weights = zip(*weighted, strict=True)
    return rng.choices(values, weights)[0]


# --- the fleet ----------------------------------------------------------------------------


def load_fleet(args: argparse.Namespace) -> None:
    """Bulk-insert the companies, channels, history, alerts and sync runs."""
    rng = random.Random(args.seed)
    session = db.session
    companies = [
        {"name": f"Company {i:04d}", "slug": f"company-{i:04d}", "public_id": f"co_bench{i:016x}"}
        for i in range(args.companies)
    ]
    session.execute(insert(Company), companies)
    company_ids = list(session.scalars(select(Company.id).order_by(Company.id)))
    # Uneven sizes: a few large companies, many small ones (Pareto weights).
    weights = [rng.paretovariate(1.2) for _ in company_ids]
    owners = rng.choices(company_ids, weights, k=args.channels)
    for start in range(0, args.channels, 5000):
        rows = []
        for n in range(start, min(start + 5000, args.channels)):
            provider = pick(rng, PROVIDERS)
            rows.append(
                {
                    "company_id": owners[n],
                    "provider": provider,
                    "provider_ref": f"{provider.value}-{n:08d}",
                    "phone_number": f"+1{2000000000 + n}",
                    "display_name": f"Line {n}",
                    "status": pick(rng, STATUSES),
                    "quality_rating": pick(rng, QUALITIES),
                    "messaging_limit": pick(rng, LIMITS),
                    "needs_reauthorization": rng.random() < 0.01,
                    "last_synced_at": NOW - dt.timedelta(minutes=rng.randint(1, 600)),
                }
            )
        session.execute(insert(Channel), rows)
    channels = session.execute(
        select(
            Channel.id,
            Channel.company_id,
            Channel.status,
            Channel.quality_rating,
            Channel.messaging_limit,
        ).order_by(Channel.id)
    ).all()
    history = []
    for channel_id, company_id, status, quality, limit in channels:
        count = rng.randint(1, 7)
        moments = sorted(
            NOW - dt.timedelta(minutes=rng.randint(60, 90 * 24 * 60)) for _ in range(count)
        )
        for i, moment in enumerate(moments):
            last = i == count - 1  # the newest row is the channel's current state
            history.append(
                {
                    "channel_id": channel_id,
                    "company_id": company_id,
                    "observed_at": moment,
                    "status": status if last else pick(rng, STATUSES),
                    "quality_rating": quality if last else pick(rng, QUALITIES),
                    "messaging_limit": limit if last else pick(rng, LIMITS),
                    "source": "onboarding" if i == 0 else rng.choice(["webhook", "sync"]),
                }
            )
        if len(history) >= 20000:
            session.execute(insert(ChannelHistory), history)
            history = []
    if history:
        session.execute(insert(ChannelHistory), history)
    session.execute(
        text(
            "INSERT INTO channel_alerts (channel_id, history_id, reasons, message, created_at,"
            " company_id) SELECT channel_id, id, '[]', 'Line: quality rating dropped to '"
            " || quality_rating || '.', observed_at, company_id FROM channel_quality_history"
            " WHERE quality_rating IN ('YELLOW', 'RED') AND source <> 'onboarding'"
        )
    )
    for provider, _ in PROVIDERS:
        for hours in (3, 2, 1):
            session.add(
                SyncRun(
                    provider=provider,
                    status="succeeded",
                    calls=rng.randint(10, 900),
                    seen=args.channels,
                    changed=rng.randint(0, 300),
                    started_at=NOW - dt.timedelta(hours=hours),
                )
            )
    session.commit()


def create_people(largest_company_id: int) -> tuple[str, str]:
    """A platform admin and an admin of the largest company; their e-mails."""
    admin = accounts.create_user(
        db.session, SYSTEM, "admin@bench.test", password=PASSWORD, platform_admin=True
    )
    owner = accounts.create_user(db.session, SYSTEM, "owner@bench.test", password=PASSWORD)
    company = db.session.get(Company, largest_company_id)
    accounts.set_membership(db.session, SYSTEM, owner, company, Role.ADMIN)
    db.session.flush()
    # The platform admin is told of every alert (as observe() does), half of them read.
    db.session.execute(
        text(
            "INSERT INTO notifications (user_id, alert_id, created_at, read_at, email_status)"
            " SELECT :user, id, created_at, CASE WHEN id % 2 = 0 THEN created_at END, 'skipped'"
            " FROM channel_alerts"
        ),
        {"user": admin.id},
    )
    db.session.commit()
    return admin.email, owner.email


# --- measuring ----------------------------------------------------------------------------


@contextmanager
def sql_meter(engine) -> Iterator[dict]:
    """Counts the statements sent and the seconds spent in them."""
    meter = {"statements": 0, "seconds": 0.0}
    started: list[float] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        started.append(time.perf_counter())

    def after(conn, cursor, statement, parameters, context, executemany):
        meter["statements"] += 1
        meter["seconds"] += time.perf_counter() - started.pop()

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield meter
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


def signed_in_client(app, email: str):
    client = app.test_client()
    response = client.post("/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 302, f"sign-in failed for {email}"
    return client


def measure(client, engine, url: str, requests: int, warmup: int) -> dict:
    for _ in range(warmup):
        assert client.get(url).status_code == 200, url
    times, sql_times, statements = [], [], set()
    for _ in range(requests):
        with sql_meter(engine) as meter:
            started = time.perf_counter()
            response = client.get(url)
            times.append(time.perf_counter() - started)
        assert response.status_code == 200, (url, response.status_code)
        sql_times.append(meter["seconds"])
        statements.add(meter["statements"])
    times.sort()
    return {
        "median": statistics.median(times) * 1000,
        "p95": times[max(0, round(0.95 * len(times)) - 1)] * 1000,
        "sql": statistics.median(sql_times) * 1000,
        "statements": "/".join(str(n) for n in sorted(statements)),
        "items": sum(map(response.get_data(as_text=True).count, ITEMS)),
    }


def explain(session, channels: int) -> None:
    """PostgreSQL's plans: the deep page by keyset and by OFFSET, and the counts panel."""
    offset = int(channels * 0.9)
    after = session.scalar(select(Channel.id).order_by(Channel.id).offset(offset - 1).limit(1))
    page = fleet.FleetFilter().channels().order_by(Channel.id).limit(51)
    columns = (Channel.provider, Channel.status, Channel.quality_rating, Channel.messaging_limit,
               Channel.needs_reauthorization)  # fmt: skip
    counts = select(*columns, func.count()).group_by(*columns)  # as fleet.counts() sends it
    for label, stmt in (
        (f"keyset (id > {after})", page.where(Channel.id > after)),
        (f"OFFSET {offset}", page.offset(offset)),
        ("counts panel, unfiltered", counts),
    ):
        sql = stmt.compile(db.engine, compile_kwargs={"literal_binds": True})
        plan = session.execute(text(f"EXPLAIN (ANALYZE, BUFFERS OFF) {sql}")).scalars().all()
        print(f"\n-- {label}\n" + "\n".join(plan))


def machine(database_url: str) -> str:
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    with psycopg.connect(database_url.replace("+psycopg", "")) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
    load = ", ".join(f"{n:.1f}" for n in os.getloadavg())
    return (
        f"{os.cpu_count()} CPUs (nproc), {mem_kb / 1024**2:.0f} GiB RAM, "
        f"Python {platform.python_version()}, PostgreSQL {version}; load average {load}"
    )


def admin_execute(server: str, statement: str) -> None:
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(statement)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--database", default="bench_dashboard", help="scratch database")
    parser.add_argument("--channels", type=int, default=50_000)
    parser.add_argument("--companies", type=int, default=1_000)
    parser.add_argument("--requests", type=int, default=50, help="measured requests per page")
    parser.add_argument("--warmup", type=int, default=5, help="unmeasured requests per page")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--explain", action="store_true", help="print keyset vs OFFSET plans")
    parser.add_argument("--keep-db", action="store_true", help="leave the scratch database")
    args = parser.parse_args()

    database_url = (
        f"{args.postgres.replace('postgresql://', 'postgresql+psycopg://')}/{args.database}"
    )
    admin_execute(args.postgres, f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
    admin_execute(args.postgres, f'CREATE DATABASE "{args.database}"')
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": "bench",
            "KEYRING": Keyring.generate(),
            "INSTANCE_PATH": str(Path(__file__).resolve().parent.parent / "instance"),
            "JOB_RUNNER": "manual",
            "WTF_CSRF_ENABLED": False,
            "PORTAL_ENV": "development",
            "LOG_LEVEL": "WARNING",
        }
    )
    try:
        # The app context is left before measuring: each request then gets its own context,
        # session and ``g`` (as in production), and nothing is cached between requests.
        with app.app_context():
            pages = prepare(args)
            engine = db.engine
        report(args, app, engine, database_url, pages)
        if args.explain:
            with app.app_context():
                explain(db.session, args.channels)
                db.session.remove()
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        if not args.keep_db:
            admin_execute(args.postgres, f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')


def prepare(args: argparse.Namespace) -> list[tuple[str, str, str]]:
    """Migrate, load the fleet, create the two users; the pages to measure (label, who, URL)."""
    from flask_migrate import upgrade

    upgrade()
    started = time.perf_counter()
    load_fleet(args)
    counts = {
        table: db.session.scalar(text(f"SELECT count(*) FROM {table}"))
        for table in ("companies", "channels", "channel_quality_history", "channel_alerts")
    }
    largest, largest_size = db.session.execute(
        select(Channel.company_id, func.count())
        .group_by(Channel.company_id)
        .order_by(func.count().desc())
        .limit(1)
    ).one()
    admin, owner = create_people(largest)
    db.session.execute(text("ANALYZE"))  # fresh statistics, as autovacuum would gather them
    db.session.commit()
    counts["notifications"] = db.session.scalar(text("SELECT count(*) FROM notifications"))
    print(f"Loaded in {time.perf_counter() - started:.0f} s: {counts}")
    ids = list(db.session.scalars(select(Channel.id).order_by(Channel.id)))
    deep_after = ids[int(len(ids) * 0.9)]
    busiest, points = db.session.execute(
        select(ChannelHistory.channel_id, func.count())
        .group_by(ChannelHistory.channel_id)
        .order_by(func.count().desc())
        .limit(1)
    ).one()
    slug = db.session.get(Company, largest).slug
    db.session.remove()
    return [
        ("Admin fleet, first page", admin, "/admin/fleet/"),
        (f"Admin fleet, deep page (after id {deep_after}, 90% in)", admin,
         f"/admin/fleet/?after={deep_after}"),
        ("Admin fleet, previous page (before the last id)", admin,
         f"/admin/fleet/?before={ids[-1]}"),
        ("Admin fleet, filtered: provider=meta, quality=RED", admin,
         "/admin/fleet/?provider=meta&quality=RED"),
        ("Admin fleet, filtered: status=RESTRICTED, reauth", admin,
         "/admin/fleet/?status=RESTRICTED&reauth=1"),
        (f"Admin fleet, filtered: company ({largest_size} channels)", admin,
         f"/admin/fleet/?company={slug}"),
        (f"Company fleet ({largest_size} channels), company admin", owner, f"/c/{slug}/fleet/"),
        (f"Channel chart page ({points} history rows)", admin,
         f"/admin/fleet/channels/{busiest}"),
        ("Notifications, first page (platform admin)", admin, "/notifications/"),
    ]  # fmt: skip


def report(args: argparse.Namespace, app, engine, database_url: str, pages) -> None:
    clients = {email: signed_in_client(app, email) for _, email, _ in pages}
    print(f"\nMachine: {machine(database_url)}")
    print(f"{args.requests} requests per page after {args.warmup} warm-up requests\n")
    print("| Page | Median ms | p95 ms | SQL ms (median) | SQL statements | Items shown |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, email, url in pages:
        result = measure(clients[email], engine, url, args.requests, args.warmup)
        print(
            f"| {label} | {result['median']:.1f} | {result['p95']:.1f} | {result['sql']:.1f} "
            f"| {result['statements']} | {result['items']} |"
        )


if __name__ == "__main__":
    main()
