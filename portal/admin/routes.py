"""Platform admin pages: companies, users and memberships, partner configurations, audit."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import func, or_, select

from provisioning import accounts, companies, partners
from provisioning.audit import AuditEntry
from provisioning.db import utcnow
from provisioning.errors import DomainError
from provisioning.partner_checks import connection_check
from provisioning.partner_usage import usage
from provisioning.partners import Environment, PartnerConfiguration, Provider
from provisioning.tenancy import Company, Membership, Role, User

from ..access import actor, platform_admin
from ..extensions import db
from ..flashes import flash_invitation
from ..input_checks import id_value
from ..providers import outbound_policy, provider_transport
from ..twilio.forms import TypedConfirmForm
from .forms import (
    AddMemberForm,
    CompanyForm,
    ConfirmForm,
    EditUserForm,
    NewUserForm,
    RoleForm,
    partner_form,
)

bp = Blueprint("admin", __name__, url_prefix="/admin")
PER_PAGE = 25


def get_or_404(model, ident):
    row = db.session.get(model, ident)
    if row is None:
        abort(404)
    return row


def page_number() -> int:
    return request.args.get("page", 1, type=int) or 1


@bp.route("/")
@platform_admin
def index():
    counts = {
        "companies": db.session.scalar(select(func.count(Company.id))),
        "users": db.session.scalar(select(func.count(User.id))),
        "partner configurations": db.session.scalar(select(func.count(PartnerConfiguration.id))),
    }
    recent = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(10))
    return render_template("admin/index.html", counts=counts, recent=list(recent))


# -- companies ---------------------------------------------------------------------------
@bp.route("/companies")
@platform_admin
def companies_list():
    query = request.args.get("q", "")
    pagination = db.paginate(
        companies.search_companies(query), page=page_number(), per_page=PER_PAGE, error_out=False
    )
    return render_template("admin/companies.html", pagination=pagination, q=query)


@bp.route("/companies/new", methods=["GET", "POST"])
@platform_admin
def company_new():
    form = CompanyForm()
    if form.validate_on_submit():
        try:
            company = companies.create_company(
                db.session, actor(), form.name.data, form.slug.data or ""
            )
        except DomainError as exc:
            form.slug.errors = [str(exc)]
        else:
            db.session.commit()
            flash(f"Company {company.name} created.", "success")
            return redirect(url_for("admin.company_detail", company_id=company.id))
    return _form_page("admin/company_form.html", form, title="New company")


@bp.route("/companies/<int:company_id>", methods=["GET", "POST"])
@platform_admin
def company_detail(company_id: int):
    company = get_or_404(Company, company_id)
    form = CompanyForm(obj=company)
    if form.validate_on_submit():
        try:
            companies.update_company(
                db.session,
                actor(),
                company,
                form.name.data,
                form.slug.data or "",
                form.is_active.data,
            )
        except DomainError as exc:
            db.session.rollback()
            form.slug.errors = [str(exc)]
        else:
            db.session.commit()
            flash("Company saved.", "success")
            return redirect(url_for("admin.company_detail", company_id=company.id))
    members = db.session.scalars(
        select(Membership)
        .where(Membership.company_id == company.id)
        .join(User)
        .order_by(User.email)
    )
    return _form_page(
        "admin/company_detail.html",
        form,
        company=company,
        members=list(members),
        member_form=AddMemberForm(),
        role_choices=[(r.value, r.label) for r in Role],
        confirm=ConfirmForm(),
    )


@bp.route("/companies/<int:company_id>/members", methods=["POST"])
@platform_admin
def member_add(company_id: int):
    company = get_or_404(Company, company_id)
    form = AddMemberForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            flash("; ".join(errors), "error")
        return redirect(url_for("admin.company_detail", company_id=company.id)), 303
    _, token = accounts.add_member(
        db.session,
        actor(),
        company,
        form.email.data,
        form.name.data or "",
        Role(form.role.data),
    )
    db.session.commit()
    flash(f"{form.email.data} is now {Role(form.role.data).label} of {company.name}.", "success")
    flash_invitation(token)
    return redirect(url_for("admin.company_detail", company_id=company.id))


@bp.route("/memberships/<int:membership_id>/role", methods=["POST"])
@platform_admin
def membership_role(membership_id: int):
    membership = get_or_404(Membership, membership_id)
    form = RoleForm()
    if form.validate_on_submit():
        accounts.set_membership(
            db.session, actor(), membership.user, membership.company, Role(form.role.data)
        )
        db.session.commit()
        flash(f"{membership.user.email} is now {Role(form.role.data).label}.", "success")
    else:
        flash("Choose a valid role.", "error")
    return redirect(url_for("admin.company_detail", company_id=membership.company_id))


@bp.route("/memberships/<int:membership_id>/deactivate", methods=["POST"])
@platform_admin
def membership_deactivate(membership_id: int):
    membership = get_or_404(Membership, membership_id)
    if ConfirmForm().validate_on_submit():
        accounts.deactivate_membership(db.session, actor(), membership)
        db.session.commit()
        flash(f"{membership.user.email} no longer has access to this company.", "success")
    return redirect(url_for("admin.company_detail", company_id=membership.company_id))


# -- users ---------------------------------------------------------------------------------
@bp.route("/users")
@platform_admin
def users_list():
    query = request.args.get("q", "").strip()
    stmt = select(User).order_by(User.email)
    if query:
        pattern = f"%{query.lower()}%"
        stmt = stmt.where(or_(User.email.like(pattern), func.lower(User.name).like(pattern)))
    pagination = db.paginate(stmt, page=page_number(), per_page=PER_PAGE, error_out=False)
    return render_template("admin/users.html", pagination=pagination, q=query)


@bp.route("/users/new", methods=["GET", "POST"])
@platform_admin
def user_new():
    form = NewUserForm()
    if form.validate_on_submit():
        try:
            user = accounts.create_user(
                db.session,
                actor(),
                form.email.data,
                name=form.name.data or "",
                platform_admin=form.is_platform_admin.data,
            )
        except DomainError as exc:
            form.email.errors = [str(exc)]
        else:
            db.session.flush()
            token = accounts.invite(db.session, actor(), user)
            db.session.commit()
            flash_invitation(token)
            return redirect(url_for("admin.user_detail", user_id=user.id))
    return _form_page("admin/user_form.html", form, title="New user")


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@platform_admin
def user_detail(user_id: int):
    user = get_or_404(User, user_id)
    form = EditUserForm(obj=user)
    if form.validate_on_submit():
        try:
            accounts.update_user(
                db.session, actor(), user, form.name.data or "", form.is_platform_admin.data
            )
        except DomainError as exc:
            form.is_platform_admin.errors = [str(exc)]
        else:
            db.session.commit()
            flash("User saved.", "success")
            return redirect(url_for("admin.user_detail", user_id=user.id))
    return _form_page("admin/user_detail.html", form, user=user, confirm=ConfirmForm())


@bp.route("/users/<int:user_id>/active", methods=["POST"])
@platform_admin
def user_set_active(user_id: int):
    user = get_or_404(User, user_id)
    if ConfirmForm().validate_on_submit():
        try:
            accounts.set_user_active(db.session, actor(), user, not user.is_active)
        except DomainError as exc:
            flash(str(exc), "error")
        else:
            db.session.commit()
            flash(f"{user.email} is {'active' if user.is_active else 'deactivated'}.", "success")
    return redirect(url_for("admin.user_detail", user_id=user.id))


@bp.route("/users/<int:user_id>/invite", methods=["POST"])
@platform_admin
def user_invite(user_id: int):
    user = get_or_404(User, user_id)
    if ConfirmForm().validate_on_submit():
        token = accounts.invite(db.session, actor(), user)
        db.session.commit()
        flash_invitation(token)
    return redirect(url_for("admin.user_detail", user_id=user.id))


# -- partner configurations ----------------------------------------------------------------
@bp.route("/partners")
@platform_admin
def partners_list():
    configs = db.session.scalars(
        select(PartnerConfiguration).order_by(
            PartnerConfiguration.provider, PartnerConfiguration.environment
        )
    )
    configs = list(configs)
    return render_template(
        "admin/partners.html",
        configs=configs,
        usages={c.id: usage(db.session, c) for c in configs},
        providers=list(Provider),
        confirm=ConfirmForm(),
    )


def _partner_values(form, spec) -> dict[str, str]:
    return {f.name: getattr(form, f.name).data or "" for f in spec.fields}


@bp.route("/partners/new/<provider>", methods=["GET", "POST"])
@platform_admin
def partner_new(provider: str):
    try:
        kind = Provider(provider)
    except ValueError:
        abort(404)
    spec = partners.PROVIDERS[kind]
    form = partner_form(spec, editing=False)()
    if form.validate_on_submit():
        try:
            config = partners.create_configuration(
                db.session,
                actor(),
                kind,
                Environment(form.environment.data),
                form.name.data or "",
                _partner_values(form, spec),
                outbound=outbound_policy(),
            )
        except partners.ValidationFailed as exc:
            _attach_errors(form, exc.errors)
        else:
            db.session.commit()
            flash(f"{spec.label} configuration saved.", "success")
            return redirect(url_for("admin.partners_list", _anchor=f"config-{config.id}"))
    return _form_page(
        "admin/partner_form.html", form, spec=spec, config=None, title=f"New {spec.label}"
    )


@bp.route("/partners/<int:config_id>", methods=["GET", "POST"])
@platform_admin
def partner_edit(config_id: int):
    config = get_or_404(PartnerConfiguration, config_id)
    spec = config.spec
    form_class = partner_form(spec, editing=True)
    form = form_class(
        data={"name": config.name, "environment": config.environment.value}
        | {f.name: config.value(f.name) for f in spec.fields if not f.secret}
    )
    if form.validate_on_submit():
        clear = tuple(f.name for f in spec.fields if f.secret and form[f"clear_{f.name}"].data)
        try:
            partners.update_configuration(
                db.session,
                actor(),
                config,
                Environment(form.environment.data),
                form.name.data or "",
                _partner_values(form, spec),
                clear_secrets=clear,
                outbound=outbound_policy(),
            )
        except partners.ValidationFailed as exc:
            db.session.rollback()
            _attach_errors(form, exc.errors)
        else:
            db.session.commit()
            flash("Configuration saved.", "success")
            return redirect(url_for("admin.partners_list", _anchor=f"config-{config.id}"))
    return _form_page(
        "admin/partner_form.html", form, spec=spec, config=config, title=f"Edit {config.name}",
        usage=usage(db.session, config),
    )  # fmt: skip


@bp.route("/partners/<int:config_id>/deactivate", methods=["GET", "POST"])
@platform_admin
def partner_deactivate(config_id: int):
    """What deactivating changes, then the configuration's name typed to confirm."""
    config = get_or_404(PartnerConfiguration, config_id)
    if not config.is_enabled:
        flash(f"{config.name} is already deactivated.", "info")
        return redirect(url_for("admin.partners_list", _anchor=f"config-{config.id}"))
    form = TypedConfirmForm()
    if _typed_name(form, config):
        partners.deactivate_configuration(db.session, actor(), config)
        db.session.commit()
        flash(f"{config.name} is deactivated. Activate it again at any time.", "success")
        return redirect(url_for("admin.partners_list", _anchor=f"config-{config.id}"))
    return _confirm_page(config, form, "deactivate")


@bp.route("/partners/<int:config_id>/activate", methods=["POST"])
@platform_admin
def partner_activate(config_id: int):
    config = get_or_404(PartnerConfiguration, config_id)
    if ConfirmForm().validate_on_submit():
        partners.activate_configuration(db.session, actor(), config)
        db.session.commit()
        flash(f"{config.name} is active: onboarding and syncs use it again.", "success")
    return redirect(url_for("admin.partners_list", _anchor=f"config-{config.id}"))


@bp.route("/partners/<int:config_id>/delete", methods=["GET", "POST"])
@platform_admin
def partner_delete(config_id: int):
    """Only a configuration nothing uses; the page says what uses one that is."""
    config = get_or_404(PartnerConfiguration, config_id)
    form = TypedConfirmForm()
    if _typed_name(form, config):
        try:
            partners.delete_configuration(db.session, actor(), config)
        except partners.ConfigurationInUse as exc:
            db.session.rollback()
            return _confirm_page(config, form, "delete", refused=str(exc))
        db.session.commit()
        flash(f"{config.name} deleted.", "success")
        return redirect(url_for("admin.partners_list"))
    return _confirm_page(config, form, "delete")


def _typed_name(form, config: PartnerConfiguration) -> bool:
    """A submitted confirmation that repeats the configuration's name (checked here, on
    the server; the page has no script)."""
    if request.method != "POST":
        return False
    if form.validate_on_submit() and (form.confirmation.data or "").strip() == config.name:
        return True
    form.confirmation.errors = [f"Type the configuration's name, {config.name}, to confirm."]
    return False


def _confirm_page(config: PartnerConfiguration, form, action: str, refused: str = ""):
    """The consequences of ``action`` and the typed confirmation; 409 once refused."""
    form.confirmation.label.text = "Configuration name"
    page, status = _form_page(
        "admin/partner_confirm.html", form, config=config, action=action,
        usage=usage(db.session, config), refused=refused,
    )  # fmt: skip
    return page, 409 if refused else status


@bp.route("/partners/<int:config_id>/check", methods=["POST"])
@platform_admin
def partner_check(config_id: int):
    config = get_or_404(PartnerConfiguration, config_id)
    if ConfirmForm().validate_on_submit():
        ok, message = connection_check(db.session, actor(), config, provider_transport(), utcnow())
        db.session.commit()
        flash(("Connection works: " if ok else "Connection failed: ") + message,
              "success" if ok else "error")  # fmt: skip
    return redirect(url_for("admin.partners_list", _anchor=f"config-{config.id}"))


# -- audit log -----------------------------------------------------------------------------
@bp.route("/audit")
@platform_admin
def audit_log():
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc())
    action = request.args.get("action", "").strip()
    company_id = request.args.get("company", type=id_value)
    if action:
        stmt = stmt.where(AuditEntry.action.startswith(action))
    if company_id:
        stmt = stmt.where(AuditEntry.company_id == company_id)
    pagination = db.paginate(stmt, page=page_number(), per_page=50, error_out=False)
    names = {row.id: row.name for row in db.session.execute(select(Company.id, Company.name))}
    return render_template(
        "admin/audit.html", pagination=pagination, action=action, company_id=company_id,
        company_names=names,
    )  # fmt: skip


def _attach_errors(form, errors: dict[str, str]) -> None:
    for name, message in errors.items():
        field = form._fields.get(name, form.name)
        field.errors = [*field.errors, message]


def _form_page(template: str, form, **context):
    """Render a form page: 400 when a submitted form has errors, 200 otherwise."""
    failed = request.method == "POST" and any(field.errors for field in form)
    return render_template(template, form=form, **context), 400 if failed else 200
