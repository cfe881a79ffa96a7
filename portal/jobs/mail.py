"""The mail job, the one sender of every e-mail: alerts become outbox messages, and the
outbox (alerts, invitations, password reset links and notices) goes out by SMTP.

``SMTP_URL`` is ``smtp://user:password@host:587`` (STARTTLS when the server offers it) or
``smtps://...`` (TLS from the start); without it, pending messages are marked skipped and
the portal's notifications list is the only channel for alerts.

Each message is sent on its own (``provisioning.mail``): one that cannot be built or that
the server refuses is marked failed and the next one goes; the attempt is committed before
the message is handed over, so a broken connection or a dead worker never makes the job
send twice what the server may have accepted.
"""

from __future__ import annotations

import logging
import smtplib
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import current_app

from provisioning import health, mail
from provisioning.db import utcnow

from ..extensions import db

log = logging.getLogger("portal.jobs.mail")


class _DataAware:
    """Knows whether DATA began: before it, the server cannot have accepted the message."""

    data_started = False

    def data(self, msg: Any) -> Any:
        self.data_started = True
        return super().data(msg)  # type: ignore[misc]


class _SMTP(_DataAware, smtplib.SMTP):
    pass


class _SMTPS(_DataAware, smtplib.SMTP_SSL):
    pass


def _connect(url: str) -> _SMTP | _SMTPS:
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError("SMTP_URL must look like smtp://user:password@host:587")
    server: _SMTP | _SMTPS
    if parts.scheme == "smtps":
        server = _SMTPS(parts.hostname, parts.port or 465, timeout=15)
    else:
        server = _SMTP(parts.hostname, parts.port or 25, timeout=15)
        server.ehlo()
        if server.has_extn("starttls"):
            server.starttls()
            server.ehlo()
    if parts.username:
        server.login(unquote(parts.username), unquote(parts.password or ""))
    return server


def send_mail() -> int:
    """Queue alert e-mails, then send pending messages; returns how many were sent."""
    config = current_app.config
    health.queue_alert_emails(db.session, config["PUBLIC_BASE_URL"])
    mail.expire(db.session, utcnow())
    db.session.commit()
    url = config.get("SMTP_URL")
    if not url:
        mail.skip_pending(db.session, utcnow())
        db.session.commit()
        return 0
    released, uncertain = mail.recover(db.session, utcnow())
    if released or uncertain:
        log.warning("mail: %d stale claims sent again, %d uncertain", released, uncertain)
    claimed = mail.claim(db.session, utcnow())
    db.session.commit()
    if not claimed:
        return 0
    try:
        server = _connect(url)
    except (OSError, smtplib.SMTPException, ValueError) as exc:
        log.warning("mail server unavailable: %s", type(exc).__name__)
        _release(claimed)  # nothing was sent: the next pass tries again
        return 0
    sender = config.get("MAIL_FROM") or "alerts@localhost"
    sent = 0
    try:
        for position, row in enumerate(claimed):
            outcome = _send_one(server, row, sender)
            sent += outcome == "sent"
            if outcome == "disconnected":
                _release(claimed[position + 1 :])
                break
    finally:
        try:
            server.quit()
        except (OSError, smtplib.SMTPException):
            server.close()
    return sent


def _send_one(server: _SMTP | _SMTPS, row: mail.OutgoingMail, sender: str) -> str:
    """Send one message and commit its outcome: sent, failed, uncertain or disconnected
    (released: the connection was gone before the server could accept anything)."""
    if server.sock is None:  # the server closed the connection after the previous one
        _release([row])
        return "disconnected"
    try:
        message = mail.build(row, sender)
    except Exception as exc:  # one malformed message must never stop the others
        return _finish(row, "failed", f"could not be built: {type(exc).__name__}")
    mail.attempt(row, utcnow())
    db.session.commit()  # the intent, before the server sees anything
    server.data_started = False
    try:
        server.send_message(message)
    except (smtplib.SMTPRecipientsRefused, smtplib.SMTPNotSupportedError) as exc:
        return _finish(row, "failed", f"refused: {type(exc).__name__}")
    except smtplib.SMTPResponseException as exc:
        return _finish(row, "failed", f"refused: {exc.smtp_code}")
    except Exception as exc:
        if server.data_started:  # the message may have reached the server in full
            _finish(row, "uncertain", f"lost while sending: {type(exc).__name__}")
            return "disconnected"
        if isinstance(exc, OSError | smtplib.SMTPException):  # the connection broke first
            _release([row])
            return "disconnected"
        # refused while it was being written (the header policy): nothing went out
        return _finish(row, "failed", f"could not be written: {type(exc).__name__}")
    return _finish(row, "sent")


def _finish(row: mail.OutgoingMail, status: str, error: str | None = None) -> str:
    mail.finish(row, status, utcnow(), error)
    db.session.commit()
    if error:
        log.warning("mail %d %s: %s", row.id, status, error)
    return status


def _release(rows: list[mail.OutgoingMail]) -> None:
    for row in rows:
        mail.release(row)
    db.session.commit()
