"""API key authentication: ``Authorization: Bearer <token>``, and the key's reach.

A view marked :func:`api_key` is refused (401) without a live key and (403) without the
scope it needs; the session cookie is never read, so a signed-in browser gets nothing
here. A platform key reaches every company, a company key its own company only: any
other company's rows are 404, as if they did not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import g, request
from sqlalchemy import Select

from provisioning import api_keys
from provisioning.api_keys import ApiKey, Scope
from provisioning.audit import Actor
from provisioning.errors import NotFound
from provisioning.tenancy import Company

from ..extensions import db
from .ratelimit import limited

V = TypeVar("V", bound=Callable[..., Any])
SCHEME = "bearer"


class Unauthenticated(Exception):
    """No live key: 401."""


class Forbidden(Exception):
    """The key lacks the scope: 403."""

    def __init__(self, scope: Scope, message: str = "") -> None:
        super().__init__(message or f"This API key does not have the '{scope.value}' scope.")


def api_key(scope: Scope) -> Callable[[V], V]:
    """Mark a view of the API: a live key with ``scope`` calls it. Every call of a live
    key counts against its rate limits (:mod:`portal.api.ratelimit`), one without a key
    against nothing."""

    def decorate(view: V) -> V:
        @wraps(view)
        def scoped(*args: Any, **kwargs: Any) -> Any:
            if not current_key().allows(scope):
                raise Forbidden(scope)
            return view(*args, **kwargs)

        counted = limited(scoped, scope)

        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            g.api_key = _key()
            return counted(*args, **kwargs)

        wrapper.access = "api_key"  # type: ignore[attr-defined]
        wrapper.api_scope = scope.value  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def _key() -> ApiKey:
    scheme, _, token = (request.headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != SCHEME or not token.strip():
        raise Unauthenticated("Send an API key: Authorization: Bearer <token>.")
    key = api_keys.authenticate(db.session, token.strip())
    if key is None:
        raise Unauthenticated("This API key is not valid or was revoked.")
    return key


def current_key() -> ApiKey:
    key: ApiKey = g.api_key
    return key


def api_actor() -> Actor:
    """Who acts in the audit log: the key, named by its prefix and name."""
    key = current_key()
    return Actor(None, f"api-key:{key.prefix}:{key.name}"[:254])


def within_reach(statement: Select, company_id_column: Any) -> Select:
    """``statement`` confined to the companies the key reaches."""
    key = current_key()
    return statement if key.is_platform else statement.where(company_id_column == key.company_id)


def row_in_reach(model: Any, ident: int, name: str) -> Any:
    """The row ``ident`` of ``model`` if it belongs to a company the key reaches, else
    ``NotFound`` (``name`` says what was not found)."""
    statement = within_reach(db.select(model).where(model.id == ident), model.company_id)
    row = db.session.scalars(statement).one_or_none()
    if row is None:
        raise NotFound(f"{name} {ident} not found")
    return row


def company_in_reach(public_id: str) -> Company:
    """The company ``public_id`` if the key reaches it, else ``NotFound``."""
    statement = within_reach(db.select(Company).where(Company.public_id == public_id), Company.id)
    company = db.session.scalars(statement).one_or_none()
    if company is None:
        raise NotFound(f"company {public_id} not found")
    return company
