"""Per-launch state nonces, bound to the browser session and the company, used once."""

from __future__ import annotations

import secrets
import time

from flask import session

KEY = "onboarding_nonces"
LIFETIME = 15 * 60
MAX_OPEN = 5
now = time.time  # the clock tests move


def issue(company_id: int, provider: str) -> str:
    nonce = secrets.token_urlsafe(24)
    at = now()
    open_ = {n: v for n, v in (session.get(KEY) or {}).items() if v["exp"] > at}
    open_[nonce] = {"company": company_id, "provider": provider, "exp": at + LIFETIME}
    session[KEY] = dict(sorted(open_.items(), key=lambda kv: kv[1]["exp"])[-MAX_OPEN:])
    return nonce


def consume(nonce: str | None, company_id: int, provider: str) -> str | None:
    """An error message, or None when the nonce is valid (it is spent either way)."""
    if not nonce:
        return "The request carries no state: start the connection again."
    open_ = dict(session.get(KEY) or {})
    entry = open_.pop(nonce, None)
    session[KEY] = open_
    if entry is None:
        return "This connection attempt is unknown or was already used: start again."
    if entry["company"] != company_id or entry["provider"] != provider:
        return "This connection attempt belongs to another company."
    if entry["exp"] < now():
        return "This connection attempt expired: start again."
    return None


class RefusedLaunch(Exception):
    """The browser's launch result is unusable; the message says why (a 400)."""


def launch_result(body: object, company_id: int, provider: str) -> dict:
    """The JSON a launcher posted back, once its nonce checks out (spent either way)."""
    if not isinstance(body, dict):
        raise RefusedLaunch("Send the signup result as JSON.")
    problem = consume(body.get("state"), company_id, provider)
    if problem:
        raise RefusedLaunch(problem)
    return body
