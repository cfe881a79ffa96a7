"""Provider webhooks: verify on the raw bytes, store with a dedupe key, answer at once.

Applying an event is a job, so a slow database or a bug in applying never makes the
provider retry (or give up on) a delivery the platform already holds.
"""

from __future__ import annotations

import hmac
import json

from flask import Blueprint, abort, current_app, jsonify, request

from provisioning.dialog360 import messaging as d360_messaging
from provisioning.dialog360 import webhooks as d360
from provisioning.errors import DomainError
from provisioning.events import body_digest, store_event
from provisioning.meta import webhooks as meta_webhooks
from provisioning.partners import Provider
from provisioning.twilio import webhooks as twilio_webhooks

from ..access import public
from ..extensions import csrf, db
from ..jobs import APPLIERS, enqueue
from ..providers import installed_configuration

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
MIN_TOKEN_LENGTH = 24


@bp.route("/360dialog", methods=["POST"], defaults={"token": None})
@bp.route("/360dialog/<token>", methods=["POST"])
@public
@csrf.exempt
def dialog360(token: str | None):
    """Partner hub events: signed with the partner secret, else an unguessable URL token."""
    config = installed_configuration(Provider.DIALOG360)
    if config is None:
        abort(404)
    body = request.get_data(cache=False)
    secret = config.value("webhook_secret")
    if secret:
        if not d360.signature_valid(secret, body, request.headers.get("x-360dialog-signature")):
            abort(403)
    else:
        expected = config.value("webhook_url").rstrip("/").rpartition("/")[2]
        if (
            not token
            or len(expected) < MIN_TOKEN_LENGTH
            or not hmac.compare_digest(token.encode(), expected.encode())
        ):
            abort(403)
    try:
        dedupe_key, name = d360.parse(body)
    except DomainError as exc:
        return jsonify(error=str(exc)), 400
    event_id = _accept(Provider.DIALOG360, dedupe_key, name, body)
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


def _accept(
    provider: Provider, dedupe_key: str, event_type: str, body: bytes, company_id: int | None = None
) -> int | None:
    """Store a verified delivery, commit, and queue its application; None for a duplicate."""
    event_id = store_event(
        db.session, provider, dedupe_key, event_type, body, company_id=company_id
    )
    db.session.commit()
    if event_id is not None:
        enqueue(APPLIERS[provider.value], event_id)
    return event_id


def _public_url() -> str:
    """The URL Twilio called, rebuilt from the configured public base (proxies rewrite it)."""
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    query = request.query_string.decode()
    return f"{base}{request.path}" + (f"?{query}" if query else "")


@bp.route("/twilio/<any(status, messages):kind>", methods=["POST"])
@public
@csrf.exempt
def twilio_callback(kind: str):
    """Message and sender callbacks, signed with the token of the account in AccountSid."""
    raw = request.get_data(cache=True)
    # A JSON body is signed through a non-empty bodySHA256 (as Twilio's validator reads it)
    json_body = bool(request.args.get("bodySHA256"))
    if json_body:
        try:
            payload = json.loads(raw)
        except ValueError:
            return jsonify(error="The body is not JSON."), 400
        body: object = raw.decode()
    else:
        payload = request.form.to_dict()
        body = payload
    account_sid = str(payload.get("AccountSid") or "") if isinstance(payload, dict) else ""
    token = twilio_webhooks.auth_token_for(
        db.session, account_sid, installed_configuration(Provider.TWILIO)
    )
    signature = request.headers.get("X-Twilio-Signature")
    if token is None or not twilio_webhooks.signature_valid(token, _public_url(), body, signature):
        abort(403)
    key = ":".join(str(payload.get(k, "")) for k in ("MessageSid", "MessageStatus", "SmsStatus"))
    dedupe_key = f"{kind}:{key or body_digest(raw)}"
    # stored for later use (there is no message store yet): nothing to apply
    store_event(db.session, Provider.TWILIO, dedupe_key, kind, raw, processed=True)
    db.session.commit()
    return "", 204


@bp.route("/twilio/events/<token>", methods=["POST"])
@public
@csrf.exempt
def twilio_events(token: str):
    """Event Streams A2P events for one subaccount: the sink URL's token names it (one
    indexed lookup), its auth token signs the delivery, and the events may change that
    subaccount's company only."""
    raw = request.get_data(cache=False)
    sub = twilio_webhooks.subaccount_for_events_token(db.session, token)
    signature = request.headers.get("X-Twilio-Signature")
    if sub is None or not twilio_webhooks.signature_valid(
        sub.auth_token, _public_url(), raw.decode("utf-8", "replace"), signature
    ):
        abort(403)
    try:
        events = twilio_webhooks.parse_events(raw)
    except DomainError as exc:
        return jsonify(error=str(exc)), 400
    key = ",".join(sorted(str(e.get("id") or "") for e in events)) or body_digest(raw)
    name = str(events[0].get("type") or "event") if events else "event"
    _accept(Provider.TWILIO, f"events:{key}", name[-80:], raw, company_id=sub.company_id)
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
    config = installed_configuration(Provider.META)
    body = request.get_data(cache=False)
    signature = request.headers.get("X-Hub-Signature-256")
    if config is None or not meta_webhooks.signature_valid(
        config.value("app_secret"), body, signature
    ):
        abort(403)
    try:
        dedupe_key, field = meta_webhooks.parse(body)
    except DomainError as exc:
        return jsonify(error=str(exc)), 400
    _accept(Provider.META, dedupe_key, field, body)
    return "", 200
