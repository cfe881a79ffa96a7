"""``Test connection`` for a partner configuration, through each provider's client."""

from __future__ import annotations

import datetime as dt

import httpx
from sqlalchemy.orm import Session

from . import audit, clients
from .errors import AuthError, BlockedDestination, ProviderError, Unreachable
from .http import redact_url
from .partners import PartnerConfiguration, Provider, record_check


def connection_check(
    session: Session,
    actor: audit.Actor,
    config: PartnerConfiguration,
    transport: httpx.BaseTransport | None,
    at: dt.datetime,
) -> tuple[bool, str]:
    """``Test connection`` as an admin asks for it: the check, its result kept on the
    configuration, and an audit entry (a check sends the configuration's secrets out)."""
    ok, message = check_configuration(config, transport)
    message = redact_url(message)
    record_check(config, ok, message, at)
    audit.record(
        session, actor, "partner_configuration.check", config,
        label=f"{config.name} ({config.environment})", ok=ok, message=message[:500],
    )  # fmt: skip
    return ok, message


def check_configuration(
    config: PartnerConfiguration, transport: httpx.BaseTransport | None = None
) -> tuple[bool, str]:
    """Call the provider with the configuration's credentials: (ok, message in plain words)."""
    try:
        return True, _CHECKS[config.provider](config, transport)
    except AuthError as exc:
        return False, f"the provider refused the credentials ({exc})"
    except BlockedDestination as exc:
        return False, f"the configuration cannot be used: {exc.message}"
    except Unreachable as exc:
        return False, f"the provider is not reachable ({exc.message})"
    except ProviderError as exc:
        return False, str(exc)
    except ValueError as exc:  # malformed base URL and the like
        return False, f"the configuration cannot be used: {exc}"


def _check_meta(config: PartnerConfiguration, transport: httpx.BaseTransport | None) -> str:
    with clients.meta_graph(config, transport, max_attempts=1) as client:
        app = client.check_app(config.value("app_id"), config.value("app_secret"))
    return f"app {app.get('name') or app.get('id')} answered"


def _check_dialog360(config: PartnerConfiguration, transport: httpx.BaseTransport | None) -> str:
    with clients.dialog360_partner(config, transport, max_attempts=1) as client:
        partner = client.get_partner()
    return f"partner {partner.get('name') or partner.get('id') or config.value('partner_id')}"


def _check_twilio(config: PartnerConfiguration, transport: httpx.BaseTransport | None) -> str:
    account = clients.twilio_master(config, transport).fetch_account(config.value("account_sid"))
    return f"account {account.friendly_name} is {account.status}"


_CHECKS = {
    Provider.META: _check_meta,
    Provider.DIALOG360: _check_dialog360,
    Provider.TWILIO: _check_twilio,
}
