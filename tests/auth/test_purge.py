"""The purge job keeps the sign-in tables small: whatever is tried, old rows go."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from portal.jobs import enqueue
from provisioning.db import utcnow
from provisioning.login_throttle import LoginThrottle, keys_for, reserve
from provisioning.password_resets import PasswordReset
from provisioning.tokens import new_token
from provisioning.user_sessions import UserSession, start


def test_old_counters_sessions_and_links_are_deleted_and_live_ones_kept(app, make, session):
    user = make.user(make.company())
    now = utcnow()
    for n, when in enumerate((now - dt.timedelta(hours=2), now)):
        reserve(session, keys_for(f"sprayed{n}@example.com", f"198.51.100.{n}"), when)
    sessions = [start(session, user, lifetime=dt.timedelta(hours=12))[0] for _ in range(2)]
    sessions[0].expires_at = now - dt.timedelta(days=31)
    session.add_all(
        PasswordReset(
            user_id=user.id, token_hash=new_token()[1], requested_at=when, expires_at=when
        )
        for when in (now - dt.timedelta(days=2), now + dt.timedelta(minutes=30))
    )
    session.commit()

    with app.app_context():  # outside a request: queued at once
        enqueue("auth.purge")
    (counts,) = app.extensions["job_runner"].drain()

    assert counts == {"login_throttles": 2, "user_sessions": 1, "password_resets": 1}
    assert {row.key for row in session.scalars(select(LoginThrottle))} == {
        name for name, _ in keys_for("sprayed1@example.com", "198.51.100.1")
    }
    assert session.scalars(select(UserSession.id)).all() == [sessions[1].id]
    assert len(session.scalars(select(PasswordReset)).all()) == 1
