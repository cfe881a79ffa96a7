"""360dialog waba-v2 Messaging API over HTTP: D360-API-KEY, webhooks, health, templates."""

from __future__ import annotations

import json

import pytest

API = "/dialog360/hub/api/v2"
WABA = "/dialog360/waba"
PID = "wAbAp4rtPA"


@pytest.fixture
def channel(sandbox, http):
    """A running channel with a fresh D360-API-KEY."""
    sandbox.dialog360.control_seed_partner(
        partner_id=PID, api_key="pk", webhook_url="https://platform.example/partner-events"
    )
    seeded = sandbox.dialog360.control_seed_channels(partner_id=PID)
    chid = seeded["channel_ids"][0]
    key = http.post(
        f"{API}/partners/{PID}/channels/{chid}/api_keys", headers={"X-API-Key": "pk"}
    ).json()
    return {"id": chid, "headers": {"D360-API-KEY": key["api_key"]}, **seeded}


def test_bad_key_is_401_meta(http, channel):
    for headers in ({}, {"D360-API-KEY": "wrong"}):
        response = http.post(f"{WABA}/messages", headers=headers, json={})
        assert response.status_code == 401
        meta = response.json()["meta"]
        assert meta["success"] is False and meta["http_code"] == 401
        assert meta["developer_message"] == "Invalid api_key or token expired"


def test_phone_webhook_set_and_read(http, channel):
    headers = channel["headers"]
    assert http.get(f"{WABA}/v1/configs/webhook", headers=headers).json()["url"] is None
    body = {"url": "https://platform.example/wa/inbound", "headers": {"X-Tenant": "t1"}}
    response = http.post(f"{WABA}/v1/configs/webhook", headers=headers, json=body)
    assert response.status_code == 200
    assert response.json() == body
    assert http.get(f"{WABA}/v1/configs/webhook", headers=headers).json() == body


@pytest.mark.parametrize(
    "url",
    [
        "https://your_webhook.example.com/hook",
        "https://subdomain.your_webhook.example.com:3000",
        "https://platform.example:8443/hook",
        "not a url",
    ],
)
def test_webhook_url_rules(http, channel, url):
    for path in ("/v1/configs/webhook", "/waba_webhook"):
        response = http.post(f"{WABA}{path}", headers=channel["headers"], json={"url": url})
        assert response.status_code == 400
        assert set(response.json()) == {"error"}


def test_underscore_in_path_is_fine(http, channel):
    response = http.post(
        f"{WABA}/v1/configs/webhook",
        headers=channel["headers"],
        json={"url": "https://platform.example/hooks/wa_inbound"},
    )
    assert response.status_code == 200


def test_inbound_message_goes_to_phone_webhook_with_headers(http, sandbox, channel, captured):
    http.post(
        f"{WABA}/v1/configs/webhook",
        headers=channel["headers"],
        json={"url": "https://platform.example/wa/inbound", "headers": {"X-Tenant": "t1"}},
    )
    result = sandbox.dialog360.control_inbound_message(channel_id=channel["id"], text="hi")
    assert result["deliveries"] == [200]
    request = captured.requests[-1]
    assert str(request.url) == "https://platform.example/wa/inbound"
    assert request.headers["X-Tenant"] == "t1"
    body = json.loads(request.content)
    assert body["object"] == "whatsapp_business_account"
    change = body["entry"][0]["changes"][0]
    assert change["field"] == "messages"
    assert change["value"]["messages"][0]["text"]["body"] == "hi"
    assert change["value"]["metadata"]["phone_number_id"].isdigit()


def test_waba_webhook_override_all(http, sandbox, channel, captured):
    headers = channel["headers"]
    http.post(f"{WABA}/v1/configs/webhook", headers=headers, json={"url": "https://a.example/x"})
    body = {"url": "https://waba.example/all", "headers": {}, "override_all": True}
    response = http.post(f"{WABA}/waba_webhook", headers=headers, json=body)
    assert response.status_code == 200 and response.json() == body
    assert http.get(f"{WABA}/waba_webhook", headers=headers).json() == body
    sandbox.dialog360.control_inbound_message(channel_id=channel["id"])
    assert str(captured.requests[-1].url) == "https://waba.example/all"


def test_multi_webhook(http, sandbox, channel, captured):
    headers = channel["headers"]
    http.post(f"{WABA}/v1/configs/webhook", headers=headers, json={"url": "https://main.example/h"})
    assert http.get(f"{WABA}/multi_webhook", headers=headers).json() == {
        "enabled": False,
        "destinations": [],
    }
    assert http.put(f"{WABA}/multi_webhook", headers=headers, json={}).status_code == 400
    enabled = http.post(
        f"{WABA}/multi_webhook",
        headers=headers,
        json={"enabled": True, "destinations": [{"name": "crm", "url": "https://crm.example/h"}]},
    )
    assert enabled.status_code == 200 and "message" in enabled.json()
    dup = http.put(
        f"{WABA}/multi_webhook",
        headers=headers,
        json={"destinations": [{"name": "crm", "url": "https://crm2.example/h"}]},
    )
    assert dup.status_code == 409 and "error" in dup.json()
    more = [{"name": f"d{i}", "url": f"https://d{i}.example/h"} for i in range(3)]
    too_many = http.put(f"{WABA}/multi_webhook", headers=headers, json={"destinations": more})
    assert too_many.status_code == 400
    patched = http.patch(
        f"{WABA}/multi_webhook",
        headers=headers,
        json={"name": "crm", "url": "https://crm.example/v2", "headers": {"A": "b"}},
    )
    assert patched.status_code == 200
    config = http.get(f"{WABA}/multi_webhook", headers=headers).json()
    assert config == {
        "enabled": True,
        "destinations": [{"name": "crm", "url": "https://crm.example/v2", "headers": {"A": "b"}}],
    }
    sandbox.dialog360.control_inbound_message(channel_id=channel["id"])
    assert [str(r.url) for r in captured.requests[-2:]] == [
        "https://main.example/h",
        "https://crm.example/v2",
    ]
    # copies go out only after the main destination answered 200
    captured.status = 500
    before = len(captured.requests)
    sandbox.dialog360.control_inbound_message(channel_id=channel["id"])
    assert [str(r.url) for r in captured.requests[before:]] == ["https://main.example/h"]


def test_send_message_and_status_webhook(http, sandbox, channel, captured):
    headers = channel["headers"]
    http.post(f"{WABA}/v1/configs/webhook", headers=headers, json={"url": "https://p.example/h"})
    response = http.post(
        f"{WABA}/messages",
        headers=headers,
        json={
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "4915112345678",
            "type": "text",
            "text": {"body": "hello"},
        },
    )
    assert response.status_code == 200
    body = response.json()
    message_id = body["messages"][0]["id"]
    assert message_id.startswith("wamid.")
    assert body["contacts"] == [{"input": "4915112345678", "wa_id": "4915112345678"}]
    sandbox.dialog360.control_message_status(message_id=message_id, status="delivered")
    status = json.loads(captured.requests[-1].content)["entry"][0]["changes"][0]["value"]
    assert status["statuses"][0] == {
        "id": message_id,
        "status": "delivered",
        "timestamp": status["statuses"][0]["timestamp"],
        "recipient_id": "4915112345678",
    }
    read = http.post(
        f"{WABA}/messages",
        headers=headers,
        json={"messaging_product": "whatsapp", "status": "read", "message_id": message_id},
    )
    assert read.json() == {"success": True}
    bad = http.post(f"{WABA}/messages", headers=headers, json={"to": "1"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == 100


def test_templates_lifecycle_and_template_send(http, sandbox, channel, captured):
    headers = channel["headers"]
    template = {
        "name": "welcome",
        "language": "en",
        "category": "MARKETING",
        "allow_category_change": True,
        "components": [{"type": "BODY", "text": "Welcome!"}],
    }
    created = http.post(f"{WABA}/v1/configs/templates", headers=headers, json=template)
    assert created.status_code == 201
    assert created.json()["status"] == "submitted"
    listing = http.get(f"{WABA}/v1/configs/templates", headers=headers).json()
    assert set(listing) == {
        "count",
        "filters",
        "sort",
        "limit",
        "offset",
        "total",
        "waba_templates",
    }
    assert listing["total"] == 1
    long_body = {**template, "name": "long", "components": [{"type": "BODY", "text": "x" * 1025}]}
    assert (
        http.post(f"{WABA}/v1/configs/templates", headers=headers, json=long_body).status_code
        == 400
    )
    assert (
        http.post(f"{WABA}/v1/configs/templates", headers=headers, json=template).status_code == 400
    )

    send = {
        "messaging_product": "whatsapp",
        "to": "15550009999",
        "type": "template",
        "template": {"name": "welcome", "language": {"code": "en"}},
    }
    assert http.post(f"{WABA}/messages", headers=headers, json=send).status_code == 404
    sandbox.advance(300)  # the sandbox approves after its review time
    statuses = http.get(f"{WABA}/v1/configs/templates", headers=headers).json()
    assert statuses["waba_templates"][0]["status"] == "approved"
    events = [json.loads(r.content) for r in captured.requests]
    assert any(e.get("event") == "waba_template_status_changed" for e in events)
    assert http.post(f"{WABA}/messages", headers=headers, json=send).status_code == 200

    deleted = http.delete(f"{WABA}/v1/configs/templates/welcome", headers=headers)
    assert deleted.status_code == 200
    assert http.get(f"{WABA}/v1/configs/templates", headers=headers).json()["total"] == 0
    assert http.delete(f"{WABA}/v1/configs/templates/welcome", headers=headers).status_code == 404


def test_health_status_reflects_quality_and_restrictions(http, sandbox, channel):
    headers = channel["headers"]
    health = http.get(f"{WABA}/health_status", headers=headers).json()
    assert health["health_status"]["can_send_message"] == "AVAILABLE"
    types = [e["entity_type"] for e in health["health_status"]["entities"]]
    assert types == ["PHONE_NUMBER", "WABA", "BUSINESS", "APP"]
    assert health["id"] == health["health_status"]["entities"][0]["id"]

    sandbox.dialog360.control_set_quality(channel_id=channel["id"], quality_rating="RED")
    assert (
        http.get(f"{WABA}/health_status", headers=headers).json()["health_status"][
            "can_send_message"
        ]
        == "LIMITED"
    )
    sandbox.dialog360.control_set_status(channel_id=channel["id"], status="running")
    sandbox.dialog360.store.wabas[channel["waba_account_id"]].status = "account_banned"
    assert (
        http.get(f"{WABA}/health_status", headers=headers).json()["health_status"][
            "can_send_message"
        ]
        == "BLOCKED"
    )


def test_faults_on_waba(http, sandbox, channel):
    sandbox.faults.add("throttle", provider="dialog360", path="^/waba/", times=1)
    response = http.get(f"{WABA}/health_status", headers=channel["headers"])
    assert response.status_code == 429 and response.json()["meta"]["http_code"] == 429
