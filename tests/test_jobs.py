"""The job layer: runs execute outside requests, and unfinished runs resume after a restart."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from flask_migrate import upgrade
from prometheus_client import REGISTRY
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import sessionmaker

from portal import create_app
from portal.config import ConfigError, load
from portal.extensions import db
from portal.jobs import (
    APPLIERS,
    JOBS,
    MAX_BACKOFF_SECONDS,
    PERIODIC,
    QUEUES,
    InProcessRunner,
    Job,
    ManualRunner,
    enqueue,
    periodic_schedule,
)
from portal.jobs.schedule import Ticker
from provisioning import companies, runs
from provisioning.audit import SYSTEM
from provisioning.crypto import Keyring
from provisioning.errors import Rejected, Retryable, Unreachable
from provisioning.job_failures import JobFailure
from provisioning.partners import Provider

CALLS: list[int] = []
CALLED = threading.Event()


def record_call(ctx: runs.StepContext) -> None:
    CALLS.append(ctx.run.id)
    CALLED.set()


@pytest.fixture
def flow():
    flow = runs.register_flow(runs.Flow("jobs_test", Provider.META, (("only", record_call),)))
    CALLS.clear()
    CALLED.clear()
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
    completed, templates = runner.drain()  # a completed run has its company's templates listed
    assert completed is runs.RunStatus.COMPLETED and templates["accounts"] == 0
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
    runner = InProcessRunner.install(scratch_app, workers=1, poll_seconds=3600)
    runner.start_poller()  # the sweeps go at once, then in an hour
    try:
        assert CALLED.wait(30)  # generous: a backstop, never reached when it works
        assert runner.wait_idle(30)
    finally:
        runner.stop()
    assert [run_id] == CALLS
    assert db.session.get(runs.ProvisioningRun, run_id).status is runs.RunStatus.COMPLETED


# Retries, backoff and the terminal failure state ------------------------------------


@pytest.fixture
def extra_jobs():
    """Register jobs for one test under ``tests.*`` names; removed afterwards."""
    added: list[str] = []

    def register(name: str, function, **policy):
        JOBS[name] = Job(name, function, **{"queue": "runs", **policy})
        added.append(name)

    yield register
    for name in added:
        JOBS.pop(name, None)


class Flaky:
    """Fails with ``error`` for the first ``failures`` calls, then returns the call count."""

    def __init__(self, failures: int, error: Exception) -> None:
        self.failures, self.error, self.calls = failures, error, 0

    def __call__(self, *args):
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return self.calls


def unreachable() -> Unreachable:
    return Unreachable(provider="meta", message="no answer")


def failures(session, name: str) -> list[JobFailure]:
    return session.scalars(select(JobFailure).where(JobFailure.name == name)).all()


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    spec = Job("x", print, "runs", retries=10, backoff=2.0)
    for attempt in range(1, 6):
        base = 2.0 * 2 ** (attempt - 1)
        assert base * 0.5 <= spec.retry_delay(attempt, unreachable()) <= base
    late = spec.retry_delay(10, unreachable())  # 2 * 2**9 s uncapped
    assert MAX_BACKOFF_SECONDS * 0.5 <= late <= MAX_BACKOFF_SECONDS
    delays = {spec.retry_delay(3, unreachable()) for _ in range(20)}
    assert len(delays) > 1  # jitter: workers that failed together do not retry together


def test_only_errors_safe_to_retry_are_retried():
    spec = Job("x", print, "runs", retries=3, backoff=1.0)
    lost_connection = OperationalError("SELECT 1", {}, Exception("server closed the connection"))
    assert spec.retry_delay(1, lost_connection) is not None
    assert spec.retry_delay(1, Retryable(provider="meta", message="throttled")) is not None
    assert spec.retry_delay(1, Rejected(provider="meta", message="bad number")) is None
    assert spec.retry_delay(1, ValueError("bug")) is None
    assert spec.retry_delay(4, unreachable()) is None  # retries spent
    throttled = Retryable(provider="twilio", message="slow down", retry_after=40)
    assert spec.retry_delay(1, throttled) >= 40  # the provider's Retry-After wins


def test_a_retryable_failure_is_retried_until_the_job_succeeds(app, session, extra_jobs):
    flaky = Flaky(2, unreachable())
    extra_jobs("tests.flaky", flaky, retries=3, backoff=1.0)
    runner = ManualRunner(app)
    runner.enqueue("tests.flaky", 7)
    assert runner.drain() == [3]
    assert [(name, args) for name, args, _ in runner.retries] == [("tests.flaky", (7,))] * 2
    assert failures(session, "tests.flaky") == []


def test_the_last_failed_attempt_is_kept_as_a_job_failure(app, session, extra_jobs):
    flaky = Flaky(99, unreachable())
    extra_jobs("tests.down", flaky, retries=2, backoff=1.0)
    runner = ManualRunner(app)
    runner.enqueue("tests.down", 7, 8)
    with pytest.raises(Unreachable):
        runner.drain()
    assert flaky.calls == 3
    (failure,) = failures(session, "tests.down")
    assert (failure.args, failure.attempts) == ([7, 8], 3)
    assert failure.error == "Unreachable: meta: no answer"


def test_an_error_not_safe_to_retry_fails_at_once(app, session, extra_jobs):
    flaky = Flaky(99, Rejected(provider="meta", message="number is banned"))
    extra_jobs("tests.rejected", flaky, retries=5)
    runner = ManualRunner(app)
    runner.enqueue("tests.rejected", 1)
    with pytest.raises(Rejected):
        runner.drain()
    assert flaky.calls == 1 and runner.retries == []
    assert failures(session, "tests.rejected")[0].attempts == 1


def test_jobs_failures_lists_the_latest_failures(app, session, extra_jobs):
    extra_jobs("tests.broken", Flaky(99, ValueError("boom\nsecond line")), retries=0)
    runner = ManualRunner(app)
    for run_id in (41, 42):
        runner.enqueue("tests.broken", run_id)
        with pytest.raises(ValueError):
            runner.drain()
    cli = app.test_cli_runner()
    result = cli.invoke(args=["jobs", "failures", "--name", "tests.broken"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 2 and "tests.broken(42) after 1 attempt(s): ValueError: boom" in lines[0]
    assert "tests.broken(41)" in lines[1] and "second line" not in result.output
    assert cli.invoke(args=["jobs", "failures", "--name", "no.such"]).output == "No failed jobs.\n"
    bad = cli.invoke(args=["jobs", "failures", "--limit", "0"])
    assert bad.exit_code == 2 and "Invalid value for '--limit'" in bad.output


def test_jobs_list_shows_the_catalog_with_queues_and_schedules(app, monkeypatch):
    monkeypatch.setitem(app.config, "QUALITY_SYNC_INTERVAL_SECONDS", 0)
    result = app.test_cli_runner().invoke(args=["jobs", "list"])
    assert result.exit_code == 0, result.output
    lines = {line.split()[1]: line for line in result.output.splitlines()}
    assert set(lines) == set(JOBS)
    assert lines["webhooks.retry_failed"].startswith("sweeps")
    assert "every 5s" in lines["webhooks.retry_failed"]
    assert lines["sync.quality"].endswith("limit 3000s, on demand")  # periodic sync off


class RecordedTimers:
    """Retry timers that fire when the test says, keeping the delays they were given."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self.waiting: list[threading.Thread] = []

    def __call__(self, delay, function, args):
        self.delays.append(delay)
        thread = threading.Thread(target=function, args=args, daemon=True)
        self.waiting.append(thread)
        return thread  # start() is the runner's: the retry goes at once

    def join(self) -> None:
        for thread in self.waiting:
            thread.join(30)


def test_the_in_process_runner_retries_on_a_timer(scratch_app, extra_jobs):
    upgrade()
    flaky = Flaky(1, unreachable())
    extra_jobs("tests.retry_later", flaky, retries=2, backoff=4.0)
    extra_jobs("tests.never", Flaky(99, unreachable()), retries=1, backoff=4.0)
    timers = RecordedTimers()
    runner = InProcessRunner(scratch_app, workers=1, timer=timers)
    try:
        runner.enqueue("tests.retry_later", "a")
        runner.enqueue("tests.never", "b")
        assert runner.wait_idle(30)  # a backstop: the timers fire at once
    finally:
        runner.stop()
        timers.join()
    assert flaky.calls == 2
    assert len(timers.delays) == 2 and all(2.0 <= delay <= 4.0 for delay in timers.delays)
    (failure,) = failures(db.session, "tests.never")
    assert (failure.args, failure.attempts) == (["b"], 2)


def test_a_job_already_queued_or_retrying_is_not_queued_twice(app, extra_jobs):
    started, release = threading.Event(), threading.Event()
    calls: list[str] = []

    def blocking(marker):
        calls.append(marker)
        started.set()
        assert release.wait(30)

    extra_jobs("tests.blocking", blocking, retries=0)
    runner = InProcessRunner(app, workers=1)
    try:
        runner.enqueue("tests.blocking", "a")
        assert started.wait(30)
        runner.enqueue("tests.blocking", "a")  # running: it will do
        runner.enqueue("tests.blocking", "b")
        assert runner.depth("runs") == 1  # "b" waits for the one thread
        release.set()
        assert runner.wait_idle(30)
    finally:
        release.set()
        runner.stop()
    assert calls == ["a", "b"] and runner.depth("runs") == 0


# Periodic jobs ----------------------------------------------------------------------


def test_every_job_is_in_the_catalog_once_on_a_known_queue():
    assert set(PERIODIC) <= set(JOBS) and set(APPLIERS.values()) <= set(JOBS)
    assert {spec.queue for spec in JOBS.values()} == set(QUEUES)
    assert all(name == spec.name for name, spec in JOBS.items())
    with pytest.raises(ValueError, match="unknown queue 'fast'"):
        Job("tests.x", print, "fast")


def test_periodic_jobs_have_their_own_intervals_and_zero_turns_one_off():
    config = {"JOB_POLL_SECONDS": 5.0, "QUALITY_SYNC_INTERVAL_SECONDS": 3600.0,
              "AUTH_PURGE_SECONDS": 600}  # fmt: skip
    schedule = periodic_schedule(config)
    assert schedule["provisioning.resume_due_runs"] == schedule["webhooks.retry_failed"] == 5.0
    assert (schedule["sync.quality"], schedule["auth.purge"]) == (3600.0, 600.0)
    disabled = periodic_schedule({**config, "QUALITY_SYNC_INTERVAL_SECONDS": 0})
    assert "sync.quality" not in disabled


def test_the_ticker_makes_each_periodic_job_due_at_its_interval():
    ticker = Ticker({"sweep": 5.0, "sync": 3600.0}, start=100.0)
    assert ticker.due(100.0) == ["sweep", "sync"]  # everything at the start
    assert ticker.seconds_to_next(100.0) == 5.0
    assert ticker.due(104.9) == []
    assert ticker.due(105.0) == ["sweep"]
    assert ticker.due(111.0) == ["sweep"]  # late: the next one counts from now
    assert ticker.seconds_to_next(111.0) == 5.0
    assert ticker.due(3700.0) == ["sweep", "sync"]


def test_the_poller_enqueues_every_periodic_job_at_start(app, monkeypatch):
    counts: dict[str, int] = {}
    all_ran = threading.Event()

    def counter(name):
        def count():
            counts[name] = counts.get(name, 0) + 1
            if set(counts) == set(PERIODIC):
                all_ran.set()

        return Job(name, count, JOBS[name].queue, retries=0)

    for name in PERIODIC:
        monkeypatch.setitem(JOBS, name, counter(name))
    monkeypatch.setitem(app.config, "AUTH_PURGE_SECONDS", 3600)
    runner = InProcessRunner(app, workers=1, poll_seconds=3600)
    runner.start_poller()
    try:
        assert all_ran.wait(30)  # a backstop; the next tick is an hour away
        assert runner.wait_idle(30)
    finally:
        runner.stop()
    assert counts == dict.fromkeys(PERIODIC, 1)


def test_without_a_broker_the_app_keeps_its_in_process_runner_and_no_poller(tmp_path):
    app = create_app({"SECRET_KEY": "x", "KEYRING": Keyring.generate(),
                      "INSTANCE_PATH": str(tmp_path), "JOB_RUNNER": None,
                      "CELERY_BROKER_URL": None})  # fmt: skip
    assert isinstance(app.extensions["job_runner"], InProcessRunner)
    assert "job-poller" not in {thread.name for thread in threading.enumerate()}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"JOB_RUNNER": "celery"}, "JOB_RUNNER=celery needs CELERY_BROKER_URL"),
        ({"JOB_RUNNER": "threads"}, "JOB_RUNNER must be one of"),
        ({"JOB_POLL_SECONDS": "soon"}, "JOB_POLL_SECONDS must be a number of seconds"),
        ({"QUALITY_SYNC_INTERVAL_SECONDS": "-5"}, "must not be negative"),
        ({"RUN_LEASE_SECONDS": "0"}, "RUN_LEASE_SECONDS must be more than 0"),
    ],
)
def test_bad_job_settings_stop_the_start_with_a_clear_message(env, message, tmp_path, monkeypatch):
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        load(tmp_path, {"SECRET_KEY": "x", "KEYRING": Keyring.generate()})


def test_a_broker_url_selects_celery_and_intervals_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("JOB_RUNNER", raising=False)
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("QUALITY_SYNC_INTERVAL_SECONDS", "900")
    config = load(tmp_path, {"SECRET_KEY": "x", "KEYRING": Keyring.generate()})
    assert config["JOB_RUNNER"] == "celery" and config["QUALITY_SYNC_INTERVAL_SECONDS"] == 900
    assert config["JOB_POLL_SECONDS"] == 5 and config["RUN_LEASE_SECONDS"] == 300


# The run lease: one executor at a time ------------------------------------------------


def test_a_run_leased_to_another_executor_is_left_alone(session, make, flow):
    run = runs.start_run(session, SYSTEM, flow, make.company().id)
    session.commit()
    assert runs.claim_lease(session, run.id, "other-worker", 60)
    session.commit()
    assert runs.execute(session, run.id, session.commit) is runs.RunStatus.STARTED
    assert CALLS == [] and run.lease_owner == "other-worker"
    assert runs.due_runs(session) == []  # in hand already: the sweep skips it


def test_a_lapsed_lease_is_taken_over_and_released_at_the_end(session, make, flow):
    run = runs.start_run(session, SYSTEM, flow, make.company().id)
    session.commit()
    long_ago = runs.utcnow() - dt.timedelta(hours=1)
    assert runs.claim_lease(session, run.id, "crashed-worker", 60, now=long_ago)
    session.commit()
    assert runs.due_runs(session) == [run.id]
    assert runs.execute(session, run.id, session.commit) is runs.RunStatus.COMPLETED
    assert [run.id] == CALLS
    assert (run.lease_owner, run.lease_expires_at) == (None, None)


def test_the_lease_is_released_when_a_step_blows_up(session, make):
    def explode(ctx):
        raise RuntimeError("a bug")

    flow = runs.register_flow(runs.Flow("jobs_explode", Provider.META, (("only", explode),)))
    try:
        run = runs.start_run(session, SYSTEM, flow, make.company().id)
        session.commit()
        with pytest.raises(RuntimeError):
            runs.execute(session, run.id, session.commit)
        session.refresh(run)
        assert (run.lease_owner, run.lease_expires_at) == (None, None)
    finally:
        runs.FLOWS.pop(flow.name)


def committed_run(name: str, steps) -> int:
    """A run of a flow registered for one test (removed by ``flows``), committed for real."""
    flow = runs.register_flow(runs.Flow(name, Provider.META, steps))
    company = companies.create_company(db.session, SYSTEM, f"{name} Ltd")
    db.session.flush()
    run_id = runs.start_run(db.session, SYSTEM, flow, company.id).id
    db.session.commit()
    return run_id


@pytest.fixture
def flows():
    before = set(runs.FLOWS)
    yield
    for name in set(runs.FLOWS) - before:
        runs.FLOWS.pop(name)


def take_over(run_id: int) -> None:
    """Another worker, on its own connection, finds the lease lapsed and claims the run."""
    with sessionmaker(bind=db.engine)() as other, other.begin():
        other.execute(
            update(runs.ProvisioningRun)
            .where(runs.ProvisioningRun.id == run_id)
            .values(lease_expires_at=runs.utcnow() - dt.timedelta(hours=1))
        )
    with sessionmaker(bind=db.engine)() as other, other.begin():
        assert runs.claim_lease(other, run_id, "other-worker", 600)


def test_an_executor_whose_lease_was_taken_over_stops_without_writing(scratch_app, flows):
    """A stalled executor's lease lapsed and another worker took the run: what the stalled
    one did after that is not written, and its next step never runs."""
    upgrade()
    calls: list[str] = []

    def first(ctx):
        take_over(run_id)  # while this step ran (ids captured before: no read of ours)
        calls.append("first")
        ctx.record_ids(number="+15550001")

    def second(ctx):
        calls.append("second")

    run_id = committed_run("jobs_stolen", (("first", first), ("second", second)))
    assert runs.execute(db.session, run_id, db.session.commit) is runs.RunStatus.RUNNING
    db.session.rollback()
    run = db.session.get(runs.ProvisioningRun, run_id)
    assert calls == ["first"] and run.lease_owner == "other-worker"
    step = run.step("first")
    assert (step.status, step.provider_ids) == (runs.StepStatus.RUNNING, {})  # not recorded
    assert run.step("second").status is runs.StepStatus.PENDING


def test_an_executor_that_lost_its_lease_never_makes_the_paid_call(scratch_app, flows):
    """The intent of a one-shot effect is committed through the fence: a stalled executor
    whose run was taken over stops there, before the call."""
    upgrade()
    purchases: list[str] = []

    def buy(ctx):
        take_over(run_id)
        if ctx.intend():
            purchases.append("bought")  # the paid call

    run_id = committed_run("jobs_stolen_buy", (("buy", buy),))
    assert runs.execute(db.session, run_id, db.session.commit) is runs.RunStatus.RUNNING
    db.session.rollback()
    run = db.session.get(runs.ProvisioningRun, run_id)
    assert purchases == [] and run.step("buy").effect_intended_at is None
    assert run.lease_owner == "other-worker"


class FakeUtcNow:
    """``utcnow`` for the runs module, moved on by the test (every thread sees it)."""

    def __init__(self) -> None:
        self.now = runs.utcnow()

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


def test_the_lease_is_renewed_while_a_step_outlasts_it(scratch_app, flows, monkeypatch):
    """A step longer than the lease: the heartbeat keeps renewing it, so a second worker
    picking the run up meanwhile leaves it alone."""
    upgrade()
    clock = FakeUtcNow()
    monkeypatch.setattr(runs, "utcnow", clock)
    beat = threading.Event()
    renew = runs.renew_lease

    def renew_and_tell(*args):
        renewed = renew(*args)
        if threading.current_thread().name.startswith("heartbeat"):
            beat.set()
        return renewed

    monkeypatch.setattr(runs, "renew_lease", renew_and_tell)
    lease_seconds = 0.3  # a beat every 0.1 s
    calls: list[str] = []
    second: dict[str, runs.RunStatus] = {}
    read = sessionmaker(bind=db.engine)

    def lease_expiry():
        with read() as other:
            return other.scalar(
                select(runs.ProvisioningRun.lease_expires_at).where(
                    runs.ProvisioningRun.id == run_id
                )
            )

    def long_step(ctx):
        calls.append("long")
        if len(calls) > 1:
            return  # a second executor got in
        first_expiry = lease_expiry()
        clock.advance(60)  # the step outlasts the lease it started with
        while lease_expiry() <= clock.now:  # until a beat renews it from "now"
            beat.clear()
            assert beat.wait(30)  # a backstop: only a missing heartbeat reaches it
        with read() as other:  # another worker, after the first lease would have lapsed
            second["status"] = runs.execute(other, run_id, other.commit)
        assert lease_expiry() > first_expiry

    run_id = committed_run("jobs_long", (("long", long_step),))
    status = runs.execute(
        db.session, run_id, db.session.commit, lease_seconds=lease_seconds, heartbeat=db.engine
    )
    assert status is runs.RunStatus.COMPLETED
    assert calls == ["long"] and second == {"status": runs.RunStatus.RUNNING}


def test_a_second_concurrent_execute_does_nothing_while_the_first_holds_the_run(scratch_app):
    """Two threads, two connections: the second finds the lease taken and returns."""
    upgrade()
    first_inside, second_done = threading.Event(), threading.Event()
    calls: list[str] = []

    def slow_step(ctx):
        calls.append(threading.current_thread().name)
        ctx.durable()  # end our transaction: SQLite would otherwise keep its write lock
        first_inside.set()
        assert second_done.wait(10)

    flow = runs.register_flow(runs.Flow("jobs_slow", Provider.META, (("only", slow_step),)))
    company = companies.create_company(db.session, SYSTEM, "Lease Ltd")
    db.session.flush()
    run_id = runs.start_run(db.session, SYSTEM, flow, company.id).id
    db.session.commit()
    db.session.remove()
    make_session = sessionmaker(bind=db.engine)
    results: dict[str, runs.RunStatus] = {}

    def execute(name: str) -> None:
        with scratch_app.app_context(), make_session() as session:
            results[name] = runs.execute(session, run_id, session.commit)

    first = threading.Thread(target=execute, args=("first",), name="first")
    try:
        first.start()
        assert first_inside.wait(10)
        execute("second")
        second_done.set()
        first.join(10)
    finally:
        second_done.set()
        runs.FLOWS.pop(flow.name)
    assert calls == ["first"]
    assert results == {"second": runs.RunStatus.RUNNING, "first": runs.RunStatus.COMPLETED}
    run = db.session.get(runs.ProvisioningRun, run_id)
    assert run.status is runs.RunStatus.COMPLETED and run.lease_owner is None


def test_a_database_error_is_kept_without_its_sql_and_parameters(app, session, extra_jobs):
    lost = OperationalError("UPDATE t SET token=?", ("s3cret",), Exception("connection lost"))
    extra_jobs("tests.db_down", Flaky(99, lost), retries=0)
    runner = ManualRunner(app)
    runner.enqueue("tests.db_down")
    with pytest.raises(OperationalError):
        runner.drain()
    assert failures(session, "tests.db_down")[0].error == "OperationalError: connection lost"


def test_the_sweep_sends_an_undelivered_event_once_per_redelivery_period(app, session):
    """An event whose job was never published is sent by the sweep; while that job waits
    in the queue (a burst), the next ticks do not send it again."""
    from portal.jobs.webhooks import retry_failed_events
    from provisioning.events import WebhookEvent, store_event

    event_id = store_event(session, Provider.DIALOG360, "lost-job", "x", b"{}")
    session.execute(
        update(WebhookEvent)
        .where(WebhookEvent.id == event_id)
        .values(received_at=runs.utcnow() - dt.timedelta(minutes=2))
    )
    session.commit()
    with app.app_context():
        assert retry_failed_events() == 1
        assert retry_failed_events() == 0  # handed over: not again on the next tick
    assert app.extensions["job_runner"].queue == [("webhooks.apply_dialog360", (event_id,))]
    event = session.get(WebhookEvent, event_id)
    event.next_attempt_at = runs.utcnow() - dt.timedelta(seconds=1)  # still not applied
    session.commit()
    with app.app_context():
        assert retry_failed_events() == 1


# Metrics ----------------------------------------------------------------------------


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_attempts_are_counted_by_job_and_outcome_and_timed(app, session, extra_jobs):
    extra_jobs("tests.metered", Flaky(1, unreachable()), retries=1, backoff=1.0)
    extra_jobs("tests.metered_down", Flaky(99, ValueError("bug")), retries=3)
    finished = "portal_jobs_finished_total"
    before = {
        outcome: sample(finished, job="tests.metered", outcome=outcome)
        for outcome in ("succeeded", "retried", "failed")
    }
    runs_before = sample("portal_job_duration_seconds_count", job="tests.metered")
    runner = ManualRunner(app)
    runner.enqueue("tests.metered")
    runner.drain()
    runner.enqueue("tests.metered_down")
    with pytest.raises(ValueError):
        runner.drain()
    assert sample(finished, job="tests.metered", outcome="retried") == before["retried"] + 1
    assert sample(finished, job="tests.metered", outcome="succeeded") == before["succeeded"] + 1
    assert sample(finished, job="tests.metered", outcome="failed") == before["failed"]
    assert sample(finished, job="tests.metered_down", outcome="failed") >= 1
    assert sample("portal_job_duration_seconds_count", job="tests.metered") == runs_before + 2


def test_queue_depth_and_enqueue_to_start_latency_are_reported_per_queue(app, extra_jobs):
    started, release = threading.Event(), threading.Event()

    def blocking():
        started.set()
        assert release.wait(30)

    extra_jobs("tests.blocking_sync", blocking, queue="sync", retries=0)
    extra_jobs("tests.waiting_sync", print, queue="sync", retries=0)
    latency = "portal_job_queue_latency_seconds_count"
    before = sample(latency, queue="sync")
    runner = InProcessRunner(app, workers=1)
    try:
        runner.enqueue("tests.blocking_sync")
        assert started.wait(30)
        runner.enqueue("tests.waiting_sync")
        assert sample("portal_job_queue_depth", queue="sync") == 1
        assert sample("portal_job_queue_depth", queue="runs") == 0
        release.set()
        assert runner.wait_idle(30)
    finally:
        release.set()
        runner.stop()
    assert sample("portal_job_queue_depth", queue="sync") == 0
    assert sample(latency, queue="sync") == before + 2


def test_the_manual_runner_reports_its_queue_depth(app):
    runner = ManualRunner(app)
    runner.enqueue("webhooks.apply_meta", 1)
    runner.enqueue("webhooks.apply_meta", 2)
    runner.enqueue("provisioning.execute_run", 3)
    assert sample("portal_job_queue_depth", queue="webhooks") == 2
    assert sample("portal_job_queue_depth", queue="runs") == 1
    runner.queue.clear()
    assert sample("portal_job_queue_depth", queue="webhooks") == 0


def test_the_measuring_job_records_each_queues_depth(app):
    from portal.jobs.measure import measure_queues

    runner = app.extensions["job_runner"]
    runner.enqueue("webhooks.apply_meta", 1)
    runner.enqueue("sync.quality")
    with app.app_context():
        depths = measure_queues()
    assert depths == {"runs": 0, "sweeps": 0, "webhooks": 1, "sync": 1}
    assert PERIODIC["jobs.measure_queues"] == "JOB_POLL_SECONDS"
