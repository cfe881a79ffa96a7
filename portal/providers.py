"""Provider clients as the portal builds them: the app's transport (the sandbox in tests)."""

from __future__ import annotations

from flask import current_app

from provisioning.partner_checks import check_configuration
from provisioning.partners import PartnerConfiguration


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
