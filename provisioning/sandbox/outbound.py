"""Webhooks the sandbox sends to the platform, recorded and retried like the providers do.

Nothing leaves the sandbox unless whoever builds it says where to: tests give an
``httpx.WSGITransport`` around the portal app (or a mock), the demo gives the network.
Without a transport every delivery fails as unreachable (:class:`Unconnected`).
"""

from __future__ import annotations

import ipaddress
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from .locking import SandboxLock


@dataclass
class Delivery:
    provider: str
    method: str
    url: str
    body: bytes
    headers: dict[str, str]
    attempts: int = 0
    status: int | None = None
    error: str | None = None
    history: list[Any] = field(default_factory=list)
    response_body: bytes = b""  # what the platform answered (TwiML for a Twilio call)
    retry: bool = True  # False: one attempt only (Twilio neither retries SMS nor calls)

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class Unconnected(httpx.BaseTransport):
    """The transport of a sandbox built without one: no request is sent anywhere."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(
            f"the sandbox has no outbound transport: {request.method} {request.url} not sent",
            request=request,
        )


def is_loopback(host: str) -> bool:
    """``host`` is a loopback address or ``localhost`` (judged without DNS)."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_on_host(url: Any, host: str | None) -> bool:
    """``url`` is a URL on ``host`` (a host name, or ``name:port`` to match the port too);
    any non-empty URL when ``host`` is None. The simulators' "what still points at the
    platform" listings use it."""
    if not isinstance(url, str) or not url:
        return False
    if host is None:
        return True
    parts = urlsplit(url)
    if ":" in host:
        return parts.netloc.rpartition("@")[2].lower() == host.lower()
    return (parts.hostname or "").lower() == host.lower().rstrip(".")


class LoopbackTransport(httpx.HTTPTransport):
    """The network, to loopback addresses only: a test's or a benchmark's own servers."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not is_loopback(request.url.host):
            raise httpx.ConnectError(
                f"{request.url.host} is not a loopback address: not sent", request=request
            )
        return super().handle_request(request)


class Outbound:
    """Sends requests from the sandbox to the platform (webhooks, verification GETs).

    ``transport`` says where they go (see the module's docstring); without one nothing
    is sent. Every delivery is kept so tests can assert on it, and failed ones are sent
    again by :meth:`retry_failed` (called on each clock tick).
    """

    def __init__(
        self,
        transport: httpx.BaseTransport | None = None,
        sandbox_lock: SandboxLock | None = None,
        timeout: float = 10.0,
    ):
        self.client = httpx.Client(transport=transport or Unconnected(), timeout=timeout)
        self.sandbox_lock = sandbox_lock or SandboxLock()
        self.deliveries: list[Delivery] = []
        self.max_attempts = 5
        self._lock = threading.Lock()

    def send(
        self,
        provider: str,
        url: str,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        method: str = "POST",
        retry: bool = True,
    ) -> Delivery:
        delivery = Delivery(provider, method, url, body, dict(headers or {}), retry=retry)
        with self._lock:
            self.deliveries.append(delivery)
        self._attempt(delivery)
        return delivery

    def get(self, provider: str, url: str, params: dict[str, str]) -> httpx.Response | None:
        """A one-off GET (Meta's hub.challenge check); ``None`` when unreachable."""
        try:
            with self.sandbox_lock.released():
                return self.client.get(url, params=params)
        except httpx.HTTPError:
            return None

    def retry_failed(self) -> None:
        with self._lock:
            pending = [
                d
                for d in self.deliveries
                if d.retry and not d.delivered and d.attempts < self.max_attempts
            ]
        for delivery in pending:
            self._attempt(delivery)

    def _attempt(self, delivery: Delivery) -> None:
        delivery.attempts += 1
        try:
            with self.sandbox_lock.released():  # the platform may be waiting on the sandbox
                response = self.client.request(
                    delivery.method, delivery.url, content=delivery.body, headers=delivery.headers
                )
            delivery.status, delivery.error = response.status_code, None
            delivery.response_body = response.content
        except httpx.HTTPError as exc:
            delivery.status, delivery.error = None, f"{type(exc).__name__}: {exc}"
        delivery.history.append(delivery.status or delivery.error)

    def for_provider(self, provider: str) -> list[Delivery]:
        with self._lock:
            return [d for d in self.deliveries if d.provider == provider]
