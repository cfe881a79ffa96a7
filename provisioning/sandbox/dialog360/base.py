"""What the 360dialog simulator's parts share: its state and the helpers they call.

The endpoint groups (:class:`~.partner_api.PartnerApi`, :class:`~.waba.MessagingApi`,
:class:`~.hub.HubPages`) and :class:`~.controls.Controls` derive from
:class:`Dialog360Base`; :class:`~.simulator.Dialog360Simulator` puts them together.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..base import Simulator
from .onboarding import waba_for
from .state import Channel, Client, Store, channel_json
from .webhooks import PartnerWebhooks, deliver_messaging, meta_envelope

if TYPE_CHECKING:
    from ..core import Sandbox


class Dialog360Base(Simulator):
    """360dialog's state (partners, clients, channels, keys, templates) and its helpers."""

    name = "dialog360"

    def __init__(self, sandbox: Sandbox) -> None:
        super().__init__(sandbox)
        self.store = Store()
        self.flows: dict[str, dict[str, Any]] = {}
        self.partner_webhooks = PartnerWebhooks(self)
        self.default_timeline: dict[str, float | None] = {}
        self.template_review_seconds = 30.0  # templates.review_due
        # Off like the real API; the local demo turns it on for its http://127.0.0.1:5000.
        self.allow_loopback_ports = False

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

    def messaging_webhook(self, channel: Channel, field: str, value: dict[str, Any]) -> list:
        account = self.store.wabas[channel.waba_id]
        return deliver_messaging(
            self, channel, meta_envelope(account.external_id, channel, field, value)
        )
