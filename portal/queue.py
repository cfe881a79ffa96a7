"""The Celery app of the workers and of beat: ``celery -A portal.queue worker|beat``.

One worker per group of queues (docs/workers.md)::

    celery -A portal.queue worker -Q runs,sweeps --loglevel=INFO
    celery -A portal.queue worker -Q webhooks --loglevel=INFO
    celery -A portal.queue worker -Q sync --loglevel=INFO
    celery -A portal.queue beat --loglevel=INFO

Importing the module builds nothing: ``celery -A`` asks it for ``app``, and only then is
the portal created from the environment. The machinery is ``portal.jobs.celery_runner``.
"""

from __future__ import annotations

import functools
from typing import Any

from celery import Celery
from celery.signals import worker_process_init

from .config import ConfigError
from .extensions import db


def __getattr__(name: str) -> Celery:
    """``celery -A portal.queue`` looks up ``app``: the worker's portal is built here."""
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return _worker_celery()


@functools.cache
def _worker_celery() -> Celery:
    from . import create_app
    from .jobs.celery_runner import CeleryRunner

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
