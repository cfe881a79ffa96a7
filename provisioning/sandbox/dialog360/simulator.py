"""The 360dialog simulator: Partner API v2, the hub's permissions pages and waba-v2.

Hosts under ``{sandbox}/dialog360``: ``/hub`` = https://hub.360dialog.io (Partner API at
``/hub/api/v2``), ``/hub-ui`` = https://hub.360dialog.com (permissions page), ``/waba`` =
https://waba-v2.360dialog.io (Messaging API).
"""

from __future__ import annotations

from typing import Any

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from ..base import json_response
from . import hub, lifecycle, partner_api, waba
from .controls import Controls
from .hub import HubPages, error_page
from .partner_api import PartnerApi
from .teardown import Teardown
from .waba import MessagingApi
from .wire import meta_body


class Dialog360Simulator(PartnerApi, MessagingApi, HubPages, Teardown, Controls):
    """Stateful 360dialog: partners, clients, channels, keys, templates and webhooks."""

    @property
    def rules(self) -> list[Rule]:  # type: ignore[override]
        # Fresh copies per instance: a werkzeug Rule binds to one Map only, and several
        # sandboxes live in one process (the base class shares a class-level list).
        return [rule.empty() for rule in (*partner_api.RULES, *waba.RULES, *hub.RULES)]

    # -- Simulator hooks ------------------------------------------------------------------
    def http_error(self, request: Request, exc: HTTPException) -> Response:
        if isinstance(exc.response, Response):  # abort_with: the provider's own answer
            return exc.response
        code = exc.code or 500
        if request.path.startswith("/hub-ui/"):
            return error_page("Page not found." if code == 404 else exc.description or "", code)
        message = "Not found" if code == 404 else exc.description or "Error"
        return json_response(meta_body(code, message), code)

    def fault_response(self, kind: str) -> Response:
        """Throttle: 429 in the ``meta`` envelope (no Retry-After: the fact sheet names
        none); server_error: 500 in the same envelope (fact sheet §5)."""
        if kind == "throttle":
            status, message = 429, "You have exceeded the limit of requests, try again later"
        else:
            status, message = 500, "Internal server error"
        return json_response(meta_body(status, message), status)

    def tick(self) -> None:
        lifecycle.tick(self)

    def describe(self) -> dict[str, Any]:
        by_status: dict[str, int] = {}
        for channel in self.store.channels.values():
            if not channel.revoked:
                by_status[channel.status] = by_status.get(channel.status, 0) + 1
        return {
            "partners": [
                {
                    "id": p.id,
                    "brand_name": p.brand_name,
                    "webhook_url": p.webhook_url,
                    "partner_redirect_url": p.partner_redirect_url,
                    "direct_payment": p.direct_payment,
                    "permissions_url": self.permissions_url(p.id),
                }
                for p in self.store.partners.values()
            ],
            "clients": len(self.store.clients),
            "channels": sum(by_status.values()),
            "channels_by_status": by_status,
            "pending_transitions": len(self.store.pending),
            "active_api_keys": sum(1 for k in self.store.api_keys.values() if not k.revoked),
            "templates": len(self.store.templates),
            "messages_sent": len(self.store.messages),
            "recent_events": self.partner_webhooks.log[-20:],
            # numbers whose messages go somewhere: the sandbox page's inbound control
            "messaging_channels": [
                {"id": c.id, "phone_number": c.phone_number, "status": c.status}
                for c in list(self.store.channels.values())[-50:]
                if not c.revoked and (c.webhook or self.store.wabas[c.waba_id].webhook)
            ],
            # what still receives messages, per host: after an offboarding, not the platform
            "routes_by_host": self.routes_by_host(),
        }
