"""The queue depth, written down where every process's metrics meet.

With ``PROMETHEUS_MULTIPROC_DIR`` (several gunicorn workers, and Celery workers on the
portal's host), ``/metrics`` reads the values processes wrote to that directory, not
live functions: this periodic job writes each queue's depth as its runner sees it (Redis
under Celery). Without it, ``/metrics`` reads the depth live when scraped.
"""

from __future__ import annotations

from flask import current_app

from . import metrics
from .registry import QUEUES
from .runner import runner_of


def measure_queues() -> dict[str, float]:
    """Record and return the number of jobs waiting in each queue."""
    runner = runner_of(current_app)
    depths = {queue: float(runner.depth(queue)) for queue in QUEUES}
    for queue, depth in depths.items():
        metrics.QUEUE_DEPTH.labels(queue).set(depth)
    return depths
