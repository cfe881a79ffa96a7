"""Provider clients as the portal builds them: the app's transport (the sandbox in tests)
behind the app's outbound policy."""

from __future__ import annotations

from flask import abort, current_app

from provisioning.outbound import GuardedTransport, OutboundPolicy
from provisioning.partners import (
    PartnerConfiguration,
    Provider,
    active_configuration,
    environment_configuration,
    production_hosts,
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


def outbound_policy(sandbox_url: str | None = None) -> OutboundPolicy:
    """Where provider calls may go: production fixes the providers' hosts (and
    ``PROVIDER_URL_ALLOWLIST``); elsewhere the sandbox (``SANDBOX_URL``, or ``sandbox_url``)
    is the one private address allowed."""
    config = current_app.config
    production = config["PORTAL_ENV"] == "production"
    return OutboundPolicy.build(
        production=production,
        provider_hosts=production_hosts(),
        allowlist=config["PROVIDER_URL_ALLOWLIST"],
        sandbox_urls=() if production else (sandbox_url or config["SANDBOX_URL"],),
    )


def provider_transport() -> GuardedTransport:
    """Every provider client's transport: the network (or the test's transport, in
    ``PROVIDER_TRANSPORT``) behind the outbound guard."""
    return GuardedTransport(outbound_policy(), current_app.config.get("PROVIDER_TRANSPORT"))


def provisioning_services() -> dict:
    """What provisioning steps get besides the session (provider transport, URLs)."""
    return {
        "transport": provider_transport(),
        "public_base_url": current_app.config["PUBLIC_BASE_URL"],
    }
