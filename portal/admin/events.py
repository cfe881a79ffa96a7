"""Platform admins: every stored provider webhook, its failures, and replay."""

from __future__ import annotations

import json

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from provisioning.events import WebhookEvent, redacted, replay
from provisioning.partners import Provider

from ..access import actor, platform_admin
from ..extensions import db
from ..jobs import APPLIERS, enqueue
from .forms import ConfirmForm

bp = Blueprint("admin_events", __name__, url_prefix="/admin/events")


@bp.route("/")
@platform_admin
def index():
    stmt = select(WebhookEvent).order_by(WebhookEvent.id.desc())
    provider = request.args.get("provider", "")
    state = request.args.get("state", "")
    if provider in {p.value for p in Provider}:
        stmt = stmt.where(WebhookEvent.provider == Provider(provider))
    if state == "failed":
        stmt = stmt.where(WebhookEvent.error.is_not(None))
    elif state == "pending":
        stmt = stmt.where(WebhookEvent.processed_at.is_(None), WebhookEvent.error.is_(None))
    pagination = db.paginate(
        stmt, page=request.args.get("page", 1, type=int), per_page=50, error_out=False
    )
    return render_template(
        "admin/events.html", pagination=pagination, provider=provider, state=state,
        providers=list(Provider),
    )  # fmt: skip


@bp.route("/<int:event_id>")
@platform_admin
def detail(event_id: int):
    event = db.get_or_404(WebhookEvent, event_id)
    try:
        shown = json.dumps(redacted(json.loads(event.payload)), indent=2, ensure_ascii=False)
    except ValueError:
        shown = "(not JSON: not shown)"
    return render_template("admin/event.html", event=event, payload=shown, confirm=ConfirmForm())


@bp.route("/<int:event_id>/replay", methods=["POST"])
@platform_admin
def replay_event(event_id: int):
    event = db.get_or_404(WebhookEvent, event_id)
    if ConfirmForm().validate_on_submit():
        replay(db.session, actor(), event)
        enqueue(APPLIERS[event.provider.value], event.id)
        flash("The event is being applied again.", "success")
    return redirect(url_for("admin_events.detail", event_id=event.id))
