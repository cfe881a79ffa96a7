"""A company's SMS numbers: search, buy into its Twilio subaccount, webhooks, release."""

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

from provisioning.errors import AuthError, DomainError, ProviderError
from provisioning.partners import Provider
from provisioning.tenancy import Role, tenant_get, tenant_select
from provisioning.twilio import campaign_numbers, numbers, regulatory, sending
from provisioning.twilio.models import SmsPhoneNumber

from ..access import actor, company_admin, company_member
from ..admin.forms import ConfirmForm
from ..boundary import checkpoint, errors_go_to, message_of, status_of
from ..extensions import db
from ..forms import form_errors
from ..providers import (
    company_twilio,
    installed_configuration,
    required_configuration,
    twilio_master,
)
from .forms import BuyForm, SearchForm, WebhooksForm
from .senders import hook

bp = Blueprint("twilio", __name__, url_prefix="/c/<company>/numbers")
CREDENTIALS_REFUSED = (
    "Twilio refused the platform's credentials, so numbers cannot be searched now. "
    "A platform admin must check the Twilio settings."
)


def numbers_url():
    return url_for("twilio.index", company=g.company.slug)


@bp.route("/")
@company_member
def index():
    if installed_configuration(Provider.TWILIO) is None:  # deactivated: numbers still shown
        abort(404)
    rows = db.session.scalars(
        tenant_select(SmsPhoneNumber, g.company.id).order_by(SmsPhoneNumber.phone_number)
    ).all()
    form = SearchForm(request.args)
    results, error, status, bundle_note = [], None, 200, None
    searching = bool(request.args) and g.role is Role.ADMIN
    if searching and not form.validate():
        status = 400
    elif searching:
        try:
            # The catalogue is the same for every account: search with the master account,
            # so that looking creates nothing.
            client = twilio_master(required_configuration(Provider.TWILIO))
            results = numbers.search_numbers(
                client,
                form.country.data,
                form.number_type.data,
                area_code=form.area_code.data,
                contains=form.contains.data,
                sms=form.sms.data or None,
                mms=form.mms.data or None,
                voice=form.voice.data or None,
            )
            bundle_note = regulatory.purchase_note(
                db.session, g.company.id, client, form.country.data, form.number_type.data
            )
        except AuthError:  # the platform's settings, not the person's search
            error, status = CREDENTIALS_REFUSED, 409
        except (DomainError, ProviderError) as exc:  # shown next to the search form
            error, status = message_of(exc), status_of(exc)
    return render_template(
        "twilio/numbers.html",
        rows=rows,
        readiness={row.id: sending.can_send(db.session, row) for row in rows},
        form=form,
        results=results,
        error=error,
        bundle_note=bundle_note,
        buy=BuyForm(),
        confirm=ConfirmForm(),
        webhooks=WebhooksForm(),
    ), status


@bp.route("/buy", methods=["POST"])
@errors_go_to("twilio.index")
@company_admin
def buy():
    form = BuyForm()
    if not form.validate_on_submit():
        raise DomainError(form_errors(form))
    sub, client = company_twilio()
    # Its messages come to the platform: a WhatsApp code sent to it is read from them.
    row = numbers.buy_number(
        db.session, actor(), g.company, sub, client, form.phone_number.data, checkpoint,
        sms_url=hook("messages"), number_type=form.number_type.data or "local",
    )  # fmt: skip
    checkpoint()  # the purchase is on record whatever follows
    flash(f"{row.phone_number} is yours.", "success")
    if problem := campaign_numbers.join_after_purchase(db.session, actor(), row, client):
        flash(problem, "error")
    return redirect(numbers_url())


@bp.route("/<int:number_id>/webhooks", methods=["POST"])
@errors_go_to("twilio.index")
@company_admin
def webhooks(number_id: int):
    row = tenant_get(db.session, SmsPhoneNumber, g.company.id, number_id)
    form = WebhooksForm()
    if not form.validate_on_submit():
        raise DomainError(form_errors(form))
    _, client = company_twilio()
    numbers.set_number_webhooks(
        db.session, actor(), row, client, form.sms_url.data, form.status_callback.data
    )
    flash("Webhooks saved.", "success")
    return redirect(numbers_url())


@bp.route("/<int:number_id>/release", methods=["POST"])
@errors_go_to("twilio.index")
@company_admin
def release(number_id: int):
    row = tenant_get(db.session, SmsPhoneNumber, g.company.id, number_id)
    if ConfirmForm().validate_on_submit():
        _, client = company_twilio()
        numbers.release_number(db.session, actor(), row, client)
        flash(f"{row.phone_number} was released.", "success")
    return redirect(numbers_url())
