"""The hub permissions page (Integrated Onboarding), driven with plain HTTP requests."""

from __future__ import annotations

import hashlib
import hmac
import json
import re

import pytest

API = "/dialog360/hub-ui/dashboard/app"
PARTNER_API = "/dialog360/hub/api/v2"
PID = "hUbP4rtnPA"
SECRET = "platform-secret"
RETURN = "https://platform.example/onboarding/360dialog/return"
REDIRECT_RE = re.compile(
    r"^(?P<base>[^?]+)\?client=(?P<client>\w+)&channels=\[(?P<channels>[\w,]*)\]"
)


@pytest.fixture
def partner(sandbox):
    return sandbox.dialog360.control_seed_partner(
        partner_id=PID,
        api_key="pk",
        webhook_url="https://platform.example/webhooks/360dialog",
        webhook_secret=SECRET,
        redirect_url="https://platform.example/default-return",
        brand_name="Acme Platform",
    )


def flow_id(response) -> str:
    match = re.search(r'name="flow" id="flow-id" value="([^"]+)"', response.text)
    assert match, response.text
    return match.group(1)


def screen(response) -> str:
    match = re.search(r'<main id="d360-(\w+)"', response.text)
    assert match, response.text
    return match.group(1)


def post(http, flow, step, **fields):
    data = {"flow": flow, "step": step, **fields}
    return http.post(f"{API}/{PID}/permissions", data=data)


def parse_redirect(location: str) -> dict:
    match = REDIRECT_RE.match(location)
    assert match, location
    revoked = re.search(r"&revoked=\[([\w,]*)\]", location)
    state = re.search(r"&state=([^&]*)", location)
    return {
        "base": match["base"],
        "client": match["client"],
        "channels": match["channels"].split(",") if match["channels"] else [],
        "revoked": revoked.group(1).split(",") if revoked else None,
        "state": state.group(1) if state else None,
    }


def partner_events(captured):
    events = []
    for request in captured.requests:
        if str(request.url) == "https://platform.example/webhooks/360dialog":
            expected = hmac.new(SECRET.encode(), request.content, hashlib.sha256).hexdigest()
            assert hmac.compare_digest(request.headers["x-360dialog-signature"], expected)
            events.append(json.loads(request.content))
    return events


def test_signup_numbers_consent_redirects_with_bracketed_channels(http, sandbox, partner, captured):
    first = http.get(
        f"{API}/{PID}/permissions",
        params={
            "partner": "tenant-42",
            "state": "st ate/1",
            "redirect_url": RETURN,
            "email": "owner@shop.example",
            "name": "Shop Owner",
            "number": "+49 151 1234567",
            "plan_selection": "regular",
            "hosting_type": "onpremise",
        },
    )
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("text/html")
    assert screen(first) == "signup"
    assert 'value="owner@shop.example"' in first.text and "Acme Platform" in first.text
    flow = flow_id(first)

    numbers = post(
        http, flow, "signup", name="Shop Owner", email="owner@shop.example",
        password="pw", terms="1",
    )  # fmt: skip
    assert screen(numbers) == "numbers"  # Partner-Payment hub: no payment page
    assert 'value="+49 151 1234567"' in numbers.text

    consent = http.post(
        f"{API}/{PID}/permissions",
        data={
            "flow": flow,
            "step": "numbers",
            "number": ["+49 151 1234567", "+4915199999999", ""],
            "phone_name": ["Shop", "Shop Support", ""],
        },
    )
    assert screen(consent) == "consent"
    assert "+49151 1234567" not in consent.text and "+491511234567" in consent.text
    assert 'id="api-key-permission"' not in consent.text

    done = post(http, flow, "consent")
    assert done.status_code == 302
    location = done.headers["location"]
    assert "%5B" not in location and "[" in location  # bracketed, unquoted
    redirect = parse_redirect(location)
    assert redirect["base"] == RETURN
    assert redirect["revoked"] is None
    assert redirect["state"] == "st%20ate%2F1"  # echo_state defaults to on
    assert len(redirect["channels"]) == 2 and all(c.endswith("CH") for c in redirect["channels"])

    channels = http.get(
        f"{PARTNER_API}/partners/{PID}/channels",
        headers={"X-API-Key": "pk"},
        params={"filters": json.dumps({"client_id": redirect["client"]}), "sort": "created_at"},
    ).json()["partner_channels"]
    assert [c["id"] for c in channels] == redirect["channels"]
    assert {c["status"] for c in channels} == {"created"}
    assert channels[0]["client"]["partner_payload"] == "tenant-42"
    assert channels[1]["setup_info"]["phone_name"] == "Shop Support"

    events = partner_events(captured)
    assert [e["event"] for e in events] == ["client_created", "channel_created", "channel_created"]
    assert events[0]["data"]["id"] == redirect["client"]
    assert events[1]["data"]["id"] == redirect["channels"][0]
    assert events[1]["data"]["phone_number"] == "+491511234567"
    assert events[1]["data"]["status"] == "created"

    # the flow is spent: replaying the consent is refused
    assert screen(post(http, flow, "consent")) == "error"


def test_direct_payment_hub_shows_payment_and_api_key_permission(http, sandbox, partner):
    sandbox.dialog360.control_configure_partner(partner_id=PID, direct_payment=True)
    flow = flow_id(http.get(f"{API}/{PID}/permissions", params={"redirect_url": RETURN}))
    payment = post(
        http, flow, "signup", name="Direct", email="d@x.example", password="pw", terms="1"
    )
    assert screen(payment) == "payment"
    assert screen(post(http, flow, "payment", plan="regular", card_number="12")) == "payment"
    numbers = post(http, flow, "payment", plan="premium", card_number="4242 4242 4242 4242")
    assert screen(numbers) == "numbers"
    consent = post(http, flow, "numbers", number="+15550001234")
    assert 'id="api-key-permission"' in consent.text
    done = post(http, flow, "consent")  # checkbox left unticked
    channel_id = parse_redirect(done.headers["location"])["channels"][0]
    sandbox.dialog360.control_set_running(channel_id=channel_id)
    response = http.post(
        f"{PARTNER_API}/partners/{PID}/channels/{channel_id}/api_keys", headers={"X-API-Key": "pk"}
    )
    assert response.status_code == 403
    assert response.json()["meta"]["http_code"] == 403


def test_login_regrant_and_revoke_a_number(http, sandbox, partner):
    made = sandbox.dialog360.control_complete_onboarding(
        partner_id=PID, numbers=["+15550000001", "+15550000002"], email="back@x.example"
    )
    keep, drop = made["channel_ids"]
    page = http.get(f"{API}/{PID}/permissions", params={"next": "login", "redirect_url": RETURN})
    assert screen(page) == "login"
    flow = flow_id(page)
    assert screen(post(http, flow, "login", email="nobody@x.example", password="x")) == "login"
    numbers = post(http, flow, "login", email="back@x.example", password="anything")
    assert screen(numbers) == "numbers"
    assert f'id="grant-{keep}"' in numbers.text and f'id="grant-{drop}"' in numbers.text
    consent = post(http, flow, "numbers", grant=keep, number="+15550000003")
    assert "+15550000002" in consent.text  # listed under "access will be removed"
    done = post(http, flow, "consent")
    redirect = parse_redirect(done.headers["location"])
    assert redirect["client"] == made["client_id"]
    assert redirect["channels"][0] == keep and len(redirect["channels"]) == 2
    assert redirect["revoked"] == [drop]
    listed = http.get(f"{PARTNER_API}/partners/{PID}/channels", headers={"X-API-Key": "pk"}).json()
    assert drop not in {c["id"] for c in listed["partner_channels"]}


def test_falls_back_to_partner_redirect_url_and_state_switch(http, sandbox, partner):
    sandbox.dialog360.control_configure_partner(partner_id=PID, echo_state=False)
    flow = flow_id(http.get(f"{API}/{PID}/permissions", params={"state": "abc"}))
    post(http, flow, "signup", name="N", email="n@x.example", password="pw", terms="1")
    post(http, flow, "numbers", number="+15550004444")
    location = post(http, flow, "consent").headers["location"]
    assert location.startswith("https://platform.example/default-return?client=")
    assert "state=" not in location


def test_no_redirect_url_shows_client_facing_error(http, sandbox, partner):
    sandbox.dialog360.control_configure_partner(partner_id=PID, partner_redirect_url=None)
    response = http.get(f"{API}/{PID}/permissions")
    assert response.status_code == 400
    assert screen(response) == "error"
    assert 'id="d360-error-message"' in response.text
    with pytest.raises(ValueError, match="redirect URL"):
        sandbox.dialog360.control_complete_onboarding(partner_id=PID, numbers=["+15550001111"])


def test_unknown_partner_and_form_errors(http, sandbox, partner):
    assert http.get(f"{API}/unknownPA/permissions").status_code == 404
    flow = flow_id(http.get(f"{API}/{PID}/permissions"))
    bad = post(http, flow, "signup", name="", email="x", password="")
    assert bad.status_code == 400 and 'id="form-error"' in bad.text
    post(http, flow, "signup", name="N", email="e@x.example", password="pw", terms="1")
    wrong = post(http, flow, "numbers", number="call me maybe")
    assert screen(wrong) == "numbers" and 'id="form-error"' in wrong.text
    # an email that already has an account must log in instead
    second = flow_id(http.get(f"{API}/{PID}/permissions"))
    post(http, flow, "numbers", number="+15550007777")
    post(http, flow, "consent")
    again = post(http, second, "signup", name="N", email="e@x.example", password="pw", terms="1")
    assert screen(again) == "signup" and "Log in instead" in again.text


def test_number_already_connected_elsewhere_is_refused(http, sandbox, partner):
    sandbox.dialog360.control_complete_onboarding(partner_id=PID, numbers=["+15550008888"])
    flow = flow_id(http.get(f"{API}/{PID}/permissions"))
    post(http, flow, "signup", name="N", email="other@x.example", password="pw", terms="1")
    response = post(http, flow, "numbers", number="+1 555 000 8888")
    assert "already connected" in response.text


def test_connect_client_user_reuses_the_client(http, sandbox, partner):
    made = sandbox.dialog360.control_complete_onboarding(partner_id=PID, numbers=["+15550006666"])
    flow = flow_id(
        http.get(
            f"{API}/{PID}/permissions",
            params={"connect_client_user": "true", "client_id": made["client_id"]},
        )
    )
    numbers = post(
        http, flow, "signup", name="Colleague", email="c@x.example", password="pw", terms="1"
    )
    existing = made["channel_ids"][0]
    assert re.search(rf'id="grant-{existing}"[^>]*checked', numbers.text)
    post(http, flow, "numbers", grant=existing, number="+15550006667")
    redirect = parse_redirect(post(http, flow, "consent").headers["location"])
    assert redirect["client"] == made["client_id"]
    assert redirect["channels"][0] == made["channel_ids"][0] and redirect["revoked"] is None
