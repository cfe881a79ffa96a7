"""A company's own pages: its dashboard and its team."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, render_template, url_for

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
from ..invitations import send as send_invitation
from ..invitations.forms import InviteForm
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
    invitation, link = send_invitation(actor(), g.company, form.email.data, Role(form.role.data))
    flash(f"Invitation sent to {invitation.email}. It stays pending until they accept it.",
          "success")  # fmt: skip
    if not current_app.config.get("SMTP_URL"):  # development and demo: the link to pass on
        flash_invitation_link(link)
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
    accounts.change_role(db.session, actor(), membership, role)
    flash(f"{membership.user.email} is now {role.label}.", "success")
    return redirect(team_url())


@bp.route("/team/<int:membership_id>/deactivate", methods=["POST"])
@errors_go_to("company.team")
@company_admin
def team_deactivate(membership_id: int):
    membership = tenant_get(db.session, Membership, g.company.id, membership_id)
    if ConfirmForm().validate_on_submit():
        accounts.remove_member(db.session, actor(), membership)
        flash(f"{membership.user.email} no longer has access.", "success")
    return redirect(team_url())
