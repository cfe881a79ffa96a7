"""Alert emails: pending notifications go out by SMTP when a mail server is configured.

``SMTP_URL`` is ``smtp://user:password@host:587`` (STARTTLS when the server offers it) or
``smtps://...`` (TLS from the start); without it, pending emails are marked skipped and
the portal's notifications list is the only channel. Each email is claimed before it is
sent, so a crash or a second worker never sends it twice.
"""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from flask import current_app

from provisioning import health

from .extensions import db
from .jobs import job

log = logging.getLogger("portal.notify")


def _connect(url: str) -> smtplib.SMTP:
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError("SMTP_URL must look like smtp://user:password@host:587")
    if parts.scheme == "smtps":
        server: smtplib.SMTP = smtplib.SMTP_SSL(parts.hostname, parts.port or 465, timeout=15)
    else:
        server = smtplib.SMTP(parts.hostname, parts.port or 25, timeout=15)
        server.ehlo()
        if server.has_extn("starttls"):
            server.starttls()
            server.ehlo()
    if parts.username:
        server.login(unquote(parts.username), unquote(parts.password or ""))
    return server


def alert_email(notification: health.Notification) -> EmailMessage:
    alert, config = notification.alert, current_app.config
    message = EmailMessage()
    message["From"] = config.get("MAIL_FROM") or "alerts@localhost"
    message["To"] = notification.user.email
    message["Subject"] = f"Channel alert: {alert.message}"[:200]
    base = config["PUBLIC_BASE_URL"].rstrip("/")
    message.set_content(
        f"{alert.message}\n\n"
        f"Observed at {alert.created_at:%Y-%m-%d %H:%M} UTC.\n"
        f"See your notifications: {base}/notifications\n"
    )
    return message


@job("alerts.send_emails", queue="sweeps")
def send_alert_emails() -> int:
    """Email pending notifications (or mark them skipped without a mail server)."""
    url = current_app.config.get("SMTP_URL")
    if not url:
        health.skip_emails(db.session)
        db.session.commit()
        return 0
    claimed = health.claim_emails(db.session)
    db.session.commit()
    if not claimed:
        return 0
    sent = 0
    try:
        server = _connect(url)
    except (OSError, smtplib.SMTPException, ValueError) as exc:
        log.warning("mail server unavailable: %s", type(exc).__name__)
        for row in claimed:
            row.email_status = "pending"  # nothing was sent: try again on the next pass
        db.session.commit()
        return 0
    with server:
        for row in claimed:
            try:
                server.send_message(alert_email(row))
                row.email_status, sent = "sent", sent + 1
            except (OSError, smtplib.SMTPException) as exc:
                row.email_status = "failed"
                log.warning("alert email %d failed: %s", row.id, type(exc).__name__)
            db.session.commit()
    return sent
