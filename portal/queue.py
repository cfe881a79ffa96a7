"""Jobs on Celery workers over Redis, when ``CELERY_BROKER_URL`` is set.

``create_celery`` turns the job registry into Celery tasks (task name = job name) that
run inside the portal's app context with the job's own retry policy, are acknowledged
only once they finish (a worker lost mid-task hands it back to the broker) and land in
``job_failures`` after their last attempt. ``celery beat`` enqueues the periodic jobs at
the same intervals as the in-process poller.

Workers and beat are started with this module as the Celery app::

    celery -A portal.queue worker --loglevel=INFO
    celery -A portal.queue beat --loglevel=INFO

Importing the module builds nothing: ``celery -A`` asks it for ``app``, and only then is
the portal created from the environment.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from celery import Celery, Task
from celery.signals import worker_process_init
from flask import Flask
from kombu.exceptions import OperationalError

from .config import ConfigError
from .extensions import db
from .jobs import JOBS, Job, RetryLater, periodic_schedule, run_attempt

log = logging.getLogger("portal.queue")


class CeleryRunner:
    """Sends jobs by name through the broker; ``celery beat`` runs the periodic ones."""

    def __init__(self, app: Flask) -> None:
        self.celery = create_celery(app)

    def enqueue(self, name: str, *args: Any) -> None:
        try:
            self.celery.send_task(name, args=list(args))
        except OperationalError as exc:
            # The caller's work is committed already; the periodic sweeps (beat) pick up
            # due runs and failed events once the broker answers again.
            log.error("job %s%r not queued, the broker is unreachable: %s", name, args, exc)

    def start_poller(self) -> None:
        log.info("periodic jobs are scheduled by celery beat, not by this process")


def create_celery(app: Flask) -> Celery:
    """The Celery app of a portal: one task per registered job, and the beat schedule."""
    if "celery" in app.extensions:
        return app.extensions["celery"]
    celery = Celery(app.import_name, broker=app.config["CELERY_BROKER_URL"], set_as_current=False)
    celery.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,  # jobs leave their results in the database
        task_serializer="json",
        accept_content=["json"],
        worker_prefetch_multiplier=1,  # with late acks, hold only the task being run
        broker_connection_retry_on_startup=True,
        timezone="UTC",
        beat_schedule=beat_schedule(app.config),
    )
    celery.conf.update(app.config.get("CELERY") or {})
    for spec in JOBS.values():
        _register_task(celery, app, spec)
    app.extensions["celery"] = celery
    return celery


def beat_schedule(config: Any) -> dict[str, dict[str, Any]]:
    """Celery beat entries for the periodic jobs; one not started within its interval expires
    (the next one is on its way)."""
    return {
        name: {"task": name, "schedule": seconds, "options": {"expires": seconds}}
        for name, seconds in periodic_schedule(config).items()
    }


def _register_task(celery: Celery, app: Flask, spec: Job) -> None:
    def run(task: Task, *args: Any) -> Any:
        try:
            return run_attempt(app, spec.name, args, attempt=task.request.retries + 1)
        except RetryLater as later:
            raise task.retry(countdown=later.delay, exc=later.__cause__) from None

    celery.task(
        run,
        name=spec.name,
        bind=True,
        max_retries=spec.retries,  # acks, results: the app's settings in create_celery
        shared=False,  # this app's tasks only: they run inside this portal's app context
    )


def __getattr__(name: str) -> Celery:
    """``celery -A portal.queue`` looks up ``app``: the worker's portal is built here."""
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return _worker_celery()


@functools.cache
def _worker_celery() -> Celery:
    from . import create_app

    app = create_app()
    runner = app.extensions["job_runner"]
    if not isinstance(runner, CeleryRunner):
        raise ConfigError(
            "CELERY_BROKER_URL is not set: Celery workers and beat need the broker's URL"
        )

    @worker_process_init.connect(weak=False)
    def forget_inherited_connections(**_: Any) -> None:
        # A forked worker process must not share the parent's database connections.
        with app.app_context():
            db.engine.dispose(close=False)

    return runner.celery
