"""The official ``twilio`` SDK on an httpx transport, optionally retargeted to a fake.

``make_client(..., base_url="http://sandbox.test/twilio", transport=...)`` points every
domain the platform uses at ``{base_url}/{alias}`` by swapping each domain's base URL
only (fact sheet §6 "Shortcut"): paths, auth, bodies and paging stay the SDK's own.
``edge``/``region`` are cleared then, since they rebuild ``*.twilio.com`` host names.
"""

from __future__ import annotations

import logging

import httpx
from twilio.http import HttpClient
from twilio.http.request import Request as TwilioRequest
from twilio.http.response import Response
from twilio.rest import Client

from provisioning.errors import BlockedDestination, Unreachable
from provisioning.http import DEFAULT_TIMEOUT, redact_url
from provisioning.metrics import provider_call
from provisioning.outbound import guarded

log = logging.getLogger("provisioning.twilio.sdk")

# SDK domain attribute -> host alias under the sandbox (see provisioning.sandbox.core)
DOMAINS = ("api", "messaging", "trusthub", "events")
JSON_TYPES = ("application/json", "application/scim+json")


class HttpxHttpClient(HttpClient):
    """A ``twilio.http.HttpClient`` on one long-lived ``httpx.Client``.

    Logs method, redacted URL (no query values that carry secrets, never credentials)
    and status only; bodies and headers are never logged. The transport is guarded
    (:mod:`provisioning.outbound`): the SDK reaches only the hosts the policy allows.
    """

    def __init__(
        self,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        logger: logging.Logger = log,
    ) -> None:
        seconds = timeout.read if isinstance(timeout, httpx.Timeout) else timeout
        super().__init__(logger, is_async=False, timeout=seconds)
        self._client = httpx.Client(transport=guarded(transport), timeout=timeout)

    def request(
        self,
        method: str,
        uri: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        headers = dict(headers or {})
        kwargs: dict[str, object] = {}
        if headers.get("Content-Type") in JSON_TYPES:
            # Senders v2 and other JSON APIs: the SDK hands over a dict for the body.
            kwargs["json"] = data
        elif data:
            kwargs["data"] = data
        if timeout is not None:
            if timeout <= 0:
                raise ValueError(timeout)
            kwargs["timeout"] = timeout
        self._test_only_last_request = TwilioRequest(
            method=method.upper(), url=uri, params=params, headers=headers
        )
        try:
            with provider_call("twilio", method, uri) as call:
                response = self._client.request(
                    method.upper(),
                    uri,
                    params=params,
                    headers=headers,
                    auth=auth,
                    follow_redirects=allow_redirects,
                    **kwargs,  # type: ignore[arg-type]
                )
                call.status = response.status_code
        except (BlockedDestination, Unreachable) as exc:  # from the guard
            exc.provider = "twilio"
            raise
        self.logger.info(
            "twilio %s %s -> %s",
            method.upper(),
            redact_url(response.request.url),
            response.status_code,
        )
        self._test_only_last_response = Response(
            response.status_code, response.text, response.headers
        )
        return self._test_only_last_response

    def close(self) -> None:
        self._client.close()


def make_client(
    username: str,
    password: str,
    *,
    account_sid: str | None = None,
    base_url: str | None = None,
    transport: httpx.BaseTransport | None = None,
    timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
) -> Client:
    """A ``twilio.rest.Client`` using httpx; ``base_url`` retargets api, messaging,
    trusthub and events to ``{base_url}/{alias}`` (e.g. the sandbox)."""
    client = Client(
        username,
        password,
        account_sid=account_sid,
        http_client=HttpxHttpClient(transport=transport, timeout=timeout),
    )
    if base_url:
        root = base_url.rstrip("/")
        client.edge = None
        client.region = None
        for alias in DOMAINS:
            getattr(client, alias).base_url = f"{root}/{alias}"
    return client
