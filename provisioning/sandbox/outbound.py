"""Webhooks the sandbox sends to the platform, recorded and retried like the providers do."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

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

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class Outbound:
    """Sends requests from the sandbox to the platform (webhooks, verification GETs).

    In tests ``transport`` is an ``httpx.WSGITransport`` around the portal app; in the
    demo it is the network. Every delivery is kept so tests can assert on it, and
    failed ones are sent again by :meth:`retry_failed` (called on each clock tick).
    """

    def __init__(
        self,
        transport: httpx.BaseTransport | None = None,
        sandbox_lock: SandboxLock | None = None,
        timeout: float = 10.0,
    ):
        self.client = httpx.Client(transport=transport, timeout=timeout)
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
    ) -> Delivery:
        delivery = Delivery(provider, method, url, body, dict(headers or {}))
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
                d for d in self.deliveries if not d.delivered and d.attempts < self.max_attempts
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
        except httpx.HTTPError as exc:
            delivery.status, delivery.error = None, f"{type(exc).__name__}: {exc}"
        delivery.history.append(delivery.status or delivery.error)

    def for_provider(self, provider: str) -> list[Delivery]:
        with self._lock:
            return [d for d in self.deliveries if d.provider == provider]
