"""The job layer: work that must not run inside a request (provisioning runs, syncs).

Jobs are named functions that take ids, reload what they need and are idempotent. A
runner decides where they run:

- :class:`InProcessRunner` (the default): a small thread pool in the portal process, plus
  a poller that picks up unfinished and due runs, so runs survive a restart.
- :class:`ManualRunner` (tests): records jobs; ``drain()`` runs them when the test says.

Celery backs the same interface in the fleet-health work (``CELERY_BROKER_URL``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flask import Flask, current_app

from provisioning import runs

from .extensions import db

log = logging.getLogger("portal.jobs")
JOBS: dict[str, Callable[..., Any]] = {}


def job(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def register(function: Callable[..., Any]) -> Callable[..., Any]:
        JOBS[name] = function
        return function

    return register


@job("provisioning.execute_run")
def execute_run(run_id: int) -> runs.RunStatus:
    """Run or resume one provisioning run (steps commit one by one)."""
    from .providers import provisioning_services

    return runs.execute(db.session, run_id, db.session.commit, provisioning_services())


@job("provisioning.resume_due_runs")
def resume_due_runs() -> int:
    """Enqueue every unfinished run whose time has come (after a restart, or a wait)."""
    ids = runs.due_runs(db.session)
    for run_id in ids:
        enqueue("provisioning.execute_run", run_id)
    return len(ids)


def _apply_stored_event(event_id: int, apply: Callable[[Any, Any], list[int]]) -> list[int]:
    """Apply a stored webhook event once; resume the runs it makes due."""
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
        raise
    mark_processed(event)
    db.session.commit()
    for run_id in due:
        enqueue("provisioning.execute_run", run_id)
    return due


@job("webhooks.apply_dialog360")
def apply_dialog360_event(event_id: int) -> list[int]:
    from provisioning.dialog360.webhooks import apply

    return _apply_stored_event(event_id, apply)


APPLIERS = {
    "meta": "webhooks.apply_meta",
    "dialog360": "webhooks.apply_dialog360",
    "twilio": "webhooks.apply_twilio_events",
}


@job("webhooks.retry_failed")
def retry_failed_events() -> int:
    """Queue stored events whose application failed and whose backoff has passed."""
    from provisioning.events import WebhookEvent, due_retries

    ids = due_retries(db.session)
    for event_id in ids:
        event = db.session.get(WebhookEvent, event_id)
        enqueue(APPLIERS[event.provider.value], event_id)
    return len(ids)


@job("webhooks.apply_meta")
def apply_meta_event(event_id: int) -> list[int]:
    from provisioning.meta.webhooks import apply

    return _apply_stored_event(event_id, apply)


@job("webhooks.apply_twilio_events")
def apply_twilio_events(event_id: int) -> list[int]:
    from provisioning.twilio.webhooks import apply_event

    return _apply_stored_event(event_id, apply_event)


PERIODIC = ("provisioning.resume_due_runs", "webhooks.retry_failed")


def enqueue(name: str, *args: Any) -> None:
    """Queue a job on the app's runner (after the caller's commit)."""
    if name not in JOBS:
        raise KeyError(f"unknown job {name!r}")
    current_app.extensions["job_runner"].enqueue(name, *args)


def _run_in_context(app: Flask, name: str, args: tuple[Any, ...]) -> Any:
    with app.app_context():
        try:
            return JOBS[name](*args)
        except Exception:
            db.session.rollback()
            log.exception("job %s%r failed", name, args)
            raise
        finally:
            db.session.remove()


class InProcessRunner:
    """Threads in this process; a poller resumes unfinished runs every ``poll_seconds``."""

    def __init__(self, app: Flask, workers: int = 2, poll_seconds: float = 5.0) -> None:
        self.app = app
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="job")
        self.poll_seconds = poll_seconds
        self._running: set[tuple[str, tuple[Any, ...]]] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()

    @classmethod
    def install(cls, app: Flask, workers: int = 2, poll_seconds: float = 5.0) -> InProcessRunner:
        """Make a runner the app's runner: jobs enqueued by jobs land on it too."""
        runner = cls(app, workers, poll_seconds)
        app.extensions["job_runner"] = runner
        return runner

    def enqueue(self, name: str, *args: Any) -> None:
        key = (name, args)
        with self._lock:
            if key in self._running:
                return  # the same job is queued or running: it will see the latest state
            self._running.add(key)
        self.pool.submit(self._run, key)

    def _run(self, key: tuple[str, tuple[Any, ...]]) -> None:
        try:
            _run_in_context(self.app, *key)
        except Exception:  # noqa: S110 (logged in _run_in_context; the poller resumes the run)
            pass
        finally:
            with self._lock:
                self._running.discard(key)

    def start_poller(self) -> None:
        def poll() -> None:
            while not self._stop.wait(self.poll_seconds):
                for name in PERIODIC:
                    self.enqueue(name)

        for name in PERIODIC:
            self.enqueue(name)
        threading.Thread(target=poll, name="job-poller", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        self.pool.shutdown(wait=True)


class ManualRunner:
    """For tests: jobs wait in a list until ``drain()`` runs them, in order."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.queue: list[tuple[str, tuple[Any, ...]]] = []

    def enqueue(self, name: str, *args: Any) -> None:
        self.queue.append((name, args))

    def drain(self) -> list[Any]:
        results = []
        while self.queue:
            name, args = self.queue.pop(0)
            results.append(_run_in_context(self.app, name, args))
        return results


def register(app: Flask) -> None:
    runner = app.config.get("JOB_RUNNER") or "inprocess"
    if runner == "manual":
        app.extensions["job_runner"] = ManualRunner(app)
    else:
        app.extensions["job_runner"] = InProcessRunner(app)
