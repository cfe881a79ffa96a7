"""The signed-in user as Flask-Login sees it, bound to a server-side session.

The cookie (Flask's signed session) holds a random session token as Flask-Login's user
id; every request resumes the session from the database (:mod:`provisioning.user_sessions`),
so signing out, a password change or ending a session elsewhere takes effect at once.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from flask import current_app, request
from flask_login import login_user

from provisioning import accounts, user_sessions
from provisioning.tenancy import User
from provisioning.user_sessions import UserSession

from ..boundary import checkpoint
from ..extensions import db
from .devices import device_for

log = logging.getLogger("portal.auth")


class SessionUser:
    """Wraps a domain :class:`User` and the :class:`UserSession` it signed in with."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, user: User, record: UserSession, token: str) -> None:
        self.user, self.session_record, self._token = user, record, token

    @property
    def is_active(self) -> bool:
        return self.user.is_active

    def get_id(self) -> str:
        return self._token

    def __getattr__(self, name: str) -> Any:
        return getattr(self.user, name)


def idle_timeout() -> dt.timedelta:
    return dt.timedelta(seconds=current_app.config["SESSION_IDLE_SECONDS"])


def sign_in(user: User) -> None:
    """Start a new server-side session for ``user`` (committed with the request).

    The caller clears Flask's session first: nothing from before sign-in carries over.
    """
    record, token = user_sessions.start(
        db.session,
        user,
        lifetime=current_app.permanent_session_lifetime,
        address=request.remote_addr or "",
        user_agent=request.user_agent.string,
    )
    login_user(SessionUser(user, record, token))


def authenticate(email: str, password: str) -> User:
    """The account these credentials open, through the sign-in throttle (this request's
    address, and the browser's device token for the account when it has one)."""
    try:
        user = accounts.authenticate(
            db.session,
            email,
            password,
            address=request.remote_addr or "-",
            device=device_for(email),
            commit=checkpoint,
        )
    except accounts.LoginThrottled:
        log.warning("sign-in throttled: %r from %s", email, request.remote_addr)
        raise
    except accounts.InvalidCredentials:
        log.info("sign-in refused: %r from %s", email, request.remote_addr)
        raise
    log.info("signed in: %s from %s", user.email, request.remote_addr)
    return user


def load_user(token: str) -> SessionUser | None:
    record = user_sessions.resume(db.session, token, idle_timeout())
    if record is None:
        return None
    if db.session.dirty:
        checkpoint()  # last seen moved on: kept even when the view's answer rolls back
    return SessionUser(record.user, record, token)
