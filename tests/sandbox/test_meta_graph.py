"""Meta simulator, Graph API over HTTP: code exchange, debug_token, nodes, paging, errors."""

from __future__ import annotations

import json

import httpx
import pytest

from provisioning.sandbox import Sandbox

APP_ID, SECRET = "1234567890123456", "app-secret-0001"
G = "/meta/graph/v21.0"


@pytest.fixture
def app(sandbox: Sandbox) -> dict:
    return sandbox.meta.control_seed_app(
        app_id=APP_ID, app_secret=SECRET, webhook_url="https://portal.test/wh/meta"
    )


def exchange(http: httpx.Client, code: str, **extra: str) -> httpx.Response:
    params = {"client_id": APP_ID, "client_secret": SECRET, "code": code, **extra}
    return http.get(f"{G}/oauth/access_token", params=params)


def signed_up(sandbox: Sandbox, http: httpx.Client, **choices) -> tuple[dict, str]:
    result = sandbox.meta.control_complete_signup(app_id=APP_ID, **choices)
    response = exchange(http, result["code"])
    assert response.status_code == 200
    return result, response.json()["access_token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_code_exchange_is_single_use(sandbox, http, app):
    result = sandbox.meta.control_complete_signup(app_id=APP_ID)
    first = exchange(http, result["code"])
    assert first.status_code == 200
    body = first.json()
    assert body["token_type"] == "bearer" and body["access_token"].startswith("EAA")
    again = exchange(http, result["code"])
    assert again.status_code == 400
    error = again.json()["error"]
    assert (error["code"], error["error_subcode"], error["type"]) == (100, 36009, "OAuthException")
    assert error["fbtrace_id"]


def test_code_expires_after_30_seconds(sandbox, http, app):
    fresh = sandbox.meta.control_complete_signup(app_id=APP_ID)
    stale = sandbox.meta.control_complete_signup(app_id=APP_ID)
    sandbox.advance(30)
    assert exchange(http, fresh["code"]).status_code == 200  # exactly 30 s is still valid
    sandbox.advance(1)
    response = exchange(http, stale["code"])
    assert response.status_code == 400
    assert response.json()["error"]["error_subcode"] == 36007


def test_code_exchange_checks_secret_and_app(sandbox, http, app):
    result = sandbox.meta.control_complete_signup(app_id=APP_ID)
    wrong = http.get(
        f"{G}/oauth/access_token",
        params={"client_id": APP_ID, "client_secret": "nope", "code": result["code"]},
    )
    assert wrong.status_code == 400 and wrong.json()["error"]["code"] == 1
    garbage = exchange(http, "AQnot-a-code")
    assert garbage.json()["error"]["code"] == 100
    # the code is still good after the failed attempts
    assert exchange(http, result["code"]).status_code == 200


def test_debug_token_granular_scopes(sandbox, http, app):
    result, token = signed_up(sandbox, http)
    response = http.get(
        f"{G}/debug_token", params={"input_token": token, "access_token": f"{APP_ID}|{SECRET}"}
    )
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["is_valid"] is True and data["app_id"] == APP_ID and data["type"] == "SYSTEM_USER"
    scopes = {s["scope"]: s.get("target_ids") for s in data["granular_scopes"]}
    assert scopes["whatsapp_business_management"] == [result["waba_id"]]
    assert scopes["whatsapp_business_messaging"] == [result["waba_id"]]
    assert "whatsapp_business_management" in data["scopes"]


def test_debug_token_manage_events_variant(sandbox, http, app):
    result, token = signed_up(sandbox, http, scope_variant="manage_events")
    data = http.get(
        f"{G}/debug_token",
        params={"input_token": token},
        headers=bearer(f"{APP_ID}|{SECRET}"),
    ).json()["data"]
    scopes = {s["scope"]: s.get("target_ids") for s in data["granular_scopes"]}
    assert "whatsapp_business_management" not in scopes
    assert scopes["whatsapp_business_manage_events"] == [result["waba_id"]]
    # the functional check still works (CW PR #14697)
    listed = http.get(f"{G}/{result['waba_id']}/phone_numbers", headers=bearer(token))
    assert listed.status_code == 200


def test_waba_and_field_selection(sandbox, http, app):
    result, token = signed_up(sandbox, http, business_name="Ünïcode Café")
    waba = http.get(f"{G}/{result['waba_id']}", headers=bearer(token)).json()
    assert waba["id"] == result["waba_id"] and "name" in waba and "currency" in waba
    picked = http.get(
        f"{G}/{result['waba_id']}",
        params={"fields": "owner_business_info,account_review_status"},
        headers=bearer(token),
    ).json()
    assert set(picked) == {"id", "owner_business_info", "account_review_status"}
    assert picked["owner_business_info"] == {"id": result["business_id"], "name": "Ünïcode Café"}

    fields = (
        "display_phone_number,verified_name,name_status,quality_rating,"
        "whatsapp_business_manager_messaging_limit,throughput{level},"
        "status,code_verification_status,platform_type,health_status"
    )
    phone = http.get(
        f"/meta/graph/v25.0/{result['phone_number_id']}",
        params={"fields": fields},
        headers=bearer(token),
    ).json()
    assert set(phone) == {"id", *fields.replace("{level}", "").split(",")}
    assert phone["status"] == "PENDING"
    assert phone["platform_type"] == "NOT_APPLICABLE"
    assert phone["throughput"] == {"level": "NOT_APPLICABLE"}
    assert phone["health_status"]["can_send_message"] == "BLOCKED"
    only = http.get(
        f"{G}/{result['phone_number_id']}",
        params={"fields": "quality_rating"},
        headers=bearer(token),
    ).json()
    assert only == {"quality_rating": "GREEN", "id": result["phone_number_id"]}
    bad = http.get(
        f"{G}/{result['phone_number_id']}", params={"fields": "nope"}, headers=bearer(token)
    )
    assert bad.status_code == 400 and bad.json()["error"]["code"] == 100


def test_phone_numbers_cursor_paging(sandbox, http, app):
    seeded = sandbox.meta.control_seed_waba(app_id=APP_ID, numbers=5)
    token = seeded["access_token"]
    url = f"{G}/{seeded['waba_id']}/phone_numbers"
    seen = []
    response = http.get(url, params={"limit": 2}, headers=bearer(token))
    pages = 0
    while True:
        body = response.json()
        pages += 1
        seen += [p["id"] for p in body["data"]]
        assert set(body["paging"]["cursors"]) == {"before", "after"}
        if "next" not in body["paging"]:
            break
        next_url = httpx.URL(body["paging"]["next"])
        assert next_url.params["limit"] == "2" and next_url.params["after"]
        response = http.get(next_url.copy_with(params=next_url.params), headers=bearer(token))
    assert pages == 3 and seen == seeded["phone_number_ids"]
    # before= walks back
    last = response.json()
    back = http.get(
        url,
        params={"limit": 2, "before": last["paging"]["cursors"]["before"]},
        headers=bearer(token),
    ).json()
    assert [p["id"] for p in back["data"]] == seen[2:4]
    assert back["data"][0]["display_phone_number"].startswith("+1 ")


def test_auth_failures(sandbox, http, app):
    result, token = signed_up(sandbox, http)
    missing = http.get(f"{G}/{result['waba_id']}")
    assert missing.status_code == 400 and missing.json()["error"]["code"] == 104
    # Graph answers a bad token with 400 and code 190, not 401 (issue 13 item 9)
    garbage = http.get(f"{G}/{result['waba_id']}", headers=bearer("EAAgarbage"))
    assert garbage.status_code == 400 and garbage.json()["error"]["code"] == 190
    as_param = http.get(f"{G}/{result['waba_id']}", params={"access_token": token})
    assert as_param.status_code == 200
    sandbox.meta.control_revoke_token(token=token)
    revoked = http.get(f"{G}/{result['waba_id']}", headers=bearer(token))
    assert revoked.status_code == 400
    error = revoked.json()["error"]
    assert (error["code"], error["error_subcode"], error["type"]) == (190, 460, "OAuthException")
    # another customer's WABA is invisible: Graph's "does not exist ... permissions" error
    other = sandbox.meta.control_seed_waba(app_id=APP_ID)
    _, token2 = signed_up(sandbox, http)
    hidden = http.get(f"{G}/{other['waba_id']}", headers=bearer(token2))
    assert hidden.status_code == 400
    assert (hidden.json()["error"]["code"], hidden.json()["error"]["error_subcode"]) == (100, 33)


def test_unversioned_and_other_versions(sandbox, http, app):
    result, token = signed_up(sandbox, http)
    for prefix in ("/meta/graph", "/meta/graph/v18.0", "/meta/graph/v24.0"):
        response = http.get(f"{prefix}/{result['waba_id']}", headers=bearer(token))
        assert response.status_code == 200, prefix
    assert response.headers["facebook-api-version"] == "v24.0"


def test_usage_header_and_call_budget(sandbox, http, app):
    seeded = sandbox.meta.control_seed_waba(app_id=APP_ID)
    token, waba_id = seeded["access_token"], seeded["waba_id"]
    response = http.get(f"{G}/{waba_id}", headers=bearer(token))
    usage = json.loads(response.headers["x-business-use-case-usage"])
    entry = usage[waba_id][0]
    assert entry["type"] == "whatsapp_business_management"
    assert {"call_count", "total_cputime", "total_time", "estimated_time_to_regain_access"} <= set(
        entry
    )
    assert set(json.loads(response.headers["x-app-usage"])) == {
        "call_count",
        "total_cputime",
        "total_time",
    }
    sandbox.meta.control_set_call_budget(waba_id=waba_id, calls=3, window_seconds=600)
    statuses = [http.get(f"{G}/{waba_id}", headers=bearer(token)).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    throttled = http.get(f"{G}/{waba_id}", headers=bearer(token))
    assert throttled.json()["error"]["code"] == 80007
    assert throttled.json()["error"]["is_transient"] is True
    usage = json.loads(throttled.headers["x-business-use-case-usage"])[waba_id][0]
    assert usage["call_count"] == 100 and usage["estimated_time_to_regain_access"] >= 1
    sandbox.advance(601)
    assert http.get(f"{G}/{waba_id}", headers=bearer(token)).status_code == 200


@pytest.mark.parametrize("code", [4, 80007, 80008, 130429])
def test_throttle_fault_in_meta_envelope(sandbox, http, app, code):
    seeded = sandbox.meta.control_seed_waba(app_id=APP_ID)
    sandbox.meta.control_set_fault_codes(throttle=code)
    sandbox.faults.add("throttle", provider="meta", times=1)
    response = http.get(f"{G}/{seeded['waba_id']}", headers=bearer(seeded["access_token"]))
    assert response.status_code == 429
    error = response.json()["error"]
    assert error["code"] == code and error["is_transient"] is True
    assert "x-app-usage" in response.headers
    again = http.get(f"{G}/{seeded['waba_id']}", headers=bearer(seeded["access_token"]))
    assert again.status_code == 200


def test_server_error_fault_is_transient(sandbox, http, app):
    sandbox.faults.add("server_error", provider="meta", times=1)
    response = http.get(f"{G}/me", headers=bearer(app["system_user_token"]))
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["code"] in (1, 2) and error["is_transient"] is True


def test_batch_string_bodies_and_limit(sandbox, http, app):
    seeded = sandbox.meta.control_seed_waba(app_id=APP_ID, numbers=2)
    items = [
        {"method": "GET", "relative_url": f"{pid}?fields=quality_rating,status"}
        for pid in seeded["phone_number_ids"]
    ] + [{"method": "GET", "relative_url": "v21.0/999999?fields=status"}]
    response = http.post(
        "/meta/graph/",
        data={
            "batch": json.dumps(items),
            "access_token": seeded["access_token"],
            "include_headers": "false",
        },
    )
    assert response.status_code == 200
    answers = response.json()
    assert [a["code"] for a in answers] == [200, 200, 400]
    assert all(isinstance(a["body"], str) and "headers" not in a for a in answers)
    assert json.loads(answers[0]["body"]) == {
        "quality_rating": "GREEN",
        "status": "PENDING",
        "id": seeded["phone_number_ids"][0],
    }
    assert json.loads(answers[2]["body"])["error"]["code"] == 100
    too_many = http.post(
        f"{G}/",
        data={"batch": json.dumps(items[:1] * 51), "access_token": seeded["access_token"]},
    )
    assert too_many.status_code == 400
    assert "Maximum batch size is 50" in too_many.json()["error"]["message"]
    fifty = http.post(
        f"{G}/",
        data={"batch": json.dumps(items[:1] * 50), "access_token": seeded["access_token"]},
    )
    assert fifty.status_code == 200 and len(fifty.json()) == 50
    assert {"name": "Content-Type", "value": "text/javascript; charset=UTF-8"} in fifty.json()[0][
        "headers"
    ]


def test_unknown_path_uses_meta_envelope(sandbox, http, app):
    response = http.put(f"{G}/123")
    assert response.status_code == 405
    assert set(response.json()["error"]) >= {"message", "type", "code", "fbtrace_id"}


@pytest.mark.parametrize(
    ("version", "field", "served"),
    [
        ("v23.0", "whatsapp_business_manager_messaging_limit", False),  # v24+ only
        ("v24.0", "whatsapp_business_manager_messaging_limit", True),
        ("v25.0", "whatsapp_business_manager_messaging_limit", True),
        ("v23.0", "messaging_limit_tier", True),
        ("v25.0", "messaging_limit_tier", False),  # deprecated: gone from v25.0
    ],
)
def test_fields_exist_per_version(sandbox, http, app, version, field, served):
    result, token = signed_up(sandbox, http)
    response = http.get(
        f"/meta/graph/{version}/{result['phone_number_id']}",
        params={"fields": field},
        headers=bearer(token),
    )
    if served:
        assert response.status_code == 200 and response.json()[field] == "TIER_250"
    else:
        error = response.json()["error"]
        assert response.status_code == 400 and error["code"] == 100
        assert f"nonexisting field ({field})" in error["message"]


def test_versions_graph_answers_for(sandbox, http, app):
    result, token = signed_up(sandbox, http)
    current = http.get(f"/meta/graph/v27.0/{result['waba_id']}", headers=bearer(token))
    assert current.status_code == 200 and current.headers["facebook-api-version"] == "v27.0"
    # a retired version is answered as the oldest live one
    retired = http.get(f"/meta/graph/v19.0/{result['waba_id']}", headers=bearer(token))
    assert retired.status_code == 200 and retired.headers["facebook-api-version"] == "v21.0"
    unknown = http.get(f"/meta/graph/v99.0/{result['waba_id']}", headers=bearer(token))
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == 2500
