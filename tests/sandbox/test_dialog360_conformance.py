"""The platform's whole 360dialog journey, every recorded response checked against the fact
sheet's shapes (there is no OpenAPI spec for 360dialog, so the schemas below are written
from /work/shared/providers/dialog360.md §3-§5)."""

from __future__ import annotations

import json
import re

import jsonschema

from tests.sandbox.openapi import assert_conforms

API = "/dialog360/hub/api/v2"
WABA = "/dialog360/waba"
PID = "c0nformPA"

STR_OR_NULL = {"type": ["string", "null"]}
META_ERROR = {
    "type": "object",
    "required": ["meta"],
    "properties": {
        "meta": {
            "type": "object",
            "required": ["success", "http_code", "developer_message", "details", "error_data"],
            "properties": {
                "success": {"const": False},
                "http_code": {"type": "integer", "minimum": 400},
                "developer_message": {"type": "string"},
                "details": {"type": "array", "items": {"type": "string"}},
                "error_data": {
                    "type": "object",
                    "required": ["code", "message", "real_message", "status"],
                    "properties": {"code": {"type": "string"}, "status": {"type": "integer"}},
                },
            },
        }
    },
}
CHANNEL = {
    "type": "object",
    "required": [
        "id",
        "client_id",
        "account_mode",
        "billing_started_at",
        "terminated_at",
        "created_at",
        "current_limit",
        "current_quality_rating",
        "status",
        "has_inbox",
        "is_oba",
        "client",
        "setup_info",
        "waba_account",
        "integration",
        "modified_at",
        "external_id",
        "version",
        "is_migrated",
        "availability_status",
        "profile_info",
        "project",
    ],
    "properties": {
        "id": {"type": "string", "pattern": "CH$"},
        "client_id": {"type": "string", "pattern": "CL$"},
        "account_mode": {"enum": ["sandbox", "live"]},
        "current_limit": {"type": "string"},
        "current_quality_rating": {"type": "string"},
        "status": {"type": "string"},
        "billing_started_at": STR_OR_NULL,
        "client": {"type": "object", "required": ["id", "name", "partner_payload", "contact_info"]},
        "setup_info": {
            "type": "object",
            "required": ["phone_number", "phone_name", "was_in_use", "verification_method"],
        },
        "waba_account": {
            "type": "object",
            "required": ["id", "fb_account_status", "on_behalf_of_business_info"],
            "properties": {"id": {"type": "string", "pattern": "WA$"}},
        },
        "integration": {"type": "object", "required": ["enabled", "app_id", "state"]},
    },
}
CLIENT = {
    "type": "object",
    "required": [
        "id",
        "name",
        "status",
        "max_channels",
        "organisation",
        "meta_info",
        "contact_info",
        "contact_user",
        "partner_payload",
        "created_at",
        "created_by",
        "modified_at",
        "modified_by",
        "suspicious",
    ],
    "properties": {"id": {"type": "string", "pattern": "CL$"}},
}


def listing(key: str, item: dict) -> dict:
    return {
        "type": "object",
        "required": ["count", "filters", "sort", "limit", "offset", "total", key],
        "properties": {
            "count": {"type": "integer"},
            "total": {"type": "integer"},
            "filters": {"type": "object"},
            "sort": {"type": "array", "items": {"type": "string"}},
            key: {"type": "array", "items": item},
        },
    }


API_KEY = {
    "type": "object",
    "required": ["id", "address", "api_key", "app_id"],
    "properties": {k: {"type": "string"} for k in ("id", "address", "api_key", "app_id")},
    "additionalProperties": False,
}
SCHEMAS = [
    (r"^/hub/api/v2/partners/\w+/channels$", "GET", 200, listing("partner_channels", CHANNEL)),
    (r"^/hub/api/v2/partners/\w+/clients$", "GET", 200, listing("clients", CLIENT)),
    (r"^/hub/api/v2/partners/\w+/channels/\w+/api_keys$", "POST", 201, API_KEY),
    (
        r"^/hub/api/v2/partners/\w+/channels/\w+/api_keys$",
        "GET",
        200,
        {
            "type": "object",
            "required": ["api_keys"],
            "properties": {"api_keys": {"type": "array", "items": API_KEY}},
        },
    ),
    (
        r"^/hub/api/v2/partners/\w+$",
        "PATCH",
        200,
        {"type": "object", "required": ["webhook_url", "partner_redirect_url"]},
    ),
    (
        r"^/waba/messages$",
        "POST",
        200,
        {
            "type": "object",
            "required": ["messages"],
            "properties": {
                "messages": {
                    "type": "array",
                    "minItems": 1,
                    "items": {"type": "object", "required": ["id"]},
                }
            },
        },
    ),
    (
        r"^/waba/health_status$",
        "GET",
        200,
        {
            "type": "object",
            "required": ["health_status", "id"],
            "properties": {
                "health_status": {
                    "type": "object",
                    "required": ["can_send_message", "entities"],
                    "properties": {
                        "can_send_message": {"enum": ["AVAILABLE", "LIMITED", "BLOCKED"]}
                    },
                }
            },
        },
    ),
    (
        r"^/waba/v1/configs/webhook$",
        "POST",
        200,
        {"type": "object", "required": ["url", "headers"]},
    ),
]


def check(exchange: dict) -> str:
    path, method, status = exchange["path"], exchange["method"], exchange["status"]
    if path.startswith("/hub-ui/"):
        assert exchange["content_type"].startswith("text/html") or status == 302
        return "html"
    body = json.loads(exchange["body"]) if exchange["body"] else None
    if status >= 400 and path != "/hub/api/v2/token":
        jsonschema.validate(body, META_ERROR)
        assert body["meta"]["http_code"] == status
        return "error"
    for pattern, want_method, want_status, schema in SCHEMAS:
        if re.match(pattern, path) and method == want_method and status == want_status:
            jsonschema.validate(body, schema)
            return pattern
    return "unchecked"


def test_platform_journey_conforms_to_the_fact_sheet(http, sandbox, captured):
    sim = sandbox.dialog360
    sim.control_seed_partner(partner_id=PID, api_key="pk")
    auth = {"X-API-Key": "pk"}
    # 1. partner setup
    http.patch(
        f"{API}/partners/{PID}",
        headers=auth,
        json={
            "webhook_url": "https://p.example/d360",
            "partner_redirect_url": "https://p.example/r",
        },
    )
    # 2. browser: the permissions popup
    page = http.get(f"/dialog360/hub-ui/dashboard/app/{PID}/permissions", params={"partner": "t1"})
    flow = re.search(r'name="flow" id="flow-id" value="([^"]+)"', page.text).group(1)
    form = f"/dialog360/hub-ui/dashboard/app/{PID}/permissions"
    http.post(
        form,
        data={
            "flow": flow,
            "step": "signup",
            "name": "N",
            "email": "n@x.example",
            "password": "pw",
            "terms": "1",
        },
    )
    http.post(form, data={"flow": flow, "step": "numbers", "number": "+15550001212"})
    location = http.post(form, data={"flow": flow, "step": "consent"}).headers["location"]
    chid = re.search(r"channels=\[(\w+)\]", location).group(1)
    # 3. server: read the channel; 4. key only once running
    http.get(
        f"{API}/partners/{PID}/channels", headers=auth, params={"filters": f'{{"id":"{chid}"}}'}
    )
    http.get(f"{API}/partners/{PID}/clients", headers=auth)
    keys = f"{API}/partners/{PID}/channels/{chid}/api_keys"
    http.post(keys, headers=auth)  # 400: not running yet
    sandbox.advance(600)
    key = http.post(keys, headers=auth).json()["api_key"]
    http.post(keys, headers=auth)  # 429
    http.get(keys, headers=auth)  # the live key's id, its value masked
    # 5. messaging webhook, 7. health and a message
    d360 = {"D360-API-KEY": key}
    http.post(f"{WABA}/v1/configs/webhook", headers=d360, json={"url": "https://p.example/wa"})
    http.get(f"{WABA}/health_status", headers=d360)
    http.post(
        f"{WABA}/messages",
        headers=d360,
        json={
            "messaging_product": "whatsapp",
            "to": "15550003434",
            "type": "text",
            "text": {"body": "hi"},
        },
    )
    http.get(f"{WABA}/health_status", headers={"D360-API-KEY": "revoked-or-wrong"})

    kinds = [check(e) for e in sandbox.exchanges if e["provider"] == "dialog360"]
    assert kinds.count("error") == 3
    assert {p for p, *_ in SCHEMAS} <= set(kinds)
    # partner webhooks: the lifecycle, in order
    events = [
        json.loads(r.content)["event"]
        for r in captured.requests
        if str(r.url) == "https://p.example/d360"
    ]
    assert events == [
        "client_created",
        "channel_created",
        "channel_submitted",
        "channel_ready",
        "channel_running",
    ]
    # no OpenAPI spec covers 360dialog: the shared validator must not claim any of it
    dialog = [e for e in sandbox.exchanges if e["provider"] == "dialog360"]
    assert assert_conforms(dialog) == set()
