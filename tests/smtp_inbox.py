"""A real SMTP server on loopback (aiosmtpd) that keeps what it accepts, for mail tests.

It can refuse chosen recipients at RCPT, and accept a chosen recipient's message and then
drop the connection before answering (an answer lost after the server took the message).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller


class Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.refuse: set[str] = set()  # answered 550 at RCPT
        self.drop_after: set[str] = set()  # accepted, then the connection drops unanswered

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd calls it by name
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        self.messages.append(message)
        if self.drop_after & set(envelope.rcpt_tos):
            server.transport.abort()
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


@contextmanager
def running_inbox() -> Iterator[tuple[Inbox, str]]:
    """An inbox and the ``SMTP_URL`` that reaches it."""
    handler = Inbox()
    with socket.socket() as probe:  # a free port (aiosmtpd checks the one it is given)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, f"smtp://127.0.0.1:{port}"
    finally:
        controller.stop()
