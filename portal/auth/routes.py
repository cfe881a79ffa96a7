"""Sign in, sign out, accept an invitation, and the landing page."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, logout_user
from sqlalchemy import select

from provisioning import accounts, user_sessions
from provisioning.errors import DomainError
from provisioning.tenancy import Company, Membership

from ..access import public, signed_in
from ..extensions import db
from ..jobs import enqueue
from ..links import public_url
from .devices import remember_device
from .forms import LoginForm, SetPasswordForm
from .redirects import safe_next
from .session import authenticate, sign_in

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    if current_user.is_authenticated:
        return redirect(url_for("auth.home"))
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form), 400 if form.is_submitted() else 200
    try:
        user = authenticate(form.email.data, form.password.data)
    except accounts.LoginThrottled as exc:
        flash(str(exc), "error")
        headers = {"Retry-After": str(exc.retry_after)}
        return render_template("auth/login.html", form=form), 429, headers
    except accounts.InvalidCredentials as exc:  # the attempt is counted (checkpoint) all the same
        flash(str(exc), "error")
        return render_template("auth/login.html", form=form), 401
    session.clear()  # no session fixation: nothing from before sign-in carries over
    sign_in(user)
    response = redirect(safe_next(request.args.get("next")) or url_for("auth.home"))
    remember_device(response, user.email)
    return response


@bp.route("/logout", methods=["POST"])
@public
def logout():
    if current_user.is_authenticated:
        user_sessions.end(db.session, current_user.session_record, "signed out")
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/invite/<token>", methods=["GET", "POST"])
@public
def accept_invitation(token: str):
    try:
        _, user = accounts.invitation_user(db.session, token)
    except DomainError as exc:
        return render_template("invitations/invalid.html", message=str(exc)), 404
    form = SetPasswordForm()
    form.account_email = user.email
    if form.validate_on_submit():
        forgot = public_url("password_reset.forgot")
        try:
            accounts.accept_invitation(db.session, token, form.password.data, forgot_link=forgot)
        except DomainError as exc:  # spent by another tab a moment ago
            return render_template("invitations/invalid.html", message=str(exc)), 404
        if current_user.is_authenticated:  # someone else was signed in in this browser
            user_sessions.end(db.session, current_user.session_record, "signed out")
        logout_user()
        session.clear()
        sign_in(user)
        enqueue("mail.send")  # the notice, when the account had a password
        flash("Your password is set. Welcome!", "success")
        return redirect(url_for("auth.home"))
    status = 400 if request.method == "POST" else 200
    return render_template("auth/accept_invitation.html", form=form, user=user), status


@bp.route("/")
@signed_in
def home():
    companies = _companies_of_current_user()
    if current_user.is_platform_admin:
        return redirect(url_for("admin.index"))
    if len(companies) == 1:
        return redirect(url_for("company.dashboard", company=companies[0].slug))
    return render_template("auth/choose_company.html", companies=companies)


def _companies_of_current_user() -> list[Company]:
    return list(
        db.session.scalars(
            select(Company)
            .join(Membership)
            .where(
                Membership.user_id == current_user.id,
                Membership.is_active.is_(True),
                Company.is_active.is_(True),
            )
            .order_by(Company.name)
        )
    )


@bp.route("/companies")
@signed_in
def choose_company():
    companies = _companies_of_current_user()
    if not companies and not current_user.is_platform_admin:
        abort(404)
    return render_template("auth/choose_company.html", companies=companies)
