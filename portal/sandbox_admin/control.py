"""A client for the sandbox's control API (``/_sandbox/...``), used by the demo's admin page."""

from __future__ import annotations

from typing import Any

from provisioning.errors import ProviderError
from provisioning.http import ProviderClient


class SandboxControl(ProviderClient):
    provider = "sandbox"

    def map_error(self, response) -> ProviderError:
        try:
            message = response.json().get("error") or response.text
        except ValueError:
            message = response.text or response.reason_phrase
        return ProviderError(self.provider, str(message)[:500], response.status_code)

    def state(self) -> dict[str, Any]:
        return self.request("GET", "/_sandbox/state").json()

    def action(self, provider: str, action: str, params: dict[str, Any]) -> Any:
        return self.request(
            "POST", f"/_sandbox/{provider}/{action}", json=params, idempotent=False
        ).json()

    def advance(self, seconds: float) -> dict[str, Any]:
        return self.request(
            "POST", "/_sandbox/clock/advance", json={"seconds": seconds}, idempotent=False
        ).json()
