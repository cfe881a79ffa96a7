"""Jobs on Celery workers over Redis, when ``CELERY_BROKER_URL`` is set.

``create_celery`` turns the job registry into Celery tasks (task name = job name), each
routed to its job's queue (``runs``, ``sweeps``, ``webhooks``, ``sync``, behind
``JOB_QUEUE_PREFIX``), run inside the portal's app context with the job's own retry
policy and time limit, acknowledged only once they finish, and kept in ``job_failures``
after their last attempt. ``celery beat`` enqueues the periodic jobs at the same intervals
as the in-process poller.

The process that enqueues never waits on the broker: :class:`CeleryRunner` hands each job
to a publisher thread of its own, which sends it with bounded socket timeouts and
retries. The committed database row (a webhook event, a run) is the job's source of
truth, so a job the broker did not take is delivered by the periodic sweeps.

Workers and beat are started with this module as the Celery app, one worker per group of
queues (README, *Workers and beat*)::

    celery -A portal.queue worker -Q runs,sweeps --loglevel=INFO
    celery -A portal.queue worker -Q webhooks --loglevel=INFO
    celery -A portal.queue worker -Q sync --loglevel=INFO
    celery -A portal.queue beat --loglevel=INFO

Importing the module builds nothing: ``celery -A`` asks it for ``app``, and only then is
the portal created from the environment.
"""

from __future__ import annotations

import functools
import logging
import os
import queue
import threading
from collections.abc import Mapping
from typing import Any

from celery import Celery, Task
from celery.signals import worker_process_init
from flask import Flask
from kombu import Exchange, Queue

from .config import ConfigError
from .extensions import db
from .jobs import JOBS, QUEUES, Job, RetryLater, periodic_schedule, run_attempt

log = logging.getLogger("portal.queue")

OUTBOX_SIZE = 10_000  # jobs waiting for the broker in one process; beyond, the sweeps deliver
PUBLISH_RETRIES = 2  # after the first try, within the broker's socket timeouts
HARD_LIMIT_GRACE = 30.0  # seconds between a job's soft time limit and its hard one
VISIBILITY_MARGIN = 300.0  # seconds the broker waits beyond the longest hard limit


class CeleryRunner:
    """Sends jobs by name to their queues from a publisher thread; ``celery beat`` runs
    the periodic ones."""

    def __init__(self, app: Flask) -> None:
        self.celery = create_celery(app)
        self._lock = threading.Lock()
        self._outbox: queue.Queue[tuple[str, tuple[Any, ...]]] | None = None
        self._pid: int | None = None
        self._waiting: set[tuple[str, tuple[Any, ...]]] = set()  # handed over, not yet sent

    def enqueue(self, name: str, *args: Any) -> None:
        """Hand the job to the publisher and return at once (the caller has committed).
        The same job still waiting for the publisher is not handed over twice."""
        outbox = self._publisher()
        with self._lock:
            if (name, args) in self._waiting:
                return
            self._waiting.add((name, args))
        try:
            outbox.put_nowait((name, args))
        except queue.Full:
            self._waiting.discard((name, args))
            log.error(
                "job %s%r not queued: %d jobs already wait for the broker; the sweeps "
                "deliver it", name, args, OUTBOX_SIZE,
            )  # fmt: skip

    def pending(self) -> int:
        """Jobs handed over in this process and not yet sent (or given up)."""
        return self._outbox.unfinished_tasks if self._outbox is not None else 0

    def publish(self, name: str, args: tuple[Any, ...]) -> bool:
        """Send one job, bounded by the broker's socket timeouts and ``PUBLISH_RETRIES``;
        False (logged) when the broker did not take it."""
        try:
            self.celery.send_task(
                name, args=list(args), retry=True,
                retry_policy={"max_retries": PUBLISH_RETRIES, "interval_start": 0,
                              "interval_step": 0.5, "interval_max": 1},
            )  # fmt: skip
        except Exception as exc:  # kombu, redis-py and socket errors alike
            log.error(
                "job %s%r not queued, the broker did not take it (%s); the sweeps deliver it",
                name, args, type(exc).__name__,
            )  # fmt: skip
            return False
        return True

    def _publisher(self) -> queue.Queue[tuple[str, tuple[Any, ...]]]:
        with self._lock:
            if self._pid != os.getpid():  # first use, or a forked process: a thread of its own
                self._outbox = queue.Queue(OUTBOX_SIZE)
                self._waiting = set()
                self._pid = os.getpid()
                threading.Thread(
                    target=self._publish_forever, args=(self._outbox,),
                    name="job-publisher", daemon=True,
                ).start()  # fmt: skip
            assert self._outbox is not None
            return self._outbox

    def _publish_forever(self, outbox: queue.Queue[tuple[str, tuple[Any, ...]]]) -> None:
        while True:
            name, args = outbox.get()
            with self._lock:  # from now on, the same job handed over is sent again
                self._waiting.discard((name, args))
            try:
                self.publish(name, args)
            finally:
                outbox.task_done()

    def start_poller(self) -> None:
        log.info("periodic jobs are scheduled by celery beat, not by this process")


def queue_names(config: Mapping[str, Any]) -> dict[str, str]:
    """Job queue -> the broker's queue name (``JOB_QUEUE_PREFIX`` in front)."""
    prefix = config.get("JOB_QUEUE_PREFIX") or ""
    return {name: f"{prefix}{name}" for name in QUEUES}


def visibility_timeout() -> float:
    """How long Redis keeps a task a worker took before handing it to another worker:
    beyond the longest hard time limit, so a running task is never handed out twice."""
    return max(spec.time_limit for spec in JOBS.values()) + HARD_LIMIT_GRACE + VISIBILITY_MARGIN


def create_celery(app: Flask) -> Celery:
    """The Celery app of a portal: one task per registered job, and the beat schedule."""
    if "celery" in app.extensions:
        return app.extensions["celery"]
    config = app.config
    celery = Celery(app.import_name, broker=config["CELERY_BROKER_URL"], set_as_current=False)
    names = queue_names(config)
    timeout = config["BROKER_TIMEOUT_SECONDS"]
    celery.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,  # jobs leave their results in the database
        task_serializer="json",
        accept_content=["json"],
        worker_prefetch_multiplier=1,  # with late acks, hold only the task being run
        # A task redelivered after a broker loss may meet its first copy still running:
        # jobs are idempotent and runs leased, while cancelling would cut a provider call.
        worker_cancel_long_running_tasks_on_connection_loss=False,
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "socket_timeout": timeout,  # a stalled Redis answers nothing: give up, retry
            "socket_connect_timeout": timeout,
            "visibility_timeout": visibility_timeout(),
        },
        # a worker started without -Q serves every queue; one with -Q only those
        task_queues=[Queue(name, Exchange(name), routing_key=name) for name in names.values()],
        task_routes={spec.name: {"queue": names[spec.queue]} for spec in JOBS.values()},
        task_default_queue=names["runs"],
        timezone="UTC",
        beat_schedule=beat_schedule(config),
    )
    celery.conf.update(config.get("CELERY") or {})
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
        soft_time_limit=spec.time_limit,  # raised in the job: kept in job_failures
        time_limit=spec.time_limit + HARD_LIMIT_GRACE,
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
