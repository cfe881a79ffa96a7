"""Provider webhooks: verify on the raw bytes, store with a dedupe key, answer at once.

A delivery is verified with a secret kept per process and stored by one INSERT that is
the request's one commit (``provisioning.ingest``); then the apply job is woken (no
broker call per delivery: the job takes every stored event no job has taken yet).
Applying an event is a job, so a slow database or a bug in applying never makes the
provider retry (or give up on) a delivery the platform already holds.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, abort, current_app, jsonify, request

from provisioning.dialog360 import messaging as d360_messaging
from provisioning.dialog360 import webhooks as d360
from provisioning.errors import DomainError
from provisioning.ingest import Unconfigured, Unverified
from provisioning.meta import webhooks as meta_webhooks
from provisioning.partners import Provider
from provisioning.twilio import webhooks as twilio_webhooks

from ..access import public
from ..extensions import csrf, db
from ..jobs import enqueue
from ..providers import installed_configuration

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
APPLY_PENDING = "webhooks.apply_pending"


@bp.errorhandler(Unverified)
def unverified(exc: Unverified):
    return "", 403


@bp.errorhandler(DomainError)
def malformed(exc: DomainError):
    return jsonify(error=str(exc)), 400


def _environment() -> str:
    return current_app.config["PROVIDER_ENVIRONMENT"]


def _wake(event_id: int | None) -> None:
    """A new event waits: wake the apply job (runners coalesce the wake-ups)."""
    if event_id is not None:
        enqueue(APPLY_PENDING)


@bp.route("/360dialog", methods=["POST"], defaults={"token": None})
@bp.route("/360dialog/<token>", methods=["POST"])
@public
@csrf.exempt
def dialog360(token: str | None):
    """Partner hub events: signed with the partner secret, else an unguessable URL token."""
    body = request.get_data(cache=False)
    signature = request.headers.get("x-360dialog-signature")
    try:
        event_id = d360.ingest(db.session, _environment(), body, signature, token)
    except Unconfigured:
        abort(404)
    _wake(event_id)
    return jsonify(received=True, duplicate=event_id is None)


@bp.route("/whatsapp/360dialog", methods=["POST"])
@public
@csrf.exempt
def dialog360_messaging():
    """A channel's messages and statuses (Meta's envelope via 360dialog): authenticated by
    the channel's own secret header, stored once, answered 200 at once."""
    channel = d360_messaging.channel_for(db.session, request.headers.get(d360_messaging.HEADER))
    if channel is None:
        abort(403)
    body = request.get_data(cache=False)
    try:
        delivery = d360_messaging.parse(body)
    except DomainError as exc:
        return jsonify(error=str(exc)), 400
    stored = d360_messaging.store(db.session, channel, body, delivery)
    db.session.commit()
    return jsonify(received=True, duplicate=not stored)


def _public_url() -> str:
    """The URL Twilio called, rebuilt from the configured public base (proxies rewrite it)."""
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    query = request.query_string.decode()
    return f"{base}{request.path}" + (f"?{query}" if query else "")


@bp.route("/twilio/<any(status, messages):kind>", methods=["POST"])
@public
@csrf.exempt
def twilio_callback(kind: str):
    """Message and sender callbacks, signed with the token of the account in AccountSid;
    stored for later use (there is no message store yet): nothing to apply."""
    raw = request.get_data(cache=True)
    # A JSON body is signed through a non-empty bodySHA256 (as Twilio's validator reads it)
    form = None if request.args.get("bodySHA256") else request.form.to_dict()
    signature = request.headers.get("X-Twilio-Signature")
    twilio_webhooks.ingest_callback(
        db.session, _environment(), kind, _public_url(), raw, form, signature
    )
    return "", 204


@bp.route("/twilio/events/<token>", methods=["POST"])
@public
@csrf.exempt
def twilio_events(token: str):
    """Event Streams A2P events for one subaccount: the sink URL's token names it, its
    auth token signs the delivery, and the events may change that subaccount's company
    only."""
    raw = request.get_data(cache=False)
    signature = request.headers.get("X-Twilio-Signature")
    _wake(twilio_webhooks.ingest_events(db.session, token, _public_url(), raw, signature))
    return "", 200


@bp.route("/meta", methods=["GET"])
@public
def meta_verify():
    """Meta's subscription handshake: echo ``hub.challenge`` for our verify token."""
    config = installed_configuration(Provider.META)
    token = request.args.get("hub.verify_token", "")
    expected = config.value("webhook_verify_token") if config else ""
    if (
        request.args.get("hub.mode") != "subscribe"
        or not expected
        or not hmac.compare_digest(token.encode(), expected.encode())
    ):
        abort(403)
    return request.args.get("hub.challenge", ""), 200, {"Content-Type": "text/plain"}


@bp.route("/meta", methods=["POST"])
@public
@csrf.exempt
def meta_event():
    """Signed with the app secret over the raw bytes; anything else is refused with 403."""
    body = request.get_data(cache=False)
    signature = request.headers.get("X-Hub-Signature-256")
    _wake(meta_webhooks.ingest(db.session, _environment(), body, signature))
    return "", 200
