"""The sandbox: the three provider simulators behind one WSGI app.

URL layout (``base_url`` is ``http://sandbox.test`` in process, the demo server's
address otherwise): ``{base_url}/{provider}/{host alias}/...`` stands for one of the
provider's real hosts, so production code only ever swaps base URLs:

=====================================  ======================================
sandbox base URL                        stands for
=====================================  ======================================
``/meta/graph``                         ``https://graph.facebook.com``
``/meta/www``                           ``https://www.facebook.com`` (dialog, popup)
``/meta/connect``                       ``https://connect.facebook.net`` (``sdk.js``)
``/dialog360/hub``                      ``https://hub.360dialog.io`` (Partner API)
``/dialog360/hub-ui``                   ``https://hub.360dialog.com`` (permissions page)
``/dialog360/waba``                     ``https://waba-v2.360dialog.io``
``/twilio/api``                         ``https://api.twilio.com``
``/twilio/messaging``                   ``https://messaging.twilio.com``
``/twilio/trusthub``                    ``https://trusthub.twilio.com``
``/twilio/events``                      ``https://events.twilio.com``
``/twilio/content``                     ``https://content.twilio.com``
``/twilio/numbers``                     ``https://numbers.twilio.com``
``/twilio/numbers-upload``              ``https://numbers-upload.twilio.com``
``/_sandbox/...``                       the control API (JSON)
=====================================  ======================================
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Callable, Iterable
from dataclasses import asdict, fields
from typing import TYPE_CHECKING, Any

import httpx
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

from .base import Simulator, json_response
from .clock import SimClock
from .faults import FaultPlan
from .locking import SandboxLock
from .outbound import Outbound

if TYPE_CHECKING:
    from .dialog360 import Dialog360Simulator
    from .meta import MetaSimulator
    from .twilio import TwilioSimulator

IN_PROCESS_BASE_URL = "http://sandbox.test"


class IdFactory:
    """Provider-shaped identifiers from a seeded generator (same seed, same ids)."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)  # noqa: S311 (deterministic fixtures, not secrets)

    def digits(self, n: int = 15) -> str:
        return str(self._rng.randint(1, 9)) + "".join(self._rng.choices(string.digits, k=n - 1))

    def hex(self, n: int = 32) -> str:
        return "".join(self._rng.choices("0123456789abcdef", k=n))

    def sid(self, prefix: str) -> str:
        """A Twilio SID: two-letter prefix and 32 hex digits."""
        return prefix + self.hex(32)

    def alnum(self, n: int = 8) -> str:
        return "".join(self._rng.choices(string.ascii_letters + string.digits, k=n))

    def token(self, n: int = 32) -> str:
        return "".join(self._rng.choices(string.ascii_letters + string.digits, k=n))


class Sandbox:
    """Stateful simulators of Meta Graph, 360dialog and Twilio, with faults and a clock.

    ``outbound_transport`` carries the webhooks the simulators send (see
    :mod:`.outbound`); without one they are recorded and fail, never sent.
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        clock: SimClock | None = None,
        base_url: str = IN_PROCESS_BASE_URL,
        outbound_transport: httpx.BaseTransport | None = None,
        record: bool = False,
    ) -> None:
        self.seed = seed
        self.clock = clock or SimClock()
        self.base_url = base_url.rstrip("/")
        self.faults = FaultPlan(seed)
        self.ids = IdFactory(seed)
        self.lock = SandboxLock()
        self.outbound = Outbound(outbound_transport, self.lock)
        self.record = record
        self.exchanges: list[dict[str, Any]] = []
        self.simulators: dict[str, Simulator] = {}
        for factory in _simulator_factories():
            simulator = factory(self)
            self.simulators[simulator.name] = simulator

    if TYPE_CHECKING:  # found by __getattr__ at run time
        meta: MetaSimulator
        dialog360: Dialog360Simulator
        twilio: TwilioSimulator

    def __getattr__(self, name: str) -> Simulator:
        # sandbox.meta, sandbox.dialog360, sandbox.twilio
        simulators = self.__dict__.get("simulators", {})
        if name in simulators:
            return simulators[name]
        raise AttributeError(name)

    # -- time ---------------------------------------------------------------------------
    def advance(self, seconds: float) -> None:
        """Move the clock forward and let every simulator fire what became due."""
        self.clock.advance(seconds)
        self.tick()

    def tick(self) -> None:
        with self.lock:
            for simulator in self.simulators.values():
                simulator.tick()
        self.outbound.retry_failed()

    # -- between simulators ---------------------------------------------------------------
    def deliver_text(self, to: str, body: str, channel: str) -> bool:
        """Hand a text addressed to ``to`` (E.164, with ``+``) to whichever simulator holds
        that number and can receive it there: an SMS, or a call that reads ``body`` out
        (``channel`` ``SMS`` or ``VOICE``, as Meta's ``code_method`` names them).

        A simulator takes part by defining ``receive_text(to, body, channel) -> bool``
        (the Twilio simulator does, for the numbers its accounts bought). False when none
        takes it: the text went to a phone nobody simulates.
        """
        kind = channel.upper()
        if kind not in ("SMS", "VOICE"):
            raise ValueError(f"channel must be SMS or VOICE, not {channel!r}")
        with self.lock:
            for simulator in self.simulators.values():
                receive = getattr(simulator, "receive_text", None)
                if receive is not None and receive(to, body, kind):
                    return True
        return False

    # -- the WSGI app ---------------------------------------------------------------------
    def route(self, path: str) -> tuple[str, str]:
        """Split ``/provider/rest`` into the provider name and the rest of the path."""
        _, _, rest = path.partition("/")
        provider, _, tail = rest.partition("/")
        return provider, "/" + tail

    def wsgi_app(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        provider, tail = self.route(environ.get("PATH_INFO", "/"))
        if provider == "_sandbox":
            return self._control_app(environ, start_response)
        simulator = self.simulators.get(provider)
        if simulator is None:
            return json_response({"error": f"no simulator at /{provider}"}, 404)(
                environ, start_response
            )
        environ = dict(environ)
        environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + f"/{provider}"
        environ["PATH_INFO"] = tail
        with self.lock:
            return list(simulator(environ, start_response))

    __call__ = wsgi_app

    def transport(self) -> SandboxTransport:
        """An httpx transport that calls the sandbox in process, faults included."""
        return SandboxTransport(self)

    def fault_response(self, provider: str, kind: str) -> Response:
        simulator = self.simulators.get(provider)
        if simulator is None:
            return json_response({"error": kind}, 503)
        return simulator.fault_response(kind)

    # -- the control API ---------------------------------------------------------------------
    def _control_app(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        request = Request(environ)
        parts = [p for p in request.path.split("/") if p][1:]
        try:
            payload = request.get_json(silent=True) or {}
            result = self.handle_control(request.method, parts, payload)
            response = json_response(result)
        except HTTPException as exc:
            response = json_response({"error": exc.description}, exc.code or 400)
        except (TypeError, ValueError, KeyError, LookupError) as exc:
            response = json_response({"error": f"{type(exc).__name__}: {exc}"}, 400)
        return response(environ, start_response)

    def handle_control(self, method: str, parts: list[str], payload: dict[str, Any]) -> Any:
        """``GET /_sandbox/state``, ``POST /_sandbox/clock/advance {"seconds": n}``,
        ``POST|DELETE /_sandbox/faults``, ``POST /_sandbox/{provider}/{action} {...}``."""
        match method, parts:
            case "GET", ["state"]:
                with self.lock:
                    return {name: sim.describe() for name, sim in self.simulators.items()}
            case "POST", ["clock", "advance"]:
                self.advance(float(payload["seconds"]))
                return {"now": self.clock.now().isoformat()}
            case "GET", ["faults"]:
                return [_fault_dict(f) for f in self.faults.list()]
            case "POST", ["faults"]:
                return _fault_dict(self.faults.add(**payload))
            case "DELETE", ["faults"]:
                self.faults.clear()
                return {"cleared": True}
            case "GET", ["deliveries"]:
                return [
                    {k: v for k, v in asdict(d).items() if k not in ("body", "response_body")}
                    | {"body": d.body.decode("utf-8", "replace")}
                    for d in self.outbound.deliveries
                ]
            case "POST", [provider, action] if provider in self.simulators:
                with self.lock:
                    return self.simulators[provider].control(action, payload)
        raise ValueError(f"unknown control call {method} /_sandbox/{'/'.join(parts)}")


def _fault_dict(fault: Any) -> dict[str, Any]:
    return {f.name: getattr(fault, f.name) for f in fields(fault)}


class SandboxTransport(httpx.BaseTransport):
    """Runs requests against the sandbox's WSGI app in process, applying faults first."""

    def __init__(self, sandbox: Sandbox, sleep: Callable[[float], None] | None = None) -> None:
        import time

        self.sandbox = sandbox
        self.sleep = sleep or time.sleep
        self.inner = httpx.WSGITransport(app=sandbox.wsgi_app)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        provider, tail = self.sandbox.route(request.url.path)
        response = None
        for fault in self.sandbox.faults.pick(provider, request.method, tail):
            if fault.kind == "latency":
                self.sleep(fault.seconds)
            elif fault.kind == "timeout":
                raise httpx.ReadTimeout("sandbox fault: timed out", request=request)
            elif fault.kind == "drop":
                self.inner.handle_request(request).read()
                raise httpx.RemoteProtocolError(
                    "sandbox fault: server disconnected without sending a response",
                    request=request,
                )
            else:
                response = self._respond(request, self.sandbox.fault_response(provider, fault.kind))
        if response is None:
            response = self.inner.handle_request(request)
        if self.sandbox.record:  # faults too: their envelopes must conform as well
            response.read()
            self.sandbox.exchanges.append(
                {
                    "provider": provider,
                    "method": request.method,
                    "path": tail,
                    "status": response.status_code,
                    "content_type": response.headers.get("content-type", ""),
                    "body": response.content,
                }
            )
        return response

    @staticmethod
    def _respond(request: httpx.Request, response: Response) -> httpx.Response:
        return httpx.Response(
            response.status_code,
            headers=list(response.headers.items()),
            content=response.get_data(),
            request=request,
        )


def _simulator_factories() -> list[Callable[[Sandbox], Simulator]]:
    """The provider simulators, imported lazily so each lives in its own package."""
    factories: list[Callable[[Sandbox], Simulator]] = []
    for module, cls in (
        ("meta", "MetaSimulator"),
        ("dialog360", "Dialog360Simulator"),
        ("twilio", "TwilioSimulator"),
    ):
        try:
            mod = __import__(f"{__package__}.{module}", fromlist=[cls])
        except ModuleNotFoundError as exc:
            if exc.name != f"{__package__}.{module}":
                raise
            continue
        factories.append(getattr(mod, cls))
    return factories


def dumps(body: Any) -> bytes:
    """Compact JSON bytes, as the providers send them (non-ASCII kept as UTF-8)."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
