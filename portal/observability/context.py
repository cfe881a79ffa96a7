"""The request being handled, as logging and metrics see it (no Flask proxies needed)."""

from __future__ import annotations

import os
from contextvars import ContextVar


def new_id() -> str:
    """A fresh request or job id: 32 hex digits."""
    return os.urandom(16).hex()


class RequestRecord:
    """What is known of the request being handled: set by the WSGI middleware, completed
    when Flask matches the route (:mod:`portal.observability.requests`)."""

    __slots__ = ("company", "endpoint", "request_id")

    def __init__(self, request_id: str) -> None:
        self.request_id = request_id
        self.endpoint: str | None = None
        self.company: str | None = None  # the company slug in the URL


CURRENT: ContextVar[RequestRecord | None] = ContextVar("portal_request", default=None)
