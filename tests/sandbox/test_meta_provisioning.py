"""Meta simulator: subscribed_apps + handshake, register PIN rules, signed webhooks, controls."""

from __future__ import annotations

import hashlib
import hmac
import json

import httpx
import pytest

from provisioning.sandbox import Sandbox

APP_ID, SECRET = "1234567890123456", "app-secret-0001"
APP_URL = "https://portal.test/wh/meta"
G = "/meta/graph/v23.0"


@pytest.fixture
def app(sandbox: Sandbox) -> dict:
    return sandbox.meta.control_seed_app(
        app_id=APP_ID, app_secret=SECRET, webhook_url=APP_URL, verify_token="verify-me"
    )


@pytest.fixture
def customer(sandbox: Sandbox, app: dict) -> dict:
    return sandbox.meta.control_seed_waba(app_id=APP_ID, numbers=1, business_name="Café Ñandú")


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def posts(captured) -> list[httpx.Request]:
    return [r for r in captured.requests if r.method == "POST"]


def verify_signature(request: httpx.Request, secret: str = SECRET) -> dict:
    """Meta's algorithm, computed independently: HMAC-SHA256 over the raw body bytes."""
    expected = "sha256=" + hmac.new(secret.encode(), request.content, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request.headers["X-Hub-Signature-256"], expected)
    return json.loads(request.content)


def test_subscribe_with_override_runs_real_handshake(sandbox, http, captured, customer):
    url = f"{G}/{customer['waba_id']}/subscribed_apps"
    token = customer["access_token"]
    assert http.get(url, headers=auth(token)).json() == {"data": []}
    response = http.post(
        url,
        json={"override_callback_uri": "https://portal.test/o/1", "verify_token": "verify-me"},
        headers=auth(token),
    )
    assert response.status_code == 200 and response.json() == {"success": True}
    check = captured.requests[-1]
    assert check.method == "GET" and check.url.path == "/o/1"
    assert check.url.params["hub.mode"] == "subscribe"
    assert check.url.params["hub.verify_token"] == "verify-me"
    listed = http.get(url, headers=auth(token)).json()["data"]
    assert listed == [
        {
            "whatsapp_business_api_data": {
                "id": APP_ID,
                "name": "Sandbox Partner App",
                "link": f"https://www.facebook.com/games/?app_id={APP_ID}",
            },
            "override_callback_uri": "https://portal.test/o/1",
        }
    ]
    # POST without body removes the override, DELETE unsubscribes
    assert http.post(url, headers=auth(token)).json() == {"success": True}
    assert "override_callback_uri" not in http.get(url, headers=auth(token)).json()["data"][0]
    assert http.delete(url, headers=auth(token)).json() == {"success": True}
    assert http.get(url, headers=auth(token)).json() == {"data": []}


def test_failed_handshake_is_meta_error(sandbox, http, captured, customer):
    url = f"{G}/{customer['waba_id']}/subscribed_apps"
    response = http.post(
        url,
        json={"override_callback_uri": "https://portal.test/o", "verify_token": "wrong"},
        headers=auth(customer["access_token"]),
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == 2200 and "403" in error["message"]
    assert http.get(url, headers=auth(customer["access_token"])).json() == {"data": []}


def test_override_needs_messages_field(sandbox, http, customer):
    sandbox.meta.control_seed_app(app_id=APP_ID, fields=["account_update"])
    response = http.post(
        f"{G}/{customer['waba_id']}/subscribed_apps",
        json={"override_callback_uri": "https://portal.test/o", "verify_token": "verify-me"},
        headers=auth(customer["access_token"]),
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == 100
    assert "must be subscribed to receive messages" in response.json()["error"]["message"]


def register(http, phone_id, token, pin="123456", **extra):
    body = {"messaging_product": "whatsapp", "pin": pin, **extra}
    return http.post(f"{G}/{phone_id}/register", json=body, headers=auth(token))


def test_register_moves_pending_to_connected_and_keeps_pin(sandbox, http, customer):
    phone_id, token = customer["phone_number_ids"][0], customer["access_token"]
    fields = {"fields": "status,platform_type,throughput"}
    before = http.get(f"{G}/{phone_id}", params=fields, headers=auth(token)).json()
    assert before["status"] == "PENDING" and before["platform_type"] == "NOT_APPLICABLE"
    response = register(http, phone_id, token, pin="123456")
    assert response.status_code == 200 and response.json() == {"success": True}
    after = http.get(f"{G}/{phone_id}", params=fields, headers=auth(token)).json()
    assert after["status"] == "CONNECTED" and after["platform_type"] == "CLOUD_API"
    assert after["throughput"] == {"level": "STANDARD"}
    mismatch = register(http, phone_id, token, pin="654321")
    assert mismatch.status_code == 400
    error = mismatch.json()["error"]
    assert error["code"] == 133005 and error["error_data"]["messaging_product"] == "whatsapp"
    assert register(http, phone_id, token, pin="123456").status_code == 200


def test_register_validates_parameters(sandbox, http, customer):
    phone_id, token = customer["phone_number_ids"][0], customer["access_token"]
    no_product = http.post(f"{G}/{phone_id}/register", json={"pin": "123456"}, headers=auth(token))
    assert no_product.status_code == 400 and no_product.json()["error"]["code"] == 100
    assert register(http, phone_id, token, pin="12345").json()["error"]["code"] == 100


def test_register_limit_10_per_72_hours(sandbox, http, customer):
    phone_id, token = customer["phone_number_ids"][0], customer["access_token"]
    codes = [register(http, phone_id, token, pin="111111").status_code for _ in range(10)]
    assert codes == [200] * 10
    blocked = register(http, phone_id, token, pin="111111")
    assert blocked.status_code == 400 and blocked.json()["error"]["code"] == 133016
    sandbox.advance(71 * 3600)
    assert register(http, phone_id, token, pin="111111").json()["error"]["code"] == 133016
    sandbox.advance(3600 + 1)
    assert register(http, phone_id, token, pin="111111").status_code == 200


def test_partner_app_installed_webhook_after_signup(sandbox, http, captured, app):
    result = sandbox.meta.control_complete_signup(app_id=APP_ID, verified_name="Café Ünï")
    (delivery,) = posts(captured)
    assert str(delivery.url) == APP_URL
    body = verify_signature(delivery)
    assert body["object"] == "whatsapp_business_account"
    (entry,) = body["entry"]
    # partner events are keyed by the customer's business, the WABA is in waba_info
    assert entry["id"] == result["business_id"] and isinstance(entry["time"], int)
    change = entry["changes"][0]
    assert change["field"] == "account_update"
    assert change["value"] == {
        "event": "PARTNER_APP_INSTALLED",
        "waba_info": {
            "waba_id": result["waba_id"],
            "owner_business_id": result["business_id"],
            "partner_app_id": APP_ID,
        },
    }


def test_a_quality_drop_sends_no_webhook_and_limits_the_number(sandbox, http, captured, customer):
    """phone_number_quality_update is a throughput event now: a RED rating is read from
    Graph, with health_status LIMITED and a remediation (no FLAGGED/UNFLAGGED)."""
    token = customer["access_token"]
    http.post(f"{G}/{customer['waba_id']}/subscribed_apps", headers=auth(token))
    phone_id = customer["phone_number_ids"][0]
    http.post(f"{G}/{phone_id}/register", json={"messaging_product": "whatsapp", "pin": "123456"},
              headers=auth(token))  # fmt: skip
    sandbox.meta.control_set_quality(phone_number_id=phone_id, quality_rating="RED")
    assert posts(captured) == []
    node = http.get(
        f"{G}/{phone_id}", params={"fields": "quality_rating,health_status"}, headers=auth(token)
    ).json()
    assert node["quality_rating"] == "RED"
    (number,) = [e for e in node["health_status"]["entities"] if e["entity_type"] == "PHONE_NUMBER"]
    assert number["can_send_message"] == "LIMITED"
    assert number["errors"][0]["possible_solution"]


def test_throughput_upgrade_webhook_has_todays_shape(sandbox, http, captured, customer):
    http.post(f"{G}/{customer['waba_id']}/subscribed_apps", headers=auth(customer["access_token"]))
    phone_id = customer["phone_number_ids"][0]
    sandbox.meta.control_set_throughput(phone_number_id=phone_id)
    (delivery,) = [verify_signature(r) for r in posts(captured)]
    assert delivery["entry"][0]["changes"][0] == {
        "value": {
            "display_phone_number": customer["display_phone_numbers"][0],
            "event": "THROUGHPUT_UPGRADE",
            "max_daily_conversations_per_business": "TIER_UNLIMITED",
        },
        "field": "phone_number_quality_update",
    }


def test_portfolio_limit_is_shared_by_every_number(sandbox, http, captured, customer):
    """One limit per business portfolio: each WABA of the portfolio is told, every number
    of every WABA reads the new limit."""
    token, waba_id = customer["access_token"], customer["waba_id"]
    second = sandbox.meta.new_waba(customer["business_id"], "Second WABA", APP_ID)
    other = sandbox.meta.new_phone(second, verified_name="Other")
    for waba in (waba_id, second.id):
        sandbox.meta.wabas[waba].subscribed_apps[APP_ID] = None
    sandbox.meta.control_set_portfolio_limit(business_id=customer["business_id"], tier="TIER_10K")
    deliveries = [verify_signature(r)["entry"][0] for r in posts(captured)]
    assert sorted(d["id"] for d in deliveries) == sorted([waba_id, second.id])
    for delivery in deliveries:
        assert delivery["changes"][0] == {
            "value": {"max_daily_conversations_per_business": "TIER_10K",
                      "max_phone_numbers_per_waba": 25},
            "field": "business_capability_update",
        }  # fmt: skip
    sandbox.meta.tokens[token].waba_ids.append(second.id)
    for phone_id in (customer["phone_number_ids"][0], other.id):
        limit = http.get(
            f"/meta/graph/v25.0/{phone_id}",
            params={"fields": "whatsapp_business_manager_messaging_limit"},
            headers=auth(token),
        ).json()
        assert limit["whatsapp_business_manager_messaging_limit"] == "TIER_10K"


def test_account_events(sandbox, http, captured, customer):
    token, waba_id = customer["access_token"], customer["waba_id"]
    http.post(f"{G}/{waba_id}/subscribed_apps", headers=auth(token))
    phone_id = customer["phone_number_ids"][0]
    sandbox.meta.control_ban_waba(waba_id=waba_id, state="DISABLE")
    sandbox.meta.control_restrict_waba(waba_id=waba_id, expiration=1767312000)
    sandbox.meta.control_violation(waba_id=waba_id, violation_type="SCAM")
    events = [verify_signature(r)["entry"][0]["changes"][0] for r in posts(captured)]
    assert [e["field"] for e in events] == ["account_update"] * 3
    ban, restriction, violation = (e["value"] for e in events)
    assert ban["event"] == "DISABLED_UPDATE" and ban["ban_info"]["waba_ban_state"] == "DISABLE"
    assert ban["ban_info"]["waba_ban_date"] == "January 1, 2026"  # Meta's date format
    assert restriction["restriction_info"] == [
        {"restriction_type": "RESTRICTED_BIZ_INITIATED_MESSAGING", "expiration": 1767312000}
    ]
    assert violation == {"event": "ACCOUNT_VIOLATION", "violation_info": {"violation_type": "SCAM"}}
    status = http.get(f"{G}/{phone_id}", params={"fields": "status"}, headers=auth(token)).json()
    assert status["status"] == "BANNED"


def test_partner_removal_is_keyed_by_business_and_revokes_access(sandbox, http, captured, customer):
    token, waba_id = customer["access_token"], customer["waba_id"]
    http.post(f"{G}/{waba_id}/subscribed_apps", headers=auth(token))
    sandbox.meta.control_partner_event(waba_id=waba_id, event="PARTNER_REMOVED")
    (removed,) = [verify_signature(r)["entry"][0] for r in posts(captured)]
    assert removed["id"] == customer["business_id"]
    assert removed["changes"][0]["value"] == {
        "event": "PARTNER_REMOVED",
        "waba_info": {"waba_id": waba_id, "owner_business_id": customer["business_id"]},
    }
    gone = http.get(f"{G}/{waba_id}", headers=auth(token))
    assert gone.status_code == 400 and gone.json()["error"]["code"] == 190


def test_override_per_number_needs_the_waba_subscription_first(sandbox, http, captured, customer):
    token, phone_id = customer["access_token"], customer["phone_number_ids"][0]
    config = {"override_callback_uri": "https://portal.test/n/1", "verify_token": "verify-me"}
    early = http.post(f"{G}/{phone_id}", json={"webhook_configuration": config},
                      headers=auth(token))  # fmt: skip
    assert early.status_code == 400 and early.json()["error"]["code"] == 100
    assert "must be subscribed" in early.json()["error"]["message"]
    assert http.post(f"{G}/{customer['waba_id']}/subscribed_apps", headers=auth(token)).json() == {
        "success": True
    }
    later = http.post(f"{G}/{phone_id}", json={"webhook_configuration": config},
                      headers=auth(token))  # fmt: skip
    assert later.json() == {"success": True}
    assert captured.requests[-1].url.path == "/n/1"  # Meta's verification GET


def test_register_waits_for_the_display_name(sandbox, http, app):
    sandbox.meta.control_set_name_review(seconds=600)
    customer = sandbox.meta.control_seed_waba(app_id=APP_ID)
    phone_id, token = customer["phone_number_ids"][0], customer["access_token"]
    body = {"messaging_product": "whatsapp", "pin": "123456"}
    early = http.post(f"{G}/{phone_id}/register", json=body, headers=auth(token))
    assert early.status_code == 400 and early.json()["error"]["code"] == 2388001
    name = http.get(f"{G}/{phone_id}", params={"fields": "name_status"}, headers=auth(token))
    assert name.json()["name_status"] == "PENDING_REVIEW"
    sandbox.advance(601)
    assert http.post(f"{G}/{phone_id}/register", json=body, headers=auth(token)).json() == {
        "success": True
    }


def test_message_fields_follow_override_account_fields_go_to_app(sandbox, http, captured, customer):
    token, waba_id = customer["access_token"], customer["waba_id"]
    http.post(
        f"{G}/{waba_id}/subscribed_apps",
        json={"override_callback_uri": "https://portal.test/o/9", "verify_token": "verify-me"},
        headers=auth(token),
    )
    phone_id = customer["phone_number_ids"][0]
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550000001", "phone_number_id": phone_id},
        "errors": [{"code": 130429, "title": "Rate limit hit", "message": "Límite: ñandú"}],
    }
    sandbox.meta.control_emit(waba_id=waba_id, field="messages", value=value)
    sandbox.meta.control_emit(
        waba_id=waba_id, field="account_review_update", value={"decision": "APPROVED"}
    )
    message, review = posts(captured)
    assert message.url.path == "/o/9" and str(review.url) == APP_URL
    assert verify_signature(message)["entry"][0]["changes"][0]["value"] == value
    assert "Límite: ñandú".encode() in message.content  # raw UTF-8, not \u escapes


def test_duplicate_and_reorder_deliveries(sandbox, http, captured, customer):
    token, waba_id = customer["access_token"], customer["waba_id"]
    http.post(f"{G}/{waba_id}/subscribed_apps", headers=auth(token))
    sandbox.meta.control_set_delivery(duplicate=True)
    sandbox.meta.control_emit(waba_id=waba_id, field="account_alerts", value={"n": 1})
    assert len(posts(captured)) == 2 and posts(captured)[0].content == posts(captured)[1].content
    captured.requests.clear()
    sandbox.meta.control_set_delivery(reorder=True)
    for n in (1, 2, 3):
        sandbox.meta.control_emit(waba_id=waba_id, field="account_alerts", value={"n": n})
    sandbox.meta.control_flush_webhooks()
    order = [json.loads(r.content)["entry"][0]["changes"][0]["value"]["n"] for r in posts(captured)]
    assert sorted(order) == [1, 2, 3] and order != [1, 2, 3]


def test_failed_webhook_is_retried_on_tick(sandbox, captured, customer):
    sandbox.meta.control_seed_app(app_id=APP_ID)
    captured.status = 500
    sandbox.meta.control_emit(
        waba_id=customer["waba_id"], field="account_update", value={"event": "ACCOUNT_DELETED"}
    )
    captured.status = 200
    sandbox.advance(60)
    attempts = posts(captured)
    assert len(attempts) == 2 and attempts[0].content == attempts[1].content
    verify_signature(attempts[1])


def test_control_api_over_http(sandbox, http, app):
    response = http.post(
        "/_sandbox/meta/seed_waba", json={"app_id": APP_ID, "numbers": 3, "status": "CONNECTED"}
    )
    assert response.status_code == 200
    seeded = response.json()
    assert len(seeded["phone_number_ids"]) == 3
    state = http.get("/_sandbox/state").json()["meta"]
    assert state["counts"]["phone_numbers"] == 3
    assert state["wabas"][0]["phone_numbers"][0]["status"] == "CONNECTED"


def test_seed_waba_is_fast_for_a_fleet(sandbox, app):
    for _ in range(2000):
        sandbox.meta.control_seed_waba(app_id=APP_ID, numbers=2)
    assert len(sandbox.meta.phones) == 4000
    assert len({p.number for p in sandbox.meta.phones.values()}) == 4000
