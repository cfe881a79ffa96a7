"""Job queue metrics on prometheus_client's default registry (served at ``/metrics``).

- ``portal_job_queue_depth{queue}``: jobs waiting to start (in this process for the
  in-process runner; in Redis for Celery): read when scraped, and written every
  ``JOB_POLL_SECONDS`` by ``jobs.measure_queues`` for the multiprocess mode;
- ``portal_job_queue_latency_seconds{queue}``: from enqueue to the start of the first
  attempt;
- ``portal_job_duration_seconds{job}``: how long an attempt ran;
- ``portal_jobs_finished_total{job,outcome}``: attempts by outcome: ``succeeded``,
  ``retried`` (a retry is scheduled) or ``failed`` (kept in ``job_failures``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from prometheus_client import Counter, Gauge, Histogram

from .registry import QUEUES

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900)
DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
OUTCOMES = ("succeeded", "retried", "failed")

QUEUE_DEPTH = Gauge(
    "portal_job_queue_depth",
    "Jobs waiting to start, per queue.",
    ["queue"],
    multiprocess_mode="livemostrecent",  # Redis's figure, whichever process measured last
)
QUEUE_LATENCY = Histogram(
    "portal_job_queue_latency_seconds",
    "Seconds from enqueue to the start of a job's first attempt, per queue.",
    ["queue"],
    buckets=LATENCY_BUCKETS,
)
DURATION = Histogram(
    "portal_job_duration_seconds",
    "Seconds one attempt of a job ran.",
    ["job"],
    buckets=DURATION_BUCKETS,
)
FINISHED = Counter(
    "portal_jobs_finished",
    "Job attempts finished, by job and outcome (succeeded, retried, failed).",
    ["job", "outcome"],
)


def report_depth(depth: Callable[[str], float]) -> None:
    """Read each queue's depth from ``depth(queue)`` when scraped (the latest runner
    installed in the process reports)."""
    for queue in QUEUES:
        QUEUE_DEPTH.labels(queue).set_function(functools.partial(depth, queue))
