"""A company connects its numbers: the launch pages, the run status page, its channels."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from provisioning import runs
from provisioning.channels import Channel
from provisioning.dialog360 import hub
from provisioning.dialog360 import messaging as d360_messaging
from provisioning.dialog360 import states as d360_states
from provisioning.dialog360.models import Dialog360Channel
from provisioning.onboarding_events import record_embedded_signup
from provisioning.partners import Provider
from provisioning.runs import ProvisioningRun
from provisioning.tenancy import tenant_get, tenant_select

from ..access import actor, company_admin, company_member
from ..admin.forms import ConfirmForm
from ..boundary import checkpoint, errors_go_to
from ..extensions import db
from ..jobs import enqueue
from ..providers import partner_configuration, required_configuration, unavailable_message
from ..security_headers import connect_page
from . import nonces, repeats

bp = Blueprint("onboarding", __name__, url_prefix="/c/<company>")


@bp.route("/connect/meta")
@company_admin
@connect_page(meta_sdk=True)
def connect_meta():
    config = partner_configuration(Provider.META)
    if config is None:
        flash(unavailable_message(Provider.META), "error")
        return redirect(url_for("company.dashboard", company=g.company.slug))
    return render_template("onboarding/connect_meta.html", config=config)


@bp.route("/connect/meta/launch", methods=["POST"])
@company_admin
def launch_meta():
    """A fresh state nonce for one popup launch."""
    required_configuration(Provider.META)
    return jsonify(state=nonces.issue(g.company.id, Provider.META))


@bp.route("/connect/meta/complete", methods=["POST"])
@company_admin
def complete_meta():
    """The popup's code and finish event: start the run (it executes in a job).

    A repeat of the same completion, after the first or at the same time, answers with
    the run the first one started (``repeats``)."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return jsonify(error="Send the signup result as JSON."), 400
    run = _start_meta_run(body)
    return jsonify(run_url=url_for("onboarding.run_detail", company=g.company.slug, run_id=run.id))


def _start_meta_run(body: dict) -> ProvisioningRun:
    """Spend the nonce and start the signup's run once; enqueue it when it is new."""
    config = required_configuration(Provider.META)
    code = body.get("code") if isinstance(body.get("code"), str) else None

    def start(state_nonce: str) -> ProvisioningRun:
        return record_embedded_signup(
            db.session,
            actor(),
            g.company.id,
            config,
            code=code,
            event=body.get("event"),
            state_nonce=state_nonce,
        )

    run, new = repeats.complete_once(
        body.get("state"), g.company.id, Provider.META, start, durable=checkpoint
    )
    if new and not run.status.finished and run.status is not runs.RunStatus.FAILED:
        enqueue("provisioning.execute_run", run.id)
    return run


@bp.route("/connect/360dialog")
@company_admin
@connect_page()
def connect_dialog360():
    if partner_configuration(Provider.DIALOG360) is None:
        flash(unavailable_message(Provider.DIALOG360), "error")
        return redirect(url_for("company.dashboard", company=g.company.slug))
    return render_template("onboarding/connect_dialog360.html")


@bp.route("/connect/360dialog/launch", methods=["POST"])
@company_admin
def launch_dialog360():
    """A nonce and the hub's permissions URL for one launch (opened as a popup)."""
    config = required_configuration(Provider.DIALOG360)
    state = nonces.issue(g.company.id, Provider.DIALOG360)
    url = hub.permissions_url(
        config,
        state=state,
        partner_payload=g.company.public_id,
        email=current_user.email,
        name=current_user.name or g.company.name,
    )
    return jsonify(state=state, url=url)


@bp.route("/runs/<int:run_id>")
@company_member
def run_detail(run_id: int):
    run = tenant_get(db.session, ProvisioningRun, g.company.id, run_id)
    return render_template("onboarding/run.html", run=run, confirm=ConfirmForm())


@bp.route("/runs/<int:run_id>/retry", methods=["POST"])
@errors_go_to("onboarding.run_detail")
@company_admin
def run_retry(run_id: int):
    run = tenant_get(db.session, ProvisioningRun, g.company.id, run_id)
    if ConfirmForm().validate_on_submit():
        runs.retry(db.session, actor(), run)
        enqueue("provisioning.execute_run", run.id)
        flash("Retrying from the failed step.", "info")
    return redirect(url_for("onboarding.run_detail", company=g.company.slug, run_id=run.id))


@bp.route("/channels/<int:channel_id>")
@company_member
def channel_detail(channel_id: int):
    channel = tenant_get(db.session, Channel, g.company.id, channel_id)
    return render_template("onboarding/channel.html", channel=channel)


@bp.route("/channels/<int:channel_id>/messaging-events")
@company_member
def channel_messaging_events(channel_id: int):
    """The messages and statuses 360dialog delivered for one of the company's channels."""
    channel = tenant_get(db.session, Channel, g.company.id, channel_id)
    if channel.provider is not Provider.DIALOG360:
        abort(404)
    row = db.session.scalars(
        tenant_select(Dialog360Channel, g.company.id).where(
            Dialog360Channel.dialog_channel_id == channel.provider_ref
        )
    ).one_or_none()
    if row is None:
        abort(404)
    return render_template(
        "onboarding/channel_events.html",
        channel=channel,
        row=row,
        state=d360_states.describe(row.status),
        templates=d360_states.TEMPLATE_MESSAGING[row.template_messaging],
        events=d360_messaging.recent(db.session, g.company.id, channel.provider_ref),
    )


def company_channels() -> list[Channel]:
    return list(
        db.session.scalars(
            tenant_select(Channel, g.company.id).order_by(Channel.provider, Channel.phone_number)
        )
    )


def recent_runs(limit: int = 10) -> list[ProvisioningRun]:
    return list(
        db.session.scalars(
            tenant_select(ProvisioningRun, g.company.id)
            .order_by(ProvisioningRun.id.desc())
            .limit(limit)
        )
    )
