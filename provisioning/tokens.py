"""Secret tokens for links, sessions and nonces: random, and stored only as a digest.

A token is handed out once (a link in an e-mail, a cookie, a launch's ``state``); the
database keeps its SHA-256, so a copy of the database opens nothing. Looking a token up
means looking its digest up.
"""

from __future__ import annotations

import hashlib
import secrets


def digest(token: str) -> str:
    """The hex SHA-256 of ``token``: what the database stores and is searched by."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(nbytes: int = 32) -> tuple[str, str]:
    """A new URL-safe token of ``nbytes`` random bytes, and its :func:`digest`."""
    token = secrets.token_urlsafe(nbytes)
    return token, digest(token)
