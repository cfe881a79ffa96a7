"""A person's notifications: newest first, unread highlighted, marked read one or all."""

from __future__ import annotations

import re

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_login import current_user

from provisioning import fleet, health

from ..access import signed_in
from ..extensions import db

bp = Blueprint("notifications", __name__, url_prefix="/notifications")
CURSOR = re.compile(r"^[0-9]{1,18}$")


@bp.app_context_processor
def unread_badge() -> dict:
    """``unread_notifications()`` for the nav: one COUNT, only on pages that show it."""

    def unread_notifications() -> int:
        if not current_user.is_authenticated:
            return 0
        if "unread_notifications" not in g:
            g.unread_notifications = health.unread_count(db.session, current_user.id)
        return g.unread_notifications

    return {"unread_notifications": unread_notifications}


@bp.route("/")
@signed_in
def index():
    before = _cursor(request.args.get("before", ""))
    rows, next_before = fleet.notifications_page(db.session, current_user.id, before=before)
    return render_template(
        "notifications/index.html", rows=rows, before=before, next_before=next_before
    )


@bp.route("/read", methods=["POST"])
@signed_in
def mark_all_read():
    count = health.mark_read(db.session, current_user.id)
    flash(f"{count} notification{'s' if count != 1 else ''} marked read.", "success")
    return redirect(url_for("notifications.index"), 303)


@bp.route("/<int:notification_id>/read", methods=["POST"])
@signed_in
def mark_read(notification_id: int):
    notification = fleet.user_notification(db.session, current_user.id, notification_id)
    health.mark_read(db.session, current_user.id, [notification.id])
    before = _cursor(request.form.get("before", ""))
    return redirect(url_for("notifications.index", before=before), 303)


def _cursor(text: str) -> int | None:
    """A page cursor; anything that is not an id shows the first page."""
    text = text.strip()
    return int(text) if CURSOR.match(text) else None
