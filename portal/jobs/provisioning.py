"""Provisioning jobs: run one run, and resume the runs whose time has come."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import Engine

from provisioning import platform_events, runs

from ..extensions import db
from ..providers import provisioning_services
from .runner import enqueue


def heartbeat_engine() -> Engine | None:
    """The engine a heartbeat renews a claim on (a connection of its own); None when the
    session is bound to a single connection (the tests), which a second one cannot see."""
    bind = db.session.get_bind()
    return bind if isinstance(bind, Engine) else None


def execute_run(run_id: int) -> runs.RunStatus:
    """Run or resume one provisioning run (steps commit one by one, fenced by its lease);
    the events its steps wrote (``channel.connected``, ``run.completed``) go at once, and a
    completed run's company has its templates listed (a new account brings its own) and
    the runs it started are picked up."""
    status = runs.execute(
        db.session,
        run_id,
        db.session.commit,
        provisioning_services(),
        lease_seconds=current_app.config["RUN_LEASE_SECONDS"],
        heartbeat=heartbeat_engine(),
    )
    if platform_events.take_emitted(db.session):
        enqueue("events.deliver")
    if status is runs.RunStatus.COMPLETED:
        run = db.session.get(runs.ProvisioningRun, run_id)
        if run is not None:
            enqueue("sync.templates", run.company_id, None)
            for follow_up in run.context.get(runs.FOLLOW_UPS, []):  # e.g. a coexistence sync
                enqueue("provisioning.execute_run", follow_up)
    return status


def resume_due_runs() -> int:
    """Enqueue every unfinished run whose time has come (after a restart, or a wait)."""
    ids = runs.due_runs(db.session)
    for run_id in ids:
        enqueue("provisioning.execute_run", run_id)
    return len(ids)
