"""Provider clients built from a partner configuration: the one place that knows which
settings each provider's client takes. Callers give the transport (the app's guarded
one; the sandbox in tests)."""

from __future__ import annotations

from typing import Any

import httpx

from .dialog360.api import MessagingClient, PartnerClient
from .meta.api import GraphClient
from .partners import PartnerConfiguration
from .twilio.api import TwilioApi, connect

Transport = httpx.BaseTransport | None


def meta_graph(config: PartnerConfiguration, transport: Transport, **options: Any) -> GraphClient:
    """The Graph API of the Meta app's configuration."""
    return GraphClient(
        config.value("graph_base_url"),
        config.value("graph_api_version"),
        transport=transport,
        **options,
    )


def dialog360_partner(
    config: PartnerConfiguration, transport: Transport, **options: Any
) -> PartnerClient:
    """The 360dialog Partner API, with the partner's API key or its user's login."""
    return PartnerClient(
        config.value("api_base_url"),
        config.value("partner_id"),
        api_key=config.value("api_key") or None,
        username=config.value("username") or None,
        password=config.value("password") or None,
        transport=transport,
        **options,
    )


def dialog360_messaging(
    config: PartnerConfiguration, api_key: str, transport: Transport, **options: Any
) -> MessagingClient:
    """The 360dialog Messaging API of one channel (its own API key)."""
    return MessagingClient(config.value("waba_base_url"), api_key, transport=transport, **options)


def twilio_master(config: PartnerConfiguration, transport: Transport) -> TwilioApi:
    """The ISV master account (its API key when configured, else its auth token)."""
    key_sid = config.value("api_key_sid")
    username, password = (
        (key_sid, config.value("api_key_secret"))
        if key_sid
        else (config.value("account_sid"), config.value("auth_token"))
    )
    return connect(
        username,
        password,
        account_sid=config.value("account_sid"),
        base_url=config.value("api_base_url") or None,
        transport=transport,
    )


def twilio_subaccount(
    config: PartnerConfiguration, account_sid: str, auth_token: str, transport: Transport
) -> TwilioApi:
    """A company's subaccount, with its own credentials (product APIs refuse the parent's)."""
    return connect(
        account_sid,
        auth_token,
        base_url=config.value("api_base_url") or None,
        transport=transport,
    )
