"""Every Graph response of a full Meta scenario validates against the Meta OpenAPI spec."""

from __future__ import annotations

import json

from tests.sandbox.openapi import assert_conforms, validate_request_body

APP_ID, SECRET = "1234567890123456", "app-secret-0001"
G = "/meta/graph/v22.0"
PHONE_FIELDS = (
    "display_phone_number,verified_name,name_status,quality_rating,"
    "code_verification_status,status,messaging_limit_tier"
)


def test_full_meta_scenario_conforms(sandbox, http):
    meta = sandbox.meta
    meta.control_seed_app(app_id=APP_ID, app_secret=SECRET, webhook_url="https://portal.test/wh")
    result = meta.control_complete_signup(app_id=APP_ID, verified_name="Café Ünïcode")
    token = http.get(
        f"{G}/oauth/access_token",
        params={"client_id": APP_ID, "client_secret": SECRET, "code": result["code"]},
    ).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    waba_id, phone_id = result["waba_id"], result["phone_number_id"]
    extra = meta.control_seed_waba(app_id=APP_ID, numbers=3)
    meta.control_set_quality(phone_number_id=phone_id, quality_rating="UNKNOWN")

    calls = [
        ("GET", f"{G}/debug_token", {"input_token": token, "access_token": f"{APP_ID}|{SECRET}"}),
        ("GET", f"{G}/{waba_id}", {"fields": "id,name,currency,owner_business_info"}),
        ("GET", f"{G}/{waba_id}/phone_numbers", {}),
        ("GET", f"{G}/{waba_id}/phone_numbers", {"fields": "id,display_phone_number,status"}),
        ("GET", f"{G}/{waba_id}/subscribed_apps", {}),
        ("POST", f"{G}/{waba_id}/subscribed_apps", {}),
        ("GET", f"{G}/{waba_id}/subscribed_apps", {}),
        ("POST", f"{G}/{phone_id}/register", {"messaging_product": "whatsapp", "pin": "123456"}),
        ("POST", f"{G}/{phone_id}/register", {"messaging_product": "whatsapp", "pin": "000000"}),
        ("POST", f"{G}/{phone_id}/register", {"messaging_product": "whatsapp"}),
        ("GET", f"{G}/{phone_id}", {"fields": PHONE_FIELDS}),
        ("GET", f"{G}/{phone_id}", {}),
        ("GET", f"{G}/{extra['waba_id']}/phone_numbers", {"limit": 2}),
        ("GET", f"{G}/{waba_id}", {"access_token": "EAAgarbage"}),
        ("GET", f"{G}/{waba_id}", {"fields": "nonexistent"}),
        ("DELETE", f"{G}/{waba_id}/subscribed_apps", {}),
    ]
    for method, url, params in calls:
        if method == "POST":
            response = http.post(url, json=params, headers=auth)
        elif "access_token" in params:
            response = http.request(method, url, params=params)
        else:
            response = http.request(method, url, params=params, headers=auth)
        assert response.status_code < 500, (url, response.text)
    sandbox.faults.add("throttle", provider="meta", times=1)
    assert http.get(f"{G}/{waba_id}", headers=auth).status_code == 429
    batch = http.post(
        f"{G}/",
        data={
            "batch": json.dumps([{"method": "GET", "relative_url": f"{phone_id}?fields=status"}]),
            "access_token": token,
        },
    )
    assert batch.status_code == 200

    hints = {waba_id: "WABA-ID", extra["waba_id"]: "WABA-ID", phone_id: "Phone-Number-ID"}
    covered = assert_conforms(sandbox.exchanges, hints=hints)
    assert {
        "GET /{Version}/{WABA-ID}",
        "GET /{Version}/{WABA-ID}/phone_numbers",
        "GET /{Version}/{WABA-ID}/subscribed_apps",
        "POST /{Version}/{WABA-ID}/subscribed_apps",
        "DELETE /{Version}/{WABA-ID}/subscribed_apps",
        "POST /{Version}/{Phone-Number-ID}/register",
        "GET /{Version}/{Phone-Number-ID}",
    } <= covered, covered


def test_the_2026_calls_conform(sandbox, http):
    """What the portal asks Graph today (v25.0): the portfolio limit field, health_status,
    the per-number override after the subscription, the partner's client WABAs, a bad
    token's 400."""
    meta = sandbox.meta
    seeded = meta.control_seed_app(
        app_id=APP_ID, app_secret=SECRET, webhook_url="https://portal.test/wh",
        verify_token="verify-me",
    )  # fmt: skip
    result = meta.control_complete_signup(app_id=APP_ID)
    v25 = "/meta/graph/v25.0"
    token = http.get(
        f"{v25}/oauth/access_token",
        params={"client_id": APP_ID, "client_secret": SECRET, "code": result["code"]},
    ).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    waba_id, phone_id = result["waba_id"], result["phone_number_id"]
    fields = (
        "display_phone_number,verified_name,name_status,quality_rating,throughput,status,"
        "code_verification_status,platform_type,is_on_biz_app,health_status,"
        "whatsapp_business_manager_messaging_limit"
    )
    override = {"override_callback_uri": "https://portal.test/wh", "verify_token": "verify-me"}
    assert http.post(f"{v25}/{waba_id}/subscribed_apps", headers=auth).status_code == 200
    assert http.post(f"{v25}/{phone_id}", json={"webhook_configuration": override},
                     headers=auth).status_code == 200  # fmt: skip
    assert http.get(f"{v25}/{phone_id}", params={"fields": fields}, headers=auth).status_code == 200
    assert http.get(f"{v25}/{waba_id}/phone_numbers", params={"fields": fields},
                    headers=auth).status_code == 200  # fmt: skip
    assert http.get(f"{v25}/{waba_id}", params={"fields": "id,name,owner_business_info"},
                    headers=auth).status_code == 200  # fmt: skip
    partner = {"Authorization": f"Bearer {seeded['system_user_token']}"}
    listed = http.get(f"{v25}/{result['business_id']}/client_whatsapp_business_accounts",
                      params={"fields": "id,name"}, headers=partner)  # fmt: skip
    assert [w["id"] for w in listed.json()["data"]] == [waba_id]
    bad = http.get(f"{v25}/{waba_id}", headers={"Authorization": "Bearer EAAgarbage"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == 190

    hints = {waba_id: "WABA-ID", phone_id: "Phone-Number-ID", result["business_id"]: "Business-ID"}
    covered = assert_conforms(sandbox.exchanges, hints=hints)
    assert {
        "GET /{Version}/{Business-ID}/client_whatsapp_business_accounts",
        "GET /{Version}/{Phone-Number-ID}",
        "GET /{Version}/{WABA-ID}/phone_numbers",
    } <= covered, covered


def test_a_number_s_life_after_onboarding_conforms(sandbox, http):
    """Issue 17: adding and migrating numbers, verification codes, the PIN, display name
    changes and the Official Business Account, requests and answers both."""
    meta = sandbox.meta
    meta.control_seed_app(app_id=APP_ID, app_secret=SECRET, webhook_url="https://portal.test/wh")
    customer = meta.control_seed_waba(app_id=APP_ID, subscribe=True, numbers=0)
    waba_id, auth = customer["waba_id"], {"Authorization": f"Bearer {customer['access_token']}"}
    v25 = "/meta/graph/v25.0"
    edge = "/{Version}/{WABA-ID}/phone_numbers"
    bodies = {
        f"POST {edge}": [
            {"cc": "1", "phone_number": "5550102020", "verified_name": "Nova Shop"},
        ],
        "POST /{Version}/{Phone-Number-ID}/request_code": [
            {"code_method": "SMS", "language": "en_US"},
        ],
        "POST /{Version}/{Phone-Number-ID}": [{"pin": "246810"}, {"new_display_name": "Nova"}],
    }
    for key, examples in bodies.items():
        for body in examples:
            validate_request_body("meta", key, body)

    def post(path: str, body: dict) -> dict:
        response = http.post(f"{v25}/{path}", json=body, headers=auth)
        assert response.status_code < 500, response.text
        return response.json()

    phone_id = post(f"{waba_id}/phone_numbers", bodies[f"POST {edge}"][0])["id"]
    post(f"{waba_id}/phone_numbers", {"cc": "1", "phone_number": "5550102020"})  # refused
    post(f"{phone_id}/request_code", {"code_method": "SMS", "language": "en_US"})
    post(f"{phone_id}/request_code", {"code_method": "SMS", "language": "en_US"})  # too soon
    code = meta.control_last_code(phone_number_id=phone_id)["code"]
    validate_request_body("meta", "POST /{Version}/{Phone-Number-ID}/verify_code", {"code": code})
    post(f"{phone_id}/verify_code", {"code": "000000" if code != "000000" else "111111"})
    post(f"{phone_id}/verify_code", {"code": code})
    post(phone_id, {"pin": "246810"})
    post(f"{phone_id}/register", {"messaging_product": "whatsapp", "pin": "246810"})
    post(phone_id, {"new_display_name": "Nova"})
    post(f"{phone_id}/official_business_account", {"business_website_url": "https://n.example",
         "primary_country_of_operation": "US", "primary_language": "en_US"})  # fmt: skip
    sandbox.advance(120)
    http.get(f"{v25}/{phone_id}", params={"fields": "name_status,new_name_status"}, headers=auth)
    http.get(f"{v25}/{phone_id}/official_business_account", headers=auth)
    held = meta.control_seed_number_elsewhere()
    migrate = {"cc": "1", "phone_number": held["number"][2:], "migrate_phone_number": True,
               "verified_name": "Moving Company"}  # fmt: skip
    validate_request_body("meta", "POST /{Version}/{WABA-ID}/phone_numbers", migrate)
    post(f"{waba_id}/phone_numbers", migrate)  # refused: two-step verification is on
    meta.control_set_old_provider(number=held["number"], two_step=False)
    moved = post(f"{waba_id}/phone_numbers", migrate)["id"]

    hints = {waba_id: "WABA-ID", phone_id: "Phone-Number-ID", moved: "Phone-Number-ID"}
    covered = assert_conforms(sandbox.exchanges, hints=hints)
    assert {
        "POST /{Version}/{WABA-ID}/phone_numbers",
        "POST /{Version}/{Phone-Number-ID}/request_code",
        "POST /{Version}/{Phone-Number-ID}/verify_code",
        "POST /{Version}/{Phone-Number-ID}",
        "GET /{Version}/{Phone-Number-ID}/official_business_account",
        "POST /{Version}/{Phone-Number-ID}/official_business_account",
    } <= covered, covered
