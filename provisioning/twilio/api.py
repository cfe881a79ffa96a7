"""Twilio calls through the SDK: the one place their failures become typed errors.

Every SDK call runs through :func:`call`. The SDK fails in three ways, all mapped here:

- ``TwilioRestException`` (or the RFC 9457 ``TwilioServiceException``) when a create,
  fetch, update or delete answers non-2xx;
- a bare ``TwilioException`` carrying the response when a *list page* answers non-2xx
  (``twilio.base.page.Page.process_response``), or without one when a page is garbled;
- httpx's ``TransportError`` (timeouts, refused connections, a dropped answer) when
  nothing usable came back.

401/403 and Twilio's credential codes are :class:`AuthError`; 429, 20429 and 5xx are
:class:`Retryable`; no answer is :class:`Unreachable`; anything else is :class:`Rejected`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException

from ..errors import AuthError, ProviderError, Rejected, Retryable, Unreachable
from ..text import ascii_digits

AUTH_CODES = frozenset({20003, 20005, 20008})
THROTTLED = 20429
T = TypeVar("T")


def call(function: Callable[[], T]) -> T:
    """Run an SDK call; its failures come out as the platform's typed errors."""
    try:
        return function()
    except (TwilioException, httpx.TransportError) as exc:
        raise map_twilio_error(exc) from exc


def create_or_find(create: Callable[[], T], find: Callable[[], T | None]) -> T:
    """Create; when Twilio may have acted without our knowing (no answer, 5xx), ``find``
    what the call may have created before failing. A 4xx (429 included) created nothing."""
    try:
        return call(create)
    except ProviderError as exc:
        if exc.http_status and exc.http_status < 500:
            raise
        found = call(find)
        if found is None:
            raise
        return found


def map_twilio_error(exc: Exception) -> ProviderError:
    """Any failure of an SDK call as a typed error (see the module docstring)."""
    if isinstance(exc, httpx.TransportError):
        return Unreachable("twilio", f"no answer: {type(exc).__name__}")
    if isinstance(exc, TwilioRestException):
        return _typed(exc.status, exc.code, exc.msg or str(exc))
    if isinstance(exc, TwilioServiceException):
        return _typed(exc.status, exc.code, exc.detail or exc.title)
    response = exc.args[1] if len(exc.args) > 1 else None
    if response is None or not hasattr(response, "status_code"):
        return Rejected("twilio", f"unexpected answer: {exc}")
    body = _json(response.text)
    retry_after = _seconds((response.headers or {}).get("Retry-After"))
    message = body.get("message") or f"{exc.args[0]} (HTTP {response.status_code})"
    return _typed(response.status_code, body.get("code"), message, retry_after)


def _typed(status: Any, code: Any, message: str, retry_after: float | None = None) -> ProviderError:
    status = int(status or 0)
    number = int(code) if ascii_digits(str(code or ""), 1, 10) else None
    cls: type[ProviderError]
    if status in (401, 403) or number in AUTH_CODES:
        cls = AuthError
    elif status == 429 or status >= 500 or number == THROTTLED:
        cls = Retryable
    else:
        cls = Rejected
    text = None if code is None else str(code)
    return cls("twilio", message, status or None, code=text, retry_after=retry_after)


def _json(text: str) -> dict[str, Any]:
    try:
        body = json.loads(text)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
