"""The ISV master account and its clients (subaccounts come with the Twilio issue)."""

from __future__ import annotations

from typing import Any

import httpx
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from ..errors import AuthError, ProviderError, Rejected, Retryable, Unreachable
from ..partners import PartnerConfiguration
from .sdk import make_client

AUTH_CODES = frozenset({20003, 20005, 20008})


def map_twilio_error(exc: TwilioRestException) -> ProviderError:
    """Twilio's ``{code, message, more_info, status}`` envelope as a typed error."""
    status = exc.status or 0
    cls: type[ProviderError]
    if status in (401, 403) or exc.code in AUTH_CODES:
        cls = AuthError
    elif status == 429 or status >= 500 or exc.code == 20429:
        cls = Retryable
    else:
        cls = Rejected
    code = None if exc.code is None else str(exc.code)
    return cls("twilio", exc.msg or str(exc), status, code=code)


def master_client(config: PartnerConfiguration, transport: httpx.BaseTransport | None) -> Client:
    """A client with the master credentials (API key when configured, else auth token)."""
    key_sid = config.value("api_key_sid")
    username, password = (
        (key_sid, config.value("api_key_secret"))
        if key_sid
        else (config.value("account_sid"), config.value("auth_token"))
    )
    return make_client(
        username,
        password,
        account_sid=config.value("account_sid"),
        base_url=config.value("api_base_url") or None,
        transport=transport,
    )


def fetch_master_account(
    config: PartnerConfiguration, transport: httpx.BaseTransport | None
) -> dict[str, Any]:
    client = master_client(config, transport)
    try:
        account = client.api.v2010.accounts(config.value("account_sid")).fetch()
    except TwilioRestException as exc:
        raise map_twilio_error(exc) from exc
    except httpx.TransportError as exc:
        raise Unreachable("twilio", f"not reachable: {exc}") from exc
    return {"sid": account.sid, "friendly_name": account.friendly_name, "status": account.status}
