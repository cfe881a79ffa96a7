"""Per request: a request id, and the request counted and timed by its Flask endpoint.

The id comes from an incoming ``X-Request-ID`` when it is a sane token (a proxy or a
load balancer made it), else it is generated; the response carries it back, and every
line logged during the request names it (:mod:`portal.observability.logs`). A request is
counted by endpoint name (``webhooks.meta_event``, never the raw path, whose ids would
make a series per row), method and status; the webhook endpoints' refusals are counted
as deliveries too (``provisioning.metrics`` counts the ones stored).

This sits on the webhook hot path, so it is a WSGI middleware working on the environ, plus
a URL value preprocessor that Flask hands the endpoint to: no request-proxy lookups, no
I/O, and labelled metric children looked up once per label set, then kept.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask
from prometheus_client import Counter, Histogram

from provisioning import metrics as domain_metrics

from .context import CURRENT, RequestRecord, new_id

HEADER = "X-Request-ID"
SANE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}", re.ASCII)
NO_ENDPOINT = "unmatched"  # no route matched: the 404s of scanners share one series
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

HTTP_REQUESTS = Counter(
    "portal_http_requests",
    "HTTP requests answered, by Flask endpoint, method and status code.",
    ("endpoint", "method", "status"),
)
HTTP_REQUEST_SECONDS = Histogram(
    "portal_http_request_duration_seconds",
    "Time the portal took to produce a response (the body may stream after), by endpoint.",
    ("endpoint", "method"),
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

# What a webhook endpoint's refusal means, by status.
REFUSALS = {400: "invalid", 403: "refused", 404: "not_configured", 413: "too_large"}
WEBHOOK_PROVIDERS = ("dialog360", "twilio", "meta")


def webhook_provider(endpoint: str) -> str | None:
    """The provider a ``webhooks.*`` endpoint receives deliveries from."""
    if not endpoint.startswith("webhooks."):
        return None
    return next((p for p in WEBHOOK_PROVIDERS if p in endpoint), "unknown")


_counters: dict[tuple[str, str, str], Any] = {}
_timers: dict[tuple[str, str], Any] = {}


def observe(endpoint: str, method: str, status: int, seconds: float) -> None:
    """Count and time one answered request."""
    key = (endpoint, method, str(status))
    counter = _counters.get(key)
    if counter is None:
        counter = _counters[key] = HTTP_REQUESTS.labels(*key)
    counter.inc()
    timer = _timers.get((endpoint, method))
    if timer is None:
        timer = _timers[endpoint, method] = HTTP_REQUEST_SECONDS.labels(endpoint, method)
    timer.observe(seconds)
    if status >= 300 and method == "POST":
        provider = webhook_provider(endpoint)
        if provider is not None:
            outcome = "error" if status >= 500 else REFUSALS.get(status, "refused")
            domain_metrics.webhook_refused(provider, outcome)


StartResponse = Callable[..., Any]


class ObservedApp:
    """WSGI middleware: the request id in and out, the request counted and timed."""

    def __init__(self, app: Callable[[dict[str, Any], StartResponse], Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        incoming = environ.get("HTTP_X_REQUEST_ID")
        request_id = incoming if incoming and SANE_ID.fullmatch(incoming) else new_id()
        record = RequestRecord(request_id)
        token = CURRENT.set(record)
        status = 500  # unless the app answers: an exception escaped it

        def start(status_line: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
            nonlocal status
            status = int(status_line[:3])
            headers.append((HEADER, request_id))
            return start_response(status_line, headers, *exc_info)

        try:
            return self.app(environ, start)
        finally:
            CURRENT.reset(token)
            method = environ.get("REQUEST_METHOD", "")
            observe(
                record.endpoint or NO_ENDPOINT,
                method if method in METHODS else "other",
                status,
                time.perf_counter() - started,
            )


def note_endpoint(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """Flask hands every matched request's endpoint and URL values here, before any view."""
    record = CURRENT.get()
    if record is not None:
        record.endpoint = endpoint
        company = values.get("company") if values else None
        if isinstance(company, str):
            record.company = company  # the slug in the URL; access checks resolve it


def register(app: Flask) -> None:
    app.url_value_preprocessor(note_endpoint)
    app.wsgi_app = ObservedApp(app.wsgi_app)  # type: ignore[method-assign]
