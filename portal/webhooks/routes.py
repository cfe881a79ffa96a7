"""Provider webhooks: verify on the raw bytes, store with a dedupe key, answer at once.

The ingest endpoints live in :mod:`portal.webhooks.ingest`, whose fast lane (installed
by ``create_app``) serves them in front of Flask; the views here answer the same for
a request the lane hands on.
Applying an event is a job, so a slow database or a bug in applying never makes the
provider retry (or give up on) a delivery the platform already holds.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, abort, jsonify, request

from provisioning.dialog360 import messaging as d360_messaging
from provisioning.errors import DomainError
from provisioning.partners import Provider

from ..access import public
from ..extensions import csrf, db
from ..providers import installed_configuration
from . import ingest

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


def _ingest(endpoint: str, **path_args: str | None) -> Response:
    delivery = ingest.Delivery(
        request.get_data(cache=True),
        request.headers.get,
        request.path,
        request.query_string.decode(),
        request.form.to_dict,
    )
    status, body, content_type = ingest.answer(
        endpoint, ingest.request_lane(), delivery, **path_args
    )
    return Response(body, status, content_type=content_type)


@bp.route("/360dialog", methods=["POST"], defaults={"token": None})
@bp.route("/360dialog/<token>", methods=["POST"])
@public
@csrf.exempt
def dialog360(token: str | None):
    """Partner hub events: signed with the partner secret, else an unguessable URL token."""
    return _ingest("dialog360", token=token)


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
    return jsonify(received=True, duplicate=not stored)


@bp.route("/twilio/<any(status, messages):kind>", methods=["POST"])
@public
@csrf.exempt
def twilio_callback(kind: str):
    """Message and sender callbacks, signed with the token of the account in AccountSid."""
    return _ingest("twilio_callback", kind=kind)


@bp.route("/twilio/events/<token>", methods=["POST"])
@public
@csrf.exempt
def twilio_events(token: str):
    """Event Streams A2P events for one subaccount, signed with its auth token."""
    return _ingest("twilio_events", token=token)


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
    return _ingest("meta_event")
