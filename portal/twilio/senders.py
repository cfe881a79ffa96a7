"""A company's WhatsApp senders on Twilio: Meta's signup with Twilio's solution id, then
the sender in the company's subaccount, its verification code, and its status."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select

from provisioning.errors import DomainError
from provisioning.partners import Provider
from provisioning.tenancy import tenant_get
from provisioning.twilio import senders
from provisioning.twilio.models import TwilioWhatsAppSender

from ..access import actor, company_admin, company_member
from ..admin.forms import ConfirmForm
from ..boundary import checkpoint, errors_go_to
from ..extensions import db
from ..onboarding import nonces
from ..providers import company_twilio, partner_configuration
from ..security_headers import connect_page

bp = Blueprint("twilio_senders", __name__, url_prefix="/c/<company>/whatsapp-senders")


def senders_url():
    return url_for("twilio_senders.index", company=g.company.slug)


def hook(path: str) -> str:
    return f"{current_app.config['PUBLIC_BASE_URL'].rstrip('/')}/webhooks/twilio/{path}"


@bp.route("/")
@company_member
@connect_page(meta_sdk=True)
def index():
    rows = list(
        db.session.scalars(
            select(TwilioWhatsAppSender)
            .where(TwilioWhatsAppSender.company_id == g.company.id)
            .order_by(TwilioWhatsAppSender.sender_id)
        )
    )
    senders.follow_changing(db.session, rows, company_twilio)
    meta = partner_configuration(Provider.META)
    solution_id = meta.value("twilio_partner_solution_id") if meta else ""
    return render_template(
        "twilio/senders.html",
        rows=rows,
        state=senders.state,
        reason_text=senders.offline_reason_text,
        meta=meta if solution_id else None,
        solution_id=solution_id,
        confirm=ConfirmForm(),
    )


@bp.route("/launch", methods=["POST"])
@company_admin
def launch():
    return jsonify(state=nonces.issue(g.company.id, Provider.TWILIO))


@bp.route("/complete", methods=["POST"])
@company_admin
def complete():
    """Meta's finish event carries the WABA shared with Twilio; create the sender with it.
    The launch is spent whatever follows; errors answer the page's script in JSON."""
    body = nonces.launch_result(request.get_json(silent=True), g.company.id, Provider.TWILIO)
    checkpoint()  # the launch stays spent even when the sender cannot be created
    event = body.get("event") if isinstance(body.get("event"), dict) else {}
    if event.get("event") in ("CANCEL", "ERROR") or not event:
        raise DomainError("The signup did not finish: nothing was created.")
    phone = str(body.get("sender-phone") or "").strip()
    waba_id = str((event.get("data") or {}).get("waba_id") or "")
    name = str(body.get("sender-name") or "").strip()
    phone = senders.check_sender(phone, waba_id, name)  # before a subaccount is made for it
    sub, client = company_twilio()
    senders.create_sender(
        db.session, actor(), g.company, sub, client, phone_number=phone, waba_id=waba_id,
        profile_name=name, callback_url=hook("messages"), status_callback_url=hook("status"),
        commit=checkpoint,
    )  # fmt: skip
    return jsonify(redirect=senders_url())


def _sender(sender_id: int) -> TwilioWhatsAppSender:
    row = tenant_get(db.session, TwilioWhatsAppSender, g.company.id, sender_id)
    if not row.sender_sid:
        abort(404)
    return row


@bp.route("/<int:sender_id>/verify", methods=["POST"])
@errors_go_to("twilio_senders.index")
@company_admin
def verify(sender_id: int):
    row = _sender(sender_id)
    if ConfirmForm().validate_on_submit():
        _, client = company_twilio()
        senders.submit_verification_code(
            db.session, actor(), row, client, request.form.get("code", "")
        )
        flash("Code sent to Meta; the sender is being verified.", "success")
    return redirect(senders_url())


@bp.route("/<int:sender_id>/refresh", methods=["POST"])
@errors_go_to("twilio_senders.index")
@company_member
def refresh(sender_id: int):
    row = _sender(sender_id)
    if ConfirmForm().validate_on_submit():
        _, client = company_twilio()
        senders.refresh_sender(db.session, row, client)
    return redirect(senders_url())
