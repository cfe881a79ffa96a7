"""A company's A2P 10DLC registration: its business profile, submissions and brands."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select
from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from provisioning.partners import Provider, ValidationFailed
from provisioning.tenancy import tenant_get
from provisioning.twilio import a2p, brand_types, onboarding
from provisioning.twilio.models import BUSINESS_FIELDS, LONG_FIELDS, Tenant10DLCBrand

from ..access import actor, company_admin, company_member
from ..admin.forms import ConfirmForm
from ..boundary import checkpoint, errors_go_to
from ..extensions import db
from ..forms import Form
from ..jobs import enqueue
from ..providers import company_twilio, installed_configuration, required_configuration

bp = Blueprint("a2p", __name__, url_prefix="/c/<company>/a2p")

LABELS = {
    "legal_business_name": "Legal business name", "dba_name": "Doing business as",
    "business_website": "Website", "business_type": "Business type",
    "industry_vertical": "Industry", "business_registration_number": "EIN",
    "country": "Country", "business_address": "Street address", "business_city": "City",
    "business_state": "State", "business_zip": "ZIP code",
    "owner_name": "Authorized representative",
    "owner_title": "Their title", "owner_email": "Their e-mail", "owner_phone": "Their phone",
    "company_type": "Company type", "use_case": "Campaign use case",
    "campaign_description": "What the messages are for", "message_flow": "How people opt in",
    "sample_message_1": "Sample message 1", "sample_message_2": "Sample message 2",
    "opt_in_keywords": "Opt-in keywords", "opt_out_keywords": "Opt-out keywords",
    "privacy_policy_url": "Privacy policy URL", "terms_url": "Terms URL",
    "brand_type": "Brand type",
}  # fmt: skip
HINTS = {
    "business_registration_number": "Low-volume standard and standard brands only; a sole "
    "proprietor has none.",
    "owner_phone": "For a sole proprietor: a US or Canadian mobile, it receives the "
    "verification text to answer YES within 24 hours.",
    "company_type": "Standard brands only.",
}
FIELDS = ("brand_type", *(n for n in BUSINESS_FIELDS if n != "brand_type"))  # the type first
CHOICES = {
    "business_type": a2p.BUSINESS_TYPES, "industry_vertical": a2p.INDUSTRIES,
    "company_type": a2p.COMPANY_TYPES, "use_case": a2p.USE_CASES, "country": ("US",),
}  # fmt: skip


class BusinessForm(Form):
    """Every business field; the domain checks the values (one message per field)."""


for _name in BUSINESS_FIELDS:
    _validators = [Optional(), Length(max=4096)]
    if _name == "brand_type":
        _field = SelectField(
            LABELS[_name],
            choices=[SelectChoice("", "Recommended from the profile")]
            + [SelectChoice(code, kind.label) for code, kind in brand_types.BRAND_TYPES.items()],
            validators=_validators,
        )
    elif _name in CHOICES:
        _choices = [SelectChoice(c, c or "Choose…") for c in ("", *CHOICES[_name])]
        _field = SelectField(LABELS[_name], choices=_choices, validators=_validators)
    elif _name in LONG_FIELDS:
        _field = TextAreaField(LABELS[_name], validators=_validators)
    else:
        _field = StringField(LABELS[_name], validators=_validators)
    _field.kwargs["description"] = HINTS.get(_name, "")
    setattr(BusinessForm, _name, _field)


def page_url():
    return url_for("a2p.index", company=g.company.slug)


@bp.route("/", methods=["GET", "POST"])
@company_member
def index():
    if installed_configuration(Provider.TWILIO) is None:  # deactivated: the profile still shown
        abort(404)
    info = a2p.business_info(db.session, g.company.id)
    form = BusinessForm(obj=info)
    status = 200
    if request.method == "POST":
        if g.role.value != "admin":
            abort(403)
        if form.validate_on_submit():
            try:
                values = {n: form[n].data for n in BUSINESS_FIELDS}
                a2p.save_business_info(db.session, actor(), g.company, values)
            except ValidationFailed as exc:  # shown next to each field
                for name, message in exc.errors.items():
                    form[name].errors = [message]
                status = 400
            else:
                flash("Business profile saved.", "success")
                return redirect(page_url())
        else:
            status = 400
    brands = db.session.scalars(
        select(Tenant10DLCBrand)
        .where(Tenant10DLCBrand.company_id == g.company.id)
        .order_by(Tenant10DLCBrand.id.desc())
    )
    chosen = info.brand_type if info.id is not None else None
    return render_template(
        "twilio/a2p.html",
        form=form,
        fields=FIELDS,
        hints=HINTS,
        brands=list(brands),
        labels=LABELS,
        confirm=ConfirmForm(),
        types=brand_types.BRAND_TYPES,
        chosen=chosen,
        recommended=brand_types.recommend(
            {n: getattr(info, n) for n in BUSINESS_FIELDS} if info.id is not None else {}
        ),
        explain=brand_types.explain,
        throughput=brand_types.throughput,
        awaiting_otp=onboarding.awaiting_otp,
        otp_message=onboarding.otp_message,
        max_resends=brand_types.MAX_OTP_RESENDS,
        stopped=onboarding.CAMPAIGN_STOPPED,
    ), status


@bp.route("/submit", methods=["POST"])
@errors_go_to("a2p.index")
@company_admin
def submit():
    if not ConfirmForm().validate_on_submit():
        return redirect(page_url())
    config = required_configuration(Provider.TWILIO)
    brand = a2p.submit_brand(db.session, actor(), g.company, config)
    enqueue("provisioning.execute_run", brand.run_id)
    flash("Submitted: Twilio and the carriers review the brand (usually days).", "success")
    return redirect(url_for("onboarding.run_detail", company=g.company.slug, run_id=brand.run_id))


@bp.route("/brands/<int:brand_id>/otp", methods=["POST"])
@errors_go_to("a2p.index")
@company_admin
def resend_otp(brand_id: int):
    """Send the code again: TCR texts the sole proprietor's mobile a new code."""
    if not ConfirmForm().validate_on_submit():
        return redirect(page_url())
    brand = tenant_get(db.session, Tenant10DLCBrand, g.company.id, brand_id)
    _, client = company_twilio()
    onboarding.resend_otp(db.session, brand, client, checkpoint)
    flash(f"A new code was texted to {brand.owner_phone}: reply YES within 24 hours.", "success")
    return redirect(page_url())
