"""Prometheus metrics of the domain: provider calls, webhook deliveries, quality sync passes.

Every metric lives in ``prometheus_client``'s default registry, named ``portal_...``;
``docs/observability.md`` lists them with their labels. Recording one is a dictionary
lookup and an addition under a lock: no I/O, nothing per call that grows. Labels are
bounded: a provider endpoint is its URL path with every id replaced (``{id}``), and
past :data:`MAX_ENDPOINTS` distinct paths per provider the rest count as ``other``.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import httpx
from prometheus_client import Counter, Gauge, Histogram

from .errors import BlockedDestination, Unreachable

MAX_ENDPOINTS = 200  # distinct endpoint labels per provider; the rest count as "other"

PROVIDER_CALLS = Counter(
    "portal_provider_calls",
    "HTTP requests made to a provider, by templated endpoint and HTTP status or error class.",
    ("provider", "method", "endpoint", "status"),
)
PROVIDER_CALL_SECONDS = Histogram(
    "portal_provider_call_duration_seconds",
    "Time from sending a provider request to having its whole answer (or the error).",
    ("provider", "method", "endpoint"),
    buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
WEBHOOK_DELIVERIES = Counter(
    "portal_webhook_deliveries",
    "Webhook deliveries received, by provider and outcome (stored, duplicate, refused, ...).",
    ("provider", "outcome"),
)
SYNC_PASSES = Counter(
    "portal_sync_passes",
    "Quality sync passes finished, by provider and status (succeeded, partial, failed, skipped).",
    ("provider", "status"),
)
SYNC_PASS_SECONDS = Histogram(
    "portal_sync_pass_duration_seconds",
    "Wall time of one quality sync pass over a provider's fleet.",
    ("provider",),
    buckets=(1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0),
)
SYNC_CHANNELS_CHECKED = Counter(
    "portal_sync_channels_checked",
    "Channels a quality sync pass saw at the provider.",
    ("provider",),
)
SYNC_CHANNELS_CHANGED = Counter(
    "portal_sync_channels_changed",
    "Channels whose quality rating, limit or status a quality sync pass changed.",
    ("provider",),
)
SYNC_CALLS = Counter(
    "portal_sync_provider_calls",
    "Provider requests quality sync passes made (their detail is in portal_provider_calls).",
    ("provider",),
)
SYNC_LAST_SUCCESS = Gauge(
    "portal_sync_last_success_timestamp_seconds",
    "Unix time the last succeeded (or partial) quality sync pass of a provider finished.",
    ("provider",),
    multiprocess_mode="max",
)

# --- provider endpoints -------------------------------------------------------------------

# A path segment kept as it is: a lowercase word (``phone_numbers``), a Twilio resource
# name (``IncomingPhoneNumbers.json``), an API version (``v21.0``) or a dated version
# (``2010-04-01``). Any other segment is an id, a number or a token: ``{id}``.
KEPT_SEGMENT = re.compile(
    r"[a-z][a-z_-]*|(?:[A-Z][a-z]+)+|v\d+(?:\.\d+)?|\d{4}-\d{2}-\d{2}", re.ASCII
)
_endpoints: dict[str, set[str]] = {}
_endpoints_lock = threading.Lock()


@lru_cache(maxsize=4096)
def endpoint_template(path: str) -> str:
    """``path`` (or a URL) with its query dropped and every id segment replaced by ``{id}``:
    ``/123/phone_numbers`` -> ``/{id}/phone_numbers``."""
    path = path.split("?", 1)[0]
    if "://" in path:
        path = httpx.URL(path).path
    segments = []
    for segment in path.split("/"):
        stem, dot, suffix = segment.partition(".json")
        if segment and not KEPT_SEGMENT.fullmatch(stem):
            segment = "{id}" + dot + suffix
        segments.append(segment)
    return "/".join(segments) or "/"


def _bounded(provider: str, endpoint: str) -> str:
    seen = _endpoints.get(provider)
    if seen is not None and endpoint in seen:
        return endpoint
    with _endpoints_lock:
        seen = _endpoints.setdefault(provider, set())
        if endpoint in seen or len(seen) < MAX_ENDPOINTS:
            seen.add(endpoint)
            return endpoint
    return "other"


def failure_status(exc: BaseException) -> str:
    """The ``status`` label of a call that got no HTTP answer."""
    if isinstance(exc, BlockedDestination):
        return "blocked"  # the outbound policy refused the address
    if isinstance(exc, Unreachable):
        return "unreachable"  # the host did not resolve (checked by the guard)
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.ConnectError):
        return "refused"
    if isinstance(exc, httpx.TransportError):
        return "transport_error"
    return "error"


class ProviderCall:
    """One provider request being timed; the caller sets ``status`` from the answer."""

    __slots__ = ("status",)

    def __init__(self) -> None:
        self.status: int | str = "error"


@contextmanager
def provider_call(provider: str, method: str, path: str) -> Iterator[ProviderCall]:
    """Time one provider request and count it by endpoint and status; an exception out
    of the block counts as its error class (:func:`failure_status`) and goes on."""
    call = ProviderCall()
    started = time.perf_counter()
    try:
        yield call
    except BaseException as exc:
        call.status = failure_status(exc)
        raise
    finally:
        endpoint = _bounded(provider, endpoint_template(path))
        method = method.upper()
        PROVIDER_CALL_SECONDS.labels(provider, method, endpoint).observe(
            time.perf_counter() - started
        )
        PROVIDER_CALLS.labels(provider, method, endpoint, str(call.status)).inc()


# --- webhooks and sync passes -------------------------------------------------------------


_deliveries: dict[tuple[str, str], Any] = {}  # labelled children, looked up once


def _count_delivery(provider: str, outcome: str) -> None:
    child = _deliveries.get((provider, outcome))
    if child is None:
        child = _deliveries[provider, outcome] = WEBHOOK_DELIVERIES.labels(provider, outcome)
    child.inc()


def webhook_stored(provider: str, stored: bool) -> None:
    """A verified delivery was stored (``stored``) or was already there (a duplicate)."""
    _count_delivery(provider, "stored" if stored else "duplicate")


def webhook_refused(provider: str, outcome: str) -> None:
    """A delivery answered without storing it (``refused``, ``invalid``, ...)."""
    _count_delivery(provider, outcome)


def sync_pass_finished(
    provider: str, status: str, seconds: float, *, seen: int, changed: int, calls: int
) -> None:
    """Record one finished quality sync pass and what it did."""
    SYNC_PASSES.labels(provider, status).inc()
    if status == "skipped":
        return  # another pass covered the fleet: nothing was timed or checked
    SYNC_PASS_SECONDS.labels(provider).observe(seconds)
    SYNC_CHANNELS_CHECKED.labels(provider).inc(seen)
    SYNC_CHANNELS_CHANGED.labels(provider).inc(changed)
    SYNC_CALLS.labels(provider).inc(calls)
    if status in {"succeeded", "partial"}:
        SYNC_LAST_SUCCESS.labels(provider).set(time.time())
