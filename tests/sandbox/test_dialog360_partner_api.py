"""360dialog Partner API v2 over HTTP: auth, paging, api_keys, rate limits, envelopes."""

from __future__ import annotations

import json

import pytest

API = "/dialog360/hub/api/v2"
WABA = "/dialog360/waba"
PID = "pAr7n3rPA"
KEY = "partner-api-key-1"


@pytest.fixture
def partner(sandbox):
    return sandbox.dialog360.control_seed_partner(
        partner_id=PID,
        api_key=KEY,
        username="ops@partner.example",
        password="s3cret-pw",
        webhook_url="https://platform.example/webhooks/360dialog",
        webhook_secret="whsec",
        redirect_url="https://platform.example/onboarding/360dialog/return",
    )


@pytest.fixture
def auth():
    return {"X-API-Key": KEY}


def assert_meta_error(response, status):
    assert response.status_code == status
    meta = response.json()["meta"]
    assert meta["success"] is False
    assert meta["http_code"] == status
    assert isinstance(meta["developer_message"], str) and meta["developer_message"]
    assert isinstance(meta["details"], list)
    assert set(meta["error_data"]) == {"code", "message", "real_message", "status"}
    return meta


# -- auth ----------------------------------------------------------------------------------
def test_partner_read_with_api_key(http, partner, auth):
    response = http.get(f"{API}/partners/{PID}", headers=auth)
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == PID
    assert body["webhook_url"] == "https://platform.example/webhooks/360dialog"
    assert body["partner_redirect_url"] == "https://platform.example/onboarding/360dialog/return"
    for field in ("brand_name", "logo_url", "country", "allow_client_to_add_phone_no",
                  "settings", "payment_required", "onboarding_deeplink_add_params",
                  "blocked_new_submission", "billing_system", "publishable_key"):  # fmt: skip
        assert field in body


def test_missing_and_wrong_api_key_are_401_in_meta_envelope(http, partner):
    assert_meta_error(http.get(f"{API}/partners/{PID}"), 401)
    assert_meta_error(http.get(f"{API}/partners/{PID}", headers={"X-API-Key": "nope"}), 401)


def test_other_partner_is_403_permission_denied(http, partner, auth):
    meta = assert_meta_error(http.get(f"{API}/partners/someoneElsePA", headers=auth), 403)
    assert meta["developer_message"] == "Permission denied for partner someoneElsePA"


def test_legacy_token_login_and_expiry(http, sandbox, partner):
    bad = http.post(f"{API}/token", json={"username": "ops@partner.example", "password": "x"})
    assert bad.status_code == 401
    assert set(bad.json()) == {"error", "error_description"}

    response = http.post(
        f"{API}/token", json={"username": "ops@partner.example", "password": "s3cret-pw"}
    )
    assert response.status_code == 200
    token = response.json()
    assert set(token) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert token["expires_in"] == 86400
    header = {"Authorization": f"{token['token_type']} {token['access_token']}"}
    assert http.get(f"{API}/partners/{PID}", headers=header).status_code == 200

    sandbox.advance(86400)
    expired = http.get(f"{API}/partners/{PID}", headers=header)
    assert expired.status_code == 401
    assert expired.json()["error"] == "invalid_token"
    assert "error_description" in expired.json()


def test_legacy_token_can_be_switched_off(http, sandbox, partner):
    sandbox.dialog360.control_configure_partner(partner_id=PID, legacy_token_auth=False)
    response = http.post(
        f"{API}/token", json={"username": "ops@partner.example", "password": "s3cret-pw"}
    )
    assert response.status_code == 403
    assert set(response.json()) == {"error", "error_description"}


def test_patch_partner_sets_webhook_and_redirect(http, partner, auth):
    response = http.patch(
        f"{API}/partners/{PID}",
        headers=auth,
        json={
            "webhook_url": "https://new.example/hook",
            "partner_redirect_url": "https://new.example/r",
        },
    )
    assert response.status_code == 200
    assert response.json()["webhook_url"] == "https://new.example/hook"
    again = http.get(f"{API}/partners/{PID}", headers=auth).json()
    assert again["partner_redirect_url"] == "https://new.example/r"
    assert_meta_error(
        http.patch(f"{API}/partners/{PID}", headers=auth, json={"webhook_url": "ftp://x"}), 400
    )
    hook = http.post(
        f"{API}/partners/{PID}/webhook_url",
        headers=auth,
        json={"webhook_url": "https://h.example/w"},
    )
    assert hook.json() == {"webhook_url": "https://h.example/w"}
    assert http.get(f"{API}/partners/{PID}/webhook_url", headers=auth).json() == hook.json()


# -- listings ------------------------------------------------------------------------------
def test_channels_listing_envelope_paging_filters_sort(http, sandbox, partner, auth):
    first = sandbox.dialog360.control_seed_channels(partner_id=PID, count=3, name="Acme")
    sandbox.advance(10)
    second = sandbox.dialog360.control_seed_channels(
        partner_id=PID, count=2, status="created", name="Globex"
    )
    response = http.get(f"{API}/partners/{PID}/channels", headers=auth)
    body = response.json()
    assert set(body) == {"count", "filters", "sort", "limit", "offset", "total", "partner_channels"}
    assert body["total"] == 5 and body["count"] == 5 and body["limit"] == 20
    assert body["offset"] == 0 and body["filters"] == {}

    paged = http.get(
        f"{API}/partners/{PID}/channels",
        headers=auth,
        params={"limit": 2, "offset": 2, "sort": "created_at"},
    ).json()
    assert paged["count"] == 2 and paged["total"] == 5 and paged["sort"] == ["created_at"]
    ordered = first["channel_ids"] + second["channel_ids"]
    assert [c["id"] for c in paged["partner_channels"]] == ordered[2:4]

    newest = http.get(
        f"{API}/partners/{PID}/channels", headers=auth, params={"sort": "-created_at", "limit": 1}
    ).json()
    assert newest["partner_channels"][0]["client_id"] == second["client_id"]

    running = http.get(
        f"{API}/partners/{PID}/channels",
        headers=auth,
        params={"filters": json.dumps({"status": "running"})},
    ).json()
    assert running["total"] == 3 and running["filters"] == {"status": "running"}
    assert {c["id"] for c in running["partner_channels"]} == set(first["channel_ids"])

    # kairon sends Python-style quotes: ?filters={'id':'<channel_id>'}
    one = http.get(
        f"{API}/partners/{PID}/channels",
        headers=auth,
        params={"filters": "{'id':'" + second["channel_ids"][0] + "'}"},
    ).json()
    assert one["total"] == 1
    channel = one["partner_channels"][0]
    assert channel["setup_info"]["phone_number"] == second["phone_numbers"][0]
    assert channel["waba_account"]["external_id"].isdigit()
    assert channel["client"]["id"] == second["client_id"]

    dotted = http.get(
        f"{API}/partners/{PID}/channels",
        headers=auth,
        params={"filters": json.dumps({"setup_info.phone_number": first["phone_numbers"][1]})},
    ).json()
    assert [c["id"] for c in dotted["partner_channels"]] == [first["channel_ids"][1]]
    search = http.get(
        f"{API}/partners/{PID}/channels", headers=auth, params={"filters": '{"q": "globex"}'}
    ).json()
    assert search["total"] == 2

    assert_meta_error(
        http.get(f"{API}/partners/{PID}/channels", headers=auth, params={"filters": "{oops"}), 400
    )
    assert_meta_error(
        http.get(f"{API}/partners/{PID}/channels", headers=auth, params={"limit": "x"}), 400
    )


def test_channel_object_fields(http, sandbox, partner, auth):
    seeded = sandbox.dialog360.control_seed_channels(partner_id=PID, count=1)
    channel = http.get(
        f"{API}/partners/{PID}/channels/{seeded['channel_ids'][0]}", headers=auth
    ).json()
    for field in ("id", "client_id", "account_mode", "billing_started_at", "terminated_at",
                  "created_at", "current_limit", "current_quality_rating", "status",
                  "has_inbox", "is_oba", "client", "setup_info", "waba_account", "integration",
                  "modified_at", "external_id", "version", "is_migrated",
                  "availability_status", "profile_info", "project"):  # fmt: skip
        assert field in channel
    assert channel["id"].endswith("CH") and channel["client_id"].endswith("CL")
    assert channel["waba_account"]["id"].endswith("WA")
    assert isinstance(channel["current_limit"], str)
    assert channel["status"] == "running"
    assert_meta_error(http.get(f"{API}/partners/{PID}/channels/nopeCH", headers=auth), 404)


def test_clients_listing_and_patch(http, sandbox, partner, auth):
    a = sandbox.dialog360.control_seed_channels(partner_id=PID, name="Acme", partner_payload="t-1")
    sandbox.dialog360.control_seed_channels(partner_id=PID, name="Globex", partner_payload="t-2")
    body = http.get(f"{API}/partners/{PID}/clients", headers=auth).json()
    assert set(body) == {"count", "filters", "sort", "limit", "offset", "total", "clients"}
    assert body["total"] == 2
    filtered = http.get(
        f"{API}/partners/{PID}/clients",
        headers=auth,
        params={"filters": json.dumps({"partner_payload": "t-1"})},
    ).json()
    assert [c["id"] for c in filtered["clients"]] == [a["client_id"]]
    client = filtered["clients"][0]
    for field in ("name", "status", "max_channels", "organisation", "meta_info",
                  "contact_info", "contact_user", "partner_payload", "created_at",
                  "created_by", "modified_at", "modified_by", "suspicious"):  # fmt: skip
        assert field in client
    patched = http.patch(
        f"{API}/partners/{PID}/clients/{a['client_id']}",
        headers=auth,
        json={"partner_payload": "tenant-9", "max_channels": 4},
    ).json()
    assert patched["partner_payload"] == "tenant-9" and patched["max_channels"] == 4
    assert_meta_error(http.get(f"{API}/partners/{PID}/clients/nopeCL", headers=auth), 404)


# -- api keys ------------------------------------------------------------------------------
def test_api_key_201_rate_limit_and_revocation(http, sandbox, partner, auth):
    seeded = sandbox.dialog360.control_seed_channels(partner_id=PID, count=1)
    chid = seeded["channel_ids"][0]
    url = f"{API}/partners/{PID}/channels/{chid}/api_keys"

    first = http.post(url, headers=auth)
    assert first.status_code == 201
    key = first.json()
    assert set(key) == {"id", "address", "api_key", "app_id"}
    assert key["address"] == f"{sandbox.base_url}/dialog360/waba"
    d360 = {"D360-API-KEY": key["api_key"]}
    assert http.get(f"{WABA}/v1/configs/webhook", headers=d360).status_code == 200

    sandbox.advance(29)
    assert_meta_error(http.post(url, headers=auth), 429)

    sandbox.advance(1)
    second = http.post(url, headers=auth)
    assert second.status_code == 201
    assert second.json()["api_key"] != key["api_key"]
    # the new key revokes the old one at once
    meta = assert_meta_error(http.get(f"{WABA}/v1/configs/webhook", headers=d360), 401)
    assert meta["developer_message"] == "Invalid api_key or token expired"
    new = {"D360-API-KEY": second.json()["api_key"]}
    assert http.get(f"{WABA}/v1/configs/webhook", headers=new).status_code == 200

    # the listing names the live key but never shows its value again (shown once, in the 201)
    listed = http.get(url, headers=auth).json()
    assert listed == {"api_keys": [{**second.json(), "api_key": "*" * len(new["D360-API-KEY"])}]}
    assert http.delete(url, headers=auth).status_code == 200
    assert http.get(f"{WABA}/v1/configs/webhook", headers=new).status_code == 401


def test_api_key_refused_until_running(http, sandbox, partner, auth):
    seeded = sandbox.dialog360.control_seed_channels(partner_id=PID, status="ready")
    chid = seeded["channel_ids"][0]
    url = f"{API}/partners/{PID}/channels/{chid}/api_keys"
    meta = assert_meta_error(http.post(url, headers=auth), 400)
    assert "not running" in meta["developer_message"]
    sandbox.dialog360.control_set_running(channel_id=chid)
    assert http.post(url, headers=auth).status_code == 201  # the refusal did not count


def test_revoked_channel_kills_its_key_and_leaves_listing(http, sandbox, partner, auth):
    chid = sandbox.dialog360.control_seed_channels(partner_id=PID)["channel_ids"][0]
    key = http.post(f"{API}/partners/{PID}/channels/{chid}/api_keys", headers=auth).json()
    sandbox.dialog360.control_revoke_channel(channel_id=chid)
    assert (
        http.post(f"{WABA}/messages", headers={"D360-API-KEY": key["api_key"]}).status_code == 401
    )
    assert http.get(f"{API}/partners/{PID}/channels", headers=auth).json()["total"] == 0


# -- balance, waba accounts, templates ---------------------------------------------------------
def test_balance_rate_limit_five_per_thirty_seconds(http, sandbox, partner, auth):
    cid = sandbox.dialog360.control_seed_channels(partner_id=PID)["client_id"]
    url = f"{API}/partners/{PID}/clients/{cid}/info/balance"
    for _ in range(5):
        response = http.get(url, headers=auth, params={"granularity": "DAY"})
        assert response.status_code == 200
    body = response.json()
    assert {"balance", "currency", "last_renewal", "estimated_template_cost", "granularity",
            "usage"} <= set(body)  # fmt: skip
    assert body["granularity"] == "DAY"
    assert_meta_error(http.get(url, headers=auth), 429)
    sandbox.advance(30)
    assert http.get(url, headers=auth).status_code == 200


def test_waba_account_and_partner_templates(http, sandbox, partner, auth):
    seeded = sandbox.dialog360.control_seed_channels(partner_id=PID)
    wid = seeded["waba_account_id"]
    account = http.get(f"{API}/partners/{PID}/waba_accounts/{wid}", headers=auth).json()
    assert account["id"] == wid and account["client_id"] == seeded["client_id"]
    assert account["external_id"].isdigit()
    url = f"{API}/partners/{PID}/waba_accounts/{wid}/waba_templates"
    created = http.post(
        url,
        headers=auth,
        json={
            "name": "order_update",
            "language": "en_US",
            "category": "UTILITY",
            "components": [{"type": "BODY", "text": "Your order {{1}} shipped"}],
        },
    )
    assert created.status_code == 201
    assert created.json()["status"] == "submitted"
    listed = http.get(url, headers=auth).json()
    assert listed["total"] == 1 and listed["waba_templates"][0]["name"] == "order_update"
    bad = http.post(url, headers=auth, json={"name": "Bad Name", "category": "SPAM"})
    assert_meta_error(bad, 400)
    tid = created.json()["id"]
    assert http.delete(f"{url}/{tid}", headers=auth).status_code == 200
    assert http.get(url, headers=auth).json()["total"] == 0


# -- faults and unknown routes ---------------------------------------------------------------
def test_faults_answer_in_meta_envelope(http, sandbox, partner, auth):
    sandbox.faults.add("throttle", provider="dialog360", times=1)
    assert_meta_error(http.get(f"{API}/partners/{PID}", headers=auth), 429)
    sandbox.faults.add("server_error", provider="dialog360", times=1)
    assert_meta_error(http.get(f"{API}/partners/{PID}", headers=auth), 500)
    assert http.get(f"{API}/partners/{PID}", headers=auth).status_code == 200


def test_unknown_route_and_method(http, partner, auth):
    assert_meta_error(http.get(f"{API}/nothing/here", headers=auth), 404)
    assert_meta_error(http.delete(f"{API}/partners/{PID}", headers=auth), 405)
