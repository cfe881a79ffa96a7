"""A company's own pages: its dashboard and its team."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, url_for
from sqlalchemy import select

from provisioning import accounts
from provisioning.errors import DomainError
from provisioning.partners import Provider
from provisioning.tenancy import Membership, Role, User, tenant_get, tenant_select

from ..access import actor, company_admin, company_member
from ..admin.forms import AddMemberForm, ConfirmForm, RoleForm
from ..extensions import db
from ..flashes import flash_invitation
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
    return render_template(
        "company/team.html",
        members=list(members),
        form=AddMemberForm(),
        role_choices=[(r.value, r.label) for r in Role],
        confirm=ConfirmForm(),
    )


@bp.route("/team/invite", methods=["POST"])
@company_admin
def team_invite():
    form = AddMemberForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            flash("; ".join(errors), "error")
        return redirect(team_url()), 303
    user, token = accounts.add_member(
        db.session,
        actor(),
        g.company,
        form.email.data,
        form.name.data or "",
        Role(form.role.data),
    )
    db.session.commit()
    flash(f"{user.email} is now {Role(form.role.data).label}.", "success")
    flash_invitation(token)
    return redirect(team_url())


@bp.route("/team/<int:membership_id>/role", methods=["POST"])
@company_admin
def team_role(membership_id: int):
    membership = tenant_get(db.session, Membership, g.company.id, membership_id)
    form = RoleForm()
    if not form.validate_on_submit():
        flash("Choose a valid role.", "error")
        return redirect(team_url()), 303
    try:
        _guard_last_admin(membership, Role(form.role.data))
    except DomainError as exc:
        flash(str(exc), "error")
        return redirect(team_url()), 303
    accounts.set_membership(db.session, actor(), membership.user, g.company, Role(form.role.data))
    db.session.commit()
    flash(f"{membership.user.email} is now {Role(form.role.data).label}.", "success")
    return redirect(team_url())


@bp.route("/team/<int:membership_id>/deactivate", methods=["POST"])
@company_admin
def team_deactivate(membership_id: int):
    membership = tenant_get(db.session, Membership, g.company.id, membership_id)
    if ConfirmForm().validate_on_submit():
        try:
            _guard_last_admin(membership, None)
        except DomainError as exc:
            flash(str(exc), "error")
            return redirect(team_url()), 303
        accounts.deactivate_membership(db.session, actor(), membership)
        db.session.commit()
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
