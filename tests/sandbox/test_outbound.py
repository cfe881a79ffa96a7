"""The sandbox's webhooks go only where its builder says: never to the network by default."""

from __future__ import annotations

import socket
import threading

import httpx
import pytest
from werkzeug.serving import make_server

from provisioning.sandbox import Sandbox
from provisioning.sandbox.outbound import LoopbackTransport


@pytest.fixture
def no_network(monkeypatch):
    """Fail the test if anything resolves a name or opens a connection."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"the test touched the network: {args}")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_a_sandbox_built_without_a_transport_sends_nothing(no_network):
    sandbox = Sandbox(seed=3)
    delivery = sandbox.outbound.send("meta", "https://portal.example/webhooks/meta", b"{}")
    assert not delivery.delivered and delivery.attempts == 1
    assert "no outbound transport" in (delivery.error or "")
    assert sandbox.outbound.get("meta", "https://portal.example/webhooks/meta", {}) is None
    sandbox.tick()  # the retry fails the same way, still without a connection
    assert delivery.attempts == 2 and not delivery.delivered


def test_the_transport_given_carries_every_delivery(no_network):
    seen: list[str] = []

    def portal(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200)

    sandbox = Sandbox(seed=3, outbound_transport=httpx.MockTransport(portal))
    delivery = sandbox.outbound.send("dialog360", "https://portal.example/webhooks/360dialog")
    assert delivery.delivered and seen == ["https://portal.example/webhooks/360dialog"]


@pytest.mark.parametrize(
    "url", ["https://portal.example/hook", "http://10.0.0.5/hook", "http://[2001:db8::1]/hook"]
)
def test_the_loopback_transport_refuses_any_other_host(no_network, url):
    with (
        httpx.Client(transport=LoopbackTransport()) as client,
        pytest.raises(httpx.ConnectError, match="not a loopback address"),
    ):
        client.post(url)


def test_the_loopback_transport_reaches_a_server_the_test_started():
    received: list[bytes] = []

    def portal(environ, start_response):
        received.append(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)))
        start_response("204 No Content", [])
        return [b""]

    server = make_server("127.0.0.1", 0, portal)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        sandbox = Sandbox(seed=3, outbound_transport=LoopbackTransport())
        url = f"http://127.0.0.1:{server.server_port}/webhooks/meta"
        delivery = sandbox.outbound.send("meta", url, b'{"entry":[]}')
    finally:
        server.shutdown()
    assert delivery.delivered and received == [b'{"entry":[]}']
