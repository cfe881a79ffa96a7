"""Twilio teardown in the sandbox: release a number, delete a sender, close a subaccount,
and the listing of whatever still calls the platform (``control_routes_to``).

Every response is checked against the vendored specs; the SDK sees a closed account's
credentials refused with 20005.
"""

from __future__ import annotations

import json

import pytest
from twilio.base.exceptions import TwilioRestException

from provisioning.twilio.api import make_client
from tests.sandbox.openapi import assert_conforms

API = "/twilio/api/2010-04-01"
MSG = "/twilio/messaging/v1"
TH = "/twilio/trusthub/v1"
EV = "/twilio/events/v1"
SENDERS = "/twilio/messaging/v2/Channels/Senders"
PLATFORM = "platform.test"
SECONDARY_POLICY = "RNdfbf3fae0e1107f8aded0e7cead80bf5"


def ok(response, status=200):
    assert response.status_code == status, response.text
    return response.json() if response.content else None


@pytest.fixture
def customer(sandbox, http):
    master = sandbox.twilio.control_seed_master()
    parent = (master["account_sid"], master["auth_token"])
    sub = ok(http.post(f"{API}/Accounts.json", data={"FriendlyName": "Acme"}, auth=parent), 201)
    return {
        "sid": sub["sid"],
        "token": sub["auth_token"],
        "auth": (sub["sid"], sub["auth_token"]),
        "parent": parent,
        "acc": f"{API}/Accounts/{sub['sid']}",
    }


@pytest.fixture
def wired(sandbox, http, customer):
    """A customer with everything pointing at the platform: a number, a sender, a service,
    an Event Streams sink and a customer profile (and one URL on another host)."""
    auth = customer["auth"]
    number = ok(
        http.post(
            f"{customer['acc']}/IncomingPhoneNumbers.json",
            data={
                "AreaCode": "415",
                "SmsUrl": f"https://{PLATFORM}/twilio/sms",
                "StatusCallback": f"https://{PLATFORM}/twilio/status",
                "VoiceUrl": "https://voice.elsewhere.test/answer",
            },
            auth=auth,
        ),
        201,
    )
    sender = ok(
        http.post(
            SENDERS,
            json={
                "sender_id": f"whatsapp:{number['phone_number']}",
                "configuration": {"waba_id": "104233912345678"},
                "profile": {"name": "Acme"},
                "webhook": {
                    "callback_url": f"https://{PLATFORM}/webhooks/twilio/messages",
                    "status_callback_url": f"https://{PLATFORM}/webhooks/twilio/status",
                },
            },
            auth=auth,
        ),
        202,
    )
    service = ok(
        http.post(
            f"{MSG}/Services",
            data={"FriendlyName": "Acme", "StatusCallback": f"https://{PLATFORM}/twilio/status"},
            auth=auth,
        ),
        201,
    )
    sink = ok(
        http.post(
            f"{EV}/Sinks",
            data={
                "Description": "a2p",
                "SinkType": "webhook",
                "SinkConfiguration": json.dumps(
                    {"destination": f"https://{PLATFORM}/webhooks/twilio/events", "method": "POST"}
                ),
            },
            auth=auth,
        ),
        201,
    )
    profile = ok(
        http.post(
            f"{TH}/CustomerProfiles",
            data={
                "FriendlyName": "Acme",
                "Email": "a@acme.test",
                "PolicySid": SECONDARY_POLICY,
                "StatusCallback": f"https://{PLATFORM}/twilio/trusthub",
            },
            auth=auth,
        ),
        201,
    )
    return {
        "number": number,
        "sender": sender,
        "service": service,
        "sink": sink,
        "profile": profile,
    }


def routes(sandbox, **params) -> dict:
    return sandbox.twilio.control_routes_to(host=PLATFORM, **params)


def kinds(listing: dict, account_sid: str) -> list[tuple[str, str]]:
    entry = listing["accounts"].get(account_sid) or {"routes": []}
    return sorted((r["kind"], r["field"]) for r in entry["routes"])


def test_routes_to_lists_everything_that_calls_the_platform(sandbox, customer, wired):
    listing = routes(sandbox)
    assert listing["routes"] == 7
    assert kinds(listing, customer["sid"]) == [
        ("event_sink", "destination"),
        ("incoming_phone_number", "sms_url"),
        ("incoming_phone_number", "status_callback"),
        ("messaging_service", "status_callback"),
        ("trusthub_bundle", "status_callback"),
        ("whatsapp_sender", "callback_url"),
        ("whatsapp_sender", "status_callback_url"),
    ]  # and not the voice URL: it is on another host
    assert listing["accounts"][customer["sid"]]["status"] == "active"
    elsewhere = sandbox.twilio.control_routes_to(host="voice.elsewhere.test")
    assert [r["field"] for r in elsewhere["accounts"][customer["sid"]]["routes"]] == ["voice_url"]
    # host:port matches the port too; no host lists every URL
    assert sandbox.twilio.control_routes_to(host=f"{PLATFORM}:8443")["routes"] == 0
    assert sandbox.twilio.control_routes_to()["routes"] == 8


def test_a_full_teardown_leaves_nothing_routing_to_the_platform(sandbox, http, customer, wired):
    auth, acc = customer["auth"], customer["acc"]
    number = wired["number"]
    ok(http.delete(f"{SENDERS}/{wired['sender']['sid']}", auth=auth), 204)
    ok(http.delete(f"{MSG}/Services/{wired['service']['sid']}", auth=auth), 204)
    ok(http.delete(f"{EV}/Sinks/{wired['sink']['sid']}", auth=auth), 204)
    ok(http.delete(f"{TH}/CustomerProfiles/{wired['profile']['sid']}", auth=auth), 204)
    ok(http.delete(f"{acc}/IncomingPhoneNumbers/{number['sid']}.json", auth=auth), 204)
    assert sandbox.deliver_text(number["phone_number"], "code 123456", "SMS") is False
    closed = ok(http.post(f"{acc}.json", data={"Status": "closed"}, auth=customer["parent"]))
    assert closed["status"] == "closed"

    assert routes(sandbox)["routes"] == 0
    assert routes(sandbox, include_closed=True)["routes"] == 0
    assert sandbox.twilio.describe()["routes_by_host"] == {}
    covered = assert_conforms(sandbox.exchanges)
    assert {
        "DELETE /2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers/{Sid}.json",
        "POST /2010-04-01/Accounts/{Sid}.json",
    } <= set(covered)


def test_released_numbers_are_gone_and_can_be_bought_again(sandbox, http, customer, wired):
    acc, number = customer["acc"], wired["number"]
    ok(http.delete(f"{acc}/IncomingPhoneNumbers/{number['sid']}.json", auth=customer["auth"]), 204)
    r = http.get(f"{acc}/IncomingPhoneNumbers/{number['sid']}.json", auth=customer["auth"])
    assert r.status_code == 404 and r.json()["code"] == 20404
    assert kinds(routes(sandbox), customer["sid"]).count(("incoming_phone_number", "sms_url")) == 0
    again = http.post(
        f"{acc}/IncomingPhoneNumbers.json",
        data={"PhoneNumber": number["phone_number"]},
        auth=customer["auth"],
    )
    assert again.status_code == 201 and again.json()["sid"] != number["sid"]
    assert again.json()["sms_url"] is None  # a new purchase: nothing routes anywhere
    assert_conforms(sandbox.exchanges)


def test_a_deleted_sender_is_gone_and_routes_nothing(sandbox, http, customer, wired):
    sid = wired["sender"]["sid"]
    ok(http.delete(f"{SENDERS}/{sid}", auth=customer["auth"]), 204)
    r = http.get(f"{SENDERS}/{sid}", auth=customer["auth"])
    assert r.status_code == 404 and r.json()["code"] == 20404
    listed = ok(http.get(SENDERS, params={"Channel": "whatsapp"}, auth=customer["auth"]))
    assert listed["senders"] == []
    assert not [k for k in kinds(routes(sandbox), customer["sid"]) if k[0] == "whatsapp_sender"]
    with pytest.raises(KeyError):
        sandbox.twilio.control_emit_inbound_message(to=wired["sender"]["sender_id"])


def test_a_closed_subaccount_refuses_its_credentials_with_20005(sandbox, http, customer, wired):
    acc, auth, parent = customer["acc"], customer["auth"], customer["parent"]
    # Only the parent changes a subaccount's status.
    r = http.post(f"{acc}.json", data={"Status": "closed"}, auth=auth)
    assert r.status_code == 403 and r.json()["code"] == 20403
    sandbox.deliver_text(wired["number"]["phone_number"], "code 123456", "SMS")

    assert (
        ok(http.post(f"{acc}.json", data={"Status": "closed"}, auth=parent))["status"] == "closed"
    )
    # Closing again changes nothing; reopening is refused.
    assert (
        ok(http.post(f"{acc}.json", data={"Status": "closed"}, auth=parent))["status"] == "closed"
    )
    r = http.post(f"{acc}.json", data={"Status": "active"}, auth=parent)
    assert r.status_code == 400 and r.json()["code"] == 21479

    for path in (f"{acc}.json", f"{acc}/IncomingPhoneNumbers.json"):
        r = http.get(path, auth=auth)
        assert r.status_code == 401 and r.json()["code"] == 20005, path
    r = http.get(SENDERS, params={"Channel": "whatsapp"}, auth=auth)
    assert r.status_code == 401 and r.json()["code"] == 20005
    # The parent still reads the account and its history, but acts on nothing in it.
    assert ok(http.get(f"{acc}.json", auth=parent))["status"] == "closed"
    history = ok(http.get(f"{acc}/Messages.json", auth=parent))["messages"]
    assert [m["body"] for m in history] == ["code 123456"]
    r = http.get(f"{acc}/IncomingPhoneNumbers.json", auth=parent)
    assert r.status_code == 401 and r.json()["code"] == 20005
    r = http.delete(f"{acc}/Messages/{history[0]['sid']}.json", auth=parent)
    assert r.status_code == 401 and r.json()["code"] == 20005

    client = make_client(
        *auth, base_url=f"{sandbox.base_url}/twilio", transport=sandbox.transport()
    )
    with pytest.raises(TwilioRestException) as refused:
        client.api.v2010.account.fetch()
    assert refused.value.code == 20005
    assert_conforms(sandbox.exchanges)


def test_closing_before_cleaning_up_leaves_what_only_a_live_account_could_delete(
    sandbox, http, customer, wired
):
    ok(http.post(f"{customer['acc']}.json", data={"Status": "closed"}, auth=customer["parent"]))
    # The closed account routes nothing (its numbers went back to Twilio)...
    assert routes(sandbox)["routes"] == 0
    # ...but its sender, service, sink and profile still name the platform until Twilio
    # deletes the account's data, and its own credentials can no longer remove them.
    left = kinds(routes(sandbox, include_closed=True), customer["sid"])
    assert ("whatsapp_sender", "callback_url") in left
    assert ("incoming_phone_number", "sms_url") not in left
    r = http.delete(f"{SENDERS}/{wired['sender']['sid']}", auth=customer["auth"])
    assert r.status_code == 401 and r.json()["code"] == 20005


def test_routes_to_over_the_control_api_and_in_the_state(sandbox, http, customer, wired):
    listing = ok(http.post("/_sandbox/twilio/routes_to", json={"host": PLATFORM}))
    assert listing["routes"] == 7
    assert set(listing["accounts"]) == {customer["sid"]}
    state = ok(http.get("/_sandbox/state"))["twilio"]
    assert state["routes_by_host"] == {PLATFORM: 7, "voice.elsewhere.test": 1}
