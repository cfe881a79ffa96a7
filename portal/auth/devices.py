"""Device tokens: a browser that signed in to an account before is recognised by it.

After a successful sign-in the browser gets a signed, long-lived cookie naming the
account (by a digest of its e-mail) and a random device id. Sign-in attempts that carry
a valid one for the e-mail typed are throttled per device rather than per account, so a
stranger who fails on purpose to slow the account down never slows down its owner.
"""

from __future__ import annotations

import hashlib
import secrets

from flask import Response, current_app, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE = "portal_device"
LIFETIME_SECONDS = 180 * 24 * 3600


def _serializer() -> URLSafeTimedSerializer:
    if not current_app.secret_key:
        raise RuntimeError("device tokens need the application's SECRET_KEY")
    return URLSafeTimedSerializer(current_app.secret_key, salt="login-device")


def _account(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


def device_for(email: str) -> str | None:
    """The id of this browser's device token for ``email``, if it has a valid one."""
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    try:
        account, device = _serializer().loads(raw, max_age=LIFETIME_SECONDS)
    except (BadSignature, TypeError, ValueError):
        return None
    return device if account == _account(email) else None


def remember_device(response: Response, email: str) -> None:
    """Give the browser a device token for ``email`` (a new id for a new account)."""
    device = device_for(email) or secrets.token_urlsafe(16)
    response.set_cookie(
        COOKIE,
        _serializer().dumps([_account(email), device]),
        max_age=LIFETIME_SECONDS,
        path="/",
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Lax",
    )
