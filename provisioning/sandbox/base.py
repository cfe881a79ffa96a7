"""What every provider simulator shares: routing, JSON responses, ids, webhooks out."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

if TYPE_CHECKING:
    from .clock import SimClock
    from .core import Sandbox


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":"), ensure_ascii=False),
        status=status,
        headers=headers,
        content_type="application/json",
    )


class Simulator:
    """Base class of one provider's simulator.

    Subclasses set ``name`` (also the URL prefix: ``/{name}/...``), declare ``rules``
    (werkzeug ``Rule`` objects whose endpoint is a method name), answer faults in the
    provider's own envelope, and expose ``control`` actions for tests and the demo.
    """

    name = "provider"
    rules: list[Rule] = []

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        # Fresh copies: a werkzeug Rule binds to one Map, and tests run many sandboxes.
        self.url_map = Map(
            [r.empty() for r in self.rules], strict_slashes=False, merge_slashes=False
        )

    # -- what the Sandbox calls -------------------------------------------------------
    def __call__(self, environ: dict, start_response: Callable) -> Any:
        request = Request(environ)
        adapter = self.url_map.bind_to_environ(environ)
        try:
            endpoint, args = adapter.match()
            response = getattr(self, endpoint)(request, **args)
        except HTTPException as exc:
            response = self.http_error(request, exc)
        return response(environ, start_response)

    def http_error(self, request: Request, exc: HTTPException) -> Response:
        """An unknown route or method, in the provider's error envelope."""
        return json_response({"error": exc.description}, exc.code or 500)

    def fault_response(self, kind: str) -> Response:
        """The provider's answer to a ``throttle`` or ``server_error`` fault."""
        status = 429 if kind == "throttle" else 503
        return json_response({"error": kind}, status)

    def control(self, action: str, params: dict[str, Any]) -> Any:
        """Run a control action (``control_<action>`` method) and return a JSON-able result."""
        handler = getattr(self, f"control_{action}", None)
        if handler is None:
            raise NotFound(f"{self.name} has no control action {action!r}")
        return handler(**params)

    def tick(self) -> None:
        """Called when the clock moves: fire whatever became due (status changes...)."""

    def describe(self) -> dict[str, Any]:
        """A JSON-able summary of the simulator's state for the demo's sandbox page."""
        return {}

    # -- helpers for subclasses --------------------------------------------------------
    @property
    def clock(self) -> SimClock:
        return self.sandbox.clock

    def base_url(self, host_alias: str) -> str:
        """The public base URL of one of this provider's hosts, e.g. ``graph``."""
        return f"{self.sandbox.base_url}/{self.name}/{host_alias}"
