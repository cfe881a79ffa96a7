"""Provider webhooks: verify on the raw bytes, store with a dedupe key, answer at once.

Applying an event is a job, so a slow database or a bug in applying never makes the
provider retry (or give up on) a delivery the platform already holds.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, abort, current_app, jsonify, request

from provisioning.dialog360 import webhooks as d360
from provisioning.errors import DomainError
from provisioning.events import store_event
from provisioning.partners import Provider, active_configuration

from ..access import public
from ..extensions import csrf, db
from ..jobs import enqueue

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
MIN_TOKEN_LENGTH = 24


def _dialog360_config():
    return active_configuration(
        db.session, Provider.DIALOG360, current_app.config["PROVIDER_ENVIRONMENT"]
    )


@bp.route("/360dialog", methods=["POST"], defaults={"token": None})
@bp.route("/360dialog/<token>", methods=["POST"])
@public
@csrf.exempt
def dialog360(token: str | None):
    """Partner hub events: signed with the partner secret, else an unguessable URL token."""
    config = _dialog360_config()
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
    event = store_event(db.session, Provider.DIALOG360, dedupe_key, name, body)
    db.session.commit()
    if event is not None:
        enqueue("webhooks.apply_dialog360", event.id)
    return jsonify(received=True, duplicate=event is None)
