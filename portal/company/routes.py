"""A company's own pages: its dashboard and its team."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, render_template, url_for
from sqlalchemy import select

from provisioning import accounts, invitations
from provisioning.errors import DomainError
from provisioning.invitations import CompanyInvitation
from provisioning.partners import Provider
from provisioning.tenancy import Membership, Role, User, tenant_get, tenant_select

from ..access import actor, company_admin, company_member
from ..admin.forms import ConfirmForm, RoleForm
from ..boundary import errors_go_to
from ..extensions import db
from ..flashes import flash_invitation_link
from ..forms import form_errors
from ..invitations.forms import InviteForm
from ..jobs import enqueue
from ..links import public_url
from ..onboarding.routes import company_channels, recent_runs
from ..providers import partner_configuration

bp = Blueprint("company", __name__, url_prefix="/c/<company>")


def team_url():
    return url_for("company.team", company=g.company.slug)


@bp.route("/")
@company_member
def dashboard():
    providers = {provider: partner_configuration(provider) is not None for provider in Provider}
    return render_template(
        "company/dashboard.html",
        providers=providers,
        meta_available=providers[Provider.META],
        dialog360_available=providers[Provider.DIALOG360],
        channels=company_channels(),
        runs=recent_runs(),
    )


@bp.route("/team")
@company_member
def team():
    members = db.session.scalars(
        tenant_select(Membership, g.company.id).join(User).order_by(User.email)
    )
    admin = g.role is Role.ADMIN
    return render_template(
        "company/team.html",
        members=list(members),
        invitations=invitations.pending(db.session, g.company.id) if admin else [],
        form=InviteForm(),
        role_choices=[(r.value, r.label) for r in Role],
        confirm=ConfirmForm(),
    )


@bp.route("/team/invite", methods=["POST"])
@errors_go_to("company.team")
@company_admin
def team_invite():
    """Invite an address; the answer is the same whether it has an account or not."""
    form = InviteForm()
    if not form.validate_on_submit():
        raise DomainError(form_errors(form))
    mail_server = current_app.config.get("SMTP_URL")
    if not mail_server and current_app.config["PORTAL_ENV"] == "production":
        raise DomainError(
            "Invitations are sent by e-mail: the platform has no mail server (SMTP_URL)."
        )
    invitation, token = invitations.invite(
        db.session, actor(), g.company, form.email.data, Role(form.role.data),
        link=lambda token: public_url("invitations.accept", token=token),
    )  # fmt: skip
    enqueue("mail.send")
    flash(f"Invitation sent to {invitation.email}. It stays pending until they accept it.",
          "success")  # fmt: skip
    if not mail_server:  # development and demo only: the link is shown to pass on
        flash_invitation_link(public_url("invitations.accept", token=token))
    return redirect(team_url())


@bp.route("/team/invitations/<int:invitation_id>/revoke", methods=["POST"])
@errors_go_to("company.team")
@company_admin
def team_invitation_revoke(invitation_id: int):
    invitation = tenant_get(db.session, CompanyInvitation, g.company.id, invitation_id)
    if ConfirmForm().validate_on_submit():
        invitations.revoke(db.session, actor(), invitation)
        flash(f"The invitation of {invitation.email} is revoked.", "success")
    return redirect(team_url())


@bp.route("/team/<int:membership_id>/role", methods=["POST"])
@errors_go_to("company.team")
@company_admin
def team_role(membership_id: int):
    membership = tenant_get(db.session, Membership, g.company.id, membership_id)
    form = RoleForm()
    if not form.validate_on_submit():
        raise DomainError("Choose a valid role.")
    role = Role(form.role.data)
    _guard_last_admin(membership, role)
    accounts.set_membership(db.session, actor(), membership.user, g.company, role)
    flash(f"{membership.user.email} is now {role.label}.", "success")
    return redirect(team_url())


@bp.route("/team/<int:membership_id>/deactivate", methods=["POST"])
@errors_go_to("company.team")
@company_admin
def team_deactivate(membership_id: int):
    membership = tenant_get(db.session, Membership, g.company.id, membership_id)
    if ConfirmForm().validate_on_submit():
        _guard_last_admin(membership, None)
        accounts.deactivate_membership(db.session, actor(), membership)
        flash(f"{membership.user.email} no longer has access.", "success")
    return redirect(team_url())


def _guard_last_admin(membership: Membership, new_role: Role | None) -> None:
    """A company keeps at least one active admin."""
    if membership.role is not Role.ADMIN or new_role is Role.ADMIN:
        return
    admins = db.session.scalars(
        select(Membership.id).where(
            Membership.company_id == membership.company_id,
            Membership.role == Role.ADMIN,
            Membership.is_active.is_(True),
        )
    ).all()
    if len(admins) <= 1:
        raise DomainError("The company needs at least one admin.")
