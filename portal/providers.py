"""Provider clients as the portal builds them: the app's transport (the sandbox in tests)
behind the app's outbound policy."""

from __future__ import annotations

from flask import abort, current_app, g

from provisioning import clients
from provisioning.outbound import GuardedTransport, OutboundPolicy
from provisioning.partners import (
    PartnerConfiguration,
    Provider,
    active_configuration,
    environment_configuration,
    production_hosts,
    require_active,
)
from provisioning.twilio import numbers
from provisioning.twilio.api import TwilioApi
from provisioning.twilio.models import TwilioSubaccount

from .access import actor
from .boundary import checkpoint
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


def twilio_master(config: PartnerConfiguration) -> TwilioApi:
    """The ISV master account of ``config``, through the app's transport."""
    return clients.twilio_master(config, provider_transport())


def company_twilio() -> tuple[TwilioSubaccount, TwilioApi]:
    """The company's subaccount (created on first need, and on record before anything is
    done in it) and its own API."""
    config = required_configuration(Provider.TWILIO)
    sub = numbers.ensure_subaccount(
        db.session, actor(), g.company, config, provider_transport(), commit=checkpoint
    )
    checkpoint()
    return sub, numbers.subaccount_client(sub, config, provider_transport())
