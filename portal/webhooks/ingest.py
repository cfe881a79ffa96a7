"""The ingest endpoints, and their fast lane in front of Flask.

Each endpoint verifies a delivery with a secret kept per process, stores it with one
INSERT that is the request's one commit (``provisioning.ingest``) and wakes the apply
job. :class:`FastLane` serves these POSTs straight from WSGI, with nothing of the page
machinery (no app context, session cookie, sign-in, CSRF or templates): what a bare
WSGI app does. Anything out of the ordinary (no declared length, a body over the limit,
a NUL) goes on to Flask, whose views answer the same through :func:`answer` and whose
checks refuse the rest as they do for every route.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import parse_qsl

from flask import Flask, current_app
from werkzeug.http import HTTP_STATUS_CODES

from provisioning.dialog360 import webhooks as d360
from provisioning.errors import DomainError
from provisioning.event_store import EngineStore, EventStore, SessionStore
from provisioning.ingest import Unconfigured, Unverified
from provisioning.meta import webhooks as meta_webhooks
from provisioning.twilio import webhooks as twilio_webhooks

from ..extensions import db
from ..input_checks import JSON_NUL
from ..jobs import enqueue, runner_of
from ..observability.requests import note_endpoint
from ..security_headers import stamp

APPLY_PENDING = "webhooks.apply_pending"
Answer = tuple[int, bytes, str]  # status, body, content type
NO_CONTENT: Answer = (204, b"", "text/plain")


@dataclass(frozen=True)
class Delivery:
    """What an ingest endpoint reads from a request."""

    body: bytes
    header: Callable[[str], str | None]
    path: str
    query: str  # the raw query string
    form: Callable[[], dict[str, str]]  # the form parameters (first value of each)

    def arg(self, name: str) -> str:
        return next((v for k, v in parse_qsl(self.query) if k == name), "")


@dataclass(frozen=True)
class Lane:
    """What an endpoint takes from the app: where events go, two settings, the wake-up
    of the apply job (runners coalesce wake-ups)."""

    store: EventStore
    environment: str
    public_base_url: str
    wake: Callable[[], None]

    def woken(self, stored: bool) -> bool:
        if stored:
            self.wake()
        return stored


def request_lane() -> Lane:
    """The lane of the app in context, storing through ``db.session``."""
    config = current_app.config
    return Lane(
        SessionStore(db.session),
        config["PROVIDER_ENVIRONMENT"],
        config["PUBLIC_BASE_URL"],
        partial(enqueue, APPLY_PENDING),
    )


def _public_url(lane: Lane, delivery: Delivery) -> str:
    """The URL Twilio called, rebuilt from the configured public base (proxies rewrite it)."""
    base = lane.public_base_url.rstrip("/")
    return f"{base}{delivery.path}" + (f"?{delivery.query}" if delivery.query else "")


def meta_event(lane: Lane, delivery: Delivery) -> Answer:
    signature = delivery.header("X-Hub-Signature-256")
    lane.woken(meta_webhooks.ingest(lane.store, lane.environment, delivery.body, signature))
    return 200, b"", "text/plain"


def dialog360(lane: Lane, delivery: Delivery, token: str | None = None) -> Answer:
    signature = delivery.header("x-360dialog-signature")
    try:
        stored = d360.ingest(lane.store, lane.environment, delivery.body, signature, token)
    except Unconfigured:
        return 404, b"", "text/plain"
    lane.woken(stored)
    return 200, _json(received=True, duplicate=not stored), "application/json"


def twilio_callback(lane: Lane, delivery: Delivery, kind: str) -> Answer:
    # A JSON body is signed through a non-empty bodySHA256 (as Twilio's validator reads it)
    form = None if delivery.arg("bodySHA256") else delivery.form()
    lane.woken(twilio_webhooks.ingest_callback(
        lane.store, lane.environment, kind, _public_url(lane, delivery), delivery.body, form,
        delivery.header("X-Twilio-Signature"),
    ))  # fmt: skip
    return NO_CONTENT


def twilio_events(lane: Lane, delivery: Delivery, token: str) -> Answer:
    signature = delivery.header("X-Twilio-Signature")
    url = _public_url(lane, delivery)
    lane.woken(twilio_webhooks.ingest_events(lane.store, token, url, delivery.body, signature))
    return 200, b"", "text/plain"


ENDPOINTS: dict[str, Callable[..., Answer]] = {
    "meta_event": meta_event,
    "dialog360": dialog360,
    "twilio_callback": twilio_callback,
    "twilio_events": twilio_events,
}


def answer(endpoint: str, lane: Lane, delivery: Delivery, **path_args: Any) -> Answer:
    """Serve ``endpoint``: refused (403) unless signed with the current secret, 400 for a
    malformed body."""
    try:
        return ENDPOINTS[endpoint](lane, delivery, **path_args)
    except Unverified:
        return 403, b"", "text/plain"
    except DomainError as exc:
        return 400, _json(error=str(exc)), "application/json"


def _json(**values: Any) -> bytes:
    return json.dumps(values).encode()


# The fast lane's routes: the same URLs as the blueprint's ingest views.
ROUTES = (
    (re.compile(r"/webhooks/meta\Z"), "meta_event"),
    (re.compile(r"/webhooks/360dialog(?:/(?P<token>[^/]+))?\Z"), "dialog360"),
    (re.compile(r"/webhooks/twilio/(?P<kind>status|messages)\Z"), "twilio_callback"),
    (re.compile(r"/webhooks/twilio/events/(?P<token>[^/]+)\Z"), "twilio_events"),
)
# The busiest URLs, matched without a regular expression (the same answers as ROUTES).
FIXED_ROUTES: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "/webhooks/meta": ("meta_event", ()),
    "/webhooks/360dialog": ("dialog360", ()),
    "/webhooks/twilio/status": ("twilio_callback", (("kind", "status"),)),
    "/webhooks/twilio/messages": ("twilio_callback", (("kind", "messages"),)),
}
FORM = "application/x-www-form-urlencoded"


class FastLane:
    """WSGI middleware: serves the ingest POSTs without Flask's request machinery and
    hands every other request to ``wsgi_app``.

    With the app's own session it needs no app context: events go through the engine's
    :class:`EngineStore` (a connection held per thread), the answer's headers are built
    once per status and type. A session swapped in for ``db.session`` (the tests bind one
    connection) is honoured: those requests store through it, in an app context."""

    def __init__(self, app: Flask, wsgi_app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        self._app_session = db.session
        self._store: EngineStore | None = None
        self._heads: dict[tuple[int, str], tuple[str, list[tuple[str, str]]]] = {}

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        matched = self._route(environ)
        if matched is None:
            return self.wsgi_app(environ, start_response)
        endpoint, path_args = matched
        delivery = self._delivery(environ)
        note_endpoint(f"webhooks.{endpoint}", path_args)  # request metrics, by endpoint
        if delivery is None:  # anything unusual: Flask checks and serves it
            return self.wsgi_app(environ, start_response)
        if db.session is self._app_session:
            status, body, content_type = answer(endpoint, self._lane(), delivery, **path_args)
        else:
            with self.app.app_context():
                status, body, content_type = answer(endpoint, request_lane(), delivery, **path_args)
        status_line, headers = self._head(status, content_type)
        start_response(status_line, [*headers, ("Content-Length", str(len(body)))])
        return [body]

    def _lane(self) -> Lane:
        if self._store is None:
            with self.app.app_context():
                self._store = EngineStore.of(db.engine)
        config = self.app.config
        return Lane(
            self._store,
            config["PROVIDER_ENVIRONMENT"],
            config["PUBLIC_BASE_URL"],
            partial(runner_of(self.app).enqueue, APPLY_PENDING),  # committed already
        )

    def _head(self, status: int, content_type: str) -> tuple[str, list[tuple[str, str]]]:
        """The status line and headers (security headers included) of an answer."""
        if (head := self._heads.get((status, content_type))) is None:
            headers = {"Content-Type": content_type}
            stamp(headers, self.app.config, None)
            head = f"{status} {HTTP_STATUS_CODES[status]}", list(headers.items())
            self._heads[status, content_type] = head
        return head

    def _route(self, environ: dict[str, Any]) -> tuple[str, dict[str, str]] | None:
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") != "POST" or not path.startswith("/webhooks/"):
            return None
        if (fixed := FIXED_ROUTES.get(path)) is not None:
            return fixed[0], dict(fixed[1])
        for pattern, endpoint in ROUTES:
            if match := pattern.match(path):
                return endpoint, {k: v for k, v in match.groupdict().items() if v is not None}
        return None

    def _delivery(self, environ: dict[str, Any]) -> Delivery | None:
        """The delivery, or None when Flask should see the request: no declared length,
        a body over ``MAX_CONTENT_LENGTH``, a NUL anywhere, text that is not UTF-8."""
        try:
            length = int(environ.get("CONTENT_LENGTH") or "")
            path = environ["PATH_INFO"].encode("latin-1").decode()
            query = environ.get("QUERY_STRING", "").encode("latin-1").decode()
        except (ValueError, UnicodeError):
            return None
        limit = self.app.config["MAX_CONTENT_LENGTH"]
        if length < 0 or (limit is not None and length > limit) or "\x00" in path + query:
            return None
        body = environ["wsgi.input"].read(length)
        content_type = environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower()
        if b"\x00" in body or (
            content_type.endswith("json") and b"\\u0000" in body and JSON_NUL.search(body)
        ):
            return self._replay(environ, body)
        form: dict[str, str] = {}
        if content_type == FORM:
            pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
            if b"%00" in body and any("\x00" in k + v for k, v in pairs):
                return self._replay(environ, body)
            form = dict(reversed(pairs))  # the first value of each, as Flask's to_dict()
        return Delivery(
            body,
            lambda name: environ.get("HTTP_" + name.upper().replace("-", "_")),
            path,
            query,
            lambda: form,
        )

    @staticmethod
    def _replay(environ: dict[str, Any], body: bytes) -> None:
        """Put the body back for Flask, which refuses the NUL with its own message."""
        from io import BytesIO

        environ["wsgi.input"] = BytesIO(body)
        return None


def install(app: Flask) -> None:
    """Put the fast lane in front of the app's WSGI stack."""
    app.wsgi_app = FastLane(app, app.wsgi_app)  # type: ignore[method-assign]
