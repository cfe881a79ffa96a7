"""The signed-in user's own account: change the password, see and end sessions."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, session, url_for
from flask_login import current_user

from provisioning import accounts, user_sessions

from ..access import signed_in
from ..extensions import db
from ..jobs import enqueue
from ..links import public_url
from .forms import ChangePasswordForm, EndSessionsForm
from .session import authenticate, idle_timeout, sign_in

bp = Blueprint("account", __name__, url_prefix="/account")


def _check_password(password: str) -> tuple[str, int] | None:
    """None when ``password`` is the signed-in user's; otherwise a message and a status."""
    try:
        authenticate(current_user.email, password)
    except accounts.LoginThrottled as exc:
        return str(exc), 429
    except accounts.InvalidCredentials:
        return "That is not your current password.", 400
    return None


@bp.route("/password", methods=["GET", "POST"])
@signed_in
def change_password():
    form = ChangePasswordForm()
    form.account_email = current_user.email
    if not form.validate_on_submit():
        return render_template("auth/change_password.html", form=form), (
            400 if form.is_submitted() else 200
        )
    refused = _check_password(form.current_password.data)
    if refused:
        form.current_password.errors = [refused[0]]
        return render_template("auth/change_password.html", form=form), refused[1]
    user = current_user.user
    accounts.change_password(
        db.session, user, form.password.data, forgot_link=public_url("password_reset.forgot")
    )
    session.clear()  # every session ended, this one too: carry on in a new one
    sign_in(user)
    enqueue("mail.send")  # the notice to the account's address
    flash("Your password is changed. Your other sessions are signed out.", "success")
    return redirect(url_for("account.sessions"))


@bp.route("/", methods=["GET", "POST"])
@signed_in
def sessions():
    current = current_user.session_record
    live = user_sessions.live_sessions(db.session, current_user.id, idle_timeout())
    others = [row for row in live if row.id != current.id]
    form = EndSessionsForm()
    form.sessions.choices = [(row.id, str(row.id)) for row in others]
    status = 200
    if form.validate_on_submit():
        refused = _check_password(form.password.data)
        if refused:
            form.password.errors = [refused[0]]
            status = refused[1]
        else:
            ended = user_sessions.end_some(
                db.session, current_user.id, form.sessions.data or [], "ended by the user"
            )
            flash(f"{ended} session{'s' * (ended != 1)} signed out.", "success")
            return redirect(url_for("account.sessions"))
    elif form.is_submitted():
        status = 400
    return render_template("auth/sessions.html", form=form, current=current, others=others), status
