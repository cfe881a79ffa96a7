"""A WhatsApp Business app number's contacts and history sync, started by a company admin
(issue 17 item 4); the number's page shows its state (``numbers/_coexistence.html``)."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, url_for

from provisioning.meta import coexistence_sync, lifecycle

from ..access import actor, company_admin
from ..admin.forms import ConfirmForm
from ..boundary import errors_go_to
from ..extensions import db
from ..jobs import enqueue

bp = Blueprint(
    "number_coexistence",
    __name__,
    url_prefix="/c/<company>/whatsapp-numbers/<int:wa_number_id>/coexistence",
)


@bp.route("/sync", methods=["POST"])
@errors_go_to("numbers.show")
@company_admin
def start(wa_number_id: int):
    """Ask Meta for the contacts and chat history not asked for yet (a run, in a job)."""
    number = lifecycle.number_of(db.session, g.company.id, wa_number_id)
    if ConfirmForm().validate_on_submit():
        run = coexistence_sync.start_by_person(db.session, actor(), number)
        enqueue("provisioning.execute_run", run.id)
        flash(
            "Meta is being asked for the contacts and chat history; they arrive over the next "
            "minutes.",
            "success",
        )
    return redirect(url_for("numbers.show", company=g.company.slug, wa_number_id=wa_number_id), 303)
