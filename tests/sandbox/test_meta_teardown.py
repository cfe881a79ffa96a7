"""Meta teardown in the sandbox: deregister a number, clear its and its WABA's alternate
callbacks, unsubscribe the app, and list whatever still points at a host
(``control_routes_to``). Requests and answers are checked against the Meta spec, as the
conformance tests check them, and the phone node is read by pywa's parser."""

from __future__ import annotations

import pytest
from pywa.types.others import BusinessPhoneNumber, FacebookApplication

from tests.sandbox.openapi import assert_conforms, validate_request_body

APP_ID, SECRET = "1234567890123456", "app-secret-0001"
G = "/meta/graph/v25.0"
PLATFORM = "platform.test"
HOOK = f"https://{PLATFORM}/webhooks/meta"


@pytest.fixture
def customer(sandbox, http, captured):
    """A WABA with two registered numbers: the app subscribed with a WABA override, the
    first number with its own override, all on the platform."""
    meta = sandbox.meta
    meta.control_seed_app(app_id=APP_ID, app_secret=SECRET, webhook_url=HOOK,
                          verify_token=captured.verify_token)  # fmt: skip
    seeded = meta.control_seed_waba(app_id=APP_ID, numbers=2, pin="123456")
    auth = {"Authorization": f"Bearer {seeded['access_token']}"}
    waba, (first, second) = seeded["waba_id"], seeded["phone_number_ids"]
    for phone in (first, second):
        body = {"messaging_product": "whatsapp", "pin": "123456"}
        assert http.post(f"{G}/{phone}/register", json=body, headers=auth).is_success
    override = {"override_callback_uri": f"{HOOK}/waba", "verify_token": captured.verify_token}
    assert http.post(f"{G}/{waba}/subscribed_apps", json=override, headers=auth).is_success
    config = {"override_callback_uri": f"{HOOK}/phone", "verify_token": captured.verify_token}
    body = {"webhook_configuration": config}
    assert http.post(f"{G}/{first}", json=body, headers=auth).is_success
    return {"waba": waba, "first": first, "second": second, "auth": auth}


def kinds(listing: dict, waba: str) -> list[str]:
    entry = listing["wabas"].get(waba) or {"routes": []}
    return sorted(r["kind"] for r in entry["routes"])


def test_routes_to_lists_subscriptions_and_number_overrides(sandbox, customer):
    listing = sandbox.meta.control_routes_to(host=PLATFORM)
    assert listing["routes"] == 2
    assert kinds(listing, customer["waba"]) == ["phone_override", "waba_subscription"]
    entry = listing["wabas"][customer["waba"]]
    subscription = next(r for r in entry["routes"] if r["kind"] == "waba_subscription")
    assert subscription == {"kind": "waba_subscription", "app_id": APP_ID,
                            "url": f"{HOOK}/waba", "override": True}  # fmt: skip
    assert sorted(entry["registered_numbers"]) == sorted([customer["first"], customer["second"]])
    # The app's own callback is the partner's: listed apart from the customers' WABAs.
    assert listing["apps"] == {APP_ID: [{"kind": "app_webhook", "url": HOOK}]}
    assert sandbox.meta.control_routes_to(host="elsewhere.test")["routes"] == 0
    assert sandbox.meta.describe()["routes_by_host"] == {PLATFORM: 2}


def test_each_teardown_call_removes_its_route(sandbox, http, customer):
    waba, first, second, auth = (customer[k] for k in ("waba", "first", "second", "auth"))
    clear = {"webhook_configuration": {"override_callback_uri": ""}}
    validate_request_body("meta", "POST /{Version}/{Phone-Number-ID}", clear)
    for phone in (first, second):
        assert http.post(f"{G}/{phone}/deregister", headers=auth).json() == {"success": True}
    assert http.post(f"{G}/{first}", json=clear, headers=auth).json() == {"success": True}
    read = http.get(f"{G}/{first}", params={"fields": "status,platform_type,webhook_configuration"},
                    headers=auth).json()  # fmt: skip
    phone = BusinessPhoneNumber.from_dict(read)  # pywa reads the node as Meta sends it
    assert phone.status == "DISCONNECTED" and phone.platform_type == "NOT_APPLICABLE"
    assert phone.webhook_configuration == {"whatsapp_business_account": f"{HOOK}/waba",
                                           "application": HOOK}  # fmt: skip
    assert kinds(sandbox.meta.control_routes_to(host=PLATFORM), waba) == ["waba_subscription"]

    # A POST without a body keeps the subscription and drops the WABA's override...
    assert http.post(f"{G}/{waba}/subscribed_apps", headers=auth).is_success
    listed = http.get(f"{G}/{waba}/subscribed_apps", headers=auth).json()["data"]
    app = FacebookApplication.from_dict(listed[0]["whatsapp_business_api_data"])
    assert app.id == APP_ID and "override_callback_uri" not in listed[0]
    route = sandbox.meta.control_routes_to(host=PLATFORM)["wabas"][waba]["routes"]
    assert route == [{"kind": "waba_subscription", "app_id": APP_ID, "url": HOOK,
                      "override": False}]  # fmt: skip
    # ...and DELETE unsubscribes: nothing of the customer points at the platform any more.
    assert http.delete(f"{G}/{waba}/subscribed_apps", headers=auth).json() == {"success": True}
    assert http.get(f"{G}/{waba}/subscribed_apps", headers=auth).json() == {"data": []}
    listing = sandbox.meta.control_routes_to(host=PLATFORM)
    assert listing["routes"] == 0 and listing["wabas"] == {}
    assert not any(sandbox.meta.phones[p].registered for p in (first, second))

    hints = {waba: "WABA-ID", first: "Phone-Number-ID", second: "Phone-Number-ID"}
    covered = assert_conforms(sandbox.exchanges, hints=hints)
    assert {
        "POST /{Version}/{Phone-Number-ID}/deregister",
        "POST /{Version}/{Phone-Number-ID}",
        "DELETE /{Version}/{WABA-ID}/subscribed_apps",
    } <= covered, covered


def test_an_override_left_after_unsubscribing_is_still_listed(sandbox, http, customer, captured):
    waba, first, auth = customer["waba"], customer["first"], customer["auth"]
    assert http.delete(f"{G}/{waba}/subscribed_apps", headers=auth).is_success
    routes = sandbox.meta.control_routes_to(host=PLATFORM)["wabas"][waba]["routes"]
    assert routes == [{"kind": "phone_override", "phone_number_id": first,
                       "phone_number": sandbox.meta.phones[first].number, "registered": True,
                       "url": f"{HOOK}/phone", "delivering": False}]  # fmt: skip
    # Not delivering: a customer's message reaches no app...
    sent = len(captured.requests)
    assert sandbox.meta.control_inbound_message(phone_number_id=first)["sent"] == []
    assert len(captured.requests) == sent
    # ...but the override would route again on a new subscription: it is cleared the same way.
    clear = {"webhook_configuration": {"override_callback_uri": ""}}
    assert http.post(f"{G}/{first}", json=clear, headers=auth).is_success
    assert sandbox.meta.control_routes_to(host=PLATFORM)["routes"] == 0


def test_routes_to_over_the_control_api_and_in_the_state(http, customer):
    listing = http.post("/_sandbox/meta/routes_to", json={"host": PLATFORM}).json()
    assert listing["routes"] == 2 and set(listing["wabas"]) == {customer["waba"]}
    state = http.get("/_sandbox/state").json()["meta"]
    assert state["routes_by_host"] == {PLATFORM: 2}
