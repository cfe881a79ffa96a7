"""The page a hosted onboarding link opens (``/onboard/<token>``): public, no account.

The visitor picks one of the link's options and runs that provider's flow, as a company
admin does on the company's connect pages (the same scripts, the same provisioning runs),
except that the launch's nonce is kept on the link (``provisioning.onboarding_links``) and
the link, not a user, is the actor. Meta's Embedded Signup posts its result to
:func:`meta_complete`; 360dialog's hub returns to the configured return URL, whose view
hands a link's launch to :func:`dialog360_return`. Afterwards the visitor goes to the
link's success or failure URL (with ``link``, ``status`` and ``reason``), or to a plain
page here. A used, revoked or expired link answers 410.
"""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from provisioning import onboarding_links
from provisioning.dialog360 import hub
from provisioning.errors import DomainError
from provisioning.meta.onboarding import COEXISTENCE, FINISH_EVENTS
from provisioning.onboarding_events import record_embedded_signup
from provisioning.onboarding_links import LinkClosed, LinkOption, LinkState, OnboardingLink
from provisioning.partners import Provider
from provisioning.runs import ProvisioningRun
from provisioning.tenancy import Company

from ..access import public
from ..extensions import db
from ..jobs import enqueue
from ..onboarding.returns import start_dialog360_run
from ..providers import partner_configuration, required_configuration
from ..security_headers import allow_images, connect_page
from .urls import https_origin

bp = Blueprint("hosted", __name__, url_prefix="/onboard")
UNKNOWN = "This link is not valid. Check that it was copied whole, or ask for a new one."


def _page(template: str, link: OnboardingLink | None, status: int = 200, **context):
    """A hosted page, branded with the link's platform name and logo."""
    if link is not None and link.logo_url and (origin := https_origin(link.logo_url)):
        allow_images(origin)
    return render_template(template, link=link, **context), status


def _closed(link: OnboardingLink | None) -> tuple[str, int] | None:
    """The page of a link that cannot be used (404 unknown; 410 used, revoked, expired)."""
    if link is None:
        return _page("hosted/closed.html", None, 404, message=UNKNOWN)
    why = onboarding_links.closed_because(link)
    return _page("hosted/closed.html", link, 410, message=why) if why else None


def _link(token: str) -> OnboardingLink:
    link = onboarding_links.find(db.session, token)
    if link is None:
        abort(404)
    return link


@bp.route("/<token>")
@public
@connect_page(meta_sdk=True)
def link_page(token: str):
    link = onboarding_links.find(db.session, token)
    if (closed := _closed(link)) is not None:
        return closed
    assert link is not None
    onboarding_links.mark_opened(db.session, link)
    meta = partner_configuration(Provider.META) if link.offers(Provider.META) else None
    dialog360 = link.offers(Provider.DIALOG360) and (
        partner_configuration(Provider.DIALOG360) is not None
    )
    return _page(
        "hosted/link.html", link, token=token, meta=meta, dialog360=dialog360,
        meta_options=[o for o in link.link_options if o.provider is Provider.META],
    )  # fmt: skip


def _launch(token: str, provider: Provider) -> tuple[OnboardingLink, str] | Response:
    link = _link(token)
    try:
        return link, onboarding_links.launch(db.session, link, provider)
    except LinkClosed as exc:
        return _json_error(str(exc), 410)


def _json_error(message: str, status: int) -> Response:
    answer = jsonify(error=message)
    answer.status_code = status
    return answer


@bp.route("/<token>/meta/launch", methods=["POST"])
@public
def meta_launch(token: str):
    """A fresh state nonce for one Embedded Signup popup."""
    required_configuration(Provider.META)
    launched = _launch(token, Provider.META)
    if isinstance(launched, Response):
        return launched
    return jsonify(state=launched[1])


@bp.route("/<token>/meta/complete", methods=["POST"])
@public
def meta_complete(token: str):
    """The popup's code and finish event: spend the link and start the company's run
    (it executes in a job); a repeat of the same completion gets the same answer."""
    link = _link(token)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _json_error("Send the signup result as JSON.", 400)
    config = required_configuration(Provider.META)
    event = body["event"] if isinstance(body.get("event"), dict) else {}
    option = _meta_option(link, event)
    code = body.get("code") if isinstance(body.get("code"), str) else None

    def start(state_nonce: str) -> tuple[ProvisioningRun, LinkOption | None]:
        run = record_embedded_signup(
            db.session, link.actor, link.company_id, config, code=code, event=event,
            state_nonce=state_nonce,
        )  # fmt: skip
        return run, option

    try:
        completion = onboarding_links.complete(
            db.session, link, body.get("state"), Provider.META, start
        )
    except LinkClosed as exc:
        return _json_error(str(exc), 410)
    if completion.runnable and completion.run is not None:
        enqueue("provisioning.execute_run", completion.run.id)
    return jsonify(redirect=_outcome(link))


def _meta_option(link: OnboardingLink, event: dict) -> LinkOption | None:
    """The option the signup used, if the link offers it (a cancel or error used none)."""
    kind = str(event.get("event") or "")
    if kind not in FINISH_EVENTS:
        return None
    option = LinkOption.META_COEXISTENCE if kind == COEXISTENCE else LinkOption.META
    if option not in link.link_options:
        raise DomainError(f"This link does not offer {option.label}: choose the other kind.")
    return option


@bp.route("/<token>/360dialog/launch", methods=["POST"])
@public
def dialog360_launch(token: str):
    """A nonce and the hub's permissions URL for one launch (opened as a popup)."""
    config = required_configuration(Provider.DIALOG360)
    launched = _launch(token, Provider.DIALOG360)
    if isinstance(launched, Response):
        return launched
    link, state = launched
    url = hub.permissions_url(
        config, state=state, partner_payload=link.company.public_id, email="",
        name=link.company.name,
    )  # fmt: skip
    return jsonify(state=state, url=url)


def dialog360_return(link: OnboardingLink, state: str) -> tuple[str, int]:
    """The hub's return for a launch of ``link``'s page: spend the link and start the
    company's run (``portal.onboarding.returns``' view hands it here)."""
    required_configuration(Provider.DIALOG360)
    company = db.session.get_one(Company, link.company_id)

    def start(state_nonce: str) -> tuple[ProvisioningRun, LinkOption | None]:
        client_id, channels, revoked = hub.parse_return(request.args)
        run = start_dialog360_run(company, client_id, channels, revoked, state_nonce, by=link.actor)
        return run, LinkOption.DIALOG360

    def same_return(link: OnboardingLink) -> bool:
        return link.run is not None and link.run.context.get("client_id") == request.args.get(
            "client"
        )

    try:
        completion = onboarding_links.complete(
            db.session, link, state, Provider.DIALOG360, start, is_same=same_return
        )
    except LinkClosed as exc:
        return _page("hosted/return.html", link, 410, error=str(exc))
    except DomainError as exc:
        return _page("hosted/return.html", link, 400, error=str(exc))
    if completion.runnable and completion.run is not None:
        enqueue("provisioning.execute_run", completion.run.id)
    return _page("hosted/return.html", link, target=_outcome(link))


def _outcome(link: OnboardingLink) -> str:
    return onboarding_links.outcome_url(link) or url_for("hosted.done", link_id=link.public_id)


@bp.route("/done/<link_id>")
@public
def done(link_id: str):
    """Where a visitor lands when the link names no success or failure URL."""
    link = db.session.scalars(
        select(OnboardingLink).where(OnboardingLink.public_id == link_id)
    ).one_or_none()
    if link is None or link.status not in (LinkState.COMPLETED, LinkState.FAILED):
        return _page("hosted/closed.html", None, 404, message=UNKNOWN)
    return _page("hosted/done.html", link)
