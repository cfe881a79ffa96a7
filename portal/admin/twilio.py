"""Platform admins: Twilio subaccounts (suspend, reactivate, close) and the phone pool."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from wtforms import SelectField

from provisioning.errors import DomainError
from provisioning.partners import Provider
from provisioning.tenancy import Company
from provisioning.twilio import numbers
from provisioning.twilio.models import SmsPhoneNumber, TwilioSubaccount

from ..access import actor, platform_admin
from ..admin.forms import ConfirmForm
from ..boundary import checkpoint, errors_go_to
from ..extensions import db
from ..forms import Form
from ..providers import admin_configuration, provider_transport, twilio_master
from ..twilio.forms import TypedConfirmForm

bp = Blueprint("admin_twilio", __name__, url_prefix="/admin/twilio")
CLOSE_WORD = "CLOSE"


class ReassignForm(Form):
    company_id = SelectField("Move to", coerce=int)


def company_names() -> dict[int, str]:
    return {row.id: row.name for row in db.session.execute(select(Company.id, Company.name))}


@bp.route("/")
@platform_admin
def index():
    subaccounts = db.session.scalars(select(TwilioSubaccount).order_by(TwilioSubaccount.id))
    pool = db.paginate(
        select(SmsPhoneNumber).order_by(SmsPhoneNumber.phone_number),
        page=request.args.get("page", 1, type=int),
        per_page=50,
        error_out=False,
    )
    names = company_names()
    reassign = ReassignForm()
    reassign.company_id.choices = sorted(names.items(), key=lambda item: item[1])
    return render_template(
        "admin/twilio.html",
        subaccounts=list(subaccounts),
        pool=pool,
        names=names,
        confirm=ConfirmForm(),
        typed=TypedConfirmForm(),
        reassign=reassign,
        close_word=CLOSE_WORD,
    )


@bp.route("/subaccounts/<int:sub_id>/<any(active, suspended, closed):status>", methods=["POST"])
@errors_go_to("admin_twilio.index")
@platform_admin
def subaccount_status(sub_id: int, status: str):
    sub = db.session.get(TwilioSubaccount, sub_id)
    if sub is None:
        abort(404)
    form = TypedConfirmForm() if status == "closed" else ConfirmForm()
    if not form.validate_on_submit() or (
        status == "closed" and form.confirmation.data.strip() != CLOSE_WORD
    ):
        raise DomainError(f"To close, type {CLOSE_WORD}: its numbers are released for good.")
    master = twilio_master(admin_configuration(Provider.TWILIO))
    numbers.set_subaccount_status(db.session, actor(), sub, master, status)
    flash(f"{sub.friendly_name} is {status}.", "success")
    return redirect(url_for("admin_twilio.index"))


@bp.route("/pool/<int:number_id>/reassign", methods=["POST"])
@errors_go_to("admin_twilio.index")
@platform_admin
def reassign(number_id: int):
    row = db.session.get(SmsPhoneNumber, number_id)
    if row is None:
        abort(404)
    form = ReassignForm()
    form.company_id.choices = list(company_names().items())
    if not form.validate_on_submit():
        raise DomainError("Choose a company.")
    config = admin_configuration(Provider.TWILIO)
    company = db.session.get(Company, form.company_id.data)
    if company is None:
        raise DomainError("Choose a company.")
    target = numbers.ensure_subaccount(
        db.session, actor(), company, config, provider_transport(), commit=checkpoint
    )
    numbers.reassign_number(db.session, actor(), row, target, twilio_master(config))
    flash(f"{row.phone_number} moved.", "success")
    return redirect(url_for("admin_twilio.index"))
