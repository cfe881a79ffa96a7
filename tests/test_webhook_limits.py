"""Webhook intake: oversized bodies refused before any work, secrets kept out of request logs."""

from __future__ import annotations

import io
import logging
import threading

import httpx
import pytest
from flask_migrate import upgrade
from werkzeug.serving import make_server

MiB = 1024 * 1024
WEBHOOKS = [
    "/webhooks/meta",
    "/webhooks/360dialog",
    "/webhooks/360dialog/a-webhook-url-token-of-some-length",
    "/webhooks/twilio/status",
    "/webhooks/twilio/events/an-events-token?bodySHA256=00",
]


class Unreadable(io.RawIOBase):
    """A request body of ``size`` bytes that fails the test if anything reads it."""

    def __init__(self, size: int) -> None:
        self.size, self.position = size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:  # the test client measures the body by seeking
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self.position = offset + (self.size if whence == io.SEEK_END else 0)
        return self.position

    def tell(self) -> int:
        return self.position

    def readinto(self, buffer) -> int:
        raise AssertionError("the body was read")


@pytest.mark.parametrize("path", WEBHOOKS)
def test_a_20_mb_webhook_is_refused_with_413_before_it_is_read(client, path):
    response = client.post(path, input_stream=Unreadable(20 * MiB), content_type="application/json")
    assert response.status_code == 413
    assert response.get_data(as_text=True) == (
        "The request body is too large: at most 1024 KiB is accepted."
    )


def test_a_20_mb_body_sent_in_full_is_refused_too(client):
    response = client.post("/webhooks/meta", data=b"{" + b" " * (20 * MiB), headers={
        "X-Hub-Signature-256": "sha256=00", "Content-Type": "application/json"})  # fmt: skip
    assert response.status_code == 413


def test_an_oversized_form_gets_the_error_page(client):
    response = client.post("/login", data={"email": "a@example.com", "password": "x" * (2 * MiB)})
    assert response.status_code == 413
    assert "at most 1024 KiB is accepted" in response.get_data(as_text=True)


def test_a_body_within_the_limit_reaches_the_signature_check(client):
    response = client.post("/webhooks/meta", data=b"{}" + b" " * (MiB - 100))
    assert response.status_code == 403  # read, then refused: no signature


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def test_request_logs_never_show_webhook_tokens(scratch_app):
    """Through Werkzeug's own server, whose request log prints the path and query."""
    upgrade()
    server = make_server("127.0.0.1", 0, scratch_app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    secrets = ("sink-token-4f1c9a", "dialog-token-8b2e7d", "verify-token-3c6a1f")
    logger, handler = logging.getLogger("werkzeug"), Lines()
    logger.addHandler(handler)
    level, logger.level = logger.level, logging.INFO
    try:
        with httpx.Client() as http:
            http.post(f"{base}/webhooks/twilio/events/{secrets[0]}?bodySHA256=ab", content=b"[]")
            http.post(f"{base}/webhooks/360dialog/{secrets[1]}", content=b"{}")
            handshake = {"hub.mode": "subscribe", "hub.verify_token": secrets[2]}
            http.get(f"{base}/webhooks/meta", params=handshake | {"hub.challenge": "1"})
    finally:
        server.shutdown()
        server.server_close()
        logger.removeHandler(handler)
        logger.setLevel(level)
    text = "\n".join(handler.lines)
    assert len([line for line in handler.lines if "/webhooks/" in line]) == 3, text
    assert not any(secret in text for secret in secrets), text
    assert "/webhooks/twilio/events/***" in text and "hub.verify_token=***" in text
