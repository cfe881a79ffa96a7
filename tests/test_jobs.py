"""The job layer: runs execute outside requests, and unfinished runs resume after a restart."""

from __future__ import annotations

import time

import pytest
from flask_migrate import upgrade

from portal.extensions import db
from portal.jobs import InProcessRunner, ManualRunner, enqueue
from provisioning import companies, runs
from provisioning.audit import SYSTEM
from provisioning.partners import Provider

CALLS: list[int] = []


def record_call(ctx: runs.StepContext) -> None:
    CALLS.append(ctx.run.id)


@pytest.fixture
def flow():
    flow = runs.register_flow(runs.Flow("jobs_test", Provider.META, (("only", record_call),)))
    CALLS.clear()
    yield flow
    runs.FLOWS.pop(flow.name)


def test_enqueued_runs_wait_for_the_runner(app, session, make, flow, monkeypatch):
    runner = ManualRunner(app)
    monkeypatch.setitem(app.extensions, "job_runner", runner)
    company = make.company()
    run = runs.start_run(session, SYSTEM, flow, company.id)
    session.commit()
    with app.app_context():
        enqueue("provisioning.execute_run", run.id)
    assert CALLS == [] and run.status is runs.RunStatus.STARTED
    assert runner.drain() == [runs.RunStatus.COMPLETED]
    assert [run.id] == CALLS


def test_unknown_jobs_are_refused(app):
    with app.app_context(), pytest.raises(KeyError):
        enqueue("no.such.job")


def test_a_restarted_runner_resumes_unfinished_runs(scratch_app, flow):
    upgrade()
    company = companies.create_company(db.session, SYSTEM, "Restart Ltd")
    db.session.flush()
    run = runs.start_run(db.session, SYSTEM, flow, company.id)
    run.status = runs.RunStatus.RUNNING  # a worker died in the middle of it
    db.session.commit()
    run_id = run.id
    db.session.remove()
    runner = InProcessRunner.install(scratch_app, workers=1, poll_seconds=0.2)
    runner.start_poller()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and [run_id] != CALLS:
            time.sleep(0.05)
    finally:
        runner.stop()
    assert [run_id] == CALLS
    assert db.session.get(runs.ProvisioningRun, run_id).status is runs.RunStatus.COMPLETED
