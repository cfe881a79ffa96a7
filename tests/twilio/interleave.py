"""A transport that runs something just before a given request goes out (tests only)."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx


class Interleave(httpx.BaseTransport):
    """Runs ``during`` once, just before the first request matching ``method`` and ``path``.

    It interleaves another request (a second click) or a new fault with the request in
    flight deterministically, without threads.
    """

    def __init__(self, inner: httpx.BaseTransport, method: str, path: str, during: Callable):
        self.inner, self.method, self.path, self.during = inner, method, re.compile(path), during

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.during and request.method == self.method and self.path.search(request.url.path):
            during, self.during = self.during, None
            during()
        return self.inner.handle_request(request)
