"""What in 360dialog still points at a host: the check after an offboarding.

The teardown calls are served where they live: clear a number's webhook
(``POST /v1/configs/webhook`` with ``{"url": ""}``; the WABA's on ``/waba_webhook``; the
multi-webhook destinations with ``POST /multi_webhook {"enabled": false}``: :mod:`.waba`),
then revoke the channel's API keys (``DELETE /partners/{pid}/channels/{chid}/api_keys``,
as WABA360Dialog.NET's DeleteApiKeyByChannel calls it; the docs name only generating a
key, which "will revoke all existing API keys": docs.360dialog.com/docs/hub/api-key).
The order matters: the webhooks can only be changed with a live ``D360-API-KEY``, and
a revoked key leaves them in place, still receiving the number's messages.

:meth:`Teardown.webhook_routes` lists, per client, every URL messages would go to: each
number's webhook and multi-webhook destinations and its WABA's webhook; the partner's own
``webhook_url`` and ``partner_redirect_url`` (hub-wide, not a client's) are listed apart.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from ..outbound import url_on_host
from .base import Dialog360Base
from .state import Channel


class Teardown(Dialog360Base):
    """``webhook_routes`` and its control action; mixed into the simulator."""

    def _channel_routes(self, channel: Channel) -> list[dict[str, Any]]:
        keys = sum(
            1 for k in self.store.api_keys.values() if k.channel_id == channel.id and not k.revoked
        )
        about = {
            "channel_id": channel.id,
            "phone_number": channel.phone_number,
            "active_api_keys": keys,
        }
        routes = []
        if channel.webhook:
            routes.append({"kind": "phone_webhook", "url": channel.webhook.get("url"), **about})
        for destination in channel.multi_destinations if channel.multi_enabled else []:
            routes.append(
                {
                    "kind": "multi_webhook",
                    "name": destination["name"],
                    "url": destination["url"],
                    **about,
                }
            )
        return routes

    def webhook_routes(self, host: str | None = None) -> dict[str, Any]:
        """``{"clients": {client id: {name, routes}}, "partners": {partner id: routes}}``,
        holding only what points at ``host``."""
        clients: dict[str, dict[str, Any]] = {}

        def add(client_id: str, route: dict[str, Any]) -> None:
            if url_on_host(route["url"], host):
                client = self.store.clients[client_id]
                entry = clients.setdefault(client_id, {"name": client.name, "routes": []})
                entry["routes"].append(route)

        for channel in self.store.channels.values():
            for route in self._channel_routes(channel):
                add(channel.client_id, route)
        for waba in self.store.wabas.values():
            if waba.webhook:
                url = waba.webhook.get("url")
                add(
                    waba.client_id, {"kind": "waba_webhook", "waba_account_id": waba.id, "url": url}
                )
        partners: dict[str, list[dict[str, Any]]] = {}
        for partner in self.store.partners.values():
            for field in ("webhook_url", "partner_redirect_url"):
                url = getattr(partner, field)
                if url_on_host(url, host):
                    partners.setdefault(partner.id, []).append({"kind": field, "url": url})
        return {"clients": clients, "partners": partners}

    def routes_by_host(self) -> dict[str, int]:
        """How many client routes point at each host (the demo's sandbox page)."""
        counts: dict[str, int] = {}
        for entry in self.webhook_routes()["clients"].values():
            for route in entry["routes"]:
                host = urlsplit(route["url"]).netloc.rpartition("@")[2].lower()
                counts[host] = counts.get(host, 0) + 1
        return counts

    def control_routes_to(self, *, host: str | None = None) -> dict[str, Any]:
        """Everything that still sends to ``host``: per client, and the partner's own URLs."""
        found = self.webhook_routes(host)
        total = sum(len(entry["routes"]) for entry in found["clients"].values())
        return {"host": host, "routes": total, **found}
