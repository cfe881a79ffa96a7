"""Platform admin pages: partner configurations (create, edit, pause, delete, check)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from sqlalchemy import select

from provisioning import partners
from provisioning.db import utcnow
from provisioning.partner_checks import connection_check
from provisioning.partner_usage import usage
from provisioning.partners import Environment, PartnerConfiguration, Provider, ProviderSpec

from ..access import actor, platform_admin
from ..extensions import db
from ..providers import outbound_policy, provider_transport
from ..twilio.forms import TypedConfirmForm
from .blueprint import bp, form_page
from .forms import ConfirmForm, partner_form


def listed_at(config: PartnerConfiguration) -> str:
    """The list of configurations, scrolled to ``config``."""
    return url_for("admin.partners_list", _anchor=f"config-{config.id}")


@bp.route("/partners")
@platform_admin
def partners_list():
    configs = list(
        db.session.scalars(
            select(PartnerConfiguration).order_by(
                PartnerConfiguration.provider, PartnerConfiguration.environment
            )
        )
    )
    return render_template(
        "admin/partners.html",
        configs=configs,
        usages={c.id: usage(db.session, c) for c in configs},
        providers=list(Provider),
        confirm=ConfirmForm(),
    )


@bp.route("/partners/new/<provider>", methods=["GET", "POST"])
@platform_admin
def partner_new(provider: str):
    try:
        kind = Provider(provider)
    except ValueError:
        abort(404)
    spec = partners.PROVIDERS[kind]
    form = partner_form(spec, editing=False)()
    if form.validate_on_submit():
        try:
            config = partners.create_configuration(
                db.session, actor(), kind, Environment(form.environment.data),
                form.name.data or "", submitted_values(form, spec), outbound=outbound_policy(),
            )  # fmt: skip
        except partners.ValidationFailed as exc:
            attach_errors(form, exc.errors)
        else:
            flash(f"{spec.label} configuration saved.", "success")
            return redirect(listed_at(config))
    return form_page(
        "admin/partner_form.html", form, spec=spec, config=None, title=f"New {spec.label}"
    )


@bp.route("/partners/<int:config_id>", methods=["GET", "POST"])
@platform_admin
def partner_edit(config_id: int):
    config = db.get_or_404(PartnerConfiguration, config_id)
    spec = config.spec
    form = partner_form(spec, editing=True)(
        data={"name": config.name, "environment": config.environment.value}
        | {f.name: config.value(f.name) for f in spec.fields if not f.secret}
    )
    if form.validate_on_submit():
        clear = tuple(f.name for f in spec.fields if f.secret and form[f"clear_{f.name}"].data)
        try:
            partners.update_configuration(
                db.session, actor(), config, Environment(form.environment.data),
                form.name.data or "", submitted_values(form, spec), clear_secrets=clear,
                outbound=outbound_policy(),
            )  # fmt: skip
        except partners.ValidationFailed as exc:
            attach_errors(form, exc.errors)
        else:
            flash("Configuration saved.", "success")
            return redirect(listed_at(config))
    return form_page(
        "admin/partner_form.html", form, spec=spec, config=config, title=f"Edit {config.name}",
        usage=usage(db.session, config),
    )  # fmt: skip


@bp.route("/partners/<int:config_id>/deactivate", methods=["GET", "POST"])
@platform_admin
def partner_deactivate(config_id: int):
    """What deactivating changes, then the configuration's name typed to confirm."""
    config = db.get_or_404(PartnerConfiguration, config_id)
    if not config.is_enabled:
        flash(f"{config.name} is already deactivated.", "info")
        return redirect(listed_at(config))
    form = TypedConfirmForm()
    if typed_name(form, config):
        partners.deactivate_configuration(db.session, actor(), config)
        flash(f"{config.name} is deactivated. Activate it again at any time.", "success")
        return redirect(listed_at(config))
    return confirm_page(config, form, "deactivate")


@bp.route("/partners/<int:config_id>/activate", methods=["POST"])
@platform_admin
def partner_activate(config_id: int):
    config = db.get_or_404(PartnerConfiguration, config_id)
    if ConfirmForm().validate_on_submit():
        partners.activate_configuration(db.session, actor(), config)
        flash(f"{config.name} is active: onboarding and syncs use it again.", "success")
    return redirect(listed_at(config))


@bp.route("/partners/<int:config_id>/delete", methods=["GET", "POST"])
@platform_admin
def partner_delete(config_id: int):
    """Only a configuration nothing uses; the page says what uses one that is."""
    config = db.get_or_404(PartnerConfiguration, config_id)
    form = TypedConfirmForm()
    if typed_name(form, config):
        try:
            partners.delete_configuration(db.session, actor(), config)
        except partners.ConfigurationInUse as exc:
            return confirm_page(config, form, "delete", refused=str(exc))
        flash(f"{config.name} deleted.", "success")
        return redirect(url_for("admin.partners_list"))
    return confirm_page(config, form, "delete")


@bp.route("/partners/<int:config_id>/check", methods=["POST"])
@platform_admin
def partner_check(config_id: int):
    config = db.get_or_404(PartnerConfiguration, config_id)
    if ConfirmForm().validate_on_submit():
        ok, message = connection_check(db.session, actor(), config, provider_transport(), utcnow())
        flash(("Connection works: " if ok else "Connection failed: ") + message,
              "success" if ok else "error")  # fmt: skip
    return redirect(listed_at(config))


def submitted_values(form: FlaskForm, spec: ProviderSpec) -> dict[str, str]:
    return {f.name: form[f.name].data or "" for f in spec.fields}


def attach_errors(form: FlaskForm, errors: dict[str, str]) -> None:
    """The domain's messages on their fields (the name field for one the form lacks)."""
    for name, message in errors.items():
        field = form._fields.get(name, form["name"])
        field.errors = [*field.errors, message]


def typed_name(form: TypedConfirmForm, config: PartnerConfiguration) -> bool:
    """A submitted confirmation that repeats the configuration's name (checked here, on
    the server; the page has no script)."""
    if request.method != "POST":
        return False
    if form.validate_on_submit() and (form.confirmation.data or "").strip() == config.name:
        return True
    form.confirmation.errors = [f"Type the configuration's name, {config.name}, to confirm."]
    return False


def confirm_page(
    config: PartnerConfiguration, form: TypedConfirmForm, action: str, refused: str = ""
) -> ResponseReturnValue:
    """The consequences of ``action`` and the typed confirmation; 409 once refused."""
    form.confirmation.label.text = "Configuration name"
    page, status = form_page(
        "admin/partner_confirm.html", form, config=config, action=action,
        usage=usage(db.session, config), refused=refused,
    )  # fmt: skip
    return page, 409 if refused else status
