"""Platform admin pages: companies and their members."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import select

from provisioning import accounts
from provisioning.companies import create_company, search_companies, update_company
from provisioning.errors import DomainError
from provisioning.tenancy import Company, Membership, Role, User

from ..access import actor, platform_admin
from ..boundary import errors_go_to
from ..extensions import db
from ..flashes import flash_invitation
from ..forms import form_errors
from .blueprint import PER_PAGE, bp, form_page, page_number
from .forms import AddMemberForm, CompanyForm, ConfirmForm, RoleForm


@bp.route("/companies")
@platform_admin
def companies_list():
    query = request.args.get("q", "")
    pagination = db.paginate(
        search_companies(query), page=page_number(), per_page=PER_PAGE, error_out=False
    )
    return render_template("admin/companies.html", pagination=pagination, q=query)


@bp.route("/companies/new", methods=["GET", "POST"])
@platform_admin
def company_new():
    form = CompanyForm()
    if form.validate_on_submit():
        try:
            company = create_company(db.session, actor(), form.name.data, form.slug.data or "")
        except DomainError as exc:
            form.slug.errors = [str(exc)]
        else:
            flash(f"Company {company.name} created.", "success")
            return redirect(url_for("admin.company_detail", company_id=company.id))
    return form_page("admin/company_form.html", form, title="New company")


@bp.route("/companies/<int:company_id>", methods=["GET", "POST"])
@platform_admin
def company_detail(company_id: int):
    company = db.get_or_404(Company, company_id)
    form = CompanyForm(obj=company)
    if form.validate_on_submit():
        try:
            update_company(
                db.session, actor(), company, form.name.data, form.slug.data or "",
                form.is_active.data,
            )  # fmt: skip
        except DomainError as exc:
            form.slug.errors = [str(exc)]
        else:
            flash("Company saved.", "success")
            return redirect(url_for("admin.company_detail", company_id=company.id))
    members = db.session.scalars(
        select(Membership)
        .where(Membership.company_id == company.id)
        .join(User)
        .order_by(User.email)
    )
    return form_page(
        "admin/company_detail.html",
        form,
        company=company,
        members=list(members),
        member_form=AddMemberForm(),
        role_choices=[(r.value, r.label) for r in Role],
        confirm=ConfirmForm(),
    )


@bp.route("/companies/<int:company_id>/members", methods=["POST"])
@errors_go_to("admin.company_detail")
@platform_admin
def member_add(company_id: int):
    company = db.get_or_404(Company, company_id)
    form = AddMemberForm()
    if not form.validate_on_submit():
        raise DomainError(form_errors(form))
    role = Role(form.role.data)
    _, token = accounts.add_member(
        db.session, actor(), company, form.email.data, form.name.data or "", role
    )
    flash(f"{form.email.data} is now {role.label} of {company.name}.", "success")
    flash_invitation(token)
    return redirect(url_for("admin.company_detail", company_id=company.id))


def membership_company_page() -> str:
    """The page of the company whose membership is in the URL."""
    membership_id = (request.view_args or {})["membership_id"]
    company_id = db.get_or_404(Membership, membership_id).company_id
    return url_for("admin.company_detail", company_id=company_id)


@bp.route("/memberships/<int:membership_id>/role", methods=["POST"])
@errors_go_to(membership_company_page)
@platform_admin
def membership_role(membership_id: int):
    membership = db.get_or_404(Membership, membership_id)
    form = RoleForm()
    if not form.validate_on_submit():
        raise DomainError("Choose a valid role.")
    role = Role(form.role.data)
    accounts.set_membership(db.session, actor(), membership.user, membership.company, role)
    flash(f"{membership.user.email} is now {role.label}.", "success")
    return redirect(url_for("admin.company_detail", company_id=membership.company_id))


@bp.route("/memberships/<int:membership_id>/deactivate", methods=["POST"])
@platform_admin
def membership_deactivate(membership_id: int):
    membership = db.get_or_404(Membership, membership_id)
    if ConfirmForm().validate_on_submit():
        accounts.deactivate_membership(db.session, actor(), membership)
        flash(f"{membership.user.email} no longer has access to this company.", "success")
    return redirect(url_for("admin.company_detail", company_id=membership.company_id))
