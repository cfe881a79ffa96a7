"""What customers see of a Meta number: its display name and Meta's review of it, the
WhatsApp business profile and picture, and the Official Business Account badge."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from provisioning.errors import DomainError, ProviderError
from provisioning.meta import lifecycle, number_profile
from provisioning.meta.lifecycle import NumberAccess
from provisioning.meta.models import MetaWhatsAppPhoneNumber

from ..access import actor, company_admin, company_member
from ..boundary import checkpoint, errors_go_to, message_of
from ..extensions import db
from ..forms import form_errors
from ..providers import provider_transport
from .profile_forms import DisplayNameForm, ObaForm, PictureForm, ProfileForm

bp = Blueprint(
    "number_profile",
    __name__,
    url_prefix="/c/<company>/whatsapp-numbers/<int:wa_number_id>/profile",
)
PICTURE_BODY_LIMIT = number_profile.MAX_PICTURE_BYTES + 64 * 1024  # the picture and its form


@bp.url_value_preprocessor
def larger_body_for_pictures(endpoint: str | None, values: dict | None) -> None:
    """A picture may be 5 MB, more than the app's body limit: this one view reads more
    (URL value preprocessors run before the app's size check)."""
    if endpoint == "number_profile.picture":
        request.max_content_length = PICTURE_BODY_LIMIT


@bp.route("/")
@company_member
def page(wa_number_id: int):
    number = _number(wa_number_id)
    held, unavailable = None, ""
    try:  # reading fails in place: this page is where errors would go
        with _reach(number) as reach:
            held = number_profile.read(number, reach)
    except (DomainError, ProviderError) as exc:
        unavailable = message_of(exc)
    profile_form = ProfileForm()
    if held is not None:
        profile_form.fill(held.profile)
    return render_template(
        "numbers/profile.html",
        number=number,
        held=held,
        unavailable=unavailable,
        notice=number_profile.name_notice(number),
        verticals=number_profile.VERTICALS,
        name_form=DisplayNameForm(),
        profile_form=profile_form,
        picture_form=PictureForm(),
        oba_form=ObaForm(),
    )


@bp.route("/display-name", methods=["POST"])
@errors_go_to("number_profile.page")
@company_admin
def display_name(wa_number_id: int):
    number = _number(wa_number_id)
    form = DisplayNameForm()
    if not form.validate_on_submit():
        flash(form_errors(form), "error")
        return _back(number)
    with _reach(number) as reach:
        number_profile.request_display_name(
            db.session, checkpoint, actor(), number, form.name.data or "", reach
        )
    flash("Meta is reviewing the new display name: its decision shows here.", "success")
    return _back(number)


@bp.route("/business-profile", methods=["POST"])
@errors_go_to("number_profile.page")
@company_admin
def update(wa_number_id: int):
    number = _number(wa_number_id)
    form = ProfileForm()
    if not form.validate_on_submit():
        flash(form_errors(form), "error")
        return _back(number)
    with _reach(number) as reach:
        number_profile.update_profile(db.session, actor(), number, form.changes(), reach)
    flash("The business profile is saved at Meta.", "success")
    return _back(number)


@bp.route("/picture", methods=["POST"])
@errors_go_to("number_profile.page")
@company_admin
def picture(wa_number_id: int):
    number = _number(wa_number_id)
    form = PictureForm()
    if not form.validate_on_submit():
        flash(form_errors(form), "error")
        return _back(number)
    data = form.picture.data.read(number_profile.MAX_PICTURE_BYTES + 1)
    with _reach(number) as reach:
        number_profile.upload_picture(db.session, actor(), number, data, reach)
    flash("The profile picture is uploaded and set.", "success")
    return _back(number)


@bp.route("/official-business-account", methods=["POST"])
@errors_go_to("number_profile.page")
@company_admin
def oba(wa_number_id: int):
    number = _number(wa_number_id)
    form = ObaForm()
    if not form.validate_on_submit():
        flash(form_errors(form), "error")
        return _back(number)
    with _reach(number) as reach:
        status = number_profile.request_oba(
            db.session, actor(), number, reach, website=form.website.data or "",
            country=(form.country.data or "").upper(), language=form.language.data or "",
            parent_brand=form.parent_brand.data, links=form.link_list(),
            information=form.information.data,
        )  # fmt: skip
    flash(f"Official Business Account request sent: {status.message or status.status}", "success")
    return _back(number)


def _number(wa_number_id: int) -> MetaWhatsAppPhoneNumber:
    return lifecycle.number_of(db.session, g.company.id, wa_number_id)


@contextmanager
def _reach(number: MetaWhatsAppPhoneNumber) -> Iterator[NumberAccess]:
    """Graph for the number, through the app's transport, closed after the call."""
    transport = provider_transport()
    try:
        yield lifecycle.access(db.session, number, transport)
    finally:
        transport.close()


def _back(number: MetaWhatsAppPhoneNumber):
    return redirect(
        url_for("number_profile.page", company=g.company.slug, wa_number_id=number.id), 303
    )
