"""The job layer: work that must not run inside a request (provisioning runs, syncs).

Jobs are named functions that take ids, reload what they need and are idempotent. Each
declares its queue, its time limit and its retries: an attempt failing with an error that
is safe to retry (a retryable provider error, a lost database connection) runs again
after an exponential backoff with jitter; after the last attempt, or on any other error,
the failure is kept in ``job_failures`` (the terminal state; ``flask --app wsgi jobs
failures`` lists them).

The database is the source of truth for work to do (a transactional outbox): a request
commits its webhook event or run, then ``enqueue`` only hands the job to the runner,
never waiting on a broker; the periodic sweeps deliver whatever was not delivered.

A runner decides where jobs run:

- :class:`InProcessRunner` (the default): a small thread pool in the portal process, plus
  a poller that enqueues the periodic jobs at their intervals (``flask jobs work``);
- :class:`portal.queue.CeleryRunner` (``CELERY_BROKER_URL`` set): Celery workers over
  Redis, with ``celery beat`` scheduling the same periodic jobs;
- :class:`ManualRunner` (tests): records jobs; ``drain()`` runs them when the test says.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

from flask import Flask, current_app, has_request_context
from sqlalchemy import Engine, select
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from provisioning import job_failures, runs
from provisioning.errors import Retryable

from .boundary import after_commit
from .extensions import db
from .observability.logs import job_context

log = logging.getLogger("portal.jobs")

# Safe to retry: the provider said "later" (timeouts, 5xx, throttling, no answer; the
# ``Unreachable`` subclass included) or the database connection dropped.
RETRYABLE_ERRORS: tuple[type[Exception], ...] = (Retryable, OperationalError)
MAX_BACKOFF_SECONDS = 600.0

# One queue per kind of work, so that none waits behind another: a burst of webhooks
# never delays a provisioning run (Meta's authorization code lives 30 s) nor starves the
# periodic sweeps, and a long quality sync holds up neither.
QUEUES = (
    "runs",  # provisioning runs: the code exchange and every onboarding step
    "sweeps",  # the short periodic jobs: due runs, failed or lost events, emails, refreshes
    "webhooks",  # applying stored webhook events (bursts)
    "sync",  # the quality sync passes (long)
)


@dataclass(frozen=True)
class Job:
    """A registered job: its function, queue, time limit (seconds; Celery stops an
    attempt that outlasts it) and retry policy (``retries`` after the first try)."""

    name: str
    function: Callable[..., Any]
    queue: str
    retries: int = 3
    backoff: float = 5.0
    time_limit: float = 600.0

    def __call__(self, *args: Any) -> Any:
        return self.function(*args)

    def retry_delay(self, attempt: int, exc: BaseException) -> float | None:
        """Seconds to wait after failed attempt ``attempt``; None when there is no retry."""
        if attempt > self.retries or not isinstance(exc, RETRYABLE_ERRORS):
            return None
        ceiling = min(self.backoff * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS)
        delay = ceiling * random.uniform(0.5, 1.0)  # noqa: S311 (spreads retries; no secret)
        hint = getattr(exc, "retry_after", None) or 0.0  # the provider's Retry-After
        return min(max(delay, hint), MAX_BACKOFF_SECONDS)


JOBS: dict[str, Job] = {}


def job(
    name: str,
    *,
    queue: str,
    retries: int = 3,
    backoff: float = 5.0,
    time_limit: float = 600.0,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a job under ``name`` on ``queue`` with its time limit and retry policy;
    the function stays as it is."""
    if queue not in QUEUES:
        raise ValueError(f"job {name!r}: unknown queue {queue!r} (one of {', '.join(QUEUES)})")

    def register(function: Callable[..., Any]) -> Callable[..., Any]:
        JOBS[name] = Job(name, function, queue, retries, backoff, time_limit)
        return function

    return register


def heartbeat_engine() -> Engine | None:
    """The engine a heartbeat renews a claim on (a connection of its own); None when the
    session is bound to a single connection (the tests), which a second one cannot see."""
    bind = db.session.get_bind()
    return bind if isinstance(bind, Engine) else None


@job("provisioning.execute_run", queue="runs", retries=3, backoff=5.0)
def execute_run(run_id: int) -> runs.RunStatus:
    """Run or resume one provisioning run (steps commit one by one, fenced by its lease)."""
    from .providers import provisioning_services

    return runs.execute(
        db.session,
        run_id,
        db.session.commit,
        provisioning_services(),
        lease_seconds=current_app.config["RUN_LEASE_SECONDS"],
        heartbeat=heartbeat_engine(),
    )


@job("provisioning.resume_due_runs", queue="sweeps", retries=0, time_limit=60)  # next tick
def resume_due_runs() -> int:
    """Enqueue every unfinished run whose time has come (after a restart, or a wait)."""
    ids = runs.due_runs(db.session)
    for run_id in ids:
        enqueue("provisioning.execute_run", run_id)
    return len(ids)


def _apply_stored_event(
    event_id: int,
    apply: Callable[[Any, Any], list[int]],
    then: Callable[[Any], Any] | None = None,
) -> list[int]:
    """Apply a stored webhook event once; resume the runs it makes due, then ``then(event)``."""
    from provisioning.events import WebhookEvent, mark_processed

    event = db.session.get(WebhookEvent, event_id)
    if event is None or event.processed_at is not None:
        return []
    if event.error and event.next_attempt_at is None and event.attempts:
        return []  # gave up after the last attempt; an admin may replay it
    try:
        due = apply(db.session, event)
    except Exception as exc:
        db.session.rollback()
        event = db.session.get(WebhookEvent, event_id)
        mark_processed(event, f"{type(exc).__name__}: {exc}")
        db.session.commit()
        log.warning(
            "webhook event %d failed (%s); retried with backoff", event_id, type(exc).__name__
        )
        return []  # the webhook pipeline keeps the failure and retries it
    mark_processed(event)
    db.session.commit()
    for run_id in due:
        enqueue("provisioning.execute_run", run_id)
    if then is not None:
        then(event)
    return due


@job("webhooks.apply_dialog360", queue="webhooks", retries=0)  # the pipeline retries it
def apply_dialog360_event(event_id: int) -> list[int]:
    from provisioning.dialog360.webhooks import apply

    return _apply_stored_event(event_id, apply)


APPLIERS = {
    "meta": "webhooks.apply_meta",
    "dialog360": "webhooks.apply_dialog360",
    "twilio": "webhooks.apply_twilio_events",
}


PENDING_BATCHES = 10  # batches of 100 events per run; then the job goes on in another run


@job("webhooks.apply_pending", queue="webhooks", retries=0, time_limit=60)
def apply_pending_events() -> int:
    """Apply the stored events no job has taken yet, oldest first: ingest wakes this job
    (a wake-up, not a job per event), and it runs periodically in case a wake-up was
    lost. Returns how many it applied."""
    from provisioning.events import claim_pending

    applied = 0
    for _ in range(PENDING_BATCHES):
        claimed = claim_pending(db.session)
        db.session.commit()
        for event_id, provider in claimed:
            JOBS[APPLIERS[provider.value]](event_id)
        applied += len(claimed)
        if not claimed:
            return applied
    enqueue("webhooks.apply_pending")  # more are waiting: go on in a run of its own
    return applied


@job("webhooks.retry_failed", queue="sweeps", retries=0, time_limit=60)
def retry_failed_events() -> int:
    """Queue stored events that are due: failed ones past their backoff, and ones whose
    job was never published or was lost. Each goes again only after ``REDELIVER_AFTER``
    if its job still has not applied it."""
    from provisioning.events import WebhookEvent, due_retries, postpone

    ids = due_retries(db.session)
    providers = dict(
        db.session.execute(
            select(WebhookEvent.id, WebhookEvent.provider).where(WebhookEvent.id.in_(ids))
        ).all()
    )
    postpone(db.session, ids)
    db.session.commit()
    for event_id in ids:
        enqueue(APPLIERS[providers[event_id].value], event_id)
    return len(ids)


@job("webhooks.apply_meta", queue="webhooks", retries=0)  # the pipeline retries it
def apply_meta_event(event_id: int) -> list[int]:
    """Apply, and ask for a listing of the WABAs the event names (Meta's quality events
    carry no colour); the asks are coalesced per WABA (``sync.meta_refreshes``)."""
    from provisioning.meta.webhooks import apply

    from .sync_jobs import refresh_wabas_named_in

    asked: list[int] = []

    def apply_and_ask(session: Any, event: Any) -> list[int]:
        due = apply(session, event)
        asked.extend(refresh_wabas_named_in(event))
        return due

    def hand_out(event: Any) -> None:
        if asked:
            enqueue("sync.meta_refreshes")

    return _apply_stored_event(event_id, apply_and_ask, then=hand_out)


@job("webhooks.apply_twilio_events", queue="webhooks", retries=0)  # the pipeline retries it
def apply_twilio_events(event_id: int) -> list[int]:
    from provisioning.twilio.webhooks import apply_event

    return _apply_stored_event(event_id, apply_event)


# Periodic jobs and the setting holding their interval; the in-process poller and
# ``celery beat`` both schedule from this table.
PERIODIC: dict[str, str] = {
    "provisioning.resume_due_runs": "JOB_POLL_SECONDS",
    "webhooks.retry_failed": "JOB_POLL_SECONDS",
    "webhooks.apply_pending": "JOB_POLL_SECONDS",
    "mail.send": "JOB_POLL_SECONDS",
    "auth.purge": "AUTH_PURGE_SECONDS",
    "sync.meta_refreshes": "JOB_POLL_SECONDS",
    "sync.quality": "QUALITY_SYNC_INTERVAL_SECONDS",
}


def periodic_schedule(config: Mapping[str, Any]) -> dict[str, float]:
    """Periodic job name -> seconds between runs; unregistered or disabled (0) jobs are left out."""
    schedule = {}
    for name, setting in PERIODIC.items():
        seconds = float(config.get(setting) or 0)
        if name in JOBS and seconds > 0:
            schedule[name] = seconds
    return schedule


def enqueue(name: str, *args: Any) -> None:
    """Queue a job on the app's runner; in a request, once the request's transaction is
    committed (the job reads what the request wrote)."""
    if name not in JOBS:
        raise KeyError(f"unknown job {name!r}")
    runner = current_app.extensions["job_runner"]
    if has_request_context():
        after_commit(partial(runner.enqueue, name, *args))
    else:
        runner.enqueue(name, *args)


class RetryLater(Exception):
    """An attempt failed with a retryable error and attempts remain: run again after ``delay``."""

    def __init__(self, delay: float) -> None:
        super().__init__(f"retry in {delay:.1f}s")
        self.delay = delay


def run_attempt(app: Flask, name: str, args: tuple[Any, ...], attempt: int = 1) -> Any:
    """Run one attempt of a job in an app context and return its result.

    Raises :class:`RetryLater` (from the error) when the job may be retried; otherwise a
    failure is recorded in ``job_failures`` and re-raised.
    """
    spec = JOBS[name]
    with app.app_context(), job_context(name, attempt):
        try:
            return spec(*args)
        except Exception as exc:
            db.session.rollback()
            delay = spec.retry_delay(attempt, exc)
            if delay is not None:
                log.warning(
                    "job %s%r attempt %d failed (%s); retrying in %.1fs",
                    name, args, attempt, type(exc).__name__, delay,
                )  # fmt: skip
                raise RetryLater(delay) from exc
            log.exception("job %s%r failed for good after %d attempt(s)", name, args, attempt)
            _record_failure(name, args, attempt, exc)
            raise
        finally:
            db.session.remove()


def _record_failure(name: str, args: tuple[Any, ...], attempts: int, exc: Exception) -> None:
    try:
        job_failures.record(db.session, name, args, attempts, exc)
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        log.exception("job %s%r: its failure could not be recorded", name, args)


JobKey = tuple[str, tuple[Any, ...]]


class InProcessRunner:
    """Threads in this process, ``workers`` per queue (so a burst of webhooks never holds
    up a run or a sweep); retries wait on timers, never in a worker thread.

    ``start_poller()`` enqueues the periodic jobs at their intervals (``poll_seconds``
    overrides ``JOB_POLL_SECONDS``), so unfinished runs survive a restart.
    """

    def __init__(self, app: Flask, workers: int = 2, poll_seconds: float | None = None) -> None:
        self.app = app
        self.pools = {
            queue: ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"job-{queue}")
            for queue in QUEUES
        }
        self.poll_seconds = poll_seconds or app.config.get("JOB_POLL_SECONDS") or 5.0
        self._pending: set[JobKey] = set()
        self._timers: dict[JobKey, threading.Timer] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()

    @classmethod
    def install(
        cls, app: Flask, workers: int = 2, poll_seconds: float | None = None
    ) -> InProcessRunner:
        """Make a runner the app's runner: jobs enqueued by jobs land on it too."""
        runner = cls(app, workers, poll_seconds)
        app.extensions["job_runner"] = runner
        return runner

    def enqueue(self, name: str, *args: Any) -> None:
        key = (name, args)
        with self._lock:
            if key in self._pending:
                return  # the same job is queued, running or waiting to retry: it will do
            self._pending.add(key)
        self._submit(key, 1)

    def _submit(self, key: JobKey, attempt: int) -> None:
        with self._lock:
            self._timers.pop(key, None)
            stopped = self._stop.is_set()
        if not stopped:
            try:
                self.pools[JOBS[key[0]].queue].submit(self._run, key, attempt)
                return
            except RuntimeError:  # the pool shut down in the meantime
                pass
        with self._lock:
            self._pending.discard(key)

    def _run(self, key: JobKey, attempt: int) -> None:
        try:
            run_attempt(self.app, *key, attempt)
        except RetryLater as later:
            timer = threading.Timer(later.delay, self._submit, (key, attempt + 1))
            timer.daemon = True
            with self._lock:
                self._timers[key] = timer
            timer.start()
            return  # the job stays pending until its retry has run
        except Exception:  # noqa: S110 (logged and recorded in job_failures by run_attempt)
            pass
        with self._lock:
            self._pending.discard(key)

    def start_poller(self) -> None:
        """Enqueue every periodic job now, then again each time its interval has passed."""
        config = {**self.app.config, "JOB_POLL_SECONDS": self.poll_seconds}
        schedule = periodic_schedule(config)
        if not schedule:
            return

        def poll() -> None:
            due = dict.fromkeys(schedule, 0.0)
            while True:
                now = time.monotonic()
                for name, at in due.items():
                    if at <= now:
                        self.enqueue(name)
                        due[name] = now + schedule[name]
                if self._stop.wait(max(0.0, min(due.values()) - time.monotonic())):
                    return

        threading.Thread(target=poll, name="job-poller", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            timers, self._timers = list(self._timers.values()), {}
        for timer in timers:
            timer.cancel()
        for pool in self.pools.values():
            pool.shutdown(wait=True)


class ManualRunner:
    """For tests: jobs wait in a list until ``drain()`` runs them, in order.

    A retry runs at once (the test controls time); its delay is kept in ``retries``.
    """

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.queue: list[JobKey] = []
        self.retries: list[tuple[str, tuple[Any, ...], float]] = []

    def enqueue(self, name: str, *args: Any) -> None:
        self.queue.append((name, args))

    def start_poller(self) -> None:
        """Nothing to start: tests enqueue periodic jobs themselves."""

    def drain(self) -> list[Any]:
        results = []
        while self.queue:
            name, args = self.queue.pop(0)
            results.append(self._run(name, args))
        return results

    def _run(self, name: str, args: tuple[Any, ...]) -> Any:
        attempt = 1
        while True:
            try:
                return run_attempt(self.app, name, args, attempt)
            except RetryLater as later:
                self.retries.append((name, args, later.delay))
                attempt += 1


def register(app: Flask) -> None:
    """Install the configured runner. Modules defining jobs are imported before this."""
    kind = app.config.get("JOB_RUNNER") or "inprocess"
    if kind == "manual":
        app.extensions["job_runner"] = ManualRunner(app)
    elif kind == "celery":
        from .queue import CeleryRunner

        app.extensions["job_runner"] = CeleryRunner(app)
    else:
        app.extensions["job_runner"] = InProcessRunner(app)
