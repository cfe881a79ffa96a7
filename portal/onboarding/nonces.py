"""Per-launch state nonces, bound to the browser session and the company, used once.

A spent nonce is remembered in the session for the rest of its lifetime, so a repeat of
the same completion (a double submit, a reload of the return page) can be answered with
the run the first one started instead of being refused.
"""

from __future__ import annotations

import secrets
import time

from flask import session

KEY = "onboarding_nonces"
SPENT = "onboarding_nonces_spent"
LIFETIME = 15 * 60
MAX_OPEN = 5
now = time.time  # the clock tests move


def issue(company_id: int, provider: str) -> str:
    nonce = secrets.token_urlsafe(24)
    _keep(KEY, nonce, {"company": company_id, "provider": provider, "exp": now() + LIFETIME})
    return nonce


def _keep(key: str, nonce: str, entry: dict) -> None:
    """Add a nonce to a session list, keeping the newest unexpired ``MAX_OPEN``."""
    at = now()
    kept = {n: v for n, v in (session.get(key) or {}).items() if v["exp"] > at}
    kept[nonce] = entry
    session[key] = dict(sorted(kept.items(), key=lambda kv: kv[1]["exp"])[-MAX_OPEN:])


def consume(nonce: object, company_id: int, provider: str) -> str | None:
    """An error message, or None when the nonce is valid (it is spent either way)."""
    if not nonce:
        return "The request carries no state: start the connection again."
    if not isinstance(nonce, str):  # any JSON value may arrive where the nonce belongs
        return "The state must be the text the launch gave: start the connection again."
    open_ = dict(session.get(KEY) or {})
    entry = open_.pop(nonce, None)
    session[KEY] = open_
    if entry is None:
        return "This connection attempt is unknown or was already used: start again."
    if entry["company"] != company_id or entry["provider"] != provider:
        return "This connection attempt belongs to another company."
    if entry["exp"] < now():
        return "This connection attempt expired: start again."
    _keep(SPENT, nonce, entry)
    return None


def spent(provider: str, nonce: str | None = None) -> tuple[str, int] | None:
    """A nonce this session spent on a ``provider`` launch (``nonce``, else the newest one)
    and its company, while the launch lives: a completion repeated after the first."""
    at = now()
    entries = [
        (n, v)
        for n, v in (session.get(SPENT) or {}).items()
        if v["provider"] == provider and v["exp"] > at and nonce in (None, n)
    ]
    return (entries[-1][0], entries[-1][1]["company"]) if entries else None


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
