"""The job layer: work that must not run inside a request (provisioning runs, syncs).

Jobs are named functions that take ids, reload what they need and are idempotent; every
one is listed, with its queue, time limit and retries, in :mod:`portal.jobs.catalog`.
An attempt failing with an error safe to retry (a retryable provider error, a lost
database connection) runs again after an exponential backoff with jitter; after the last
attempt, or on any other error, the failure is kept in ``job_failures`` (the terminal
state; ``flask --app wsgi jobs failures`` lists them).

The database is the source of truth for work to do (a transactional outbox): a request
commits its webhook event or run, then :func:`enqueue` only hands the job to the runner,
never waiting on a broker; the periodic sweeps deliver whatever was not delivered.

A runner decides where jobs run (``JOB_RUNNER``):

- :class:`InProcessRunner` (the default): a small thread pool per queue in the portal
  process, plus a poller that enqueues the periodic jobs (:mod:`.schedule`);
- :class:`portal.jobs.celery_runner.CeleryRunner` (``CELERY_BROKER_URL`` set): Celery
  workers over Redis, with ``celery beat`` scheduling the same periodic jobs;
- :class:`ManualRunner` (tests): records jobs; ``drain()`` runs them when the test says.

Modules: ``registry`` (what a job is), ``catalog`` (every job), ``schedule`` (the
periodic ones), ``runner`` (``enqueue``, one attempt), ``inprocess``, ``manual``,
``celery_runner``, ``metrics``; the jobs themselves in ``provisioning``, ``webhooks``,
``sync``, ``mail`` and ``auth``.
"""

from __future__ import annotations

from flask import Flask

from .catalog import JOBS
from .inprocess import InProcessRunner
from .manual import ManualRunner
from .registry import MAX_BACKOFF_SECONDS, QUEUES, RETRYABLE_ERRORS, Job
from .runner import RetryLater, Runner, enqueue, run_attempt, runner_of
from .schedule import PERIODIC, periodic_schedule
from .webhooks import APPLIERS

__all__ = [
    "APPLIERS", "JOBS", "MAX_BACKOFF_SECONDS", "PERIODIC", "QUEUES", "RETRYABLE_ERRORS",
    "InProcessRunner", "Job", "ManualRunner", "RetryLater", "Runner", "enqueue", "install",
    "periodic_schedule", "run_attempt", "runner_of",
]  # fmt: skip


def install(app: Flask) -> Runner:
    """Install the runner ``JOB_RUNNER`` names (set by the configuration) as the app's."""
    kind = app.config.get("JOB_RUNNER") or "inprocess"
    runner: Runner
    if kind == "manual":
        runner = ManualRunner(app)
    elif kind == "celery":
        from .celery_runner import CeleryRunner  # Celery is an optional dependency

        runner = CeleryRunner(app)
    else:
        runner = InProcessRunner(app)
    app.extensions["job_runner"] = runner
    return runner
