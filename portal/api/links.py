"""``/api/v1/.../onboarding-links``: hosted onboarding links of a company (create, list,
get, revoke). The link's URL, which carries its token, is in the creating answer only."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields, validate
from sqlalchemy import select

from provisioning import onboarding_links
from provisioning.api_keys import Scope
from provisioning.db import utcnow
from provisioning.errors import NotFound
from provisioning.onboarding_links import LinkOption, LinkState, OnboardingLink
from provisioning.tenancy import Company

from ..extensions import db
from ..hosted.urls import check_link_url
from ..links import public_url
from .auth import api_actor, api_key, company_in_reach, within_reach
from .idempotency import idempotent
from .pagination import PageArgs, page

blp = Blueprint(
    "api_links", __name__, url_prefix="/api/v1",
    description="Hosted onboarding links: a company's single-use page to connect its numbers.",
)  # fmt: skip
V = TypeVar("V", bound=Callable[..., Any])
URL = validate.Length(max=onboarding_links.URL_LENGTH)


class LinkCreate(Schema):
    options = fields.List(
        fields.String(validate=validate.OneOf([o.value for o in LinkOption])),
        required=True, validate=validate.Length(1, len(LinkOption)),
        metadata={"description": "meta (a new number), meta_coexistence (a WhatsApp "
                  "Business app number), dialog360."},
    )  # fmt: skip
    expires_at = fields.AwareDateTime(
        default_timezone=dt.UTC,
        metadata={"description": "Default: in 7 days; 30 days at most."},
    )
    success_url = fields.String(
        validate=URL,
        metadata={"description": "Where the visitor goes after a completion, with ?link=&status=."},
    )
    failure_url = fields.String(
        validate=URL,
        metadata={
            "description": "Where the visitor goes after a failure, with ?link=&status=&reason=."
        },
    )
    platform_name = fields.String(validate=validate.Length(max=onboarding_links.NAME_LENGTH))
    logo_url = fields.String(validate=URL, metadata={"description": "An https image URL."})
    revoke_others = fields.Boolean(
        load_default=False, metadata={"description": "Revoke the company's open links first."}
    )


class LinkSchema(Schema):
    id = fields.String(metadata={"example": "ol_3f9a..."})
    company = fields.String()
    state = fields.String(validate=validate.OneOf([s.value for s in LinkState]))
    options = fields.List(fields.String())
    expires_at = fields.DateTime()
    success_url = fields.String()
    failure_url = fields.String()
    platform_name = fields.String()
    logo_url = fields.String()
    created_by = fields.String()
    created_at = fields.DateTime()
    opened_at = fields.DateTime(allow_none=True)
    completed_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)
    option = fields.String(allow_none=True, metadata={"description": "The option used."})
    run = fields.Integer(allow_none=True, metadata={"description": "The run it started."})
    channels = fields.List(
        fields.Integer(), metadata={"description": "The channels its run connected so far."}
    )
    failure_reason = fields.String(
        allow_none=True, metadata={"description": "cancelled, provider_error or refused."}
    )
    failure_message = fields.String(allow_none=True)


class LinkCreated(LinkSchema):
    url = fields.String(metadata={"description": "The link to hand out, shown once."})


class LinkFilter(PageArgs):
    state = fields.String(validate=validate.OneOf([s.value for s in LinkState]))


class LinkPage(Schema):
    data = fields.List(fields.Nested(LinkSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


def _public(link: OnboardingLink) -> dict:
    now = utcnow()
    return {
        **{k: getattr(link, k) for k in (
            "options", "expires_at", "success_url", "failure_url", "platform_name", "logo_url",
            "created_by", "created_at", "opened_at", "completed_at", "revoked_at", "option",
        )},
        "id": link.public_id,
        "company": link.company.public_id,
        "state": link.state(now).value,
        "run": link.run_id,
        "channels": [c.id for c in onboarding_links.produced_channels(db.session, link)],
        "failure_reason": link.failure_reason or None,
        "failure_message": link.failure_message or None,
    }  # fmt: skip


def company_first(view: V) -> V:
    """Find the path's company before the body or query is read: a company out of reach is
    404 whatever else the request holds (never a 422 about its body)."""

    @wraps(view)
    def wrapper(*args: Any, company_id: str, **kwargs: Any) -> Any:
        g.api_company = company_in_reach(company_id)
        return view(*args, company_id=company_id, **kwargs)

    return wrapper  # type: ignore[return-value]


def _link(link_id: str) -> OnboardingLink:
    statement = within_reach(
        select(OnboardingLink).where(OnboardingLink.public_id == link_id),
        OnboardingLink.company_id,
    )
    link = db.session.scalars(statement).one_or_none()
    if link is None:
        raise NotFound(f"onboarding link {link_id} not found")
    return link


@blp.route("/companies/<string:company_id>/onboarding-links")
class CompanyLinks(MethodView):
    @api_key(Scope.READ)
    @company_first
    @blp.arguments(LinkFilter, location="query", unknown=RAISE)
    @blp.response(200, LinkPage)
    def get(self, args, company_id: str):
        """The company's links, oldest first; ``state`` filters (expired: by the time)."""
        company: Company = g.api_company
        statement = select(OnboardingLink).where(OnboardingLink.company_id == company.id)
        if args.get("state"):
            statement = statement.where(
                onboarding_links.where_state(LinkState(args["state"]), utcnow())
            )
        items, cursor = page(db.session, statement, OnboardingLink.id, args["limit"],
                             args["cursor"])  # fmt: skip
        return {"data": [_public(link) for link in items], "next_cursor": cursor}

    @api_key(Scope.WRITE)
    @company_first
    @idempotent
    @blp.arguments(LinkCreate)
    @blp.response(201, LinkCreated)
    def post(self, values, company_id: str):
        """Create a link for the company; its URL is in this answer only."""
        company: Company = g.api_company
        link, token = onboarding_links.create(
            db.session, api_actor(), company, values["options"], check_url=check_link_url,
            expires_at=values.get("expires_at"), success_url=values.get("success_url", ""),
            failure_url=values.get("failure_url", ""),
            platform_name=values.get("platform_name", ""), logo_url=values.get("logo_url", ""),
            revoke_others=values["revoke_others"],
        )  # fmt: skip
        url = public_url("hosted.link_page", token=token)
        return {**_public(link), "url": url}, 201, {"Cache-Control": "no-store"}


@blp.route("/onboarding-links/<string:link_id>")
class LinkItem(MethodView):
    @api_key(Scope.READ)
    @blp.response(200, LinkSchema)
    def get(self, link_id: str):
        """One link: its state, and what it produced."""
        return _public(_link(link_id))


@blp.route("/onboarding-links/<string:link_id>/revoke")
class LinkRevoke(MethodView):
    @api_key(Scope.WRITE)
    @blp.response(200, LinkSchema)
    def post(self, link_id: str):
        """Revoke an open link (a revoked one again: nothing changes)."""
        link = _link(link_id)
        onboarding_links.revoke(db.session, api_actor(), link)
        return _public(link)
