"""Where a provider's hub sends the customer back (outside any company URL).

A launch from a hosted onboarding link's page (no one signed in) completes that link
(``portal.hosted.routes.dialog360_return``); any other return needs the signed-in user
who launched it. The return must carry the launch's nonce (``state``, which the launch
puts inside the redirect URL, so it comes back whether or not the hub echoes it); there is
no fallback to an open launch. The launch names the company and was issued to the
signed-in user, who must still be an admin of that company. The run's first step then
requires the client's partner payload to be the company's opaque id.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from provisioning import launches, onboarding_links, runs
from provisioning.audit import Actor
from provisioning.dialog360 import hub
from provisioning.dialog360.models import Dialog360Client
from provisioning.dialog360.onboarding import INTEGRATED_ONBOARDING
from provisioning.errors import DomainError
from provisioning.partners import Provider
from provisioning.tenancy import Company, Role

from ..access import actor, public
from ..boundary import checkpoint
from ..extensions import db, login_manager
from ..jobs import enqueue
from ..providers import required_configuration
from . import repeats

bp = Blueprint("onboarding_return", __name__, url_prefix="/onboarding")
UNKNOWN = "This connection attempt is unknown or was already used: start again."


@bp.route("/360dialog/return")
@public  # a hosted link's visitor has no account; anyone else must be signed in (below)
def dialog360_return():
    state = hub.returned_state(request.args.getlist("state"))
    link = onboarding_links.find_by_launch(db.session, state)
    if link is not None and state is not None:
        from ..hosted.routes import dialog360_return as hosted_return

        return hosted_return(link, state)
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    try:
        run = _complete_return()
    except DomainError as exc:
        return render_template("onboarding/return.html", error=str(exc)), 400
    company = db.session.get(Company, run.company_id)
    target = url_for("onboarding.run_detail", company=company.slug, run_id=run.id)
    return render_template("onboarding/return.html", target=target)


def _complete_return() -> runs.ProvisioningRun:
    """The launch's run: started now (and enqueued), or the one a first load of this same
    return started (a reload, or two loads at once)."""
    state = hub.returned_state(request.args.getlist("state"))
    if state is None:
        raise DomainError("The return from 360dialog carries no state: start the connection again.")
    launch = launches.find(db.session, state)
    if launch is None or launch.user_id != current_user.id:
        raise DomainError(UNKNOWN)
    company = db.session.get(Company, launch.company_id)
    if company is None or not _is_admin(company):
        raise DomainError(UNKNOWN)

    def start(state_nonce: str) -> runs.ProvisioningRun:
        client_id, channels, revoked = hub.parse_return(request.args)
        return start_dialog360_run(company, client_id, channels, revoked, state_nonce, by=actor())

    def same_return(run: runs.ProvisioningRun) -> bool:
        return run.context.get("client_id") == request.args.get("client")

    run, new = repeats.complete_once(
        state, company.id, Provider.DIALOG360, start, durable=checkpoint, is_same=same_return
    )
    if new:
        enqueue("provisioning.execute_run", run.id)
    return run


def _is_admin(company: Company) -> bool:
    if not company.is_active:
        return False
    return current_user.is_platform_admin or current_user.role_in(company.id) is Role.ADMIN


def start_dialog360_run(
    company: Company,
    client_id: str,
    channels: list[str],
    revoked: list[str],
    state_nonce: str,
    *,
    by: Actor,
) -> runs.ProvisioningRun:
    """The company's Integrated Onboarding run, started ``by`` a user or a hosted link."""
    config = required_configuration(Provider.DIALOG360)
    owner = db.session.scalars(
        select(Dialog360Client.company_id).where(Dialog360Client.client_id == client_id)
    ).first()
    if owner is not None and owner != company.id:
        raise DomainError("This 360dialog client is connected to another company.")
    return runs.start_run(
        db.session,
        by,
        INTEGRATED_ONBOARDING,
        company.id,
        partner_configuration_id=config.id,
        context={"client_id": client_id, "channel_ids": channels, "revoked": revoked},
        state_nonce=state_nonce,
    )
