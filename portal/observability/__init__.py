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


def register(app: Flask) -> None:
    """Request ids, request metrics, and ``GET /metrics``."""
    requests.register(app)
    app.register_blueprint(bp)
