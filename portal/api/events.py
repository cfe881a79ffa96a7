"""``/api/v1/event-endpoints``: where the platform receives events, each endpoint's
deliveries, a replay, and enabling an endpoint the portal disabled."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields, validate
from sqlalchemy import select

from provisioning import platform_events
from provisioning.api_keys import Scope
from provisioning.errors import DomainError, NotFound
from provisioning.outbound import address_refusal
from provisioning.platform_events import CATALOG, EventDelivery, EventEndpoint

from ..extensions import db
from .auth import api_actor, api_key, company_in_reach, current_key, row_in_reach, within_reach
from .idempotency import idempotent
from .pagination import PageArgs, page

blp = Blueprint(
    "api_events", __name__, url_prefix="/api/v1/event-endpoints",
    description="Endpoints that receive the platform's events, signed per Standard Webhooks.",
)  # fmt: skip


class EndpointSchema(Schema):
    id = fields.Integer(dump_only=True)
    url = fields.String(required=True, validate=validate.Length(1, 500))
    description = fields.String(validate=validate.Length(max=200))
    company = fields.String(
        load_default=None, allow_none=True,
        metadata={"description": "A company's id (co_...): its events only. Left out: all."},
    )  # fmt: skip
    event_types = fields.List(fields.String(validate=validate.OneOf(sorted(CATALOG))))
    disabled_at = fields.DateTime(dump_only=True, allow_none=True)
    disabled_reason = fields.String(dump_only=True)
    created_at = fields.DateTime(dump_only=True)


class EndpointCreated(EndpointSchema):
    secret = fields.String(dump_only=True, metadata={"description": "whsec_..., shown once."})


class EndpointPage(Schema):
    data = fields.List(fields.Nested(EndpointSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class DeliverySchema(Schema):
    id = fields.Integer()
    event_id = fields.Function(lambda d: d.event.public_id)
    type = fields.Function(lambda d: d.event.type)
    status = fields.Function(lambda d: d.status.value)
    attempts = fields.Integer()
    next_attempt_at = fields.DateTime()
    last_attempt_at = fields.DateTime(allow_none=True)
    last_status_code = fields.Integer(allow_none=True)
    last_error = fields.String()
    delivered_at = fields.DateTime(allow_none=True)


class DeliveryPage(Schema):
    data = fields.List(fields.Nested(DeliverySchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


def check_url(url: str) -> None:
    """An endpoint the portal may call: https in production, never a literal private
    address there; plain http and loopback in development and the demo."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DomainError("The endpoint must be an http(s) URL.")
    if current_app.config["PORTAL_ENV"] != "production":
        return
    if parts.scheme != "https":
        raise DomainError("The endpoint must use https.")
    try:
        refusal = address_refusal(ipaddress.ip_address(parts.hostname))
    except ValueError:
        refusal = None  # a name: resolved when the portal calls it
    if refusal:
        raise DomainError(f"The endpoint cannot be reached from here: {refusal}.")


def _public(endpoint: EventEndpoint) -> dict:
    return {
        **{k: getattr(endpoint, k) for k in ("id", "url", "description", "event_types",
                                            "disabled_at", "disabled_reason", "created_at")},
        "company": endpoint.company.public_id if endpoint.company else None,
    }  # fmt: skip


def _endpoint(endpoint_id: int) -> EventEndpoint:
    endpoint: EventEndpoint = row_in_reach(EventEndpoint, endpoint_id, "event endpoint")
    return endpoint


@blp.route("")
class Endpoints(MethodView):
    @api_key(Scope.READ)
    @blp.arguments(PageArgs, location="query", unknown=RAISE)
    @blp.response(200, EndpointPage)
    def get(self, args):
        """The endpoints this key reaches (a company key: its company's)."""
        statement = within_reach(select(EventEndpoint), EventEndpoint.company_id)
        items, cursor = page(db.session, statement, EventEndpoint.id, args["limit"],
                             args["cursor"])  # fmt: skip
        return {"data": [_public(e) for e in items], "next_cursor": cursor}

    @api_key(Scope.WRITE)
    @idempotent
    @blp.arguments(EndpointSchema)
    @blp.response(201, EndpointCreated)
    def post(self, values):
        """Register an endpoint; its signing secret is in this answer only."""
        key = current_key()
        company = company_in_reach(values["company"]) if values.get("company") else None
        if company is None and not key.is_platform:
            company = key.company  # a company key registers for its own company
        endpoint = platform_events.add_endpoint(
            db.session, api_actor(), values["url"], check_url=check_url, company=company,
            event_types=values.get("event_types", ()), description=values.get("description", ""),
        )  # fmt: skip
        return {**_public(endpoint), "secret": endpoint.secret}


@blp.route("/<int:endpoint_id>/deliveries")
class Deliveries(MethodView):
    @api_key(Scope.READ)
    @blp.arguments(PageArgs, location="query", unknown=RAISE)
    @blp.response(200, DeliveryPage)
    def get(self, args, endpoint_id: int):
        """The endpoint's deliveries, oldest first: status, attempts, last answer."""
        endpoint = _endpoint(endpoint_id)
        statement = select(EventDelivery).where(EventDelivery.endpoint_id == endpoint.id)
        items, cursor = page(db.session, statement, EventDelivery.id, args["limit"],
                             args["cursor"])  # fmt: skip
        return {"data": items, "next_cursor": cursor}


@blp.route("/<int:endpoint_id>/deliveries/<int:delivery_id>/replay")
class Replay(MethodView):
    @api_key(Scope.WRITE)
    @blp.response(202, DeliverySchema)
    def post(self, endpoint_id: int, delivery_id: int):
        """Send a delivery again (the receiver deduplicates by webhook-id)."""
        endpoint = _endpoint(endpoint_id)
        delivery = platform_events.delivery_of(db.session, endpoint, delivery_id)
        if delivery is None:
            raise NotFound(f"delivery {delivery_id} not found")
        platform_events.redeliver(db.session, api_actor(), delivery)
        return delivery


@blp.route("/<int:endpoint_id>/enable")
class Enable(MethodView):
    @api_key(Scope.WRITE)
    @blp.response(200, EndpointSchema)
    def post(self, endpoint_id: int):
        """Enable an endpoint the portal disabled; its failed deliveries go again."""
        endpoint = _endpoint(endpoint_id)
        platform_events.enable(db.session, api_actor(), endpoint)
        return _public(endpoint)
