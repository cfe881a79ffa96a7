"""Platform admins: every 360dialog client and channel, and channel key regeneration."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from wtforms import BooleanField
from wtforms.validators import DataRequired

from provisioning.dialog360.models import Dialog360Channel
from provisioning.dialog360.onboarding import regenerate_api_key
from provisioning.errors import DomainError
from provisioning.tenancy import Company

from ..access import actor, platform_admin
from ..boundary import checkpoint, errors_go_to
from ..extensions import db
from ..forms import Form, form_errors
from ..providers import provider_transport

bp = Blueprint("admin_dialog360", __name__, url_prefix="/admin/360dialog")


class RegenerateKeyForm(Form):
    understood = BooleanField(
        "I understand that the channel's current API key stops working at once.",
        validators=[DataRequired(message="Confirm that the old key will stop working.")],
    )


@bp.route("/")
@platform_admin
def channels():
    stmt = (
        select(Dialog360Channel)
        .join(Company, Dialog360Channel.company_id == Company.id)
        .options(joinedload(Dialog360Channel.client))
        .order_by(Company.name, Dialog360Channel.phone_number)
    )
    pagination = db.paginate(
        stmt, page=request.args.get("page", 1, type=int), per_page=50, error_out=False
    )
    ids = {channel.company_id for channel in pagination.items}
    companies = {c.id: c for c in db.session.scalars(select(Company).where(Company.id.in_(ids)))}
    return render_template(
        "admin/dialog360.html",
        pagination=pagination,
        companies=companies,
        form=RegenerateKeyForm(),
    )


@bp.route("/channels/<int:channel_id>/regenerate-key", methods=["POST"])
@errors_go_to("admin_dialog360.channels")
@platform_admin
def regenerate_key(channel_id: int):
    row = db.get_or_404(Dialog360Channel, channel_id)
    form = RegenerateKeyForm()
    if not form.validate_on_submit():
        raise DomainError(form_errors(form))
    regenerate_api_key(db.session, actor(), row, provider_transport(), checkpoint)
    flash(f"New API key stored for {row.phone_number}; the previous key no longer works.",
          "success")  # fmt: skip
    return redirect(url_for("admin_dialog360.channels"))
