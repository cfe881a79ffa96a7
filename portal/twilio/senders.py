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

from provisioning import phones
from provisioning.errors import DomainError, ProviderError, Retryable
from provisioning.partners import Provider
from provisioning.tenancy import tenant_get
from provisioning.twilio import senders
from provisioning.twilio.models import TwilioWhatsAppSender

from ..access import actor, company_admin, company_member
from ..admin.forms import ConfirmForm
from ..extensions import db
from ..onboarding import nonces
from ..providers import partner_configuration
from ..security_headers import connect_page
from .routes import busy_message, company_client

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
    moving = [r for r in rows if r.sender_sid and r.status in senders.TRANSITIONAL]
    if moving:  # follow senders that are still changing (Twilio documents no callback)
        try:
            _, client = company_client()
            for row in moving:
                senders.refresh_sender(db.session, row, client)
            db.session.commit()
        except (DomainError, ProviderError):  # a deactivated configuration: shown as stored
            db.session.rollback()
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
    state = nonces.issue(g.company.id, Provider.TWILIO)
    db.session.commit()
    return jsonify(state=state)


@bp.route("/complete", methods=["POST"])
@company_admin
def complete():
    """Meta's finish event carries the WABA shared with Twilio; create the sender with it."""
    try:
        body = nonces.launch_result(request.get_json(silent=True), g.company.id, Provider.TWILIO)
    except nonces.LaunchRefused as exc:
        return jsonify(error=str(exc)), 400
    db.session.commit()  # the launch is spent, whatever follows
    event = body.get("event") if isinstance(body.get("event"), dict) else {}
    if event.get("event") in ("CANCEL", "ERROR") or not event:
        return jsonify(error="The signup did not finish: nothing was created."), 400
    waba_id = str((event.get("data") or {}).get("waba_id") or "")
    phone = str(body.get("sender-phone") or "").strip()
    name = str(body.get("sender-name") or "").strip()
    try:
        phone = phones.e164(phone)
    except phones.InvalidPhoneNumber as exc:
        return jsonify(error=str(exc)), 400
    try:
        sub, client = company_client()
        senders.create_sender(
            db.session, actor(), g.company, sub, client, phone_number=phone, waba_id=waba_id,
            profile_name=name, callback_url=hook("messages"),
            status_callback_url=hook("status"), commit=db.session.commit,
        )  # fmt: skip
    except Retryable as exc:  # a lost answer, a throttle, a 5xx: the claim ended, try again
        db.session.commit()
        return jsonify(error=busy_message(exc)), 429
    except (DomainError, ProviderError) as exc:
        db.session.commit()
        return jsonify(error=str(exc.message if isinstance(exc, ProviderError) else exc)), 400
    db.session.commit()
    return jsonify(redirect=senders_url())


def _sender(sender_id: int) -> TwilioWhatsAppSender:
    row = tenant_get(db.session, TwilioWhatsAppSender, g.company.id, sender_id)
    if not row.sender_sid:
        abort(404)
    return row


@bp.route("/<int:sender_id>/verify", methods=["POST"])
@company_admin
def verify(sender_id: int):
    row = _sender(sender_id)
    if ConfirmForm().validate_on_submit():
        try:
            _, client = company_client()
            senders.submit_verification_code(
                db.session, actor(), row, client, request.form.get("code", "")
            )
        except (DomainError, ProviderError) as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return redirect(senders_url()), 303
        db.session.commit()
        flash("Code sent to Meta; the sender is being verified.", "success")
    return redirect(senders_url())


@bp.route("/<int:sender_id>/refresh", methods=["POST"])
@company_member
def refresh(sender_id: int):
    row = _sender(sender_id)
    if ConfirmForm().validate_on_submit():
        try:
            _, client = company_client()
            senders.refresh_sender(db.session, row, client)
        except ProviderError as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return redirect(senders_url()), 303
        db.session.commit()
    return redirect(senders_url())
