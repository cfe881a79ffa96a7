"""Provider clients as the portal builds them: the app's transport (the sandbox in tests)."""

from __future__ import annotations

from flask import abort, current_app

from provisioning.partner_checks import check_configuration
from provisioning.partners import (
    PartnerConfiguration,
    Provider,
    active_configuration,
    environment_configuration,
    require_active,
)

from .extensions import db


def partner_configuration(provider: Provider) -> PartnerConfiguration | None:
    """The active configuration of ``provider`` in the app's provider environment."""
    return active_configuration(db.session, provider, current_app.config["PROVIDER_ENVIRONMENT"])


def installed_configuration(provider: Provider) -> PartnerConfiguration | None:
    """The configuration of ``provider`` in the app's environment, active or deactivated
    (webhooks are still verified and stored while it is deactivated)."""
    return environment_configuration(
        db.session, provider, current_app.config["PROVIDER_ENVIRONMENT"]
    )


def required_configuration(provider: Provider) -> PartnerConfiguration:
    """The active configuration; 404 while the platform has not set the provider up, and
    ``ConfigurationUnavailable`` (409, in plain words) while it is deactivated."""
    config = installed_configuration(provider)
    if config is None:
        abort(404)
    return require_active(config)


def admin_configuration(provider: Provider) -> PartnerConfiguration:
    """The configuration platform admins act through, active or deactivated (pausing
    companies does not stop the platform managing what exists); 404 when there is none."""
    config = installed_configuration(provider)
    if config is None:
        abort(404)
    return config


def unavailable_message(provider: Provider) -> str:
    """Why companies cannot connect through ``provider`` now."""
    config = installed_configuration(provider)
    if config is None:
        return f"{provider.label} onboarding is not set up by the platform yet."
    return f"{provider.label} onboarding is paused by the platform for now."


def provider_transport():
    return current_app.config.get("PROVIDER_TRANSPORT")


def check_partner_configuration(config: PartnerConfiguration) -> tuple[bool, str]:
    return check_configuration(config, provider_transport())


def provisioning_services() -> dict:
    """What provisioning steps get besides the session (provider transport, URLs)."""
    return {
        "transport": provider_transport(),
        "public_base_url": current_app.config["PUBLIC_BASE_URL"],
    }
