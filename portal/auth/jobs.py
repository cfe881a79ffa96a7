"""Sign-in jobs: sending password reset e-mails, and forgetting what is no longer needed.

Reset e-mails use the alert e-mails' mail server setting (``SMTP_URL``, ``MAIL_FROM``).
Without a mail server, queued links are marked ``skipped`` and the attempt is logged:
nobody can reset a password by e-mail then (a platform admin can invite the user again).
"""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage

from flask import current_app

from provisioning import login_throttle, password_resets, user_sessions
from provisioning.db import utcnow
from provisioning.password_resets import LINK_LIFETIME, PasswordReset

from ..extensions import db
from ..jobs import job
from ..notify import _connect

log = logging.getLogger("portal.auth")


def reset_email(row: PasswordReset, token: str) -> EmailMessage:
    config = current_app.config
    link = f"{config['PUBLIC_BASE_URL'].rstrip('/')}/password/reset/{token}"
    minutes = int(LINK_LIFETIME.total_seconds() // 60)
    message = EmailMessage()
    message["From"] = config.get("MAIL_FROM") or "alerts@localhost"
    message["To"] = row.user.email
    message["Subject"] = "Choose a new password for the Partner Portal"
    message.set_content(
        f"Someone, hopefully you, asked to reset the password of the Partner Portal\n"
        f"account {row.user.email}. Open this link within {minutes} minutes to choose a\n"
        f"new password (it works once):\n\n{link}\n\n"
        f"If you did not ask for it, ignore this e-mail: your password stays as it is.\n"
    )
    return message


@job("auth.send_password_resets", queue="sweeps")
def send_password_resets() -> int:
    """Send every queued reset link (each once at most); returns how many were sent."""
    claimed = password_resets.claim_pending(db.session)
    db.session.commit()
    if not claimed:
        return 0
    url = current_app.config.get("SMTP_URL")
    if not url:
        for row in claimed:
            row.email_status = "skipped"
        db.session.commit()
        log.warning("%d password reset link(s) not sent: SMTP_URL is not set", len(claimed))
        return 0
    try:
        server = _connect(url)
    except (OSError, smtplib.SMTPException, ValueError) as exc:
        log.warning("mail server unavailable for password resets: %s", type(exc).__name__)
        for row in claimed:
            row.email_status = "pending"  # nothing was sent: the next pass tries again
        db.session.commit()
        return 0
    sent = 0
    with server:
        for row in claimed:
            token = password_resets.issue_token(row)
            try:
                server.send_message(reset_email(row, token))
                row.email_status, sent = "sent", sent + 1
            except (OSError, smtplib.SMTPException) as exc:
                row.email_status, row.token_hash = "failed", None
                log.warning("password reset e-mail %d failed: %s", row.id, type(exc).__name__)
            db.session.commit()
    return sent


@job("auth.purge", queue="sweeps", retries=0)
def purge() -> dict[str, int]:
    """Delete forgotten throttle counters, long-gone sessions and dead reset links (the
    tables stay small however many e-mails and addresses are tried)."""
    now = utcnow()
    counts = {
        "login_throttles": login_throttle.forget_stale(db.session, now),
        "user_sessions": user_sessions.purge(db.session, now),
        "password_resets": password_resets.purge(db.session, now),
    }
    db.session.commit()
    return counts
