"""The 360dialog Partner API client (``/api/v2``).

Auth is ``X-API-Key``, or the legacy ``POST /token`` bearer flow, whose token is cached
and renewed on expiry or on a 401. Errors arrive in the ``{"meta": {...}}`` envelope
(fact sheet §5); token errors as ``{error, error_description}``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx

from ..errors import AuthError, ProviderError, Rejected, Retryable
from ..http import ProviderClient, retry_after_seconds


class PartnerClient(ProviderClient):
    provider = "dialog360"

    def __init__(
        self,
        base_url: str,
        partner_id: str,
        *,
        api_key: str | None = None,
        username: str | None = None,
        password: str | None = None,
        **options: Any,
    ) -> None:
        super().__init__(base_url, **options)
        if not api_key and not (username and password):
            raise ValueError("a 360dialog partner client needs an API key or username/password")
        self.partner_id = partner_id
        self._api_key = api_key
        self._login = (username, password)
        self._token: str | None = None
        self._token_expires = 0.0

    def map_error(self, response: httpx.Response) -> ProviderError:
        try:
            body = response.json()
        except ValueError:
            body = {}
        meta = body.get("meta") if isinstance(body, dict) else None
        if isinstance(meta, dict):
            message = meta.get("developer_message") or meta.get("developerMessage") or ""
            data = meta.get("error_data") or {}
            code = data.get("code") if isinstance(data, dict) else None
        else:
            message = (body or {}).get("error_description") or (body or {}).get("error") or ""
            code = (body or {}).get("error")
        status = response.status_code
        cls: type[ProviderError]
        if status in (401, 403):
            cls = AuthError
        elif status == 429 or status >= 500:
            cls = Retryable
        else:
            cls = Rejected
        exc = cls(
            self.provider,
            message or response.reason_phrase,
            status,
            code=None if code is None else str(code),
        )
        exc.retry_after = retry_after_seconds(response)
        return exc

    def _auth_headers(self, renew: bool = False) -> dict[str, str]:
        if self._api_key:
            return {"X-API-Key": self._api_key}
        if renew or not self._token or time.time() >= self._token_expires:
            username, password = self._login
            body = self.request(
                "POST", "/token", json={"username": username, "password": password}, idempotent=True
            ).json()
            self._token = f"{body.get('token_type', 'Bearer')} {body['access_token']}"
            self._token_expires = time.time() + float(body.get("expires_in") or 3600) - 60
        return {"Authorization": self._token}

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """An authenticated call; a legacy token refused with 401 is renewed once."""
        try:
            return self.request(method, path, headers=self._auth_headers(), **kwargs)
        except AuthError as exc:
            if self._api_key or exc.http_status != 401:
                raise
            return self.request(method, path, headers=self._auth_headers(renew=True), **kwargs)

    def get_partner(self) -> dict[str, Any]:
        return self.call("GET", f"/partners/{self.partner_id}").json()

    def pages(
        self,
        path: str,
        key: str,
        *,
        limit: int,
        filters: dict[str, Any] | None = None,
        sort: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every page of a ``limit``/``offset`` listing: until the offset reaches ``total``,
        or, in a page without a total, until a page is shorter than the limit the server
        applied (a server that caps ``limit`` below the one asked is not taken for the end)."""
        offset = 0
        while True:
            params: dict[str, Any] = {"limit": limit, "offset": offset}
            if filters:
                params["filters"] = json.dumps(filters, separators=(",", ":"))
            if sort:
                params["sort"] = sort
            page = self.call("GET", path, params=params).json()
            yield page
            items = page.get(key) or []
            offset += len(items)
            total = _count(page.get("total"))
            if not items or (total is not None and offset >= total):
                return
            if total is None and len(items) < (_count(page.get("limit")) or limit):
                return

    def _listing(
        self, path: str, key: str, filters: dict[str, Any] | None, sort: str | None, limit: int
    ) -> Iterator[dict[str, Any]]:
        """Every item of a ``limit``/``offset`` listing, one page at a time."""
        for page in self.pages(path, key, limit=limit, filters=filters, sort=sort):
            yield from page.get(key) or []

    def clients(
        self, filters: dict[str, Any] | None = None, sort: str | None = None, limit: int = 100
    ) -> Iterator[dict[str, Any]]:
        return self._listing(
            f"/partners/{self.partner_id}/clients", "clients", filters, sort, limit
        )

    def channels(
        self, filters: dict[str, Any] | None = None, sort: str | None = None, limit: int = 100
    ) -> Iterator[dict[str, Any]]:
        return self._listing(
            f"/partners/{self.partner_id}/channels", "partner_channels", filters, sort, limit
        )

    def api_key_ids(self, channel_id: str) -> list[str]:
        """The ids of the channel's live keys (the listing never shows a key's value)."""
        body = self.call("GET", f"/partners/{self.partner_id}/channels/{channel_id}/api_keys")
        return [str(key["id"]) for key in body.json().get("api_keys") or [] if key.get("id")]

    def waba_template_pages(
        self, waba_account_id: str, *, limit: int = 1000, filters: dict[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        """The pages of a WABA's ``waba_templates`` listing (each with its ``total``)."""
        path = f"/partners/{self.partner_id}/waba_accounts/{waba_account_id}/waba_templates"
        return self.pages(path, "waba_templates", limit=limit, filters=filters)

    def create_waba_template(self, waba_account_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Submit a template to Meta through 360dialog; answers the created template. Never
        retried: after a lost answer the caller looks the template up."""
        path = f"/partners/{self.partner_id}/waba_accounts/{waba_account_id}/waba_templates"
        return self.call("POST", path, json=body, idempotent=False).json()

    def generate_api_key(self, channel_id: str) -> dict[str, Any]:
        """A new channel API key (201). It revokes the channel's older keys, and 360dialog
        allows one call per 30 s: never retried here; the caller reconciles."""
        return self.call(
            "POST", f"/partners/{self.partner_id}/channels/{channel_id}/api_keys", idempotent=False
        ).json()


def _count(value: Any) -> int | None:
    """A listing's ``total`` or ``limit``, when it gives one."""
    try:
        return None if value is None or isinstance(value, bool) else int(value)
    except (TypeError, ValueError):
        return None


class MessagingClient(ProviderClient):
    """The channel's Messaging API (waba-v2) with its ``D360-API-KEY``."""

    provider = "dialog360"

    def __init__(self, base_url: str, api_key: str, **options: Any) -> None:
        super().__init__(base_url, headers={"D360-API-KEY": api_key}, **options)

    map_error = PartnerClient.map_error

    def webhook(self) -> dict[str, Any]:
        return self.request("GET", "/v1/configs/webhook").json()

    def set_webhook(self, url: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"url": url}
        if headers:
            body["headers"] = headers
        return self.request("POST", "/v1/configs/webhook", json=body, idempotent=True).json()

    def health_status(self) -> dict[str, Any]:
        return self.request("GET", "/health_status").json()
