"""Provider clients as the portal builds them: the app's transport (the sandbox in tests)."""

from __future__ import annotations

from flask import abort, current_app

from provisioning.partner_checks import check_configuration
from provisioning.partners import PartnerConfiguration, Provider, active_configuration

from .extensions import db


def partner_configuration(provider: Provider) -> PartnerConfiguration | None:
    """The enabled configuration of ``provider`` in the app's provider environment."""
    environment = current_app.config["PROVIDER_ENVIRONMENT"]
    return active_configuration(db.session, provider, environment)


def required_configuration(provider: Provider) -> PartnerConfiguration:
    """The same, or 404 while the platform has not set the provider up."""
    config = partner_configuration(provider)
    if config is None:
        abort(404)
    return config


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
