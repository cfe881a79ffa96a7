"""Platform admin pages: users, their admin rights, activation and invitations."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import func, or_, select

from provisioning import accounts
from provisioning.errors import DomainError
from provisioning.tenancy import User

from ..access import actor, platform_admin
from ..boundary import errors_go_to
from ..extensions import db
from ..flashes import flash_invitation
from .blueprint import PER_PAGE, bp, form_page, page_number
from .forms import ConfirmForm, EditUserForm, NewUserForm


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
            user, token = accounts.create_invited_user(
                db.session, actor(), form.email.data, name=form.name.data or "",
                platform_admin=form.is_platform_admin.data,
            )  # fmt: skip
        except DomainError as exc:
            form.email.errors = [str(exc)]
        else:
            flash_invitation(token)
            return redirect(url_for("admin.user_detail", user_id=user.id))
    return form_page("admin/user_form.html", form, title="New user")


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@platform_admin
def user_detail(user_id: int):
    user = db.get_or_404(User, user_id)
    form = EditUserForm(obj=user)
    if form.validate_on_submit():
        try:
            accounts.update_user(
                db.session, actor(), user, form.name.data or "", form.is_platform_admin.data
            )
        except DomainError as exc:
            form.is_platform_admin.errors = [str(exc)]
        else:
            flash("User saved.", "success")
            return redirect(url_for("admin.user_detail", user_id=user.id))
    return form_page("admin/user_detail.html", form, user=user, confirm=ConfirmForm())


@bp.route("/users/<int:user_id>/active", methods=["POST"])
@errors_go_to("admin.user_detail")
@platform_admin
def user_set_active(user_id: int):
    user = db.get_or_404(User, user_id)
    if ConfirmForm().validate_on_submit():
        accounts.set_user_active(db.session, actor(), user, not user.is_active)
        flash(f"{user.email} is {'active' if user.is_active else 'deactivated'}.", "success")
    return redirect(url_for("admin.user_detail", user_id=user.id))


@bp.route("/users/<int:user_id>/invite", methods=["POST"])
@platform_admin
def user_invite(user_id: int):
    user = db.get_or_404(User, user_id)
    if ConfirmForm().validate_on_submit():
        flash_invitation(accounts.invite(db.session, actor(), user))
    return redirect(url_for("admin.user_detail", user_id=user.id))
