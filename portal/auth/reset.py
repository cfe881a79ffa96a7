"""Forgotten passwords: ask for a link by e-mail, then choose a new password with it.

The answer to "send me a link" is the same whether the address has an account or not;
the e-mail goes out through the mail outbox (job ``mail.send``). The link's token leaves
the address bar at once: opening it stores the token in the signed session cookie and
redirects to a page without it (no token in history, logs or ``Referer`` headers).
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import logout_user

from provisioning import login_throttle, password_resets
from provisioning.password_resets import InvalidResetLink

from ..access import public
from ..extensions import db
from ..jobs import enqueue
from ..links import public_url
from .forms import ForgotPasswordForm, SetPasswordForm

bp = Blueprint("password_reset", __name__, url_prefix="/password")
SESSION_KEY = "password_reset_token"
SENT = (
    "If an account uses that address, a link to choose a new password is on its way. "
    "It is valid for 30 minutes."
)


@bp.route("/forgot", methods=["GET", "POST"])
@public
def forgot():
    form = ForgotPasswordForm()
    if not form.validate_on_submit():
        return render_template("auth/forgot_password.html", form=form), (
            400 if form.is_submitted() else 200
        )
    try:
        login_throttle.reserve(db.session, login_throttle.reset_keys(request.remote_addr or "-"))
    except login_throttle.LoginThrottled as exc:
        flash(str(exc), "error")
        headers = {"Retry-After": str(exc.retry_after)}
        return render_template("auth/forgot_password.html", form=form), 429, headers
    queued = password_resets.request_link(
        db.session,
        form.email.data,
        link=lambda token: public_url("password_reset.open_link", token=token),
    )
    if queued is not None:
        enqueue("mail.send")
    flash(SENT, "info")
    return redirect(url_for("auth.login"))


@bp.route("/reset/<token>")
@public
def open_link(token: str):
    try:
        password_resets.user_for(db.session, token)
    except InvalidResetLink as exc:
        return render_template("auth/reset_invalid.html", message=str(exc)), 404
    session[SESSION_KEY] = token
    return redirect(url_for("password_reset.choose"))


@bp.route("/reset", methods=["GET", "POST"])
@public
def choose():
    token = session.get(SESSION_KEY)
    try:
        user = password_resets.user_for(db.session, token or "")
    except InvalidResetLink as exc:
        session.pop(SESSION_KEY, None)
        return render_template("auth/reset_invalid.html", message=str(exc)), 404
    form = SetPasswordForm()
    form.account_email = user.email
    if not form.validate_on_submit():
        return render_template("auth/reset_password.html", form=form, user=user), (
            400 if form.is_submitted() else 200
        )
    try:
        password_resets.reset_password(
            db.session, token, form.password.data, forgot_link=public_url("password_reset.forgot")
        )
    except InvalidResetLink as exc:  # spent by another tab a moment ago
        session.pop(SESSION_KEY, None)
        return render_template("auth/reset_invalid.html", message=str(exc)), 404
    enqueue("mail.send")  # the notice to the account's address
    logout_user()
    session.clear()
    flash("Your password is changed, and every session was signed out. Sign in with it.", "success")
    return redirect(url_for("auth.login"))
