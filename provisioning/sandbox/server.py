"""The sandbox as a real HTTP server, for the demo: faults applied on the wire."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable

from werkzeug.serving import BaseWSGIServer, make_server

from .core import Sandbox

log = logging.getLogger("provisioning.sandbox")


class FaultMiddleware:
    """Applies the sandbox's fault plan to requests arriving over HTTP."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        provider, tail = self.sandbox.route(environ.get("PATH_INFO", "/"))
        for fault in self.sandbox.faults.pick(provider, environ["REQUEST_METHOD"], tail):
            if fault.kind == "latency":
                time.sleep(fault.seconds)
            elif fault.kind == "timeout":
                time.sleep(fault.seconds or 30)
                return self._drop(environ)
            elif fault.kind == "drop":
                list(self.sandbox.wsgi_app(environ, lambda *a, **k: None))
                return self._drop(environ)
            else:
                response = self.sandbox.fault_response(provider, fault.kind)
                return response(environ, start_response)
        return self.sandbox.wsgi_app(environ, start_response)

    @staticmethod
    def _drop(environ: dict) -> Iterable[bytes]:
        sock = environ.get("werkzeug.socket")
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)
        return []


def serve(
    sandbox: Sandbox, host: str = "127.0.0.1", port: int = 5001, tick_every: float = 1.0
) -> BaseWSGIServer:
    """Start the sandbox in background threads and return the server (``.shutdown()``)."""
    server = make_server(host, port, FaultMiddleware(sandbox), threaded=True)
    threading.Thread(target=server.serve_forever, name="sandbox-http", daemon=True).start()

    def ticker() -> None:
        while True:
            time.sleep(tick_every)
            try:
                sandbox.tick()
            except Exception:  # keep ticking; the demo must not die on one bad webhook
                log.exception("sandbox tick failed")

    threading.Thread(target=ticker, name="sandbox-clock", daemon=True).start()
    log.info("sandbox listening on http://%s:%d", host, port)
    return server
