"""Control actions (``POST /_sandbox/dialog360/<action>``) for tests and the demo."""

from __future__ import annotations

from typing import Any

from . import lifecycle, onboarding, templates
from .base import Dialog360Base
from .onboarding import Grant
from .state import LIFECYCLE, Channel, Client, Partner, SentMessage, Template, Waba


class Controls(Dialog360Base):
    """``control_*`` methods; mixed into :class:`Dialog360Simulator`."""

    def _get_channel(self, channel_id: str) -> Channel:
        channel = self.store.channels.get(channel_id)
        if channel is None:
            raise LookupError(f"no channel {channel_id}")
        return channel

    def _get_waba(self, waba_account_id: str) -> Waba:
        waba = self.store.wabas.get(waba_account_id)
        if waba is None:
            raise LookupError(f"no WABA account {waba_account_id}")
        return waba

    def _get_partner(self, partner_id: str | None) -> Partner:
        if partner_id is None and len(self.store.partners) == 1:
            return next(iter(self.store.partners.values()))
        partner = self.store.partners.get(partner_id or "")
        if partner is None:
            raise LookupError(f"no partner {partner_id}")
        return partner

    # -- partner and fleet ----------------------------------------------------------------
    def control_allow_loopback_ports(self, *, enabled: bool = True) -> dict[str, Any]:
        """Accept webhook URLs like http://127.0.0.1:5000/... (a local demo; 360dialog
        itself refuses ports, fact sheet §4)."""
        self.allow_loopback_ports = bool(enabled)
        return {"allow_loopback_ports": self.allow_loopback_ports}

    def control_seed_partner(
        self,
        *,
        partner_id: str | None = None,
        api_key: str | None = None,
        username: str | None = None,
        password: str | None = None,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        redirect_url: str | None = None,
        direct_payment: bool = False,
        brand_name: str = "Sandbox Partner",
        echo_state: bool = True,
        legacy_token_auth: bool = True,
        token_ttl: int = 86400,
    ) -> dict[str, Any]:
        """Create (or update) a partner hub: its id (``...PA``), an ``X-API-Key``, the
        legacy login, the webhook URL and signing secret, the redirect URL, whether the hub
        is Direct-Payment, and whether ``state`` is echoed on the redirect."""
        ids = self.sandbox.ids
        pid = partner_id or ids.alnum(8) + "PA"
        key = api_key or ids.token(32)
        partner = self.store.partners.get(pid)
        if partner is None:
            partner = Partner(id=pid, api_keys=[])
            self.store.partners[pid] = partner
        if key not in partner.api_keys:
            partner.api_keys.append(key)
        partner.username = username or partner.username or f"partner-{pid.lower()}@example.com"
        partner.password = password or partner.password or ids.token(16)
        partner.webhook_url = webhook_url
        partner.webhook_secret = webhook_secret
        partner.partner_redirect_url = redirect_url
        partner.direct_payment = direct_payment
        partner.brand_name = brand_name
        partner.echo_state = echo_state
        partner.legacy_token_auth = legacy_token_auth
        partner.token_ttl = token_ttl
        return {
            **partner.to_json(),
            "api_key": key,
            "username": partner.username,
            "password": partner.password,
            "webhook_secret": partner.webhook_secret,
            "echo_state": partner.echo_state,
            "permissions_url": self.permissions_url(pid),
            "partner_api_base_url": f"{self.base_url('hub')}/api/v2",
            "messaging_base_url": self.base_url("waba"),
        }

    def control_configure_partner(self, *, partner_id: str | None = None, **fields: Any) -> dict:
        """Change partner settings (``echo_state``, ``direct_payment``, ``webhook_url``,
        ``webhook_secret``, ``partner_redirect_url``, ``legacy_token_auth``, ``token_ttl``)."""
        partner = self._get_partner(partner_id)
        allowed = {
            "echo_state", "direct_payment", "webhook_url", "webhook_secret",
            "partner_redirect_url", "legacy_token_auth", "token_ttl", "brand_name",
        }  # fmt: skip
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"unknown partner settings: {', '.join(sorted(unknown))}")
        for name, value in fields.items():
            setattr(partner, name, value)
        return partner.to_json()

    def control_seed_channels(
        self,
        *,
        partner_id: str | None = None,
        count: int = 1,
        client_id: str | None = None,
        status: str = "running",
        email: str | None = None,
        name: str | None = None,
        partner_payload: str | None = None,
        emit_webhooks: bool = False,
    ) -> dict[str, Any]:
        """Create a client (or reuse ``client_id``) with ``count`` channels already in
        ``status``, without webhooks unless ``emit_webhooks``: fast, for fleets of thousands."""
        partner = self._get_partner(partner_id)
        client = self.store.clients.get(client_id or "")
        if client is None:
            ids = self.sandbox.ids
            new_id = client_id or ids.alnum(8) + "CL"
            client = Client(
                id=new_id,
                partner_id=partner.id,
                name=name or f"Client {new_id}",
                email=email or f"{new_id.lower()}@example.com",
                created_at=self.clock.time(),
                partner_payload=partner_payload,
                max_channels=max(10, count),
            )
            self.store.clients[client.id] = client
            if emit_webhooks:
                self.partner_webhooks.emit(partner.id, "client_created", client.to_json())
        channels = []
        for _ in range(count):
            self.store.phone_seq += 1
            number = f"+1555{self.store.phone_seq:07d}"
            channel = self.new_channel(client, number, client.name)
            if emit_webhooks:
                self.partner_webhooks.channel_event(channel, "channel_created")
                lifecycle.advance_to(self, channel, status)
            else:
                lifecycle.move(self, channel, status, emit=False)
                lifecycle.schedule(self, channel)
            channels.append(channel)
        return {
            "client_id": client.id,
            "waba_account_id": channels[0].waba_id if channels else None,
            "channel_ids": [c.id for c in channels],
            "phone_numbers": [c.phone_number for c in channels],
        }

    def control_complete_onboarding(
        self,
        *,
        partner_id: str | None = None,
        numbers: list[str] | None = None,
        email: str = "owner@client.example",
        name: str = "Client Business",
        partner_payload: str | None = None,
        redirect_url: str | None = None,
        state: str | None = None,
        client_id: str | None = None,
        keep: list[str] | None = None,
        api_key_permission: bool = True,
    ) -> dict[str, Any]:
        """Do what the permissions page does on consent; returns the redirect it would send.
        ``keep`` lists the client's existing channels to keep granted (default: all); the
        others are revoked and reported in ``revoked``."""
        partner = self._get_partner(partner_id)
        outcome = onboarding.complete(
            self,
            Grant(
                partner=partner,
                email=email,
                name=name,
                partner_payload=partner_payload,
                client_id=client_id,
                numbers=[(n, name) for n in numbers or []],
                keep=keep,
                api_key_permission=api_key_permission,
                redirect_url=redirect_url,
                state=state,
            ),
        )
        return {
            "redirect_url": outcome.location,
            "client_id": outcome.client.id,
            "channel_ids": [c.id for c in outcome.channels],
            "revoked": [c.id for c in outcome.revoked],
        }

    # -- lifecycle ------------------------------------------------------------------------
    def control_set_status(
        self, *, channel_id: str, status: str, emit: bool = True
    ) -> dict[str, Any]:
        """Move a channel to ``status`` now. Forward lifecycle moves send every skipped
        ``channel_*`` webhook in order; other strings (open enum) are set as given."""
        channel = self._get_channel(channel_id)
        if emit:
            lifecycle.advance_to(self, channel, status)
        else:
            lifecycle.move(self, channel, status, emit=False)
            lifecycle.schedule(self, channel)
        return self.channel_json(channel)

    def control_set_running(self, *, channel_id: str) -> dict[str, Any]:
        """Shortcut for ``set_status(status="running")``."""
        return self.control_set_status(channel_id=channel_id, status="running")

    def control_set_channel_timeline(
        self,
        *,
        channel_id: str | None = None,
        submitted: float | None = None,
        ready: float | None = None,
        running: float | None = None,
        days: float | None = None,
        hold: bool = False,
    ) -> dict[str, Any]:
        """Seconds each step waits after the previous one (defaults 60/240/300). ``days``
        makes ``ready -> running`` take that many days (Meta review); ``hold`` stops the
        channel where it is. Without ``channel_id`` it sets the default for new channels."""
        timeline: dict[str, float | None] = {}
        for step, value in (("submitted", submitted), ("ready", ready), ("running", running)):
            if value is not None:
                timeline[step] = float(value)
        if days is not None:
            timeline["running"] = float(days) * 86400
        if hold:
            timeline = dict.fromkeys(LIFECYCLE[1:])
        if channel_id is None:
            self.default_timeline.update(timeline)
            return {"default_timeline": self.default_timeline}
        channel = self._get_channel(channel_id)
        channel.timeline.update(timeline)
        since = channel.modified_at or channel.created_at
        lifecycle.schedule(self, channel, since=since)
        return {"channel_id": channel.id, "timeline": channel.timeline, "next_at": channel.next_at}

    def control_set_quality(self, *, channel_id: str, quality_rating: str) -> dict[str, Any]:
        """Set ``current_quality_rating`` (Meta colour strings, e.g. GREEN/YELLOW/RED)."""
        channel = self._get_channel(channel_id)
        channel.current_quality_rating = quality_rating
        channel.modified_at = self.clock.time()
        return self.channel_json(channel)

    def control_set_messaging_limit(self, *, channel_id: str, limit: str) -> dict[str, Any]:
        """Set ``current_limit`` (Meta tier strings, e.g. TIER_250, TIER_1K, TIER_10K)."""
        channel = self._get_channel(channel_id)
        channel.current_limit = limit
        channel.modified_at = self.clock.time()
        return self.channel_json(channel)

    def control_account_violation(
        self, *, channel_id: str, violation_type: str = "SCAM"
    ) -> dict[str, Any]:
        """WABA status ``account_violation`` and the partner webhook of that name."""
        return self._account_event(channel_id, "account_violation", violation_type)

    def control_account_restriction(
        self, *, channel_id: str, violation_type: str = "RESTRICTED_BIZ_INITIATED_MESSAGING"
    ) -> dict[str, Any]:
        """WABA status ``account_restriction`` and the partner webhook of that name."""
        return self._account_event(channel_id, "account_restriction", violation_type)

    def _account_event(self, channel_id: str, event: str, violation_type: str) -> dict[str, Any]:
        channel = self._get_channel(channel_id)
        self.store.wabas[channel.waba_id].status = event
        extra = {"phone_number": channel.phone_number, "violation_type": violation_type}
        self.partner_webhooks.channel_event(channel, event, extra)
        return self.channel_json(channel)

    def control_template_messaging(self, *, channel_id: str, enabled: bool) -> dict[str, Any]:
        """Send ``template_messaging_enabled`` or ``template_messaging_disabled``."""
        channel = self._get_channel(channel_id)
        event = "template_messaging_enabled" if enabled else "template_messaging_disabled"
        self.partner_webhooks.channel_event(channel, event)
        return {"event": event}

    # -- message templates (templates.py) ----------------------------------------------------
    # ``which`` names templates: ``name`` on a WABA given by ``waba_account_id`` or one of its
    # channels (``channel_id``), optionally one ``language``.
    def _templates(
        self,
        *,
        name: str,
        channel_id: str | None = None,
        waba_account_id: str | None = None,
        language: str | None = None,
    ) -> list[Template]:
        waba_id = waba_account_id or self._get_channel(channel_id or "").waba_id
        matched = templates.find(self, waba_id, name, language)
        if not matched:
            raise LookupError(f"no template {name} on {waba_id}")
        return matched

    def _change_templates(self, which: dict[str, Any], **change: Any) -> list[dict[str, Any]]:
        return [templates.change(self, t, **change)["template"] for t in self._templates(**which)]

    def control_set_template_status(
        self, *, status: str, reason: str | None = None, **which: Any
    ) -> list[dict[str, Any]]:
        """Set any lowercase status (an open set) now; sends the template webhooks."""
        return self._change_templates(which, status=status, reason=reason)

    def control_set_template_review(self, *, seconds: float = 30.0) -> dict[str, Any]:
        """How long templates created from now on stay ``submitted`` before their review."""
        self.template_review_seconds = float(seconds)
        return {"template_review_seconds": self.template_review_seconds}

    def control_reject_template(self, *, name: str, reason: str = "INVALID_FORMAT") -> dict:
        """The next review of a template of this name rejects it with ``reason``."""
        if reason not in templates.REJECTION_REASONS:
            raise ValueError(f"reason must be one of {', '.join(templates.REJECTION_REASONS)}")
        self.store.template_rejections[name] = reason
        return {"name": name, "reason": reason}

    def control_pause_template(self, **which: Any) -> list[dict[str, Any]]:
        """Low quality: quality RED and status ``paused``."""
        return self._change_templates(which, status="paused", quality="RED")

    def control_disable_template(self, **which: Any) -> list[dict[str, Any]]:
        return self._change_templates(which, status="disabled")

    def control_set_template_quality(self, *, score: str, **which: Any) -> list[dict[str, Any]]:
        """GREEN, YELLOW, RED or UNKNOWN."""
        if score not in templates.QUALITY_SCORES:
            raise ValueError(f"score must be one of {', '.join(templates.QUALITY_SCORES)}")
        return self._change_templates(which, quality=score)

    def control_recategorise_template(self, *, category: str, **which: Any) -> list[dict]:
        """Meta moves the template to another category now."""
        if category not in templates.CATEGORIES:
            raise ValueError(f"category must be one of {', '.join(templates.CATEGORIES)}")
        return self._change_templates(which, category=category)

    def control_seed_templates(
        self,
        *,
        waba_account_id: str,
        count: int = 250,
        status: str = "approved",
        category: str = "UTILITY",
        language: str = "en_US",
        prefix: str = "seeded",
    ) -> dict[str, Any]:
        """Add ``count`` templates to a WABA directly, without webhooks (cheap: benchmarks);
        ``submitted`` ones are reviewed on the clock."""
        waba = self._get_waba(waba_account_id)
        made = templates.seed(
            self, waba, count, status=status, category=category, language=language,
            prefix=prefix,
        )  # fmt: skip
        return {"waba_account_id": waba.id, "count": len(made), "template_ids": made}

    def control_add_malformed_template(
        self, *, waba_account_id: str, raw: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """A listing item served as it is (default: no language, no category, components
        not a list), for tests of what a client skips."""
        template = templates.add_malformed(self, self._get_waba(waba_account_id), raw)
        return {"template_id": template.id, "raw": template.raw}

    def control_process_cancellation(self, *, channel_id: str) -> dict[str, Any]:
        """360dialog carries out a cancellation: ``terminated_at`` set, the partner webhook
        ``cancellation_processed`` sent, then the channel and its keys are gone."""
        channel = self._get_channel(channel_id)
        channel.cancellation_requested = True
        channel.terminated_at = channel.modified_at = self.clock.time()
        self.partner_webhooks.channel_event(channel, "cancellation_processed")
        self.revoke(channel)
        return {"channel_id": channel.id, "terminated_at": channel.terminated_at}

    def control_revoke_channel(self, *, channel_id: str) -> dict[str, Any]:
        """The client un-grants the number: gone from the Partner API, keys dead at once."""
        channel = self._get_channel(channel_id)
        self.revoke(channel)
        return {"channel_id": channel.id, "revoked": True}

    # -- messaging ------------------------------------------------------------------------
    def control_inbound_message(
        self, *, channel_id: str, from_number: str = "15550001111", text: str = "Hello"
    ) -> dict[str, Any]:
        """A customer writes to the number: Meta's ``messages`` envelope to its webhook,
        as Meta sends it in 2026 (the business-scoped ``user_id`` beside ``wa_id``)."""
        channel = self._get_channel(channel_id)
        wamid = "wamid." + self.sandbox.ids.token(40)
        user_id = f"US.{self.sandbox.ids.digits(16)}"
        contact = {"profile": {"name": "Sandbox Customer"}, "wa_id": from_number,
                   "user_id": user_id}  # fmt: skip
        value = {
            "contacts": [contact],
            "messages": [
                {
                    "from": from_number,
                    "from_user_id": user_id,
                    "id": wamid,
                    "timestamp": str(int(self.clock.time())),
                    "type": "text",
                    "text": {"body": text},
                }
            ],
        }
        deliveries = self.messaging_webhook(channel, "messages", value)
        return {"message_id": wamid, "user_id": user_id,
                "deliveries": [d.status for d in deliveries]}  # fmt: skip

    def control_message_status(self, *, message_id: str, status: str) -> dict[str, Any]:
        """A sent message moves to ``sent``/``delivered``/``read``/``failed``: Meta's
        ``statuses`` envelope to the number's webhook."""
        message: SentMessage | None = self.store.messages.get(message_id)
        if message is None:
            raise LookupError(f"no message {message_id}")
        message.status = status
        channel = self._get_channel(message.channel_id)
        value = {
            "statuses": [
                {
                    "id": message.id,
                    "status": status,
                    "timestamp": str(int(self.clock.time())),
                    "recipient_id": message.to.lstrip("+"),
                }
            ]
        }
        deliveries = self.messaging_webhook(channel, "messages", value)
        return {"message_id": message.id, "deliveries": [d.status for d in deliveries]}
