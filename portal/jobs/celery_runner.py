"""Jobs on Celery workers over Redis, when ``CELERY_BROKER_URL`` is set.

``create_celery`` turns the job catalog into Celery tasks (task name = job name), each
routed to its job's queue (``runs``, ``sweeps``, ``webhooks``, ``sync``, behind
``JOB_QUEUE_PREFIX``), run inside the portal's app context with the job's own retry
policy and time limit, acknowledged only once they finish, and kept in ``job_failures``
after their last attempt. ``celery beat`` enqueues the periodic jobs at the same intervals
as the in-process poller.

The process that enqueues never waits on the broker: :class:`CeleryRunner` hands each job
to a publisher thread of its own, which sends it with bounded socket timeouts and
retries. The committed database row (a webhook event, a run) is the job's source of
truth, so a job the broker did not take is delivered by the periodic sweeps.

Workers and beat run ``portal.queue`` as their Celery app (docs/workers.md).
"""

from __future__ import annotations

import logging
import math
import os
import queue
import threading
import time
from collections.abc import Mapping
from typing import Any

import redis
from celery import Celery, Task
from flask import Flask
from kombu import Exchange, Queue

from . import metrics
from .catalog import JOBS
from .registry import QUEUES, Job
from .runner import RetryLater, run_attempt
from .schedule import periodic_schedule

log = logging.getLogger("portal.queue")

OUTBOX_SIZE = 10_000  # jobs waiting for the broker in one process; beyond, the sweeps deliver
PUBLISH_RETRIES = 2  # after the first try, within the broker's socket timeouts
HARD_LIMIT_GRACE = 30.0  # seconds between a job's soft time limit and its hard one
VISIBILITY_MARGIN = 300.0  # seconds the broker waits beyond the longest hard limit
ENQUEUED_AT = "portal_enqueued_at"  # message header: time.time() when the job was enqueued

Outbox = queue.Queue[tuple[str, tuple[Any, ...], float]]


class CeleryRunner:
    """Sends jobs by name to their queues from a publisher thread; ``celery beat`` runs
    the periodic ones."""

    def __init__(self, app: Flask, jobs: Mapping[str, Job] | None = None) -> None:
        self.jobs = JOBS if jobs is None else jobs
        self.celery = create_celery(app, self.jobs)
        self.queue_names = queue_names(app.config)
        self.broker_url: str = app.config["CELERY_BROKER_URL"]
        self.broker_timeout: float = app.config["BROKER_TIMEOUT_SECONDS"]
        self._lock = threading.Condition()
        self._outbox: Outbox | None = None
        self._pid: int | None = None
        self._unsent = 0
        self._waiting: set[tuple[str, tuple[Any, ...]]] = set()  # handed over, not yet sent
        self._redis: redis.Redis | None = None
        metrics.report_depth(self.depth)

    def enqueue(self, name: str, *args: Any) -> None:
        """Hand the job to the publisher and return at once (the caller has committed).
        The same job still waiting for the publisher is not handed over twice (a burst of
        wake-ups is one job)."""
        outbox = self._publisher()
        with self._lock:
            if (name, args) in self._waiting:
                return
            self._waiting.add((name, args))
            self._unsent += 1
        try:
            outbox.put_nowait((name, args, time.time()))
        except queue.Full:
            with self._lock:
                self._waiting.discard((name, args))
            self._sent()
            log.error(
                "job %s%r not queued: %d jobs already wait for the broker; the sweeps "
                "deliver it", name, args, OUTBOX_SIZE,
            )  # fmt: skip

    def pending(self) -> int:
        """Jobs handed over in this process and not yet sent (or given up)."""
        with self._lock:
            return self._unsent

    def wait_sent(self, timeout: float) -> bool:
        """Block until every job handed over was sent or given up; False after ``timeout``."""
        with self._lock:
            return self._lock.wait_for(lambda: self._unsent == 0, timeout)

    def publish(self, name: str, args: tuple[Any, ...], enqueued_at: float | None = None) -> bool:
        """Send one job, bounded by the broker's socket timeouts and ``PUBLISH_RETRIES``;
        False (logged) when the broker did not take it."""
        try:
            self.celery.send_task(
                name, args=list(args), retry=True,
                headers={ENQUEUED_AT: enqueued_at or time.time()},
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

    def depth(self, queue_name: str) -> float:
        """Messages waiting in Redis for ``queue_name`` (NaN when Redis does not answer)."""
        try:
            if self._redis is None:
                self._redis = redis.Redis.from_url(
                    self.broker_url,
                    socket_timeout=self.broker_timeout,
                    socket_connect_timeout=self.broker_timeout,
                )
            return float(self._redis.llen(self.queue_names[queue_name]))
        except (redis.RedisError, OSError):
            return math.nan

    def _publisher(self) -> Outbox:
        with self._lock:
            if self._pid != os.getpid():  # first use, or a forked process: a thread of its own
                self._outbox = queue.Queue(OUTBOX_SIZE)
                self._pid, self._unsent, self._waiting = os.getpid(), 0, set()
                threading.Thread(
                    target=self._publish_forever, args=(self._outbox,),
                    name="job-publisher", daemon=True,
                ).start()  # fmt: skip
            assert self._outbox is not None
            return self._outbox

    def _publish_forever(self, outbox: Outbox) -> None:
        while True:
            name, args, enqueued_at = outbox.get()
            with self._lock:  # from now on, the same job handed over is sent again
                self._waiting.discard((name, args))
            try:
                self.publish(name, args, enqueued_at)
            finally:
                self._sent()

    def _sent(self) -> None:
        with self._lock:
            self._unsent -= 1
            self._lock.notify_all()

    def start_poller(self) -> None:
        log.info("periodic jobs are scheduled by celery beat, not by this process")


def queue_names(config: Mapping[str, Any]) -> dict[str, str]:
    """Job queue -> the broker's queue name (``JOB_QUEUE_PREFIX`` in front)."""
    prefix = config.get("JOB_QUEUE_PREFIX") or ""
    return {name: f"{prefix}{name}" for name in QUEUES}


def visibility_timeout(jobs: Mapping[str, Job]) -> float:
    """How long Redis keeps a task a worker took before handing it to another worker:
    beyond the longest hard time limit, so a running task is never handed out twice."""
    return max(spec.time_limit for spec in jobs.values()) + HARD_LIMIT_GRACE + VISIBILITY_MARGIN


def create_celery(app: Flask, jobs: Mapping[str, Job] | None = None) -> Celery:
    """The Celery app of a portal: one task per job of the catalog, and the beat schedule."""
    if "celery" in app.extensions:
        celery: Celery = app.extensions["celery"]
        return celery
    jobs = JOBS if jobs is None else jobs
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
            "visibility_timeout": visibility_timeout(jobs),
        },
        # a worker started without -Q serves every queue; one with -Q only those
        task_queues=[Queue(name, Exchange(name), routing_key=name) for name in names.values()],
        task_routes={spec.name: {"queue": names[spec.queue]} for spec in jobs.values()},
        task_default_queue=names["runs"],
        timezone="UTC",
        beat_schedule=beat_schedule(config),
    )
    celery.conf.update(config.get("CELERY") or {})
    for spec in jobs.values():
        _register_task(celery, app, spec)
    app.extensions["celery"] = celery
    return celery


def beat_schedule(config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Celery beat entries for the periodic jobs; one not started within its interval expires
    (the next one is on its way)."""
    return {
        name: {"task": name, "schedule": seconds, "options": {"expires": seconds}}
        for name, seconds in periodic_schedule(config).items()
    }


def _register_task(celery: Celery, app: Flask, spec: Job) -> None:
    def run(task: Task, *args: Any) -> Any:
        attempt = task.request.retries + 1
        enqueued_at = _header(task, ENQUEUED_AT)
        try:
            return run_attempt(app, spec, args, attempt, enqueued_at)
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


def _header(task: Task, name: str) -> float | None:
    """A message header of ours (Celery puts custom headers on the request)."""
    value = getattr(task.request, name, None)
    if value is None:
        value = (getattr(task.request, "headers", None) or {}).get(name)
    return float(value) if isinstance(value, int | float) else None
