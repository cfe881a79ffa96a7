"""Signed callbacks (§5) checked with the SDK's RequestValidator, and fault envelopes (§7)."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

import pytest
from twilio.request_validator import RequestValidator

API = "/twilio/api/2010-04-01"


@pytest.fixture
def accounts(sandbox, http):
    m = sandbox.twilio.control_seed_master()
    sub = http.post(f"{API}/Accounts.json", auth=(m["account_sid"], m["auth_token"])).json()
    return {"parent_token": m["auth_token"], "sid": sub["sid"], "token": sub["auth_token"]}


def test_status_callback_is_signed_with_the_subaccount_token(sandbox, captured, accounts):
    url = "https://portal.test/twilio/status?tenant=7"
    result = sandbox.twilio.control_emit_status_callback(
        url=url, account_sid=accounts["sid"], message_status="undelivered", error_code=30007
    )
    assert result["status"] == 200
    [request] = captured.requests
    params = dict(parse_qsl(request.content.decode()))
    assert params["AccountSid"] == accounts["sid"]
    assert params["MessageStatus"] == "undelivered" and params["ErrorCode"] == "30007"
    signature = request.headers["X-Twilio-Signature"]
    assert RequestValidator(accounts["token"]).validate(str(request.url), params, signature)
    assert not RequestValidator(accounts["parent_token"]).validate(url, params, signature)


def test_json_callback_carries_body_sha256(sandbox, captured, accounts):
    sandbox.twilio.control_emit_status_callback(
        url="https://portal.test/twilio/json", account_sid=accounts["sid"], as_json=True
    )
    [request] = captured.requests
    assert "bodySHA256=" in str(request.url)
    body = request.content.decode()
    assert json.loads(body)["MessageStatus"] == "delivered"
    validator = RequestValidator(accounts["token"])
    assert validator.validate(str(request.url), body, request.headers["X-Twilio-Signature"])
    assert not validator.validate(
        str(request.url), body + " ", request.headers["X-Twilio-Signature"]
    )


def test_inbound_message_goes_to_the_numbers_sms_url(sandbox, http, captured, accounts):
    number = http.post(
        f"{API}/Accounts/{accounts['sid']}/IncomingPhoneNumbers.json",
        data={"AreaCode": "415", "SmsUrl": "https://portal.test/twilio/inbound"},
        auth=(accounts["sid"], accounts["token"]),
    ).json()
    sandbox.twilio.control_emit_inbound_message(to=number["phone_number"], body="Hi")
    [request] = captured.requests
    assert str(request.url) == "https://portal.test/twilio/inbound"
    params = dict(parse_qsl(request.content.decode()))
    assert params["Body"] == "Hi" and params["To"] == number["phone_number"]
    assert RequestValidator(accounts["token"]).validate(
        str(request.url), params, request.headers["X-Twilio-Signature"]
    )


def test_throttle_fault_is_429_20429(sandbox, http, accounts):
    sandbox.faults.add("throttle", provider="twilio", times=1)
    r = http.get(
        f"{API}/Accounts/{accounts['sid']}.json", auth=(accounts["sid"], accounts["token"])
    )
    assert r.status_code == 429
    assert r.json() == {
        "code": 20429,
        "message": "Too Many Requests",
        "more_info": "https://www.twilio.com/docs/errors/20429",
        "status": 429,
    }


def test_server_error_fault_uses_the_envelope(sandbox, http, accounts):
    sandbox.faults.add("server_error", provider="twilio", times=1)
    r = http.get(
        f"{API}/Accounts/{accounts['sid']}.json", auth=(accounts["sid"], accounts["token"])
    )
    assert r.status_code == 500
    assert set(r.json()) == {"code", "message", "more_info", "status"}


def test_missing_credentials_get_a_basic_challenge(http):
    r = http.get(f"{API}/Accounts.json")
    assert r.status_code == 401
    assert r.json()["code"] == 20003
    assert r.headers["WWW-Authenticate"].startswith("Basic")


def test_control_api_over_http(http, sandbox):
    r = http.post("/_sandbox/twilio/seed_master", json={"friendly_name": "Demo ISV"})
    assert r.status_code == 200
    assert r.json()["account_sid"].startswith("AC")
    state = http.get("/_sandbox/state").json()["twilio"]
    assert state["main_accounts"][0]["friendly_name"] == "Demo ISV"
