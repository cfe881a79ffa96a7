"""Two ``keys rotate`` at once, round after round, while the portal serves webhooks.

Run by hand from the repository root (bench/README.md)::

    .venv/bin/python bench/key_rotation.py --rounds 30

It creates a scratch PostgreSQL database (``--sqlite`` uses a file instead) holding a Meta
configuration and ``--secrets`` Twilio subaccount tokens, encrypted under a keyring kept
in a file, serves the portal under gunicorn with that keyring file, and posts signed Meta
webhooks without pause (each one decrypts the app secret to check its signature). Each
round starts two ``flask keys rotate`` processes together and waits for both; then every
stored secret must decrypt with the keys the file holds. It prints the rounds, the secrets
that could not be read, and the webhook answers by status with their latency.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.webhook_ingest import (  # noqa: E402
    Phase,
    _send,
    admin_execute,
    free_port,
    machine,
    portal_app,
    prepare_database,
    signed_request,
    start_gunicorn,
    stop,
)


def store_subaccount_tokens(app, count: int) -> None:
    """``count`` companies, each with a Twilio subaccount whose auth token is a secret."""
    from portal.extensions import db
    from provisioning.audit import SYSTEM
    from provisioning.companies import create_company
    from provisioning.twilio.models import TwilioSubaccount

    with app.app_context():
        for number in range(count):
            company = create_company(db.session, SYSTEM, f"Rotation {number}")
            db.session.add(
                TwilioSubaccount(
                    company_id=company.id,
                    account_sid=f"AC{number:032x}",
                    auth_token=secrets.token_hex(16),
                    friendly_name=company.name,
                )
            )
        db.session.commit()
        db.session.remove()


def unreadable_secrets(app, keyring_file: Path) -> tuple[int, int]:
    """(stored secrets, secrets the keyring file cannot decrypt), read as raw text."""
    from sqlalchemy import Text, select, type_coerce

    from portal.extensions import db
    from provisioning.crypto import Keyring, encrypted_columns

    keyring = Keyring.load(keyring_file)
    stored = unreadable = 0
    with app.app_context():
        for _table, column, context in encrypted_columns(db.metadata):
            tokens = db.session.scalars(
                select(type_coerce(column, Text())).where(column.isnot(None))
            ).all()
            for token in tokens:
                stored += 1
                try:
                    keyring.decrypt(token, context)
                except Exception:  # counted, whatever the reason
                    unreadable += 1
        db.session.remove()
    return stored, unreadable


class Webhooks(threading.Thread):
    """Signed Meta webhooks, ``clients`` in flight, until stopped."""

    def __init__(self, port: int, secret: bytes, clients: int) -> None:
        super().__init__(daemon=True)
        self.port, self.secret, self.clients = port, secret, clients
        self.phase = Phase()
        self.running = True

    def run(self) -> None:
        asyncio.run(self._load())

    async def _load(self) -> None:
        seqs = itertools.count()

        async def client() -> None:
            while self.running:
                started = time.perf_counter()
                try:
                    status = await _send(
                        self.port, signed_request(self.port, self.secret, next(seqs))
                    )
                except OSError:
                    self.phase.errors += 1
                    continue
                self.phase.latencies.append(time.perf_counter() - started)
                self.phase.statuses[status] += 1

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(self.clients)))
        self.phase.seconds = time.perf_counter() - started


def rotate_twice_at_once(env: dict[str, str]) -> list[str]:
    """Start two ``keys rotate`` together; the output of each one that failed."""
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "keys", "rotate"]
    processes = [
        subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        for _ in range(2)
    ]
    failures = []
    for process in processes:
        output = process.communicate(timeout=300)[0].decode()
        if process.returncode != 0:
            failures.append(output)
    return failures


def run(args, database_url: str, workdir: str) -> int:
    from provisioning.crypto import Keyring

    keyring_file = Path(workdir) / "keyring.json"
    keyring = Keyring.load_or_create(keyring_file)
    app_secret = secrets.token_hex(16)
    app = portal_app(database_url, keyring.env_value(), workdir)
    prepare_database(app, app_secret, baseline=False)
    store_subaccount_tokens(app, args.secrets)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "ENCRYPTION_KEYRING_FILE": str(keyring_file),
        "SECRET_KEY": "bench-" + secrets.token_hex(16),
        "JOB_RUNNER": "manual",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("ENCRYPTION_KEYS", None)
    port = free_port()
    server = start_gunicorn("wsgi:app", port, env, args.workers, 1)
    load = Webhooks(port, app_secret.encode(), args.concurrency)
    failed_rounds = []
    started = time.perf_counter()
    try:
        load.start()
        for number in range(1, args.rounds + 1):
            failures = rotate_twice_at_once(env)
            stored, unreadable = unreadable_secrets(app, keyring_file)
            if failures or unreadable:
                failed_rounds.append((number, unreadable, failures))
            print(f"round {number:3d}: {stored} secrets, {unreadable} unreadable,"
                  f" {len(failures)} failed rotations")  # fmt: skip
    finally:
        load.running = False
        load.join(timeout=30)
        stop(server)
    phase = load.phase
    keys = len(Keyring.load(keyring_file).keys)
    print(
        f"\n{args.rounds} rounds of two rotations at once in {time.perf_counter() - started:.0f} s,"
        f" {keys} keys in the file; rounds with an unreadable secret or a failed rotation:"
        f" {len(failed_rounds)}"
    )
    print(
        f"webhooks while rotating: {phase.requests} sent, statuses {dict(phase.statuses)},"
        f" connection errors {phase.errors}; p50 {phase.percentile(0.5) * 1000:.0f} ms,"
        f" p99 {phase.percentile(0.99) * 1000:.0f} ms, max {max(phase.latencies) * 1000:.0f} ms"
    )
    for number, unreadable, failures in failed_rounds:
        print(f"round {number}: {unreadable} unreadable", *failures, sep="\n")
    non_2xx = sum(n for status, n in phase.statuses.items() if not 200 <= status < 300)
    return 1 if failed_rounds or non_2xx or phase.errors else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--database", default="bench_key_rotation", help="scratch (recreated)")
    parser.add_argument("--sqlite", action="store_true", help="an SQLite file instead")
    parser.add_argument("--secrets", type=int, default=500, help="subaccount tokens stored")
    parser.add_argument("--concurrency", type=int, default=4, help="webhooks in flight")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-rotation-") as workdir:
        if args.sqlite:
            database_url = f"sqlite:///{workdir}/portal.db"
        else:
            database_url = f"{args.postgres}/{args.database}"
            admin_execute(args.postgres, f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
            admin_execute(args.postgres, f'CREATE DATABASE "{args.database}"')
        where = "SQLite" if args.sqlite else machine(database_url)
        print(f"Machine: {where}; gunicorn {args.workers} sync workers,"
              f" {args.concurrency} webhooks in flight\n")  # fmt: skip
        try:
            code = run(args, database_url, workdir)
        finally:
            if not args.sqlite:
                admin_execute(
                    args.postgres, f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)'
                )
    raise SystemExit(code)


if __name__ == "__main__":
    main()
