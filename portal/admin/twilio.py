"""Platform admins: Twilio subaccounts (suspend, reactivate, close) and the phone pool."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from wtforms import SelectField

from provisioning.errors import DomainError, ProviderError
from provisioning.partners import Provider
from provisioning.tenancy import Company
from provisioning.twilio import numbers
from provisioning.twilio.accounts import master_client
from provisioning.twilio.models import SmsPhoneNumber, TwilioSubaccount

from ..access import actor, platform_admin
from ..admin.forms import ConfirmForm
from ..extensions import db
from ..forms import Form
from ..providers import admin_configuration, provider_transport
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
@platform_admin
def subaccount_status(sub_id: int, status: str):
    sub = db.session.get(TwilioSubaccount, sub_id)
    if sub is None:
        abort(404)
    form = TypedConfirmForm() if status == "closed" else ConfirmForm()
    if not form.validate_on_submit() or (
        status == "closed" and form.confirmation.data.strip() != CLOSE_WORD
    ):
        flash(f"To close, type {CLOSE_WORD}: its numbers are released for good.", "error")
        return redirect(url_for("admin_twilio.index")), 303
    try:
        master = master_client(admin_configuration(Provider.TWILIO), provider_transport())
        numbers.set_subaccount_status(db.session, actor(), sub, master, status)
    except (DomainError, ProviderError) as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("admin_twilio.index")), 303
    db.session.commit()
    flash(f"{sub.friendly_name} is {status}.", "success")
    return redirect(url_for("admin_twilio.index"))


@bp.route("/pool/<int:number_id>/reassign", methods=["POST"])
@platform_admin
def reassign(number_id: int):
    row = db.session.get(SmsPhoneNumber, number_id)
    if row is None:
        abort(404)
    form = ReassignForm()
    form.company_id.choices = list(company_names().items())
    if not form.validate_on_submit():
        flash("Choose a company.", "error")
        return redirect(url_for("admin_twilio.index")), 303
    config = admin_configuration(Provider.TWILIO)
    try:
        target = numbers.ensure_subaccount(
            db.session, actor(), db.session.get(Company, form.company_id.data), config,
            provider_transport(), commit=db.session.commit,
        )  # fmt: skip
        numbers.reassign_number(
            db.session, actor(), row, target, master_client(config, provider_transport())
        )
    except (DomainError, ProviderError) as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("admin_twilio.index")), 303
    db.session.commit()
    flash(f"{row.phone_number} moved.", "success")
    return redirect(url_for("admin_twilio.index"))
