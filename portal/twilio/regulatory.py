"""A company's regulatory bundles: what Twilio requires for a country, number type and
end-user type, the form it becomes (with document uploads), the bundles and their review,
and the copy made when a regulation changes."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Regexp

from provisioning.errors import DomainError
from provisioning.partners import Provider, ValidationFailed
from provisioning.tenancy import tenant_get
from provisioning.twilio import regulatory
from provisioning.twilio.models import RegulatoryBundle

from ..access import actor, company_admin, company_member
from ..admin.forms import ConfirmForm
from ..boundary import errors_go_to
from ..extensions import db
from ..forms import Form, form_errors
from ..jobs import enqueue
from ..providers import (
    company_twilio,
    installed_configuration,
    required_configuration,
    twilio_master,
)

bp = Blueprint("regulatory", __name__, url_prefix="/c/<company>/regulatory")
NUMBER_TYPES = [
    SelectChoice("local", "Local"), SelectChoice("mobile", "Mobile"),
    SelectChoice("toll_free", "Toll-free"), SelectChoice("national", "National"),
]  # fmt: skip
END_USERS = [SelectChoice("business", "Business"), SelectChoice("individual", "Individual")]


class StartForm(Form):
    """Which regulation: read (GET) before anything is created."""

    class Meta:
        csrf = False

    country = StringField(
        "Country", validators=[DataRequired(),
                               Regexp(r"^[A-Za-z]{2}$", message="Two letters, like DE.")],
    )  # fmt: skip
    number_type = SelectField("Number type", choices=NUMBER_TYPES, default="local")
    end_user_type = SelectField("End user", choices=END_USERS, default="business")


def page_url() -> str:
    return url_for("regulatory.index", company=g.company.slug)


@bp.route("/")
@company_member
def index():
    if installed_configuration(Provider.TWILIO) is None:
        abort(404)
    return render_template(
        "twilio/regulatory.html",
        bundles=regulatory.bundles_of(db.session, g.company.id),
        documents=regulatory.documents_of(db.session, g.company.id),
        start=StartForm(request.args),
        confirm=ConfirmForm(),
    )


def _requirements(form: StartForm) -> regulatory.Requirements | None:
    # Regulations are the same for every account: read with the master, creating nothing.
    client = twilio_master(required_configuration(Provider.TWILIO))
    return regulatory.read_requirements(
        client, form.country.data or "", form.number_type.data or "", form.end_user_type.data or ""
    )


def _bundle_form(
    needed: regulatory.Requirements | None,
    values: dict[str, str],
    errors: dict[str, str],
    action: str,
    *,
    start: StartForm | None = None,
    original: RegulatoryBundle | None = None,
) -> str:
    """The bundle form: a new bundle's (``start``) or an update's copy (``original``)."""
    return render_template(
        "twilio/regulatory_new.html", start=start, needed=needed, values=values,
        errors=errors, confirm=ConfirmForm(), action=action, original=original,
    )  # fmt: skip


@bp.route("/new", methods=["GET", "POST"])
@errors_go_to("regulatory.index")
@company_admin
def new():
    start = StartForm(request.values)
    if request.method == "GET" and not request.args:  # nothing chosen yet: the choice
        return render_template("twilio/regulatory_new.html", start=start, choose=True)
    if not start.validate():
        raise DomainError(form_errors(start))
    needed = _requirements(start)
    values, errors, status = dict(request.form), {}, 200
    earlier = request.args.get("from", type=int)
    if needed is not None and request.method == "GET" and earlier is not None:
        # start again from a rejected or failed bundle: its details, documents anew
        before = tenant_get(db.session, RegulatoryBundle, g.company.id, earlier)
        values = regulatory.copy_values(before, needed)
    if needed is not None and request.method == "POST":
        if not ConfirmForm().validate_on_submit():
            abort(400)
        files = {key: (f.filename or "", f.read()) for key, f in request.files.items()}
        try:
            submission = regulatory.check_submission(needed, values, files)
        except ValidationFailed as exc:  # shown next to each field
            errors, status = exc.errors, 400
        else:
            config = required_configuration(Provider.TWILIO)
            company_twilio()  # the subaccount exists before the run acts in it
            bundle = regulatory.start_bundle(
                db.session, actor(), g.company, config, needed, submission
            )
            enqueue("provisioning.execute_run", bundle.run_id)
            flash("Submitted: Twilio evaluates the bundle, then reviews it.", "success")
            return redirect(page_url())
    action = url_for("regulatory.new", company=g.company.slug, **start.data)
    return _bundle_form(needed, values, errors, action, start=start), status


@bp.route("/<int:bundle_id>/update", methods=["GET", "POST"])
@errors_go_to("regulatory.index")
@company_admin
def update(bundle_id: int):
    """A copy with new information, checked against what the regulation requires now."""
    original = tenant_get(db.session, RegulatoryBundle, g.company.id, bundle_id)
    if original.status not in regulatory.APPROVED or original.copy_of_id is not None:
        raise DomainError("Only an approved bundle can be updated through a copy.")
    _, client = company_twilio()
    needed = regulatory.current_requirements(client, original)
    values, errors, status = regulatory.copy_values(original, needed), {}, 200
    if request.method == "POST":
        if not ConfirmForm().validate_on_submit():
            abort(400)
        values = {**dict(request.form), **{k: v for k, v in values.items() if "address-" in k}}
        files = {key: (f.filename or "", f.read()) for key, f in request.files.items()}
        try:
            submission = regulatory.check_submission(needed, values, files)
        except ValidationFailed as exc:
            errors, status = exc.errors, 400
        else:
            config = required_configuration(Provider.TWILIO)
            made = regulatory.copy_bundle(
                db.session, actor(), g.company, config, original, needed, submission
            )
            enqueue("provisioning.execute_run", made.run_id)
            flash("The updated copy was submitted for review.", "success")
            return redirect(page_url())
    action = url_for("regulatory.update", company=g.company.slug, bundle_id=original.id)
    return _bundle_form(needed, values, errors, action, original=original), status


@bp.route("/<int:bundle_id>/refresh", methods=["POST"])
@errors_go_to("regulatory.index")
@company_admin
def refresh(bundle_id: int):
    bundle = tenant_get(db.session, RegulatoryBundle, g.company.id, bundle_id)
    if ConfirmForm().validate_on_submit():
        _, client = company_twilio()
        regulatory.refresh_bundle(db.session, bundle, client)
        if bundle.run_id is not None:  # a run waiting for the review moves on now
            enqueue("provisioning.execute_run", bundle.run_id)
        flash(f"Twilio says the bundle is {bundle.status}.", "success")
    return redirect(page_url())


@bp.route("/<int:bundle_id>/copy", methods=["POST"])
@errors_go_to("regulatory.index")
@company_admin
def copy(bundle_id: int):
    bundle = tenant_get(db.session, RegulatoryBundle, g.company.id, bundle_id)
    if ConfirmForm().validate_on_submit():
        config = required_configuration(Provider.TWILIO)
        made = regulatory.copy_bundle(db.session, actor(), g.company, config, bundle)
        enqueue("provisioning.execute_run", made.run_id)
        flash("A copy was submitted; once approved, it replaces the bundle's items.", "success")
    return redirect(page_url())
