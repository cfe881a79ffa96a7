"""The demo's sandbox page: the simulators' state, their control actions, the provider popups."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from wtforms import DecimalField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from provisioning.errors import DomainError, ProviderError
from provisioning.partners import Environment, Provider

from ..access import platform_admin
from ..boundary import checkpoint, errors_go_to
from ..forms import Form, form_errors
from ..providers import partner_configuration, provider_transport
from ..security_headers import connect_page
from .control import SandboxControl

bp = Blueprint("sandbox_admin", __name__, url_prefix="/admin/sandbox")


class ActionForm(Form):
    provider = SelectField("Simulator", choices=[SelectChoice(p.value, p.label) for p in Provider])
    action = StringField(
        "Action",
        validators=[DataRequired(), Length(max=60), Regexp(r"^[a-z0-9_]+$", message="a-z, 0-9, _")],
        description="e.g. set_quality, ban_waba, set_running, approve_brand",
    )
    params = TextAreaField("Parameters (JSON object)", default="{}")
    # A review's reason typed next to its Reject button (e.g. a toll-free rejection)
    reason = StringField("Reason", validators=[Optional(), Length(max=500)])
    parameters: dict[str, Any]  # ``params`` parsed, once the form is valid

    def validate_params(self, field: TextAreaField) -> None:
        try:
            parameters = json.loads(field.data or "{}")
        except ValueError as exc:
            raise ValidationError(f"Parameters: {exc}") from None
        if not isinstance(parameters, dict):
            raise ValidationError("Parameters: give a JSON object, such as {}.")
        self.parameters = parameters

    def validate_reason(self, field: StringField) -> None:
        if field.data and field.data.strip():
            self.parameters = {**getattr(self, "parameters", {}), "reason": field.data.strip()}


# Each simulator's inbound-message control: (action, parameter naming the number, text's).
INBOUND = {
    Provider.META.value: ("inbound_message", "phone_number_id", "text"),
    Provider.DIALOG360.value: ("inbound_message", "channel_id", "text"),
    Provider.TWILIO.value: ("emit_inbound_message", "to", "body"),
}


class InboundForm(Form):
    """A customer writes to a connected number: the simulator posts the provider's own
    inbound-message webhook, signed as the provider signs it, to the portal."""

    provider = SelectField("Simulator", choices=[SelectChoice(p.value, p.label) for p in Provider])
    target = StringField(
        "Number", validators=[DataRequired(), Length(max=60)],
        description="Meta: phone number id; 360dialog: channel id; Twilio: whatsapp:+E164",
    )  # fmt: skip
    text = StringField(
        "Message", default="Hello from the sandbox", validators=[DataRequired(), Length(max=1000)]
    )


class AdvanceForm(Form):
    seconds = DecimalField(
        "Advance the sandbox clock by (seconds)",
        validators=[DataRequired(), NumberRange(min=1, max=90 * 86400)],
        default=3600,
    )


def control() -> SandboxControl:
    if current_app.config["PROVIDER_ENVIRONMENT"] != Environment.SANDBOX.value:
        abort(404)
    # A control action may send webhooks back to this portal while we wait for it: hold no
    # database transaction meanwhile (SQLite locks the whole file).
    checkpoint()
    return SandboxControl(
        current_app.config["SANDBOX_URL"], transport=provider_transport(), max_attempts=1
    )


@bp.route("/")
@platform_admin
@connect_page(meta_sdk=True)
def index():
    client = control()
    try:
        state, error = client.state(), None
    except ProviderError as exc:
        state, error = {}, str(exc)
    configs = {p: partner_configuration(p) for p in Provider}
    return render_template(
        "admin/sandbox.html",
        state=state,
        error=error,
        configs=configs,
        action_form=ActionForm(),
        advance_form=AdvanceForm(),
        inbound_form=InboundForm(),
        events_url=url_for("demo_events.index")
        if "demo_events" in current_app.blueprints
        else None,
        returned=request.args.to_dict(),
        return_url=url_for("sandbox_admin.index", _external=True),
        portal_host=urlsplit(current_app.config["PUBLIC_BASE_URL"]).netloc,
    )


@contextmanager
def sandbox_refusals() -> Iterator[None]:
    """The sandbox's refusal as a message for the page (it is not a provider people know)."""
    try:
        yield
    except ProviderError as exc:
        raise DomainError(f"The sandbox refused: {exc.message}") from exc


@bp.route("/action", methods=["POST"])
@errors_go_to("sandbox_admin.index")
@platform_admin
def action():
    form = ActionForm()
    if not form.validate_on_submit():
        raise DomainError(form_errors(form))
    with sandbox_refusals():
        result = control().action(form.provider.data, form.action.data, form.parameters)
    flash(f"{form.provider.data}.{form.action.data}: {json.dumps(result)[:600]}", "success")
    return redirect(url_for("sandbox_admin.index"))


@bp.route("/inbound", methods=["POST"])
@errors_go_to("sandbox_admin.index")
@platform_admin
def inbound():
    form = InboundForm()
    if not form.validate_on_submit():
        raise DomainError(form_errors(form))
    action, number, text = INBOUND[form.provider.data]
    params = {number: form.target.data.strip(), text: form.text.data}
    with sandbox_refusals():
        control().action(form.provider.data, action, params)
    flash(
        f"A customer wrote to {form.target.data.strip()} ({form.provider.data}). The portal "
        "relays it to the endpoints of message.received: see Events received.",
        "success",
    )
    return redirect(url_for("sandbox_admin.index"))


@bp.route("/advance", methods=["POST"])
@errors_go_to("sandbox_admin.index")
@platform_admin
def advance():
    form = AdvanceForm()
    if not form.validate_on_submit():
        raise DomainError("Give a number of seconds between 1 and 90 days.")
    with sandbox_refusals():
        result = control().advance(float(form.seconds.data))
    flash(f"Sandbox clock is now {result['now']}.", "success")
    return redirect(url_for("sandbox_admin.index"))
