"""The Graph API client: Meta's error object mapped to typed errors.

Classification (fact sheet §3.2): credential codes 0, 190, 10 and 200-299 mean the
customer must reauthorize; 4, 80007, 80008 and 130429 (and transient errors) are retried
with backoff; everything else is rejected with Meta's message, code and trace id.
"""

from __future__ import annotations

from typing import Any

import httpx

from ..errors import AuthError, ProviderError, Rejected, Retryable
from ..http import ProviderClient, retry_after_seconds

AUTH_CODES = frozenset({0, 190, 10, *range(200, 300)})
THROTTLE_CODES = frozenset({4, 17, 32, 613, 80007, 80008, 130429})


def classify_error(status: int, error: dict[str, Any]) -> type[ProviderError]:
    code = error.get("code")
    if code in AUTH_CODES:
        return AuthError
    if code in THROTTLE_CODES or error.get("is_transient") or status >= 500:
        return Retryable
    return Rejected


class GraphClient(ProviderClient):
    """Graph API at ``{base_url}/{version}``; the caller passes the access token per call."""

    provider = "meta"

    def __init__(self, base_url: str, version: str, **options: Any) -> None:
        super().__init__(f"{base_url.rstrip('/')}/{version}", **options)

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
        return self.request("GET", path, params={**params, "access_token": token}).json()

    def check_app(self, app_id: str, app_secret: str) -> dict[str, Any]:
        """Read the app with its own app token (``APP_ID|APP_SECRET``): proves both."""
        return self.get(f"/{app_id}", f"{app_id}|{app_secret}", fields="id,name")
