"""API keys in the portal: the platform's (platform admins) and a company's (its admins).

A key's token is shown once, in the answer to the form that created it (never flashed:
a flash travels in the session cookie), with ``Cache-Control: no-store``.
"""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, url_for
from wtforms import SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from provisioning import api_keys
from provisioning.api_keys import Scope
from provisioning.errors import DomainError

from ..access import actor, company_admin, platform_admin
from ..admin.forms import ConfirmForm
from ..boundary import errors_go_to
from ..extensions import db
from ..forms import Form, form_errors

bp = Blueprint("api_keys", __name__)


class KeyForm(Form):
    name = StringField(
        "Name",
        validators=[DataRequired(), Length(max=api_keys.NAME_LENGTH)],
        description="The service that will use it, e.g. 'messaging service'.",
    )
    scopes = SelectMultipleField(
        "Scopes",
        choices=[SelectChoice(s.value, s.label) for s in Scope],
        default=[Scope.READ.value],
        option_widget=CheckboxInput(),
        widget=ListWidget(prefix_label=False),
    )


def _page(company_id: int | None, new_key=None, token: str | None = None, status: int = 200):
    answer = render_template(
        "api_keys/index.html",
        keys=api_keys.keys_of(db.session, company_id),
        form=KeyForm(formdata=None),
        confirm=ConfirmForm(),
        new_key=new_key,
        token=token,
        platform=company_id is None,
    )
    return answer, status, {"Cache-Control": "no-store"}


def _create(company):
    form = KeyForm()
    if not form.validate_on_submit():
        raise DomainError(form_errors(form))
    key, token = api_keys.create_key(db.session, actor(), form.name.data, form.scopes.data, company)
    return _page(key.company_id, key, token, 201)


def _revoke(company_id: int | None, key_id: int, back: str):
    key = api_keys.key_of(db.session, company_id, key_id)
    if ConfirmForm().validate_on_submit():
        api_keys.revoke_key(db.session, actor(), key)
        flash(f"The key {key.name} ({key.prefix}…) is revoked: it opens nothing from now on.",
              "success")  # fmt: skip
    return redirect(back)


@bp.route("/admin/api-keys")
@platform_admin
def platform_index():
    return _page(None)


@bp.route("/admin/api-keys", methods=["POST"])
@errors_go_to("api_keys.platform_index")
@platform_admin
def platform_create():
    return _create(None)


@bp.route("/admin/api-keys/<int:key_id>/revoke", methods=["POST"])
@errors_go_to("api_keys.platform_index")
@platform_admin
def platform_revoke(key_id: int):
    return _revoke(None, key_id, url_for("api_keys.platform_index"))


def _company_url() -> str:
    return url_for("api_keys.company_index", company=g.company.slug)


@bp.route("/c/<company>/api-keys")
@company_admin
def company_index():
    return _page(g.company.id)


@bp.route("/c/<company>/api-keys", methods=["POST"])
@errors_go_to("api_keys.company_index")
@company_admin
def company_create():
    return _create(g.company)


@bp.route("/c/<company>/api-keys/<int:key_id>/revoke", methods=["POST"])
@errors_go_to("api_keys.company_index")
@company_admin
def company_revoke(key_id: int):
    return _revoke(g.company.id, key_id, _company_url())
