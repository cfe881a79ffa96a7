"""What the API's provisioning views share: the provider's configuration, a company that
may change, and the company's Twilio subaccount (as ``portal.providers`` gives them to the
pages, with the API key as the actor)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort

from provisioning.db import Base
from provisioning.errors import DomainError, NotFound
from provisioning.partners import PartnerConfiguration, Provider, require_active
from provisioning.tenancy import Company, tenant_select
from provisioning.twilio import numbers
from provisioning.twilio.models import TwilioSubaccount

from ..boundary import checkpoint
from ..extensions import db
from ..providers import installed_configuration, provider_transport, unavailable_message
from .auth import api_actor, company_in_reach

Row = TypeVar("Row", bound=Base)
V = TypeVar("V", bound=Callable[..., Any])


def configuration(provider: Provider) -> PartnerConfiguration:
    """The active configuration of ``provider``; 409 (in plain words) while the platform
    has not set it up or has paused it."""
    config = installed_configuration(provider)
    if config is None:
        abort(409, description=unavailable_message(provider))
    return require_active(config)


def with_company(view: V) -> V:
    """The view of a ``/companies/{company_id}/...`` route gets ``company``, the company
    the key reaches (else 404, before the request's body or query is read)."""

    @wraps(view)
    def wrapper(*args: Any, company_id: str, **kwargs: Any) -> Any:
        return view(*args, company=company_in_reach(company_id), **kwargs)

    return wrapper  # type: ignore[return-value]


def active(company: Company) -> Company:
    """``company``, refused while it is deactivated: nothing is provisioned for it."""
    if not company.is_active:
        raise DomainError(f"The company {company.public_id} is deactivated: activate it first.")
    return company


def company_twilio(company: Company) -> tuple[TwilioSubaccount, numbers.TwilioApi]:
    """The company's subaccount (created on first need, on record before anything is done
    in it) and its own API."""
    config = configuration(Provider.TWILIO)
    sub = numbers.ensure_subaccount(
        db.session, api_actor(), company, config, provider_transport(), commit=checkpoint
    )
    checkpoint()
    return sub, numbers.subaccount_client(sub, config, provider_transport())


def company_row(model: type[Row], company: Company, ident: int, name: str) -> Row:
    """The company's row ``ident`` of ``model``, else ``NotFound`` (``name`` says what)."""
    statement = tenant_select(model, company.id).where(model.__table__.c.id == ident)
    row = db.session.scalars(statement).one_or_none()
    if row is None:
        raise NotFound(f"{name} {ident} not found")
    return row
