"""Who may call a view. Every view carries exactly one of these markers.

The app refuses (404) any endpoint without a marker, so a forgotten check fails closed;
``tests/test_access.py`` enumerates the routes and fails on an unmarked one.

- ``public``: anyone (login page, health check, signed webhooks).
- ``signed_in``: any signed-in user.
- ``platform_admin``: platform admins only; others get 404 (the admin area is not advertised).
- ``api_key``: the platform API's views: an API key with the view's scope
  (:mod:`portal.api.auth`); the session cookie is never read there.
- ``company_member`` / ``company_admin``: the URL's ``company`` slug must be a company the
  user belongs to (platform admins may enter any company); otherwise 404. A member on an
  admin-only view gets 403. The company is resolved once into ``g.company`` and ``g.role``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from flask import abort, g, request
from flask_login import current_user
from sqlalchemy import select

from provisioning.audit import Actor
from provisioning.tenancy import Company, Role

from .extensions import db, login_manager

P = ParamSpec("P")
R = TypeVar("R")
V = TypeVar("V", bound=Callable[..., Any])
LEVELS = ("public", "signed_in", "platform_admin", "company_member", "company_admin", "api_key")


def _mark(view: V, level: str) -> V:
    view.access = level  # type: ignore[attr-defined]  # a function attribute
    return view


def public(view: V) -> V:
    return _mark(view, "public")


def signed_in(view: Callable[P, R]) -> Callable[P, R]:
    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        return view(*args, **kwargs)

    return _mark(wrapper, "signed_in")


def platform_admin(view: Callable[P, R]) -> Callable[P, R]:
    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if not current_user.is_platform_admin:
            abort(404)
        return view(*args, **kwargs)

    return _mark(wrapper, "platform_admin")


def _company_view(view: Callable[..., R], required: Role | None, level: str) -> Callable[..., R]:
    """The view, called without the URL's ``company`` (it finds the company in ``g``)."""

    @wraps(view)
    def wrapper(*args: Any, company: str, **kwargs: Any) -> R:
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        row = db.session.scalars(
            select(Company).where(Company.slug == company, Company.is_active.is_(True))
        ).one_or_none()
        if row is None:
            abort(404)
        role = Role.ADMIN if current_user.is_platform_admin else current_user.role_in(row.id)
        if role is None:
            abort(404)
        if required is Role.ADMIN and role is not Role.ADMIN:
            abort(403)
        g.company, g.role = row, role
        return view(*args, **kwargs)

    return _mark(wrapper, level)


def company_member(view: Callable[..., R]) -> Callable[..., R]:
    return _company_view(view, None, "company_member")


def company_admin(view: Callable[..., R]) -> Callable[..., R]:
    return _company_view(view, Role.ADMIN, "company_admin")


def actor() -> Actor:
    """The signed-in user, as audit entries record them."""
    return Actor(current_user.id, current_user.email)


def mark_method_views(app: Any) -> None:
    """A class-based view (the API's) is marked by its methods: when every method it
    serves carries the same marker, its view function takes it; otherwise none."""
    for view in app.view_functions.values():
        cls = getattr(view, "view_class", None)
        if cls is None:
            continue
        levels = {getattr(getattr(cls, m.lower(), None), "access", None) for m in cls.methods}
        if len(levels) == 1 and (level := levels.pop()) in LEVELS:
            view.access = level


def enforce_markers(app: Any) -> None:
    """Refuse any endpoint whose view carries no access marker (fail closed)."""

    @app.before_request
    def _require_marker() -> None:
        if request.endpoint is None or request.endpoint == "static":
            return  # no route (404 follows), or Flask's own static files
        view = app.view_functions.get(request.endpoint)
        if getattr(view, "access", None) not in LEVELS:
            abort(404)
