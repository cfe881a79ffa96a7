"""Fixtures for the sandbox's own tests: a seeded sandbox, a frozen clock, captured webhooks."""

from __future__ import annotations

import httpx
import pytest

from provisioning.sandbox import Sandbox, SimClock

FROZEN_AT = 1_767_225_600.0  # 2026-01-01T00:00:00Z


class Captured:
    """The platform side of the sandbox's webhooks: records requests, answers 200.

    A GET carrying ``hub.challenge`` is answered with the challenge (Meta's handshake)
    when ``verify_token`` matches, 403 otherwise.
    """

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.verify_token = "verify-me"
        self.status = 200

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        challenge = request.url.params.get("hub.challenge")
        if request.method == "GET" and challenge is not None:
            if request.url.params.get("hub.verify_token") == self.verify_token:
                return httpx.Response(200, text=challenge)
            return httpx.Response(403)
        return httpx.Response(self.status)


@pytest.fixture
def captured() -> Captured:
    return Captured()


@pytest.fixture
def clock() -> SimClock:
    return SimClock(start=FROZEN_AT)


@pytest.fixture
def sandbox(clock: SimClock, captured: Captured) -> Sandbox:
    return Sandbox(
        seed=1234, clock=clock, record=True, outbound_transport=httpx.MockTransport(captured)
    )


@pytest.fixture
def http(sandbox: Sandbox) -> httpx.Client:
    with httpx.Client(transport=sandbox.transport(), base_url=sandbox.base_url) as client:
        yield client
