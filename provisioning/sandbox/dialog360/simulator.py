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

from ..base import Simulator, json_response
from . import hub, lifecycle, partner_api, waba
from .controls import Controls
from .hub import HubPages, error_page
from .onboarding import waba_for
from .partner_api import PartnerApi
from .state import Channel, Client, Store, Template, channel_json
from .waba import MessagingApi
from .webhooks import PartnerWebhooks, deliver_messaging, meta_envelope
from .wire import meta_body


class Dialog360Simulator(PartnerApi, MessagingApi, HubPages, Controls, Simulator):
    """Stateful 360dialog: partners, clients, channels, keys, templates and webhooks."""

    name = "dialog360"

    @property
    def rules(self) -> list[Rule]:  # type: ignore[override]
        # Fresh copies per instance: a werkzeug Rule binds to one Map only, and several
        # sandboxes live in one process (the base class shares a class-level list).
        return [rule.empty() for rule in (*partner_api.RULES, *waba.RULES, *hub.RULES)]

    def __init__(self, sandbox: Any) -> None:
        super().__init__(sandbox)
        self.store = Store()
        self.flows: dict[str, dict[str, Any]] = {}
        self.partner_webhooks = PartnerWebhooks(self)
        self.default_timeline: dict[str, float | None] = {}
        self.template_review_seconds = 300.0
        # Off like the real API; the local demo turns it on for its http://127.0.0.1:5000.
        self.allow_loopback_ports = False

    # -- Simulator hooks ------------------------------------------------------------------
    def http_error(self, request: Request, exc: HTTPException) -> Response:
        if exc.response is not None:
            return exc.response
        code = exc.code or 500
        if request.path.startswith("/hub-ui/"):
            return error_page("Page not found." if code == 404 else exc.description, code)
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
        }

    # -- helpers shared by the endpoints and the controls -----------------------------------
    def channel_json(self, channel: Channel) -> dict[str, Any]:
        return channel_json(self.store, channel)

    def permissions_url(self, partner_id: str) -> str:
        return f"{self.base_url('hub-ui')}/dashboard/app/{partner_id}/permissions"

    def new_channel(
        self, client: Client, number: str, phone_name: str, *, api_key_permission: bool = True
    ) -> Channel:
        ids = self.sandbox.ids
        account = waba_for(self, client)
        channel = Channel(
            id=ids.alnum(8) + "CH",
            client_id=client.id,
            partner_id=client.partner_id,
            waba_id=account.id,
            phone_number=number,
            phone_name=phone_name,
            phone_number_id=ids.digits(15),
            app_id=ids.digits(6),
            created_at=self.clock.time(),
            api_key_permission=api_key_permission,
        )
        self.store.channels[channel.id] = channel
        return channel

    def revoke_keys(self, channel: Channel) -> None:
        for key in self.store.api_keys.values():
            if key.channel_id == channel.id:
                key.revoked = True

    def revoke(self, channel: Channel) -> None:
        """The client withdrew the partner's permission: hidden from the Partner API and
        its keys stop working on waba-v2 at once."""
        channel.revoked = True
        channel.modified_at = self.clock.time()
        self.revoke_keys(channel)
        self.store.pending.discard(channel.id)

    def set_template_status(
        self, template: Template, status: str, reason: str | None = None
    ) -> None:
        """Change a template's status: partner webhook plus Meta's
        ``message_template_status_update`` on the messaging webhook."""
        template.status = status
        template.rejected_reason = reason
        account = self.store.wabas[template.waba_id]
        data = template.to_json(account.external_id, account.partner_id)
        # the partner event's exact name is [unknown] upstream (fact sheet §4)
        self.partner_webhooks.emit(account.partner_id, "template_status_changed", data)
        channels = [c for c in self.store.channels.values() if c.waba_id == account.id]
        if channels:
            value = {
                "event": status.upper(),
                "message_template_id": template.id,
                "message_template_name": template.name,
                "message_template_language": template.language,
                "reason": reason or "NONE",
            }
            payload = {
                "object": "whatsapp_business_account",
                "entry": [
                    {
                        "id": account.external_id,
                        "time": int(self.clock.time()),
                        "changes": [{"field": "message_template_status_update", "value": value}],
                    }
                ],
            }
            deliver_messaging(self, channels[0], payload)

    def messaging_webhook(self, channel: Channel, field: str, value: dict[str, Any]) -> list:
        account = self.store.wabas[channel.waba_id]
        return deliver_messaging(
            self, channel, meta_envelope(account.external_id, channel, field, value)
        )
