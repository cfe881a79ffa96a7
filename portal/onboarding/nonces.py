"""Per-launch state nonces for the signed-in user, kept server-side (``provisioning.launches``).

Nothing about a launch lives in the cookie: an old copy of the session cookie can neither
bring back a spent nonce nor spend one twice.
"""

from __future__ import annotations

from flask_login import current_user

from provisioning import launches
from provisioning.db import utcnow
from provisioning.launches import LaunchRefused

from ..extensions import db

now = utcnow  # the clock tests move

__all__ = ["LaunchRefused", "issue", "launch_result", "spend"]


def issue(company_id: int, provider: str) -> str:
    """A fresh nonce for one launch (committed with the request)."""
    return launches.issue(db.session, company_id, provider, current_user.id, now())


def spend(nonce: object, company_id: int, provider: str) -> None:
    """Spend the current user's launch in this transaction, or ``LaunchRefused``."""
    launches.spend(db.session, nonce, company_id, provider, current_user.id, now())


def launch_result(body: object, company_id: int, provider: str) -> dict:
    """The JSON a launcher posted back, once its nonce is spent (``LaunchRefused`` if not)."""
    if not isinstance(body, dict):
        raise LaunchRefused("Send the signup result as JSON.")
    spend(body.get("state"), company_id, provider)
    return body
