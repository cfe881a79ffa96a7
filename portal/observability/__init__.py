"""Observability: structured logs with request and job context, Prometheus metrics.

``docs/observability.md`` describes the log fields and every metric. The domain's own
metrics (provider calls, webhook deliveries, sync passes) live in ``provisioning.metrics``.
"""

from __future__ import annotations

from flask import Flask

from . import logs, requests
from .endpoint import bp
from .logs import job_context

__all__ = ["job_context", "register", "register_logging"]


def register_logging(app: Flask) -> None:
    """Structured logs at ``LOG_LEVEL`` in ``LOG_FORMAT`` (json or console)."""
    logs.configure(app.config["LOG_LEVEL"], app.config["LOG_FORMAT"])
    if app.config.get("JOB_RUNNER") == "celery":
        from celery.signals import setup_logging

        # A receiver of this signal stops Celery from replacing the root handler with
        # its own: worker and task lines stay structured.
        setup_logging.connect(_keep_portal_logging, weak=False, dispatch_uid=__name__)


def _keep_portal_logging(**_: object) -> None:
    """The portal configured logging already (``create_app`` runs first in a worker)."""


def register(app: Flask) -> None:
    """Request ids, request metrics, and ``GET /metrics``."""
    requests.register(app)
    app.register_blueprint(bp)
