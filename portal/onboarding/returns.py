"""Where a provider's hub sends the customer back (outside any company URL).

The company comes from the launch's nonce, which is bound to this browser session; the
signed-in user must still be an admin of that company.
"""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request, session, url_for
from flask_login import current_user
from sqlalchemy import select

from provisioning import runs
from provisioning.dialog360 import hub
from provisioning.dialog360.models import Dialog360Client
from provisioning.dialog360.onboarding import INTEGRATED_ONBOARDING
from provisioning.errors import DomainError
from provisioning.partners import Provider
from provisioning.tenancy import Company, Role

from ..access import actor, signed_in
from ..extensions import db
from ..jobs import enqueue
from ..providers import required_configuration
from . import nonces, repeats

bp = Blueprint("onboarding_return", __name__, url_prefix="/onboarding")


def _pending_nonce(provider: str) -> str | None:
    """360dialog may not echo ``state`` (fact sheet §1): then the session's one open launch."""
    open_ = [n for n, v in (session.get(nonces.KEY) or {}).items() if v["provider"] == provider]
    return open_[0] if len(open_) == 1 else None


def _repeated_return(provider: str) -> runs.ProvisioningRun | None:
    """The run this session's launch already started, when this return repeats its
    completion (a reload, or two loads at once); None for a first completion."""
    echoed = request.args.get("state")
    if echoed is None and _pending_nonce(provider) is not None:
        return None  # the session's open launch completes now
    run = repeats.repeated(provider, echoed)
    if run is None or run.context.get("client_id") != request.args.get("client"):
        return None
    return run


@bp.route("/360dialog/return")
@signed_in
def dialog360_return():
    provider = Provider.DIALOG360.value
    run = _repeated_return(provider)
    if run is None:
        run, problem = _first_return(provider)
        if problem is not None:
            return render_template("onboarding/return.html", error=problem), 400
    company = db.session.get(Company, run.company_id)
    target = url_for("onboarding.run_detail", company=company.slug, run_id=run.id)
    return render_template("onboarding/return.html", target=target)


def _first_return(provider: str) -> tuple[runs.ProvisioningRun | None, str | None]:
    """Spend the launch's nonce and start its run once (enqueued when new); or why not."""
    state = request.args.get("state") or _pending_nonce(provider)
    entry = (session.get(nonces.KEY) or {}).get(state or "")
    company = db.session.get(Company, entry["company"]) if entry else None
    problem = nonces.consume(state, company.id if company else -1, provider)
    if problem is not None or company is None:
        return None, problem
    try:
        client_id, channels, revoked = hub.parse_return(request.args)
        run, new = repeats.start_once(
            company.id,
            state,
            lambda: start_dialog360_run(company, client_id, channels, revoked, state),
        )
    except DomainError as exc:
        db.session.rollback()
        return None, str(exc)
    if new:
        enqueue("provisioning.execute_run", run.id)
    return run, None


def start_dialog360_run(
    company: Company, client_id: str, channels: list[str], revoked: list[str], state: str
) -> runs.ProvisioningRun:
    if not current_user.is_platform_admin and current_user.role_in(company.id) is not Role.ADMIN:
        abort(404)
    config = required_configuration(Provider.DIALOG360)
    owner = db.session.scalars(
        select(Dialog360Client.company_id).where(Dialog360Client.client_id == client_id)
    ).first()
    if owner is not None and owner != company.id:
        raise DomainError("This 360dialog client is connected to another company.")
    return runs.start_run(
        db.session,
        actor(),
        INTEGRATED_ONBOARDING,
        company.id,
        partner_configuration_id=config.id,
        context={"client_id": client_id, "channel_ids": channels, "revoked": revoked},
        state_nonce=state,
    )
