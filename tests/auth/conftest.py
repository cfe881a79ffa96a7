"""Fixtures for the sign-in tests: a still clock for the throttle, an SMTP inbox."""

from __future__ import annotations

import datetime as dt
import socket
from email import message_from_string, policy

import pytest
from aiosmtpd.controller import Controller

from provisioning import login_throttle

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def frozen_clock(monkeypatch):
    """The throttle's clock stands still: no delay runs out while a test runs."""
    monkeypatch.setattr(login_throttle, "utcnow", lambda: NOW)


class Inbox:
    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, smtp_session, envelope):  # aiosmtpd calls it by name
        self.messages.append(message_from_string(envelope.content.decode(), policy=policy.SMTP))
        return "250 OK"


@pytest.fixture
def inbox(app, monkeypatch):
    handler = Inbox()
    with socket.socket() as probe:  # a free port (aiosmtpd checks the one it is given)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setitem(app.config, "SMTP_URL", f"smtp://127.0.0.1:{controller.port}")
    monkeypatch.setitem(app.config, "MAIL_FROM", "portal@portal.test")
    yield handler
    controller.stop()
