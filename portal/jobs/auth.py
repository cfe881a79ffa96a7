"""Sign-in jobs: forgetting what is no longer needed.

Password reset links and password change notices are e-mails like any other: they go
out through the mail outbox and its job, ``mail.send`` (``portal/jobs/mail.py``).
"""

from __future__ import annotations

from provisioning import login_throttle, password_resets, user_sessions
from provisioning.db import utcnow

from ..extensions import db


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
