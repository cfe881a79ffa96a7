"""A Meta number's life after onboarding: add or move a number in, verify and register it,
its two-step verification PIN, deregistration."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

from flask import Blueprint, flash, g, redirect, render_template, url_for
from wtforms.fields.choices import SelectChoice

from provisioning import runs
from provisioning.errors import DomainError, NotFound
from provisioning.meta import coexistence_sync, lifecycle, registration
from provisioning.runs import ProvisioningRun
from provisioning.tenancy import tenant_get

from ..access import actor, company_admin, company_member
from ..admin.forms import ConfirmForm
from ..boundary import checkpoint, errors_go_to
from ..extensions import db
from ..forms import Form, form_errors
from ..jobs import enqueue
from ..providers import provider_transport
from .forms import AddNumberForm, CodeForm, PinForm, RegisterForm

F = TypeVar("F", bound=Form)

bp = Blueprint("numbers", __name__, url_prefix="/c/<company>/whatsapp-numbers")


@bp.route("/")
@company_member
def index():
    form = _add_form()
    return render_template(
        "numbers/index.html",
        numbers=lifecycle.numbers_of(db.session, g.company.id),
        form=form,
    )


@bp.route("/add", methods=["POST"])
@errors_go_to("numbers.index")
@company_admin
def add():
    form = _valid(_add_form())
    client = lifecycle.account_of(db.session, g.company.id, form.account.data)
    run = registration.start(
        db.session, actor(), client, number=form.number(), code_method=form.code_method.data,
        migrate=bool(form.migrate.data),
    )  # fmt: skip
    return _go_to(run)


@bp.route("/<int:wa_number_id>")
@company_member
def show(wa_number_id: int):
    number = lifecycle.number_of(db.session, g.company.id, wa_number_id)
    return render_template(
        "numbers/show.html",
        number=number,
        calls_left=lifecycle.registration_calls_left(number),
        run=registration.active_run(db.session, g.company.id, number.phone_number_id),
        coexistence=coexistence_sync.view(db.session, number),
        register_form=RegisterForm(),
        pin_form=PinForm(),
        confirm=ConfirmForm(),
    )


@bp.route("/<int:wa_number_id>/register", methods=["POST"])
@errors_go_to("numbers.show")
@company_admin
def register(wa_number_id: int):
    number = lifecycle.number_of(db.session, g.company.id, wa_number_id)
    form = _valid(RegisterForm())
    run = registration.start(
        db.session, actor(), number.client, phone_number_id=number.phone_number_id,
        code_method=form.code_method.data,
    )  # fmt: skip
    return _go_to(run)


@bp.route("/<int:wa_number_id>/deregister", methods=["POST"])
@errors_go_to("numbers.show")
@company_admin
def deregister(wa_number_id: int):
    number = lifecycle.number_of(db.session, g.company.id, wa_number_id)
    _valid(ConfirmForm())
    with _reach(number) as reach:
        lifecycle.deregister(db.session, checkpoint, actor(), number, reach)
    flash("The number is deregistered: it sends and receives nothing until registered again.",
          "success")  # fmt: skip
    return _back_to(number)


@bp.route("/<int:wa_number_id>/pin", methods=["POST"])
@errors_go_to("numbers.show")
@company_admin
def pin(wa_number_id: int):
    number = lifecycle.number_of(db.session, g.company.id, wa_number_id)
    form = _valid(PinForm())
    with _reach(number) as reach:
        lifecycle.set_pin(db.session, checkpoint, actor(), number, form.pin.data, reach)
    flash("The two-step verification PIN is set and kept, encrypted.", "success")
    return _back_to(number)


def _valid(form: F) -> F:
    """The form, or a DomainError with its messages (flashed on the page by the boundary)."""
    if not form.validate_on_submit():
        raise DomainError(form_errors(form))
    return form


@contextmanager
def _reach(number) -> Iterator[lifecycle.NumberAccess]:
    transport = provider_transport()
    try:
        yield lifecycle.access(db.session, number, transport)
    finally:
        transport.close()


def _back_to(number):
    return redirect(url_for("numbers.show", company=g.company.slug, wa_number_id=number.id), 303)


@bp.route("/registrations/<int:registration_id>")
@company_member
def registration_page(registration_id: int):
    run = _registration(registration_id)
    return render_template(
        "numbers/registration.html",
        run=run,
        waiting_for_code=registration.waiting_for_person(run),
        code_form=CodeForm(),
        register_form=RegisterForm(),
        number=registration.registered_row(db.session, run),
        confirm=ConfirmForm(),
    )


@bp.route("/registrations/<int:registration_id>/code", methods=["POST"])
@errors_go_to("numbers.registration_page")
@company_admin
def give_code(registration_id: int):
    run = _registration(registration_id)
    registration.give_code(db.session, actor(), run, _valid(CodeForm()).code.data)
    return _go_to(run)


@bp.route("/registrations/<int:registration_id>/resend", methods=["POST"])
@errors_go_to("numbers.registration_page")
@company_admin
def resend(registration_id: int):
    run = _registration(registration_id)
    registration.resend_code(db.session, actor(), run, _valid(RegisterForm()).code_method.data)
    flash("A new code is on its way.", "success")
    return _go_to(run)


@bp.route("/registrations/<int:registration_id>/retry", methods=["POST"])
@errors_go_to("numbers.registration_page")
@company_admin
def retry(registration_id: int):
    run = _registration(registration_id)
    _valid(ConfirmForm())
    runs.retry(db.session, actor(), run)
    flash("Retrying from the step that failed.", "info")
    return _go_to(run)


def _registration(registration_id: int) -> ProvisioningRun:
    run = tenant_get(db.session, ProvisioningRun, g.company.id, registration_id)
    if run.flow != registration.FLOW_NAME:
        raise NotFound(f"ProvisioningRun {registration_id} is not a registration")
    return run


def _go_to(run: ProvisioningRun):
    enqueue("provisioning.execute_run", run.id)
    return redirect(
        url_for("numbers.registration_page", company=g.company.slug, registration_id=run.id), 303
    )


def _add_form() -> AddNumberForm:
    form = AddNumberForm()
    form.account.choices = [
        SelectChoice(c.id, f"{c.name or 'WhatsApp account'} ({c.waba_id})")
        for c in lifecycle.accounts_of(db.session, g.company.id)
    ]
    return form
