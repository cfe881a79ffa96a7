"""WhatsApp Senders v2 (§3): JSON create -> 202, lifecycle, OTP, WABA rules, list, quality."""

from __future__ import annotations

import pytest

API = "/twilio/api/2010-04-01"
SENDERS = "/twilio/messaging/v2/Channels/Senders"


@pytest.fixture
def master(sandbox):
    m = sandbox.twilio.control_seed_master()
    return (m["account_sid"], m["auth_token"])


@pytest.fixture
def sub(http, master):
    body = http.post(f"{API}/Accounts.json", data={"FriendlyName": "Acme"}, auth=master).json()
    return {"sid": body["sid"], "auth": (body["sid"], body["auth_token"])}


def create(http, sub, phone="+15557654321", waba="104233912345678", **extra):
    body = {
        "sender_id": f"whatsapp:{phone}",
        "configuration": {"waba_id": waba},
        "profile": {"name": "Acme Dental", "emails": ["hi@acme.test"]},
        "webhook": {"callback_url": "https://portal.test/wa", "callback_method": "POST"},
    } | extra
    return http.post(SENDERS, json=body, auth=sub["auth"])


def test_create_is_202_creating_then_pending_verification_and_otp(sandbox, http, sub):
    r = create(http, sub)
    assert r.status_code == 202
    sender = r.json()
    assert sender["status"] == "CREATING"
    assert sender["sid"].startswith("XE")
    assert sender["url"].endswith(f"/twilio/messaging/v2/Channels/Senders/{sender['sid']}")
    assert sender["profile"]["emails"] == [{"email": "hi@acme.test"}]
    url = f"{SENDERS}/{sender['sid']}"

    sandbox.advance(1)
    assert http.get(url, auth=sub["auth"]).json()["status"] == "PENDING_VERIFICATION"
    otp = sandbox.twilio.control_get_sender_otp(sender_sid=sender["sid"])["otp"]
    assert len(otp) == 6

    wrong = http.post(
        url, json={"configuration": {"verification_code": "000000"}}, auth=sub["auth"]
    )
    assert wrong.status_code == 202 and wrong.json()["status"] == "PENDING_VERIFICATION"
    right = http.post(url, json={"configuration": {"verification_code": otp}}, auth=sub["auth"])
    assert right.status_code == 202 and right.json()["status"] == "VERIFYING"
    assert right.json()["configuration"]["verification_code"] is None  # never echoed
    sandbox.advance(1)
    online = http.get(url, auth=sub["auth"]).json()
    assert online["status"] == "ONLINE"
    assert online["properties"]["quality_rating"] and online["properties"]["messaging_limit"]


def test_twilio_number_needs_no_otp(sandbox, http, sub):
    number = http.post(
        f"{API}/Accounts/{sub['sid']}/IncomingPhoneNumbers.json",
        data={"AreaCode": "415"},
        auth=sub["auth"],
    ).json()
    sender = create(http, sub, phone=number["phone_number"]).json()
    sandbox.advance(1)
    assert http.get(f"{SENDERS}/{sender['sid']}", auth=sub["auth"]).json()["status"] == "ONLINE"


def test_offline_reasons_quality_and_limit_from_controls(sandbox, http, sub):
    sender = create(http, sub).json()
    twilio = sandbox.twilio
    twilio.control_set_sender_status(
        sender_sid=sender["sid"],
        status="OFFLINE",
        offline_reasons=[{"code": 30008, "message": "Unknown error"}],
    )
    body = http.get(f"{SENDERS}/{sender['sid']}", auth=sub["auth"]).json()
    assert body["status"] == "OFFLINE"
    assert body["offline_reasons"][0]["code"] == "30008"
    twilio.control_set_sender_status(sender_sid=sender["sid"], status="ONLINE")
    twilio.control_set_sender_quality(sender_sid=sender["sid"], quality_rating="LOW")
    twilio.control_set_sender_limit(sender_sid=sender["sid"], messaging_limit="10K Customers/24hr")
    props = http.get(f"{SENDERS}/{sender['sid']}", auth=sub["auth"]).json()["properties"]
    assert props == {"quality_rating": "LOW", "messaging_limit": "10K Customers/24hr"}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (
            {
                "sender_id": "whatsapp:5557654321",
                "profile": {"name": "A"},
                "configuration": {"waba_id": "1"},
            },
            63107,
        ),
        ({"sender_id": "whatsapp:+15557654321", "configuration": {"waba_id": "1"}}, 63100),
        (
            {
                "sender_id": "whatsapp:+15557654321",
                "profile": {"name": "A"},
                "configuration": {"waba_id": "999000111"},
            },
            63101,
        ),
    ],
)
def test_create_errors(http, sub, body, code):
    r = http.post(SENDERS, json=body, auth=sub["auth"])
    assert r.status_code == 400
    assert r.json()["code"] == code
    assert r.json()["more_info"] == f"https://www.twilio.com/docs/errors/{code}"


def test_empty_body_is_63100(http, sub):
    r = http.post(
        SENDERS, content=b"", headers={"Content-Type": "application/json"}, auth=sub["auth"]
    )
    assert (r.status_code, r.json()["code"]) == (400, 63100)


def test_second_waba_is_63102_and_unshared_waba_63101(sandbox, http, sub):
    assert create(http, sub, waba="111").status_code == 202
    r = create(http, sub, phone="+15557650000", waba="222")
    assert r.json()["code"] == 63102
    sandbox.twilio.control_unshare_waba(waba_id="333")
    other = http.post(f"{API}/Accounts.json", auth=sandbox_master(sandbox)).json()
    r = create(http, {"auth": (other["sid"], other["auth_token"])}, waba="333")
    assert r.json()["code"] == 63101


def sandbox_master(sandbox):
    m = sandbox.twilio.control_seed_master()
    return (m["account_sid"], m["auth_token"])


def test_list_requires_channel_and_pages(http, sub):
    r = http.get(SENDERS, auth=sub["auth"])
    assert r.status_code == 400
    for i in range(3):
        create(http, sub, phone=f"+1555765000{i}")
    page = http.get(SENDERS, params={"Channel": "whatsapp", "PageSize": 2}, auth=sub["auth"])
    body = page.json()
    assert len(body["senders"]) == 2 and body["meta"]["key"] == "senders"
    nxt = body["meta"]["next_page_url"]
    assert nxt.startswith("http://sandbox.test/twilio/messaging/v2/Channels/Senders?")
    rest = http.get(nxt.removeprefix("http://sandbox.test"), auth=sub["auth"]).json()
    assert len(rest["senders"]) == 1 and rest["meta"]["next_page_url"] is None


def test_parent_credentials_do_not_see_subaccount_senders(http, master, sub):
    sender = create(http, sub).json()
    r = http.get(f"{SENDERS}/{sender['sid']}", auth=master)
    assert (r.status_code, r.json()["code"]) == (404, 20404)
    listed = http.get(SENDERS, params={"Channel": "whatsapp"}, auth=master).json()
    assert listed["senders"] == []


def test_profile_update_and_delete(sandbox, http, sub):
    number = http.post(
        f"{API}/Accounts/{sub['sid']}/IncomingPhoneNumbers.json",
        data={"AreaCode": "415"},
        auth=sub["auth"],
    ).json()
    sender = create(http, sub, phone=number["phone_number"]).json()
    sandbox.advance(1)
    url = f"{SENDERS}/{sender['sid']}"
    r = http.post(url, json={"profile": {"about": "Dentists"}}, auth=sub["auth"])
    assert r.json()["status"] == "ONLINE:UPDATING"
    assert r.json()["profile"]["name"] == "Acme Dental"
    sandbox.advance(1)
    assert http.get(url, auth=sub["auth"]).json()["status"] == "ONLINE"
    assert http.delete(url, auth=sub["auth"]).status_code == 204
    assert http.get(url, auth=sub["auth"]).status_code == 404


def test_seed_subaccounts_for_fleets(sandbox, http):
    fleet = sandbox.twilio.control_seed_subaccounts(count=3, senders_per_account=2)
    assert len(fleet) == 3
    first = fleet[0]
    listed = http.get(
        SENDERS, params={"Channel": "whatsapp"}, auth=(first["account_sid"], first["auth_token"])
    ).json()
    assert {s["sid"] for s in listed["senders"]} == set(first["senders"])
    assert all(s["status"] == "ONLINE" for s in listed["senders"])


def test_account_type_is_never_null_and_compliance_is_null(http, sub, master):
    # twilio_messaging_v2: account_type is ISV | ISVSubAccount ("" clears, omitted keeps);
    # Senders API page: "For WhatsApp senders, the Compliance property is set to null".
    sender = create(http, sub).json()
    assert sender["configuration"]["account_type"] == "ISVSubAccount"
    assert sender["compliance"] is None
    url = f"{SENDERS}/{sender['sid']}"
    moved = http.post(url, json={"configuration": {"account_type": "ISV"}}, auth=sub["auth"])
    assert moved.json()["configuration"]["account_type"] == "ISV"
    kept = http.post(url, json={"profile": {"about": "Hi"}}, auth=sub["auth"])
    assert kept.json()["configuration"]["account_type"] == "ISV"
    cleared = http.post(url, json={"configuration": {"account_type": ""}}, auth=sub["auth"])
    assert cleared.json()["configuration"]["account_type"] == "ISVSubAccount"
    main = {"auth": master}
    own = create(http, main, phone="+15557650000", waba="104233912345679").json()
    assert own["configuration"]["account_type"] == "ISV"
