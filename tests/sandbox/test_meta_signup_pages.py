"""Meta simulator, Embedded Signup browser pieces: sdk.js, the dialog, its results."""

from __future__ import annotations

import json
import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest

from provisioning.sandbox import Sandbox

APP_ID, SECRET = "1234567890123456", "app-secret-0001"
WWW = "/meta/www/v23.0/dialog/oauth"


@pytest.fixture
def app(sandbox: Sandbox) -> dict:
    return sandbox.meta.control_seed_app(app_id=APP_ID, app_secret=SECRET)


def script_value(html: str, name: str):
    match = re.search(rf"var {name} = (.*?);\n", html)
    assert match, name
    return json.loads(match.group(1))


def submit(http, **form):
    base = {
        "client_id": APP_ID,
        "display": "popup",
        "origin": "http://portal.test",
        "extras": json.dumps({"sessionInfoVersion": "3", "featureType": ""}),
        "business_id": "new",
        "new_business_name": "Acme Ünïcode",
        "waba_id": "new",
        "new_waba_name": "Acme WABA",
        "phone_choice": "new",
        "new_phone_number": "+1 555 777 0001",
        "new_verified_name": "Acme",
        "phone_verified": "on",
        "action": "finish",
    }
    return http.post(f"{WWW}/submit", data={**base, **form})


def test_sdk_js_points_at_the_dialog(http):
    response = http.get("/meta/connect/en_US/sdk.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/javascript")
    assert '"http://sandbox.test/meta/www"' in response.text
    for piece in (
        "FB = {",
        "init:",
        "login:",
        "FB_SDK_LOGIN_RESPONSE",
        "event.origin !== WWW_ORIGIN",
    ):
        assert piece in response.text


def test_dialog_page_has_stable_ids(sandbox, http, app):
    sandbox.meta.control_seed_waba(app_id=APP_ID, business_name="Existing Biz")
    response = http.get(
        WWW,
        params={
            "client_id": APP_ID,
            "config_id": "cfg1",
            "display": "popup",
            "origin": "http://portal.test",
            "extras": json.dumps({"featureType": "whatsapp_business_app_onboarding"}),
        },
    )
    assert response.status_code == 200 and "text/html" in response.headers["content-type"]
    html = response.text
    for element in (
        "step-business", "business-select", "new-business-name", "business-next",
        "business-cancel", "step-waba", "waba-select", "new-waba-name", "waba-next",
        "waba-cancel", "step-phone", "phone-select", "new-phone-number", "new-verified-name",
        "phone-next", "phone-cancel", "step-review", "finish", "review-cancel",
        "trigger-error", "error-kind", "order-select",
    ):  # fmt: skip
        assert f'id="{element}"' in html, element
    assert 'value="biz_app"' in html
    assert "Existing Biz" in unescape(html)
    assert http.get(WWW, params={"client_id": "999"}).status_code == 400


def test_popup_finish_posts_message_and_code_to_the_opener(sandbox, http, app):
    response = submit(http, order="code_first")
    assert response.status_code == 200
    html = response.text
    assert script_value(html, "target") == "http://portal.test"
    assert script_value(html, "order") == "code_first"
    message = json.loads(script_value(html, "message"))  # a JSON *string*, as Meta posts
    assert message["type"] == "WA_EMBEDDED_SIGNUP" and message["event"] == "FINISH"
    data = message["data"]
    auth = json.loads(script_value(html, "auth"))["response"]
    assert auth["status"] == "connected"
    code = auth["authResponse"]["code"]
    token = http.get(
        "/meta/graph/v23.0/oauth/access_token",
        params={"client_id": APP_ID, "client_secret": SECRET, "code": code},
    ).json()["access_token"]
    phone = http.get(
        f"/meta/graph/v23.0/{data['phone_number_id']}",
        params={"fields": "display_phone_number,verified_name,status"},
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    assert phone["display_phone_number"] == "+1 555-777-0001"
    assert phone["status"] == "PENDING"
    assert sandbox.meta.wabas[data["waba_id"]].business_id == data["business_id"]


def test_popup_cancel_and_error_shapes(sandbox, http, app):
    cancel = submit(http, action="cancel", current_step="phone")
    message = json.loads(script_value(cancel.text, "message"))
    assert message == {
        "type": "WA_EMBEDDED_SIGNUP",
        "event": "CANCEL",
        "data": {"current_step": "PHONE_NUMBER_SETUP"},
    }
    assert json.loads(script_value(cancel.text, "auth"))["response"]["authResponse"] is None
    for kind, event in (("ERROR", "ERROR"), ("CANCEL", "CANCEL")):
        page = submit(http, action="error", error_kind=kind, error_message="Boom")
        message = json.loads(script_value(page.text, "message"))
        assert message["event"] == event
        assert message["data"]["error_message"] == "Boom"
        assert {"error_code", "session_id", "timestamp"} <= set(message["data"])
    assert not sandbox.meta.wabas


def test_feature_types(sandbox, http, app):
    only_waba = submit(http, extras=json.dumps({"featureType": "only_waba_sharing"}))
    message = json.loads(script_value(only_waba.text, "message"))
    assert message["event"] == "FINISH_ONLY_WABA" and "phone_number_id" not in message["data"]
    coex = submit(
        http,
        extras=json.dumps({"featureType": "whatsapp_business_app_onboarding"}),
        phone_choice="biz_app",
        new_phone_number="+1 555 777 0002",
    )
    message = json.loads(script_value(coex.text, "message"))
    assert message["event"] == "FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING"
    assert set(message["data"]) == {"waba_id"}
    (phone,) = [p for p in sandbox.meta.phones.values() if p.number == "15557770002"]
    assert phone.is_on_biz_app and phone.status == "CONNECTED"


def test_full_page_variant_redirects_with_code(sandbox, http, app):
    page = http.get(
        "/meta/www/v23.0/dialog/oauth",
        params={"client_id": APP_ID, "redirect_uri": "https://portal.test/cb", "state": "xyz"},
    )
    assert page.status_code == 200
    response = submit(http, display="", redirect_uri="https://portal.test/cb", state="xyz")
    assert response.status_code == 302
    location = urlsplit(response.headers["location"])
    query = parse_qs(location.query)
    assert location.netloc == "portal.test" and query["state"] == ["xyz"]
    exchanged = http.get(
        "/meta/graph/v23.0/oauth/access_token",
        params={
            "client_id": APP_ID,
            "client_secret": SECRET,
            "code": query["code"][0],
            "redirect_uri": "https://portal.test/cb",
        },
    )
    assert exchanged.status_code == 200
    denied = submit(
        http, display="", redirect_uri="https://portal.test/cb", state="s", action="cancel"
    )
    assert parse_qs(urlsplit(denied.headers["location"]).query)["error"] == ["access_denied"]
