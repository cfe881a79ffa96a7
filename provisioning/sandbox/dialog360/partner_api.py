"""Partner API v2 on ``hub.360dialog.io/api/v2`` (fact sheet §2, §3, §5)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from ..base import json_response
from . import templates
from .base import Dialog360Base
from .state import ApiKey, Channel, Client, Partner, Token, Waba
from .wire import abort_with, fail, json_body, page

API = "/hub/api/v2"
KEY_INTERVAL = 30.0  # POST api_keys: 1 request / 30 s per channel (fact sheet §3)
BALANCE_WINDOW, BALANCE_CALLS = 30.0, 5  # balance: 5 requests / 30 s (fact sheet §3)

RULES = [
    Rule(f"{API}/token", methods=["POST"], endpoint="api_token"),
    Rule(f"{API}/partners/<pid>", methods=["GET"], endpoint="api_partner_get"),
    Rule(f"{API}/partners/<pid>", methods=["PATCH"], endpoint="api_partner_patch"),
    Rule(f"{API}/partners/<pid>/webhook_url", methods=["GET", "POST"], endpoint="api_webhook_url"),
    Rule(f"{API}/partners/<pid>/clients", methods=["GET"], endpoint="api_clients"),
    Rule(f"{API}/partners/<pid>/clients/<cid>", methods=["GET", "PATCH"], endpoint="api_client"),
    Rule(
        f"{API}/partners/<pid>/clients/<cid>/info/balance",
        methods=["GET"],
        endpoint="api_balance",
    ),
    Rule(f"{API}/partners/<pid>/channels", methods=["GET"], endpoint="api_channels"),
    Rule(f"{API}/partners/<pid>/channels/<chid>", methods=["GET"], endpoint="api_channel"),
    Rule(
        f"{API}/partners/<pid>/channels/<chid>/api_keys",
        methods=["GET", "POST", "DELETE"],
        endpoint="api_keys",
    ),
    Rule(
        f"{API}/partners/<pid>/clients/<cid>/channels/<chid>/control/cancellation_request",
        methods=["POST"],
        endpoint="api_cancellation",
    ),
    Rule(f"{API}/partners/<pid>/waba_accounts/<wid>", methods=["GET"], endpoint="api_waba"),
    Rule(
        f"{API}/partners/<pid>/waba_accounts/<wid>/waba_templates",
        methods=["GET", "POST"],
        endpoint="api_waba_templates",
    ),
    Rule(
        f"{API}/partners/<pid>/waba_accounts/<wid>/waba_templates/<tid>",
        methods=["DELETE"],
        endpoint="api_waba_template_delete",
    ),
    Rule(
        f"{API}/partners/<pid>/settings/partner_change_request",
        methods=["PATCH"],
        endpoint="api_change_request",
    ),
]


def _channel_search(item: dict[str, Any]) -> str:
    setup = item.get("setup_info") or {}
    client = item.get("client") or {}
    return " ".join(
        str(v or "")
        for v in (
            item["id"],
            setup.get("phone_number"),
            setup.get("phone_name"),
            client.get("name"),
        )
    )


def _client_search(item: dict[str, Any]) -> str:
    contact = item.get("contact_info") or {}
    return f"{item['id']} {item.get('name') or ''} {contact.get('email') or ''}"


class PartnerApi(Dialog360Base):
    """Endpoints of the Partner API; mixed into :class:`Dialog360Simulator`."""

    # -- auth ----------------------------------------------------------------------------
    def api_token(self, request: Request) -> Response:
        """Legacy ``POST /token``; errors use ``{error, error_description}`` (fact sheet §2)."""
        body = json_body(request)
        username, password = body.get("username"), body.get("password")
        if not username or not password:
            return json_response(
                {"error": "invalid_request", "error_description": "username and password required"},
                400,
            )
        for partner in self.store.partners.values():
            if partner.username == username and partner.password == password:
                if not partner.legacy_token_auth:
                    return json_response(
                        {
                            "error": "unauthorized_client",
                            "error_description": "Legacy token authentication is disabled",
                        },
                        403,
                    )
                now = self.clock.time()
                token = Token(self.sandbox.ids.token(48), partner.id, now + partner.token_ttl)
                self.store.tokens[token.access_token] = token
                return json_response(
                    {
                        "access_token": token.access_token,
                        "token_type": "Bearer",
                        "expires_in": partner.token_ttl,
                        "refresh_token": self.sandbox.ids.token(48),
                    }
                )
        return json_response(
            {"error": "invalid_grant", "error_description": "Wrong email or password."}, 401
        )

    def _partner(self, request: Request, pid: str) -> Partner:
        """The caller's partner, by ``X-API-Key`` or a legacy Bearer token."""
        key = request.headers.get("X-API-Key")
        authorization = request.headers.get("Authorization", "")
        partner: Partner | None = None
        if key:
            partner = self.store.partner_by_api_key(key)
            if partner is None:
                fail(401, "Invalid API key")
        elif authorization:
            # kairon sends "<token_type> <access_token>"; token problems answer in the
            # token endpoint's {error, error_description} shape (fact sheet §2)
            scheme, _, value = authorization.partition(" ")
            token = self.store.tokens.get(value.strip()) if scheme.lower() == "bearer" else None
            if token is None:
                abort_with(_token_error("invalid_token", "Invalid token"))
            if token.expires_at <= self.clock.time():
                abort_with(_token_error("invalid_token", "Token expired"))
            partner = self.store.partners[token.partner_id]
            if not partner.legacy_token_auth:
                abort_with(_token_error("invalid_token", "Legacy token authentication disabled"))
        else:
            fail(401, "Authentication required: send X-API-Key")
        if partner.id != pid:
            fail(403, f"Permission denied for partner {pid}")
        return partner

    def _client(self, partner: Partner, cid: str) -> Client:
        client = self.store.clients.get(cid)
        if client is None or client.partner_id != partner.id:
            fail(404, f"Client {cid} not found")
        return client

    def _channel(self, partner: Partner, chid: str) -> Channel:
        channel = self.store.channels.get(chid)
        if channel is None or channel.partner_id != partner.id or channel.revoked:
            fail(404, f"Channel {chid} not found")
        return channel

    def _waba(self, partner: Partner, wid: str) -> Waba:
        waba = self.store.wabas.get(wid)
        if waba is None or waba.partner_id != partner.id:
            fail(404, f"WABA account {wid} not found")
        return waba

    # -- partner ---------------------------------------------------------------------------
    def api_partner_get(self, request: Request, pid: str) -> Response:
        return json_response(self._partner(request, pid).to_json())

    def api_partner_patch(self, request: Request, pid: str) -> Response:
        partner = self._partner(request, pid)
        body = json_body(request)
        for name in ("webhook_url", "partner_redirect_url"):
            if name in body:
                value = body[name]
                if value is not None and not _is_http_url(value):
                    fail(400, "Wrong payload", [f"{name}: must be an http(s) URL"])
                setattr(partner, name, value)
        return json_response(partner.to_json())

    def api_webhook_url(self, request: Request, pid: str) -> Response:
        partner = self._partner(request, pid)
        if request.method == "POST":
            value = json_body(request).get("webhook_url")
            if not _is_http_url(value):
                fail(400, "Wrong payload", ["webhook_url: must be an http(s) URL"])
            partner.webhook_url = value
        return json_response({"webhook_url": partner.webhook_url})

    def api_change_request(self, request: Request, pid: str) -> Response:
        partner = self._partner(request, pid)
        value = json_body(request).get("auto_approve")
        if not isinstance(value, bool):
            fail(400, "Wrong payload", ["auto_approve: boolean required"])
        partner.auto_approve_change_requests = value
        return json_response({"auto_approve": value})

    # -- clients -----------------------------------------------------------------------------
    def api_clients(self, request: Request, pid: str) -> Response:
        partner = self._partner(request, pid)
        items = [c.to_json() for c in self.store.clients.values() if c.partner_id == partner.id]
        return page(request, items, "clients", _client_search, ["-created_at"])

    def api_client(self, request: Request, pid: str, cid: str) -> Response:
        client = self._client(self._partner(request, pid), cid)
        if request.method == "PATCH":
            body = json_body(request)
            if "partner_payload" in body:
                client.partner_payload = body["partner_payload"]
            if "max_channels" in body:
                if not isinstance(body["max_channels"], int) or body["max_channels"] < 0:
                    fail(400, "Wrong payload", ["max_channels: non-negative integer"])
                client.max_channels = body["max_channels"]
            client.modified_at = self.clock.time()
        return json_response(client.to_json())

    def api_balance(self, request: Request, pid: str, cid: str) -> Response:
        client = self._client(self._partner(request, pid), cid)
        now = self.clock.time()
        calls = [t for t in self.store.balance_calls.get(cid, []) if now - t < BALANCE_WINDOW]
        if len(calls) >= BALANCE_CALLS:
            fail(429, "You have exceeded the limit of 5 requests every 30 seconds")
        self.store.balance_calls[cid] = [*calls, now]
        granularity = request.args.get("granularity", "MONTH").upper()
        if granularity not in ("DAY", "MONTH"):
            fail(400, "Wrong payload", ["granularity: DAY or MONTH"])
        start = _int_arg(request, "start_date", int(now) - 30 * 86400)
        end = _int_arg(request, "end_date", int(now))
        return json_response(self._balance(client, start, end, granularity))

    def _balance(self, client: Client, start: int, end: int, granularity: str) -> dict[str, Any]:
        channel_ids = {c.id for c in self.store.channels_of(client.id, include_revoked=True)}
        periods: dict[str, dict[str, Any]] = {}
        for message in self.store.messages.values():
            if message.channel_id not in channel_ids or not start <= message.at <= end:
                continue
            day = dt.datetime.fromtimestamp(message.at, dt.UTC).date()
            if granularity == "MONTH":
                day = day.replace(day=1)
            period = periods.setdefault(day.isoformat(), _empty_usage(day.isoformat()))
            kind = "business_initiated" if message.type == "template" else "user_initiated"
            period[f"{kind}_quantity"] += 1
            period["quantity"] += 1
            period["free_quantity"] += 1
        return {
            "balance": 0.0,
            "currency": "USD",
            "last_renewal": {"date": None, "amount": 0.0},
            "estimated_template_cost": 0.0,
            "granularity": granularity,
            "usage": [periods[k] for k in sorted(periods)],
        }

    # -- channels ----------------------------------------------------------------------------
    def api_channels(self, request: Request, pid: str) -> Response:
        partner = self._partner(request, pid)
        items = [
            self.channel_json(c)
            for c in self.store.channels.values()
            if c.partner_id == partner.id and not c.revoked
        ]
        return page(request, items, "partner_channels", _channel_search, ["-created_at"])

    def api_channel(self, request: Request, pid: str, chid: str) -> Response:
        # Not in the fact sheet (which reads one channel via filters={"id": ...}); kept as
        # a convenience for the admin page. Same object as in partner_channels[].
        return json_response(self.channel_json(self._channel(self._partner(request, pid), chid)))

    def api_cancellation(self, request: Request, pid: str, cid: str, chid: str) -> Response:
        partner = self._partner(request, pid)
        channel = self._channel(partner, chid)
        if channel.client_id != self._client(partner, cid).id:
            fail(404, f"Channel {chid} not found")
        enabled = json_body(request).get("enabled")
        if not isinstance(enabled, bool):
            fail(400, "Wrong payload", ["enabled: boolean required"])
        if enabled != channel.cancellation_requested:
            channel.cancellation_requested = enabled
            event = "cancellation_request" if enabled else "cancellation_revoke"
            self.partner_webhooks.channel_event(channel, event)
        return json_response(self.channel_json(channel))

    def api_keys(self, request: Request, pid: str, chid: str) -> Response:
        partner = self._partner(request, pid)
        channel = self._channel(partner, chid)
        if request.method == "GET":  # NET GetApiKeyByChannel: {api_keys: [...]}
            # A key shows once, in the 201 (fact sheet §3; docs: "the API key will show up
            # only once"): the listing names the live keys but masks their value, as the
            # docs' example prints it, so a lost 201 cannot be read back.
            keys = [
                k.to_json(masked=True)
                for k in self.store.api_keys.values()
                if k.channel_id == channel.id and not k.revoked
            ]
            return json_response({"api_keys": keys})
        if request.method == "DELETE":  # NET DeleteApiKeyByChannel: no id, empty body
            self.revoke_keys(channel)
            return json_response({})
        return self._create_key(partner, channel)

    def _create_key(self, partner: Partner, channel: Channel) -> Response:
        now = self.clock.time()
        if channel.status != "running":
            # Keys exist only once the channel is running (fact sheet §1 "Key generation")
            fail(400, f"Channel {channel.id} is not running (status: {channel.status})")
        if not channel.api_key_permission:
            fail(403, f"Permission denied for partner {partner.id}: no API key permission")
        if channel.last_key_at is not None and now - channel.last_key_at < KEY_INTERVAL:
            fail(429, "You have exceeded the limit of 1 request every 30 seconds")
        channel.last_key_at = now
        self.revoke_keys(channel)  # a new key revokes the older ones at once
        key = ApiKey(
            id=self.sandbox.ids.alnum(8) + "AK",
            channel_id=channel.id,
            api_key=self.sandbox.ids.token(32),
            address=self.base_url("waba"),
            app_id=channel.app_id,
            created_at=now,
        )
        self.store.api_keys[key.api_key] = key
        return json_response(key.to_json(), 201)

    # -- WABA accounts and partner-side templates ---------------------------------------------
    def api_waba(self, request: Request, pid: str, wid: str) -> Response:
        return json_response(self._waba(self._partner(request, pid), wid).to_json())

    def api_waba_templates(self, request: Request, pid: str, wid: str) -> Response:
        """List (``limit``/``offset`` paging in the ``{count, filters, limit, offset, sort,
        total, waba_templates}`` envelope) or create: 201 with the created template."""
        waba = self._waba(self._partner(request, pid), wid)
        if request.method == "POST":
            template = templates.create(self, waba, json_body(request))
            return json_response(templates.item(self, template), 201)
        items = templates.of_waba(self, waba)
        return page(request, items, "waba_templates", templates.search_text, [])

    def api_waba_template_delete(self, request: Request, pid: str, wid: str, tid: str) -> Response:
        waba = self._waba(self._partner(request, pid), wid)
        template = self.store.templates.get(tid)
        if template is None or template.waba_id != waba.id:
            fail(404, f"Template {tid} not found")
        templates.remove(self, template)
        return json_response({})


def _token_error(error: str, description: str) -> Response:
    return json_response({"error": error, "error_description": description}, 401)


def _is_http_url(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://"))


def _int_arg(request: Request, name: str, default: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        fail(400, "Wrong payload", [f"{name}: UNIX timestamp expected"])


def _empty_usage(period: str) -> dict[str, Any]:
    usage: dict[str, Any] = {"period_date": period, "quantity": 0, "total_price": 0.0}
    for kind in (
        "authentication",
        "business_initiated",
        "marketing",
        "service",
        "user_initiated",
        "utility",
    ):
        usage |= {f"{kind}_quantity": 0, f"{kind}_paid_quantity": 0, f"{kind}_price": 0.0}
    return usage | {"free_quantity": 0, "paid_quantity": 0, "free_tier": 0, "free_entry_point": 0}
