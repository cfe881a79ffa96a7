"""The Messaging API on ``waba-v2.360dialog.io`` with ``D360-API-KEY`` (fact sheet §4)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from ..base import json_response
from . import templates
from .base import Dialog360Base
from .state import Channel, SentMessage
from .wire import fail, fail_plain, json_body, page

MAX_DESTINATIONS = 3  # multi_webhook: at most 3 per number (fact sheet §4)

RULES = [
    Rule("/waba/messages", methods=["POST"], endpoint="waba_send"),
    Rule("/waba/messages/<message_id>", methods=["PUT"], endpoint="waba_mark_read"),
    Rule("/waba/v1/configs/webhook", methods=["GET", "POST"], endpoint="waba_phone_webhook"),
    Rule("/waba/waba_webhook", methods=["GET", "POST"], endpoint="waba_waba_webhook"),
    Rule(
        "/waba/multi_webhook",
        methods=["GET", "POST", "PUT", "PATCH"],
        endpoint="waba_multi_webhook",
    ),
    Rule("/waba/health_status", methods=["GET"], endpoint="waba_health"),
    Rule("/waba/v1/configs/templates", methods=["GET", "POST"], endpoint="waba_templates"),
    Rule("/waba/v1/configs/templates/<name>", methods=["DELETE"], endpoint="waba_template_delete"),
]


def check_webhook_url(url: Any, allow_loopback_ports: bool = False) -> str:
    """No ``_`` and no ``:port`` in the host (fact sheet §4 "URL rules"); ``{error}`` 400.

    ``allow_loopback_ports`` is a sandbox convenience for a demo on 127.0.0.1/localhost."""
    if not isinstance(url, str) or not url:
        fail_plain(400, "url is required")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        fail_plain(400, f"Invalid webhook URL: {url}")
    netloc = parts.netloc.rpartition("@")[2]
    if "_" in netloc:
        fail_plain(400, f"Invalid webhook URL: {url}: '_' is not allowed in (sub)domain names")
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if ":" in netloc.rpartition("]")[2] and not (allow_loopback_ports and loopback):
        fail_plain(400, f"Invalid webhook URL: {url}: a port is not allowed")
    return url


def _clears(body: dict[str, Any]) -> bool:
    """``{"url": ""}`` or ``{"url": null}`` removes the webhook. How 360dialog removes one
    is not documented publicly (fact sheet §4 names only setting it): simulator choice."""
    return "url" in body and body["url"] in ("", None)


def _headers(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        fail_plain(400, "headers must be an object of strings")
    return dict(value)


def _graph_error(message: str, code: int = 100, status: int = 400) -> Response:
    """Meta Cloud errors pass through waba-v2 unchanged (fact sheet §5)."""
    return json_response(
        {
            "error": {
                "message": message,
                "type": "OAuthException",
                "code": code,
                "error_data": {"messaging_product": "whatsapp", "details": message},
                "fbtrace_id": "A360sandbox",
            }
        },
        status,
    )


class MessagingApi(Dialog360Base):
    """Endpoints of waba-v2; mixed into :class:`Dialog360Simulator`."""

    def _keyed_channel(self, request: Request) -> Channel:
        key = self.store.active_key(request.headers.get("D360-API-KEY", ""))
        channel = self.store.channels.get(key.channel_id) if key else None
        if channel is None or channel.revoked:
            fail(401, "Invalid api_key or token expired")
        return channel

    def waba_send(self, request: Request) -> Response:
        channel = self._keyed_channel(request)
        body = json_body(request)
        if body.get("messaging_product") != "whatsapp":
            return _graph_error("(#100) The parameter messaging_product is required.")
        if body.get("status") == "read":  # Cloud API mark-as-read
            return self._mark_read(body.get("message_id"))
        to, kind = body.get("to"), body.get("type", "text")
        if not isinstance(to, str) or not to.lstrip("+").isdigit():
            return _graph_error("(#100) The parameter to is required.")
        if kind not in body:
            return _graph_error(f"(#100) The parameter {kind} is required.")
        if kind == "template":
            name = (body.get("template") or {}).get("name")
            language = ((body.get("template") or {}).get("language") or {}).get("code")
            if not self._approved_template(channel, name, language):
                return _graph_error(
                    "(#132001) Template name does not exist in the translation", 132001, 404
                )
        message = SentMessage(
            id="wamid." + self.sandbox.ids.token(40),
            channel_id=channel.id,
            to=to,
            type=kind,
            at=self.clock.time(),
            body=body,
        )
        self.store.messages[message.id] = message
        wa_id = to.lstrip("+")
        return json_response(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": wa_id}],
                "messages": [{"id": message.id}],
            }
        )

    def _approved_template(self, channel: Channel, name: Any, language: Any) -> bool:
        return any(
            t.waba_id == channel.waba_id
            and t.name == name
            and (language is None or t.language == language)
            and t.status == "approved"
            for t in self.store.templates.values()
        )

    def waba_mark_read(self, request: Request, message_id: str) -> Response:
        self._keyed_channel(request)
        if json_body(request).get("status") != "read":
            return _graph_error("(#100) The parameter status must be read.")
        return self._mark_read(message_id)

    def _mark_read(self, message_id: Any) -> Response:
        if not isinstance(message_id, str) or not message_id:
            return _graph_error("(#100) The parameter message_id is required.")
        return json_response({"success": True})

    # -- webhooks ------------------------------------------------------------------------------
    def waba_phone_webhook(self, request: Request) -> Response:
        channel = self._keyed_channel(request)
        if request.method == "POST":
            body = json_body(request)
            if _clears(body):
                channel.webhook = None
            else:
                channel.webhook = {
                    "url": check_webhook_url(body.get("url"), self.allow_loopback_ports),
                    "headers": _headers(body.get("headers")),
                }
        return json_response(channel.webhook or {"url": None, "headers": {}})

    def waba_waba_webhook(self, request: Request) -> Response:
        channel = self._keyed_channel(request)
        waba = self.store.wabas[channel.waba_id]
        if request.method == "POST" and _clears(json_body(request)):
            waba.webhook = None
        elif request.method == "POST":
            body = json_body(request)
            override_all = bool(body.get("override_all", False))
            waba.webhook = {
                "url": check_webhook_url(body.get("url"), self.allow_loopback_ports),
                "headers": _headers(body.get("headers")),
                "override_all": override_all,
            }
            if override_all:  # the WABA webhook replaces every number's own webhook
                for other in self.store.channels.values():
                    if other.waba_id == waba.id:
                        other.webhook = None
        return json_response(waba.webhook or {"url": None, "headers": {}, "override_all": False})

    def waba_multi_webhook(self, request: Request) -> Response:
        """GET config; POST enable/disable (+ initial destinations); PUT append; PATCH update
        one destination by name. Errors are ``{error}`` (360dialog Messaging API spec)."""
        channel = self._keyed_channel(request)
        if request.method == "GET":
            return json_response(
                {"enabled": channel.multi_enabled, "destinations": channel.multi_destinations}
            )
        body = json_body(request)
        if request.method == "POST":
            enabled = body.get("enabled")
            if not isinstance(enabled, bool):
                fail_plain(400, "enabled is required")
            channel.multi_enabled = enabled
            if not enabled:
                channel.multi_destinations = []
                return json_response({"message": "multi-webhook disabled"})
            self._append_destinations(channel, body.get("destinations") or [])
            return json_response({"message": "multi-webhook enabled"})
        if not channel.multi_enabled:
            fail_plain(400, "multi-webhook is not enabled; enable it with POST first")
        if request.method == "PUT":
            self._append_destinations(channel, body.get("destinations") or [])
            return json_response({"message": "destinations added"})
        name = body.get("name")
        for destination in channel.multi_destinations:
            if destination["name"] == name:
                if "url" in body:
                    destination["url"] = check_webhook_url(body["url"], self.allow_loopback_ports)
                if "headers" in body:
                    destination["headers"] = _headers(body["headers"])
                return json_response({"message": "destination updated"})
        fail_plain(404, f"destination {name!r} not found")

    def _append_destinations(self, channel: Channel, items: Any) -> None:
        if isinstance(items, dict):
            items = [items]
        if not isinstance(items, list):
            fail_plain(400, "destinations must be a list")
        names = {d["name"] for d in channel.multi_destinations}
        new = []
        for item in items:
            if not isinstance(item, dict) or not item.get("name"):
                fail_plain(400, "each destination needs a name and a url")
            if item["name"] in names:
                fail_plain(409, f"destination name {item['name']!r} already exists")
            names.add(item["name"])
            new.append(
                {
                    "name": item["name"],
                    "url": check_webhook_url(item.get("url"), self.allow_loopback_ports),
                    "headers": _headers(item.get("headers")),
                }
            )
        if len(channel.multi_destinations) + len(new) > MAX_DESTINATIONS:
            fail_plain(400, f"at most {MAX_DESTINATIONS} webhooks per phone number")
        channel.multi_destinations.extend(new)

    # -- health and templates --------------------------------------------------------------------
    def waba_health(self, request: Request) -> Response:
        channel = self._keyed_channel(request)
        return json_response(self.health(channel))

    def health(self, channel: Channel) -> dict[str, Any]:
        """``GET /health_status`` (fact sheet §4 "Health"): worst entity wins."""
        waba = self.store.wabas[channel.waba_id]
        waba_state = {"account_violation": "LIMITED", "account_restriction": "LIMITED"}.get(
            waba.status, "BLOCKED" if waba.status in ("account_banned", "bsp_removed") else ""
        )
        number_state = "LIMITED" if channel.current_quality_rating == "RED" else "AVAILABLE"
        entities: list[dict[str, Any]] = [
            {
                "entity_type": "PHONE_NUMBER",
                "id": channel.phone_number_id,
                "can_send_message": number_state,
            },
            {
                "entity_type": "WABA",
                "id": waba.external_id,
                "can_send_message": waba_state or "AVAILABLE",
            },
            {"entity_type": "BUSINESS", "id": waba.fb_business_id, "can_send_message": "AVAILABLE"},
            {"entity_type": "APP", "id": channel.app_id, "can_send_message": "AVAILABLE"},
        ]
        for entity in entities:
            if entity["can_send_message"] != "AVAILABLE":
                entity["errors"] = [
                    {
                        "error_code": 141006,
                        "error_description": f"{waba.status or 'quality'}",
                        "possible_solution": "Resolve the issue in WhatsApp Manager",
                    }
                ]
        order = ("AVAILABLE", "LIMITED", "BLOCKED")
        overall = max((e["can_send_message"] for e in entities), key=order.index)
        return {
            "health_status": {"can_send_message": overall, "entities": entities},
            "id": channel.phone_number_id,
        }

    def waba_templates(self, request: Request) -> Response:
        channel = self._keyed_channel(request)
        waba = self.store.wabas[channel.waba_id]
        if request.method == "POST":
            template = templates.create(self, waba, json_body(request))
            return json_response(templates.item(self, template), 201)
        items = templates.of_waba(self, waba)
        return page(request, items, "waba_templates", templates.search_text, [])

    def waba_template_delete(self, request: Request, name: str) -> Response:
        channel = self._keyed_channel(request)
        doomed = templates.find(self, channel.waba_id, name)
        if not doomed:
            fail(404, f"Template {name} not found")
        for template in doomed:
            templates.remove(self, template)
        # waba-v2 proxies Meta, whose DELETE message_templates answers {"success": true}
        return json_response({"success": True})
