"""The Graph API client: Meta's error object mapped to typed errors.

Classification (fact sheet §3.2): credential codes 0, 190, 10 and 200-299 mean the
customer must reauthorize; 4, 80007, 80008 and 130429 (and transient errors) are retried
with backoff; everything else is rejected with Meta's message, code and trace id.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx

from ..errors import AuthError, ProviderError, Rejected, Retryable
from ..http import ProviderClient, retry_after_seconds

AUTH_CODES = frozenset({0, 190, 10, *range(200, 300)})
THROTTLE_CODES = frozenset({4, 17, 32, 613, 80007, 80008, 130429})


def bearer(token: str) -> dict[str, str]:
    """Graph takes the access token in this header: it never goes in a URL, where
    proxies and access logs would keep it (Graph also accepts ``access_token=``)."""
    return {"Authorization": f"Bearer {token}"}


def classify_error(status: int, error: dict[str, Any]) -> type[ProviderError]:
    code = error.get("code")
    if code in AUTH_CODES:
        return AuthError
    if code in THROTTLE_CODES or error.get("is_transient") or status >= 500:
        return Retryable
    return Rejected


def next_cursor(page: dict[str, Any]) -> str | None:
    """The ``after`` cursor of the next page, or None on the last one."""
    paging = page.get("paging") or {}
    after = (paging.get("cursors") or {}).get("after")
    return after if after and paging.get("next") else None


class GraphClient(ProviderClient):
    """Graph API at ``{base_url}/{version}``; the caller passes the access token per call,
    and it travels in the ``Authorization`` header."""

    provider = "meta"

    def __init__(self, base_url: str, version: str, **options: Any) -> None:
        super().__init__(f"{base_url.rstrip('/')}/{version}", **options)
        self.version = version

    def map_error(self, response: httpx.Response) -> ProviderError:
        try:
            error = response.json().get("error") or {}
        except ValueError:
            error = {}
        if not isinstance(error, dict):
            error = {}
        cls = classify_error(response.status_code, error)
        subcode = error.get("error_subcode")
        exc = cls(
            self.provider,
            error.get("error_user_msg") or error.get("message") or response.reason_phrase,
            response.status_code,
            code=None if error.get("code") is None else str(error["code"]),
            subcode=None if subcode is None else str(subcode),
            trace_id=error.get("fbtrace_id"),
        )
        exc.retry_after = retry_after_seconds(response)
        return exc

    def get(self, path: str, token: str, **params: Any) -> dict[str, Any]:
        return self.request("GET", path, params=params, headers=bearer(token)).json()

    def check_app(self, app_id: str, app_secret: str) -> dict[str, Any]:
        """Read the app with its own app token (``APP_ID|APP_SECRET``): proves both."""
        return self.get(f"/{app_id}", f"{app_id}|{app_secret}", fields="id,name")

    def exchange_code(self, app_id: str, app_secret: str, code: str) -> str:
        """The business token for a signup code. Not retried: a code works once."""
        params = {"client_id": app_id, "client_secret": app_secret, "code": code}
        body = self.request("GET", "/oauth/access_token", params=params, idempotent=False)
        return body.json()["access_token"]

    def debug_token(self, token: str, app_id: str, app_secret: str) -> dict[str, Any]:
        return self.get("/debug_token", f"{app_id}|{app_secret}", input_token=token).get("data", {})

    def pages(
        self, path: str, token: str, **params: Any
    ) -> Iterator[tuple[dict[str, Any], httpx.Response]]:
        """Each page of a cursor-paged edge (its parsed body and its response, whose
        headers carry Graph's usage), following ``paging.cursors.after`` while
        ``paging.next`` says there is more. The caller may stop between pages."""
        while True:
            response = self.request("GET", path, params=params, headers=bearer(token))
            page = response.json()
            yield page, response
            after = next_cursor(page)
            if after is None:
                return
            params = {**params, "after": after}

    def phone_numbers(self, waba_id: str, token: str, limit: int = 100):
        """Every phone number of the WABA, following the cursor pages."""
        for page, _ in self.pages(f"/{waba_id}/phone_numbers", token, limit=limit):
            yield from page.get("data", [])

    def subscribe_app(
        self,
        waba_id: str,
        token: str,
        *,
        override_callback_uri: str | None = None,
        verify_token: str | None = None,
    ) -> None:
        """Subscribe the app to the WABA's webhooks (repeating it is harmless)."""
        data = {}
        if override_callback_uri:
            data = {"override_callback_uri": override_callback_uri, "verify_token": verify_token}
        self.request(
            "POST",
            f"/{waba_id}/subscribed_apps",
            headers=bearer(token),
            data=data,
            idempotent=True,
        )

    def register(self, phone_number_id: str, token: str, pin: str) -> None:
        """Register a number for Cloud API. Attempts are capped by Meta: never auto-retried."""
        self.request(
            "POST",
            f"/{phone_number_id}/register",
            headers=bearer(token),
            json={"messaging_product": "whatsapp", "pin": pin},
            idempotent=False,
        )

    def client_wabas(self, business_id: str, token: str) -> list[dict[str, Any]]:
        """The WABAs a customer's business shared with the partner (the platform's
        system-user token): where a signup's WABA is found when nothing else names it."""
        page = self.get(
            f"/{business_id}/client_whatsapp_business_accounts", token, fields="id,name"
        )
        return page.get("data") or []

    def override_number_callback(
        self, phone_number_id: str, token: str, callback_uri: str, verify_token: str
    ) -> None:
        """Send the number's webhooks to ``callback_uri`` (Meta verifies it with a GET
        first); the app must be subscribed to the number's WABA before (M-override)."""
        config = {"override_callback_uri": callback_uri, "verify_token": verify_token}
        self.request(
            "POST",
            f"/{phone_number_id}",
            headers={"Authorization": f"Bearer {token}"},
            json={"webhook_configuration": config},
            idempotent=True,
        )
