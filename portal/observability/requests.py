"""Per request: a request id, and the request counted and timed by its Flask endpoint.

The id comes from an incoming ``X-Request-ID`` when it is a sane token (a proxy or a
load balancer made it), else it is generated; the response carries it back, and every
line logged during the request names it (:mod:`portal.observability.logs`). A request is
counted by endpoint name (``webhooks.meta_event``, never the raw path, whose ids would
make a series per row), method and status; the webhook endpoints' refusals are counted
as deliveries too (``provisioning.metrics`` counts the ones stored).

Per request this is a regular-expression match, a clock read, a few dictionary lookups
and two metric updates: no I/O.
"""

from __future__ import annotations

import re
import time

from flask import Flask, Response, g, request
from prometheus_client import Counter, Histogram

from provisioning import metrics as domain_metrics

from .logs import new_id

HEADER = "X-Request-ID"
SANE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}", re.ASCII)
NO_ENDPOINT = "unmatched"  # no route matched: the 404s of scanners share one series

HTTP_REQUESTS = Counter(
    "portal_http_requests",
    "HTTP requests answered, by Flask endpoint, method and status code.",
    ("endpoint", "method", "status"),
)
HTTP_REQUEST_SECONDS = Histogram(
    "portal_http_request_duration_seconds",
    "Time from the start of a request's handling to its response, by Flask endpoint.",
    ("endpoint", "method"),
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

# Webhook endpoint -> provider, and what a refusal's status means.
WEBHOOK_PROVIDERS = ("dialog360", "twilio", "meta")
REFUSALS = {400: "invalid", 403: "refused", 404: "not_configured", 413: "too_large"}


def webhook_provider(endpoint: str) -> str | None:
    """The provider a ``webhooks.*`` endpoint receives deliveries from."""
    if not endpoint.startswith("webhooks."):
        return None
    return next((p for p in WEBHOOK_PROVIDERS if p in endpoint), "unknown")


def start_request() -> None:
    """Before anything else: the request id, and the clock."""
    incoming = request.headers.get(HEADER)
    request_id = incoming if incoming and SANE_ID.fullmatch(incoming) else new_id()
    context = {"request_id": request_id}
    company = (request.view_args or {}).get("company")
    if isinstance(company, str):
        context["company"] = company  # the slug in the URL; access checks resolve it
    g.log_context = context
    g.request_started = time.perf_counter()


def finish_request(response: Response) -> Response:
    """After everything else: echo the id, count and time the request."""
    context = g.get("log_context")
    if context is None:  # a response made before our first hook ran
        return response
    response.headers[HEADER] = context["request_id"]
    endpoint = request.endpoint or NO_ENDPOINT
    method = request.method if request.method in METHODS else "other"
    status = response.status_code
    HTTP_REQUESTS.labels(endpoint, method, str(status)).inc()
    HTTP_REQUEST_SECONDS.labels(endpoint, method).observe(time.perf_counter() - g.request_started)
    if status >= 300 and method == "POST":
        provider = webhook_provider(endpoint)
        if provider is not None:
            outcome = "error" if status >= 500 else REFUSALS.get(status, "refused")
            domain_metrics.webhook_refused(provider, outcome)
    return response


def register(app: Flask) -> None:
    """Run first before a request and last after it (``after_request`` runs in reverse)."""
    app.before_request_funcs.setdefault(None, []).insert(0, start_request)
    app.after_request_funcs.setdefault(None, []).insert(0, finish_request)
