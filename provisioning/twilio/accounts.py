"""The ISV master account and its clients (subaccounts come with the Twilio issue)."""

from __future__ import annotations

from typing import Any

import httpx
from twilio.rest import Client

from ..partners import PartnerConfiguration
from .api import call
from .sdk import make_client


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
    account = call(client.api.v2010.accounts(config.value("account_sid")).fetch)
    return {"sid": account.sid, "friendly_name": account.friendly_name, "status": account.status}
