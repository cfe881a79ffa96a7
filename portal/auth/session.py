"""The signed-in user as Flask-Login sees it, bound to the user's session version."""

from __future__ import annotations

from typing import Any

from provisioning.tenancy import User

from ..extensions import db


class SessionUser:
    """Wraps a domain :class:`User` for Flask-Login.

    The session id includes ``session_version``: deactivating a user or changing the
    password bumps it, which ends every existing session of that user.
    """

    is_authenticated = True
    is_anonymous = False

    def __init__(self, user: User) -> None:
        self.user = user

    @property
    def is_active(self) -> bool:
        return self.user.is_active

    def get_id(self) -> str:
        return f"{self.user.id}:{self.user.session_version}"

    def __getattr__(self, name: str) -> Any:
        return getattr(self.user, name)


def load_user(session_id: str) -> SessionUser | None:
    user_id, _, version = session_id.partition(":")
    if not user_id.isdigit() or not version.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.is_active or user.session_version != int(version):
        return None
    return SessionUser(user)
