"""Rate limits per API key (flask-limiter), told in the IETF ``RateLimit`` fields.

Every call with a live key counts against that key's budget, ``API_RATE_LIMIT`` (the
``api`` policy); a read of send credentials counts against ``API_CREDENTIALS_RATE_LIMIT``
too (the ``credentials`` policy). A call without a live key is refused (401) before
anything is counted; pages are never limited. Each counted answer carries
``RateLimit-Policy`` and ``RateLimit`` (draft-ietf-httpapi-ratelimit-headers-11, see
docs/api.md); one over a limit is a 429 problem with ``Retry-After``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, TypeVar

from apispec import BasePlugin
from flask import Flask, Response, current_app, g
from flask_limiter import Limiter, RateLimitExceeded
from flask_smorest.utils import prepare_response

from provisioning.api_keys import Scope

from .problems import MEDIA_TYPE, is_api_request, problem

V = TypeVar("V", bound=Callable[..., Any])
API, CREDENTIALS = "api", "credentials"  # the policies' names in the fields
LIMITS = {API: "API_RATE_LIMIT", CREDENTIALS: "API_CREDENTIALS_RATE_LIMIT"}


def _partition() -> str:
    """The budget a call counts against: its key's (the prefix keeps a reused id apart)."""
    key = g.api_key
    return f"key:{key.id}:{key.prefix}"


# A storage that fails lets calls through (logged): the API stays up without its counts.
limiter = Limiter(_partition, headers_enabled=False, swallow_errors=True, strategy="fixed-window")


def _limit_of(policy: str) -> Callable[[], str]:
    """The policy's limit, read from the config at each call (a setting, or a test's)."""
    return lambda: str(current_app.config[LIMITS[policy]])


def limited(view: V, scope: Scope) -> V:
    """``view`` counted against the budgets of the calling key (``g.api_key``, set before)."""
    counted: Callable[..., Any] = view
    for policy in (API, CREDENTIALS) if scope is Scope.CREDENTIALS else (API,):
        counted = limiter.shared_limit(_limit_of(policy), scope=policy)(counted)
    return counted  # type: ignore[return-value]


def init_app(app: Flask) -> None:
    if str(app.config["RATELIMIT_STORAGE_URI"]).startswith("redis"):
        timeout = app.config["BROKER_TIMEOUT_SECONDS"]
        app.config.setdefault(
            "RATELIMIT_STORAGE_OPTIONS",
            {"socket_timeout": timeout, "socket_connect_timeout": timeout},
        )
    app.config.setdefault("RATELIMIT_KEY_PREFIX", app.config.get("JOB_QUEUE_PREFIX") or "")
    limiter.init_app(app)
    limiter.request_filter(lambda: not is_api_request())  # pages: never counted
    app.after_request(announce)
    app.register_error_handler(RateLimitExceeded, too_many)


def _fields() -> tuple[str, str, int] | None:
    """(RateLimit-Policy, RateLimit, seconds until the breached window ends) of the
    limits this request counted against; None when it counted against none."""
    counted = limiter.current_limits if limiter.enabled else []
    if not counted:
        return None
    now = time.time()
    policies, states, wait = [], [], 0
    for limit in counted:
        name, item = limit.request_args[-1], limit.limit
        reset_at, remaining = limit.window
        reset = min(item.get_expiry(), max(0, math.ceil(reset_at - now)))
        policies.append(f'"{name}";q={item.amount};w={item.get_expiry()}')
        states.append(f'"{name}";r={max(0, remaining)};t={reset}')
        if limit.breached:
            wait = max(wait, reset, 1)
    return ", ".join(policies), ", ".join(states), wait


def announce(response: Response) -> Response:
    """Put the ``RateLimit-Policy`` and ``RateLimit`` fields on an API answer."""
    fields = _fields() if is_api_request() else None
    if fields is not None:
        response.headers["RateLimit-Policy"], response.headers["RateLimit"], _ = fields
    return response


def too_many(exc: RateLimitExceeded) -> Response:
    fields = _fields()
    wait = fields[2] if fields else 60
    return problem(
        429,
        f"This API key made too many calls ({exc.description}): try again in {wait} s.",
        {"Retry-After": str(wait)},
    )


# --- the OpenAPI document -----------------------------------------------------------------

HEADERS = {
    "RateLimit-Policy": {
        "description": 'The key\'s quota policies, e.g. `"api";q=600;w=60` (draft-ietf-'
        "httpapi-ratelimit-headers): q calls per w seconds.",
        "schema": {"type": "string"},
    },
    "RateLimit": {
        "description": 'What is left of each policy, e.g. `"api";r=599;t=42`: r calls '
        "within the next t seconds.",
        "schema": {"type": "string"},
    },
}


class RateLimitDocs(BasePlugin):
    """Documents the limits on every operation: the fields on its answers, and its 429."""

    def operation_helper(self, path: str | None = None, operations: dict | None = None,
                         **kwargs: Any) -> None:  # fmt: skip
        for operation in (operations or {}).values():
            responses = operation.get("responses") if isinstance(operation, dict) else None
            if not isinstance(responses, dict):
                continue
            for code, response in responses.items():
                if isinstance(response, dict) and str(code).startswith("2"):
                    response.setdefault("headers", {}).update({name: name for name in HEADERS})
            responses.setdefault("429", "RATE_LIMITED")


def document(api: Any, problem_schema: Any) -> None:
    """The fields and the 429 answer as components (before any operation names them)."""
    for name, header in HEADERS.items():
        api.spec.components.header(name, header)
    response = {
        "description": "Over a rate limit of the key: wait Retry-After seconds.",
        "schema": problem_schema,
        "headers": {
            "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}},
            **{name: name for name in HEADERS},
        },
    }
    prepare_response(response, api.spec, MEDIA_TYPE)
    api.spec.components.response("RATE_LIMITED", response, lazy=True)
