"""The demo's events receiver: the endpoint the demo registers for the platform's events
(``/demo/events``), and a page showing what arrived, so the demo shows the whole loop.

Each delivery is checked with the Standard Webhooks library against the secret of the
endpoints registered at this URL; the last ``KEPT`` are kept in this process's memory
(the demo runs one portal process). Registered outside production only.
"""

from __future__ import annotations

import json
from collections import deque
from typing import Any

from flask import Blueprint, Flask, current_app, render_template, request
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from provisioning.db import utcnow
from provisioning.platform_events import EventEndpoint

from .access import platform_admin, public
from .extensions import csrf, db

bp = Blueprint("demo_events", __name__, url_prefix="/demo/events")
KEPT = 200


def received() -> deque[dict[str, Any]]:
    kept: deque[dict[str, Any]] = current_app.extensions["demo_events"]
    return kept


def receiver_url(public_url: str) -> str:
    return f"{public_url.rstrip('/')}/demo/events"


@bp.route("", methods=["POST"])
@public
@csrf.exempt
def receive():
    body = request.get_data(cache=False)
    headers = {k.lower(): v for k, v in request.headers.items()}
    endpoints = db.session.scalars(
        select(EventEndpoint).where(EventEndpoint.url == request.base_url)
    ).all()
    payload, verified = None, False
    for endpoint in endpoints:
        try:
            payload = Webhook(endpoint.secret).verify(body, headers)
        except WebhookVerificationError:
            continue
        verified = True
        break
    if payload is None:
        try:
            payload = json.loads(body)
        except ValueError:
            payload = {"type": "(not JSON)"}
    received().appendleft({
        "at": utcnow(), "id": headers.get("webhook-id", ""), "verified": verified,
        "type": payload.get("type", "") if isinstance(payload, dict) else "",
        "summary": summary(payload),
        "body": json.dumps(payload, indent=2, sort_keys=True)[:4000],
    })  # fmt: skip
    return ("", 204) if verified else ("signature not valid", 401)


def summary(payload: Any) -> str:
    """One line for a relayed message: who wrote to which number and what, or what
    became of a message sent; empty for other events."""
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, dict) or not str(payload.get("type", "")).startswith("message."):
        return ""
    sender = data.get("from") or data.get("user_id") or "?"
    recipient = data.get("to") or data.get("user_id") or "?"
    channel = data.get("channel") or {}
    provider = channel.get("provider", "") if isinstance(channel, dict) else ""
    if payload["type"] == "message.received":
        text = _text_of(data.get("provider_payload"))
        said = f": \u201c{text[:120]}\u201d" if text else f" ({data.get('message_type')})"
        return f"{sender} \u2192 {recipient}{said} via {provider}"
    if payload["type"] == "message.status":
        errors = ", ".join(str(e.get("code")) for e in data.get("errors") or [])
        return f"{data.get('status')}: {sender} \u2192 {recipient} via {provider}" + (
            f" (error {errors})" if errors else ""
        )
    return f"error via {provider}: " + ", ".join(
        f"{e.get('code')} {e.get('title')}" for e in data.get("errors") or []
    )


def _text_of(provider_payload: Any) -> str:
    """A text message's body: Twilio's ``Body``, or the Cloud API's ``text.body``."""
    if not isinstance(provider_payload, dict):
        return ""
    if isinstance(provider_payload.get("Body"), str):
        return provider_payload["Body"]
    try:
        message = provider_payload["entry"][0]["changes"][0]["value"]["messages"][0]
        return str(message["text"]["body"])
    except (KeyError, IndexError, TypeError):
        return ""


@bp.route("")
@platform_admin
def index():
    return render_template("demo_events.html", events=list(received()))


def register(app: Flask) -> None:
    if app.config["PORTAL_ENV"] == "production":
        return
    app.extensions["demo_events"] = deque(maxlen=KEPT)
    app.register_blueprint(bp)
