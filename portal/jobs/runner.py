"""What every runner shares: ``enqueue`` on the app's runner, and one attempt of a job.

An attempt runs in an app context. A retryable error with attempts left raises
:class:`RetryLater` (the runner schedules the retry); the last failure, or any other
error, is kept in ``job_failures`` (the terminal state) and re-raised.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from functools import partial
from typing import Any, Protocol, cast

from flask import Flask, current_app, has_request_context
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, scoped_session

from provisioning import job_failures

from ..boundary import after_commit
from ..extensions import db
from ..observability.logs import job_context
from . import metrics
from .registry import Job

log = logging.getLogger("portal.jobs")

JobKey = tuple[str, tuple[Any, ...]]


class Runner(Protocol):
    """Where jobs run: in-process threads, Celery workers, or a test's hands."""

    jobs: Mapping[str, Job]

    def enqueue(self, name: str, *args: Any) -> None: ...

    def depth(self, queue: str) -> float: ...

    def start_poller(self) -> None: ...


def runner_of(app: Flask) -> Runner:
    """The app's runner (installed by ``portal.jobs.install``)."""
    runner: Runner = app.extensions["job_runner"]
    return runner


def enqueue(name: str, *args: Any) -> None:
    """Queue a job on the app's runner; in a request, once the request's transaction is
    committed (the job reads what the request wrote). Arguments are ids, JSON alike."""
    runner = runner_of(current_app)
    if name not in runner.jobs:
        raise KeyError(f"unknown job {name!r}")
    if has_request_context():
        after_commit(partial(runner.enqueue, name, *args))
    else:
        runner.enqueue(name, *args)


class RetryLater(Exception):
    """An attempt failed with a retryable error and attempts remain: run again after ``delay``."""

    def __init__(self, delay: float) -> None:
        super().__init__(f"retry in {delay:.1f}s")
        self.delay = delay


def run_attempt(
    app: Flask,
    spec: Job,
    args: tuple[Any, ...],
    attempt: int = 1,
    enqueued_at: float | None = None,
) -> Any:
    """Run one attempt of a job in an app context and return its result.

    ``enqueued_at`` (``time.time()`` at enqueue) measures the queue's latency on a first
    attempt. Raises :class:`RetryLater` (from the error) when the job may be retried;
    otherwise a failure is recorded in ``job_failures`` and re-raised.
    """
    started = time.time()
    if attempt == 1 and enqueued_at is not None:
        metrics.QUEUE_LATENCY.labels(spec.queue).observe(max(0.0, started - enqueued_at))
    outcome = "failed"
    with app.app_context(), job_context(spec.name, attempt):
        try:
            result = spec(*args)
            outcome = "succeeded"
            return result
        except Exception as exc:
            db.session.rollback()
            delay = spec.retry_delay(attempt, exc)
            if delay is not None:
                outcome = "retried"
                log.warning(
                    "job %s%r attempt %d failed (%s); retrying in %.1fs",
                    spec.name, args, attempt, type(exc).__name__, delay,
                )  # fmt: skip
                raise RetryLater(delay) from exc
            log.exception("job %s%r failed for good after %d attempt(s)", spec.name, args, attempt)
            _record_failure(spec.name, args, attempt, exc)
            raise
        finally:
            cast("scoped_session[Session]", db.session).remove()  # the thread's session
            metrics.DURATION.labels(spec.name).observe(time.time() - started)
            metrics.FINISHED.labels(spec.name, outcome).inc()


def _record_failure(name: str, args: tuple[Any, ...], attempts: int, exc: Exception) -> None:
    try:
        job_failures.record(db.session, name, args, attempts, exc)
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        log.exception("job %s%r: its failure could not be recorded", name, args)
