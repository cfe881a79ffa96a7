"""Offboarding pages: what a teardown covers, one number at a time or the whole company,
confirmed once, then followed on the runs' pages (docs/offboarding.md)."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, url_for
from wtforms import BooleanField, StringField
from wtforms.validators import DataRequired

from provisioning import offboarded, offboarding
from provisioning.errors import DomainError
from provisioning.runs import ProvisioningRun

from ..access import actor, company_admin
from ..admin.forms import ConfirmForm
from ..boundary import errors_go_to
from ..extensions import db
from ..jobs import enqueue

bp = Blueprint("offboarding", __name__, url_prefix="/c/<company>/offboard")


class CompanyOffboardForm(ConfirmForm):
    """The whole company: the person types the company's address (its slug) to confirm."""

    confirmation = StringField("Type the company's address to confirm", validators=[DataRequired()])
    return_numbers_to_pool = BooleanField("Keep the SMS numbers in the platform's pool")


class NumberOffboardForm(ConfirmForm):
    """One Twilio number: released for good, unless it goes back to the pool."""

    return_to_pool = BooleanField("Keep the number in the platform's pool")


def index_url() -> str:
    return url_for("offboarding.index", company=g.company.slug)


def _follow(run: ProvisioningRun, what: str):
    """Run it in a job (after the commit) and show its page."""
    enqueue("provisioning.execute_run", run.id)
    flash(f"Offboarding {what}: follow it below.", "info")
    return redirect(url_for("onboarding.run_detail", company=g.company.slug, run_id=run.id), 303)


@bp.get("")
@company_admin
def index():
    return render_template(
        "offboarding/index.html",
        plan=offboarding.plan(db.session, g.company.id),
        runs=offboarding.runs_of(db.session, g.company.id),
        latest=offboarded.latest_company_runs(db.session, g.company.id),
        company_form=CompanyOffboardForm(),
        number_form=NumberOffboardForm(),
        confirm=ConfirmForm(),
    )


@bp.post("")
@errors_go_to(index_url)
@company_admin
def offboard_company():
    form = CompanyOffboardForm()
    if not form.validate_on_submit() or form.confirmation.data.strip() != g.company.slug:
        raise DomainError(
            f"To offboard the whole company, type its address, {g.company.slug}: every number "
            "is taken off the platform and the company is closed."
        )
    started = offboarding.offboard_company(
        db.session, actor(), g.company, return_numbers_to_pool=form.return_numbers_to_pool.data
    )
    for run in started:
        if run.status.runnable:
            enqueue("provisioning.execute_run", run.id)
    if not started:
        flash(f"{g.company.name} had nothing left to tear down: it is offboarded.", "success")
        return redirect(url_for("auth.choose_company"), 303)
    flash(f"Offboarding {g.company.name}: {len(started)} run(s) started.", "info")
    return redirect(index_url(), 303)


@bp.post("/whatsapp-numbers/<int:wa_number_id>")
@errors_go_to(index_url)
@company_admin
def offboard_meta_number(wa_number_id: int):
    if not ConfirmForm().validate_on_submit():
        return redirect(index_url(), 303)
    run = offboarding.offboard_meta_number(db.session, actor(), g.company.id, wa_number_id)
    return _follow(run, "the WhatsApp number")


@bp.post("/360dialog-channels/<int:channel_id>")
@errors_go_to(index_url)
@company_admin
def offboard_dialog360_channel(channel_id: int):
    if not ConfirmForm().validate_on_submit():
        return redirect(index_url(), 303)
    run = offboarding.offboard_dialog360_channel(db.session, actor(), g.company.id, channel_id)
    return _follow(run, "the 360dialog channel")


@bp.post("/twilio-senders/<int:sender_id>")
@errors_go_to(index_url)
@company_admin
def offboard_twilio_sender(sender_id: int):
    if not ConfirmForm().validate_on_submit():
        return redirect(index_url(), 303)
    run = offboarding.offboard_twilio_sender(db.session, actor(), g.company.id, sender_id)
    return _follow(run, "the Twilio sender")


@bp.post("/twilio-numbers/<int:number_id>")
@errors_go_to(index_url)
@company_admin
def offboard_twilio_number(number_id: int):
    form = NumberOffboardForm()
    if not form.validate_on_submit():
        return redirect(index_url(), 303)
    run = offboarding.offboard_twilio_number(
        db.session, actor(), g.company.id, number_id, return_to_pool=form.return_to_pool.data
    )
    return _follow(run, "the SMS number")
