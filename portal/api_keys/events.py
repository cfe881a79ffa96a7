"""Event endpoints in the portal (platform admins): each endpoint's state and recent
deliveries, a replay, enabling an endpoint the portal disabled."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from sqlalchemy import select

from provisioning import platform_events
from provisioning.platform_events import EventDelivery, EventEndpoint

from ..access import actor, platform_admin
from ..admin.forms import ConfirmForm
from ..boundary import errors_go_to
from ..extensions import db

bp = Blueprint("event_endpoints", __name__, url_prefix="/admin/event-endpoints")
RECENT = 50


@bp.route("/")
@platform_admin
def index():
    endpoints = db.session.scalars(select(EventEndpoint).order_by(EventEndpoint.id)).all()
    return render_template("api_keys/event_endpoints.html", endpoints=endpoints,
                           catalog=platform_events.CATALOG)  # fmt: skip


@bp.route("/<int:endpoint_id>")
@platform_admin
def detail(endpoint_id: int):
    endpoint = platform_events.endpoint_of(db.session, None, endpoint_id)
    deliveries = db.session.scalars(
        select(EventDelivery)
        .where(EventDelivery.endpoint_id == endpoint.id)
        .order_by(EventDelivery.id.desc())
        .limit(RECENT)
    ).all()
    return render_template("api_keys/event_endpoint.html", endpoint=endpoint,
                           deliveries=deliveries, confirm=ConfirmForm())  # fmt: skip


@bp.route("/<int:endpoint_id>/deliveries/<int:delivery_id>/replay", methods=["POST"])
@errors_go_to("event_endpoints.detail")
@platform_admin
def replay(endpoint_id: int, delivery_id: int):
    endpoint = platform_events.endpoint_of(db.session, None, endpoint_id)
    delivery = platform_events.delivery_of(db.session, endpoint, delivery_id)
    if delivery is not None and ConfirmForm().validate_on_submit():
        platform_events.redeliver(db.session, actor(), delivery)
        flash(f"{delivery.event.public_id} goes again with the next delivery pass.", "success")
    return redirect(url_for("event_endpoints.detail", endpoint_id=endpoint.id))


@bp.route("/<int:endpoint_id>/enable", methods=["POST"])
@errors_go_to("event_endpoints.detail")
@platform_admin
def enable(endpoint_id: int):
    endpoint = platform_events.endpoint_of(db.session, None, endpoint_id)
    if ConfirmForm().validate_on_submit():
        count = platform_events.enable(db.session, actor(), endpoint)
        flash(f"Enabled; {count} failed deliveries go again, in order.", "success")
    return redirect(url_for("event_endpoints.detail", endpoint_id=endpoint.id))
