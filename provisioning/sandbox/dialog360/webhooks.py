"""Webhooks 360dialog sends: partner events and the Messaging API's Meta envelopes."""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING, Any

from ..core import dumps

if TYPE_CHECKING:
    from ..outbound import Delivery
    from .base import Dialog360Base
    from .state import Channel


def sign(secret: str, body: bytes) -> str:
    """``x-360dialog-signature``: hex HMAC-SHA256 of the exact raw body, keyed with the
    partner's platform secret (fact sheet §4 "Signature")."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class PartnerWebhooks:
    """Sends ``{"id", "event", "data"}`` to the partner's ``webhook_url`` (fact sheet §4)."""

    def __init__(self, sim: Dialog360Base) -> None:
        self.sim = sim
        self.log: list[dict[str, Any]] = []  # every event, sent or not (no URL set)

    def emit(self, partner_id: str, event: str, data: dict[str, Any]) -> Delivery | None:
        partner = self.sim.store.partners[partner_id]
        # NET's WABA360DialogPartnerWebhookPayload: id, event, data
        payload = {"id": self.sim.sandbox.ids.hex(24), "event": event, "data": data}
        self.log.append({"partner_id": partner_id, "event": event, "at": self.sim.clock.time()})
        if not partner.webhook_url:
            return None
        body = dumps(payload)
        headers = {"Content-Type": "application/json"}
        if partner.webhook_secret:
            headers["x-360dialog-signature"] = sign(partner.webhook_secret, body)
        return self.sim.sandbox.outbound.send("dialog360", partner.webhook_url, body, headers)

    def channel_event(
        self, channel: Channel, event: str, extra: dict[str, Any] | None = None
    ) -> Delivery | None:
        """A channel event: the channel object plus the flat fields the docs list for
        ``channel_created`` (phone_number, phone_name, fb_account_status; fact sheet §4)."""
        store = self.sim.store
        data = self.sim.channel_json(channel)
        data.update(
            {
                "phone_number": channel.phone_number,
                "phone_name": channel.phone_name,
                "fb_account_status": store.wabas[channel.waba_id].fb_account_status,
            }
        )
        data.update(extra or {})
        return self.emit(channel.partner_id, event, data)


def meta_envelope(
    waba_external_id: str, channel: Channel, field: str, value: dict[str, Any]
) -> dict[str, Any]:
    """The unmodified Meta Cloud webhook envelope waba-v2 forwards (fact sheet §4)."""
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": waba_external_id,
                "changes": [
                    {
                        "field": field,
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": channel.phone_number.lstrip("+"),
                                "phone_number_id": channel.phone_number_id,
                            },
                            **value,
                        },
                    }
                ],
            }
        ],
    }


def deliver_messaging(sim: Dialog360Base, channel: Channel, payload: dict[str, Any]) -> list:
    """Send a messaging webhook to the number's webhook (or the WABA's), then copies to the
    multi-webhook destinations only if the main one answered 200 (fact sheet §4)."""
    waba = sim.store.wabas[channel.waba_id]
    main = channel.webhook or waba.webhook
    if not main or not main.get("url"):
        return []
    body = dumps(payload)
    outbound = sim.sandbox.outbound

    def send(target: dict[str, Any]) -> Delivery:
        headers = {"Content-Type": "application/json", **(target.get("headers") or {})}
        return outbound.send("dialog360", target["url"], body, headers)

    deliveries = [send(main)]
    if channel.multi_enabled and deliveries[0].status == 200:
        deliveries += [send(d) for d in channel.multi_destinations]
    return deliveries
