"""What in Meta still points at a host: the check after an offboarding.

The teardown calls are served where they live (:mod:`.handlers`): deregister a number
(``POST /{PN}/deregister``, counted in the 10 register calls per 72 hours), clear a
number's alternate callback (``POST /{PN}`` with ``{"webhook_configuration":
{"override_callback_uri": ""}}``), clear a WABA's (``POST /{WABA}/subscribed_apps``
without a body) and unsubscribe the app (``DELETE /{WABA}/subscribed_apps``). Meta's page:
developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/override
("Delete WABA alternate callback", "Delete phone number alternate callback").

:meth:`TeardownMixin.webhook_routes` lists, per WABA, where its message webhooks would
go: each subscribed app's destination (its WABA override, else the app's callback URL)
and each number's own override (kept by Meta even after the app unsubscribes, so it is
listed with ``delivering`` false then: it would route again on a new subscription), with
the WABA's numbers still registered for Cloud API. The apps' own callback URLs (the
partner's, not a customer's) are listed apart.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from ..outbound import url_on_host
from .base import MetaBase
from .state import Waba


class TeardownMixin(MetaBase):
    """``webhook_routes`` and its control action; mixed into the simulator."""

    def _waba_routes(self, waba: Waba) -> list[dict[str, Any]]:
        routes: list[dict[str, Any]] = []
        for app_id, override in waba.subscribed_apps.items():
            app = self.apps.get(app_id)
            url = (override or {}).get("override_callback_uri") or (
                app.webhook_url if app else None
            )
            routes.append(
                {"kind": "waba_subscription", "app_id": app_id, "url": url,
                 "override": override is not None}
            )  # fmt: skip
        delivering = bool(waba.subscribed_apps)
        for phone_id in waba.phone_ids:
            phone = self.phones[phone_id]
            if phone.webhook_override:
                routes.append(
                    {"kind": "phone_override", "phone_number_id": phone.id,
                     "phone_number": phone.number, "registered": phone.registered,
                     "url": phone.webhook_override["override_callback_uri"],
                     "delivering": delivering}
                )  # fmt: skip
        return routes

    def webhook_routes(self, host: str | None = None) -> dict[str, Any]:
        """``{"wabas": {waba id: {name, business_id, routes, registered_numbers}},
        "apps": {app id: routes}}``, holding only what points at ``host``."""
        wabas: dict[str, dict[str, Any]] = {}
        for waba in self.wabas.values():
            routes = [r for r in self._waba_routes(waba) if url_on_host(r["url"], host)]
            if routes:
                wabas[waba.id] = {
                    "name": waba.name,
                    "business_id": waba.business_id,
                    "routes": routes,
                    "registered_numbers": [p for p in waba.phone_ids if self.phones[p].registered],
                }
        apps = {
            app.app_id: [{"kind": "app_webhook", "url": app.webhook_url}]
            for app in self.apps.values()
            if url_on_host(app.webhook_url, host)
        }
        return {"wabas": wabas, "apps": apps}

    def routes_by_host(self) -> dict[str, int]:
        """How many WABA routes point at each host (the demo's sandbox page)."""
        counts: dict[str, int] = {}
        for entry in self.webhook_routes()["wabas"].values():
            for route in entry["routes"]:
                host = urlsplit(route["url"]).netloc.rpartition("@")[2].lower()
                counts[host] = counts.get(host, 0) + 1
        return counts

    def control_routes_to(self, *, host: str | None = None) -> dict[str, Any]:
        """Everything of the customers' WABAs that still sends to ``host`` (``routes`` 0:
        nothing does), and the partner apps' own callback URLs on it."""
        found = self.webhook_routes(host)
        total = sum(len(entry["routes"]) for entry in found["wabas"].values())
        return {"host": host, "routes": total, **found}
