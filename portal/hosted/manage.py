"""A company's hosted onboarding links in the portal: the list with each link's state (its
members, and platform admins), and creating and revoking links (its admins). A new link's
URL is shown once, in the answer to the form that created it, with ``no-store``."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, flash, g, redirect, render_template, url_for
from wtforms import BooleanField, IntegerField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from provisioning import onboarding_links
from provisioning.db import utcnow
from provisioning.errors import DomainError
from provisioning.onboarding_links import LinkOption, OnboardingLink
from provisioning.tenancy import tenant_get

from ..access import actor, company_admin, company_member
from ..admin.forms import ConfirmForm
from ..boundary import errors_go_to
from ..extensions import db
from ..forms import Form, form_errors
from ..links import public_url
from .urls import check_link_url

bp = Blueprint("onboarding_links", __name__, url_prefix="/c/<company>/onboarding-links")
URL_FIELD = [Optional(), Length(max=onboarding_links.URL_LENGTH)]


class LinkForm(Form):
    options = SelectMultipleField(
        "What the link offers",
        choices=[SelectChoice(o.value, o.label) for o in LinkOption],
        default=[LinkOption.META.value],
        option_widget=CheckboxInput(),
        widget=ListWidget(prefix_label=False),
    )
    expires_in_days = IntegerField(
        "Valid for (days)",
        default=onboarding_links.DEFAULT_LIFETIME.days,
        validators=[InputRequired(), NumberRange(1, onboarding_links.MAX_LIFETIME.days)],
    )
    success_url = StringField("After a success, go to", validators=URL_FIELD)
    failure_url = StringField("After a failure, go to", validators=URL_FIELD)
    platform_name = StringField(
        "Platform name", validators=[Optional(), Length(max=onboarding_links.NAME_LENGTH)]
    )
    logo_url = StringField("Logo (https URL)", validators=URL_FIELD)
    revoke_others = BooleanField("Revoke the company's other open links")


def _index_url() -> str:
    return url_for("onboarding_links.index", company=g.company.slug)


def _page(form: LinkForm, new_link: OnboardingLink | None = None, url: str = "", status=200):
    answer = render_template(
        "hosted/manage.html",
        links=onboarding_links.links_of(db.session, g.company.id),
        form=form,
        confirm=ConfirmForm(),
        new_link=new_link,
        url=url,
        now=utcnow(),
    )
    return answer, status, {"Cache-Control": "no-store"}


@bp.route("")
@company_member
def index():
    return _page(LinkForm(formdata=None))


@bp.route("", methods=["POST"])
@errors_go_to("onboarding_links.index")
@company_admin
def create():
    form = LinkForm()
    if not form.validate_on_submit():
        raise DomainError(form_errors(form))
    now = utcnow()
    link, token = onboarding_links.create(
        db.session, actor(), g.company, form.options.data or [], check_url=check_link_url,
        expires_at=now + dt.timedelta(days=form.expires_in_days.data or 0),
        success_url=form.success_url.data or "", failure_url=form.failure_url.data or "",
        platform_name=form.platform_name.data or "", logo_url=form.logo_url.data or "",
        revoke_others=form.revoke_others.data, now=now,
    )  # fmt: skip
    return _page(LinkForm(formdata=None), link, public_url("hosted.link_page", token=token), 201)


@bp.route("/<int:link_id>/revoke", methods=["POST"])
@errors_go_to("onboarding_links.index")
@company_admin
def revoke(link_id: int):
    link = tenant_get(db.session, OnboardingLink, g.company.id, link_id)
    if ConfirmForm().validate_on_submit():
        onboarding_links.revoke(db.session, actor(), link)
        flash(f"The link {link.public_id} is revoked: it opens nothing from now on.", "success")
    return redirect(_index_url())
