"""A company's SMS number page: whether it can send now and why not, and for a toll-free
number its verification (the form, the review's status, fix and resubmit)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, url_for
from wtforms import SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from provisioning import phones
from provisioning.errors import ProviderError
from provisioning.partners import ValidationFailed
from provisioning.tenancy import tenant_get
from provisioning.twilio import a2p, sending, tollfree
from provisioning.twilio import tollfree_fields as fields
from provisioning.twilio.models import SmsPhoneNumber
from provisioning.twilio.tollfree_models import TollfreeVerification

from ..access import actor, company_admin, company_member
from ..boundary import checkpoint, errors_go_to
from ..extensions import db
from ..forms import Form
from ..providers import company_twilio
from .senders import hook

bp = Blueprint("tollfree", __name__, url_prefix="/c/<company>/numbers")
LONG = {"use_case_summary", "additional_information", "opt_in_confirmation_message",
        "production_message_sample", "help_message_sample", "opt_in_image_urls"}  # fmt: skip


class VerificationForm(Form):
    """Every field of a toll-free verification; the domain checks the values."""

    edit_reason = StringField(
        "What you corrected (for Twilio's reviewer)", validators=[Optional(), Length(max=500)]
    )


for _name in fields.FIELDS:
    _label = fields.LABELS[_name]
    _validators = [Optional(), Length(max=4096)]
    if _name == "use_case_categories":
        _choices = [
            SelectChoice(c, c.replace("_", " ").title()) for c in fields.USE_CASE_CATEGORIES
        ]
        _field: Any = SelectMultipleField(_label, choices=_choices, validate_choice=False)
    elif _name in fields.CHOICES:
        _choices = [SelectChoice(c, c or "Choose…") for c in ("", *fields.CHOICES[_name])]
        _field = SelectField(_label, choices=_choices, validators=_validators,
                             validate_choice=False)  # fmt: skip
    elif _name in LONG:
        _field = TextAreaField(_label, validators=_validators)
    else:
        _field = StringField(_label, validators=_validators)
    setattr(VerificationForm, _name, _field)


def _form_data(values: dict[str, Any]) -> dict[str, Any]:
    data = dict(values)
    data["opt_in_image_urls"] = "\n".join(fields.as_list(values.get("opt_in_image_urls")))
    data["use_case_categories"] = fields.as_list(values.get("use_case_categories"))
    return data


def number_url(number_id: int) -> str:
    return url_for("tollfree.number", company=g.company.slug, number_id=number_id)


def _page(row: SmsPhoneNumber, form: VerificationForm, status: int = 200) -> Any:
    verification = tollfree.latest(db.session, g.company.id, row.id)
    return render_template(
        "twilio/number.html",
        number=row,
        readiness=sending.can_send(db.session, row),
        toll_free=phones.is_toll_free(row.phone_number),
        verification=verification,
        editable=tollfree.editable(verification),
        words=tollfree.STATUS_WORDS,
        groups=fields.GROUPS,
        form=form,
    ), status


def _refreshed(verification: TollfreeVerification | None) -> bool:
    """Fetch a request still moving (or changed by an event) so the page is current; a
    busy or failing Twilio leaves what is known (False)."""
    if not tollfree.needs_refresh(verification):
        return True
    try:
        _, client = company_twilio()
        tollfree.refresh(db.session, verification, client)  # type: ignore[arg-type]
    except ProviderError:
        return False
    return True


@bp.route("/<int:number_id>")
@company_member
def number(number_id: int):
    row = tenant_get(db.session, SmsPhoneNumber, g.company.id, number_id)
    if not _refreshed(tollfree.current(db.session, g.company.id, row.id)):
        flash("Twilio did not answer: the verification's status may be out of date.", "warning")
    info = a2p.business_info(db.session, g.company.id)
    values = tollfree.form_values(db.session, g.company.id, row, info)
    return _page(row, VerificationForm(data=_form_data(values)))


@bp.route("/<int:number_id>/verification", methods=["POST"])
@errors_go_to("tollfree.number")
@company_admin
def submit(number_id: int):
    row = tenant_get(db.session, SmsPhoneNumber, g.company.id, number_id)
    form = VerificationForm()
    if not form.validate_on_submit():
        return _page(row, form, 400)
    sub, client = company_twilio()
    editing = tollfree.editable(tollfree.current(db.session, g.company.id, row.id))
    try:
        tollfree.submit(
            db.session, actor(), g.company, row, client,
            {name: form[name].data for name in fields.FIELDS}, checkpoint,
            events_destination=hook(f"events/{sub.events_token()}"),
            edit_reason=form.edit_reason.data,
        )  # fmt: skip
    except ValidationFailed as exc:  # shown next to each field
        for name, message in exc.errors.items():
            form[name].errors = [message]
        return _page(row, form, 400)
    if editing:
        flash("Resubmitted: Twilio reviews the corrected request again.", "success")
    else:
        flash("Submitted: Twilio and the carriers review it (usually a few days).", "success")
    return redirect(number_url(row.id))
