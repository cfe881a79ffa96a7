"""Where an invitation link lands: the invitee accepts, never anyone else.

- No account has the invited address: the visitor (signed out) chooses a password; the
  account is created and joins the company, then signs in as usual.
- An account has it: only that account, signed in, can accept (one click). Anyone else
  is told to sign in with the invited address.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from provisioning import invitations
from provisioning.errors import DomainError

from ..access import public
from ..admin.forms import ConfirmForm
from ..extensions import db
from .forms import NewAccountForm

bp = Blueprint("invitations", __name__, url_prefix="/invitations")


@bp.route("/<token>", methods=["GET", "POST"])
@public
def accept(token: str):
    try:
        invitation = invitations.find_open(db.session, token)
    except DomainError as exc:
        return render_template("invitations/invalid.html", message=str(exc)), 404
    account = invitations.account_of(db.session, invitation)
    signed_in = current_user.is_authenticated
    if account is None and not signed_in:
        return _new_account(token, invitation)
    if signed_in and account is not None and current_user.id == account.id:
        return _confirm(token, invitation)
    mode = "other_account" if signed_in else "sign_in"
    status = 403 if request.method == "POST" else 200
    login = url_for("auth.login", next=request.path)
    return render_template(
        "invitations/accept.html", mode=mode, invitation=invitation, login=login
    ), status


def _new_account(token: str, invitation: invitations.CompanyInvitation):
    form = NewAccountForm()
    form.account_email = invitation.email
    if form.validate_on_submit():
        try:
            invitations.accept_new_account(
                db.session, token, form.name.data or "", form.password.data
            )
        except DomainError as exc:  # shown on the form, which keeps what was typed
            form.password.errors = [*form.password.errors, str(exc)]
        else:
            flash(f"Your account is ready and you joined {invitation.company.name}: sign in.",
                  "success")  # fmt: skip
            return redirect(url_for("auth.login"))
    status = 400 if request.method == "POST" else 200
    return render_template(
        "invitations/accept.html", mode="new_account", invitation=invitation, form=form
    ), status


def _confirm(token: str, invitation: invitations.CompanyInvitation):
    form = ConfirmForm()
    if form.validate_on_submit():
        invitations.accept(db.session, token, current_user.user)
        flash(f"You joined {invitation.company.name} as {invitation.role.label}.", "success")
        return redirect(url_for("company.dashboard", company=invitation.company.slug))
    status = 400 if request.method == "POST" else 200
    return render_template(
        "invitations/accept.html", mode="confirm", invitation=invitation, form=form
    ), status
