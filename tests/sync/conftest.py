"""A small fleet in the sandbox, recorded as connected; a counter of rows written."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import event

from bench.fleet_seed import Fleet, record_fleet, seed_fleet
from portal.demo import META_APP
from portal.extensions import db
from provisioning.partners import Provider
from provisioning.sandbox import Sandbox
from provisioning.sync import SyncPolicy, sync_quality
from provisioning.tenancy import Company

# Small pages so that a handful of numbers spans several; waits of milliseconds.
FAST = SyncPolicy(workers=3, page_size=2, backoff=0.01, max_pause=1.0, max_spacing=0.0)


@dataclass
class Setup:
    sandbox: Sandbox
    fleet: Fleet
    companies: list[Company]

    def calls(self, provider: Provider, contains: str = "") -> int:
        """Requests the sandbox answered for ``provider`` (faults included)."""
        return sum(
            1
            for e in self.sandbox.exchanges
            if e["provider"] == provider.value and contains in e["path"]
        )


@pytest.fixture
def fleet(connected_sandbox, make, session):
    """``fleet()``: 2 companies; 2 WABAs x 3 numbers, 2 360dialog clients x 3 channels,
    2 Twilio subaccounts x 3 senders (WABA, client and subaccount ``i`` -> company ``i``)."""

    def build(seed: int = 11, companies: int = 2, **sizes: int) -> Setup:
        sandbox = connected_sandbox(seed)
        sandbox.record = True
        shape = {
            "wabas": 2, "numbers_per_waba": 3, "dialog360_clients": 2,
            "channels_per_client": 3, "twilio_subaccounts": 2, "senders_per_subaccount": 3,
        } | sizes  # fmt: skip
        seeded = seed_fleet(sandbox, meta_app_id=META_APP["app_id"], **shape)
        owners = [make.company() for _ in range(companies)]
        configs = {provider: config.id for provider, config in sandbox.configs.items()}
        record_fleet(session, seeded, [c.id for c in owners], configs)
        session.commit()
        return Setup(sandbox, seeded, owners)

    return build


def run_sync(session, setup: Setup, policy: SyncPolicy = FAST, **options):
    """One pass over ``options["providers"]`` (default: all), by provider."""
    runs = sync_quality(
        session, session.commit, transport=setup.sandbox.transport(), policy=policy, **options
    )
    return {run.provider: run for run in runs}


@pytest.fixture
def writes(app):
    """SQL statements that write, except the sync's own run rows."""
    with app.app_context():
        engine = db.engine
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        verb = statement.lstrip().split(None, 1)[0].upper()
        if verb in ("INSERT", "UPDATE", "DELETE") and "quality_sync_runs" not in statement:
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    yield statements
    event.remove(engine, "before_cursor_execute", count)
