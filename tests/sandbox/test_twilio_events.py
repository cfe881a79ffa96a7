"""Event delivery while other requests change the simulator (the real server is threaded).

The sandbox lets go of its lock while a webhook is on the wire, so another request may
add a subscription or a brand meanwhile. Here the receiving end itself makes that request,
which interleaves the two deterministically.
"""

from __future__ import annotations

import json

import httpx
import pytest

from provisioning.sandbox import Sandbox, SimClock
from tests.sandbox.test_twilio_a2p import EV, MSG, _create, bundles

FROZEN_AT = 1_767_225_600.0
BRAND_REGISTERED = "com.twilio.messaging.compliance.brand-registration.brand-registered"


class Receiver:
    """The platform's end: answers 200 and runs ``during`` once, mid-delivery."""

    def __init__(self) -> None:
        self.events: list[list[dict]] = []
        self.during = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.events.append(json.loads(request.read()))
        if self.during is not None:
            during, self.during = self.during, None
            during()
        return httpx.Response(200)


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
def sandbox(receiver) -> Sandbox:
    return Sandbox(
        seed=77, clock=SimClock(start=FROZEN_AT), outbound_transport=httpx.MockTransport(receiver)
    )


@pytest.fixture
def http(sandbox):
    with httpx.Client(transport=sandbox.transport(), base_url=sandbox.base_url) as client:
        yield client


@pytest.fixture
def sub(sandbox, http):
    master = sandbox.twilio.control_seed_master()
    parent = (master["account_sid"], master["auth_token"])
    account = http.post("/twilio/api/2010-04-01/Accounts.json", auth=parent).json()
    return {
        "sid": account["sid"],
        "auth": (account["sid"], account["auth_token"]),
        "primary": master["primary_customer_profile_sid"],
    }


def subscribe(http, sub) -> str:
    sink = _create(http, sub["auth"], f"{EV}/Sinks", {
        "Description": "a2p", "SinkType": "webhook",
        "SinkConfiguration": json.dumps({"destination": "https://portal.test/events"}),
    })  # fmt: skip
    _create(http, sub["auth"], f"{EV}/Subscriptions", {
        "Description": "a2p", "SinkSid": sink["sid"],
        "Types": [json.dumps({"type": BRAND_REGISTERED, "schema_version": 1})],
    })  # fmt: skip
    return sink["sid"]


def brand(http, sub) -> dict:
    profile, product = bundles(http, sub)
    return _create(http, sub["auth"], f"{MSG}/a2p/BrandRegistrations", {
        "CustomerProfileBundleSid": profile["sid"], "A2PProfileBundleSid": product["sid"],
    })  # fmt: skip


def test_a_subscription_created_during_a_delivery_leaves_the_delivery_whole(
    sandbox, http, sub, receiver
):
    sink = subscribe(http, sub)
    registered = brand(http, sub)
    receiver.during = lambda: _create(http, sub["auth"], f"{EV}/Subscriptions", {
        "Description": "another", "SinkSid": sink,
        "Types": [json.dumps({"type": BRAND_REGISTERED})],
    })  # fmt: skip
    # the control API holds the sandbox lock, as a request from the demo's admin page does
    sandbox.handle_control("POST", ["twilio", "approve_brand"], {"brand_sid": registered["sid"]})
    assert [e[0]["data"]["brandsid"] for e in receiver.events] == [registered["sid"]]
    assert len(sandbox.twilio.subscriptions_store) == 2


def test_a_brand_created_while_the_timeline_approves_another_is_left_for_later(
    sandbox, http, sub, receiver
):
    subscribe(http, sub)
    sandbox.twilio.control_set_timeline(brand_seconds=60)
    first = brand(http, sub)
    profile, product = bundles(http, sub)
    sandbox.clock.advance(60)
    receiver.during = lambda: _create(http, sub["auth"], f"{MSG}/a2p/BrandRegistrations", {
        "CustomerProfileBundleSid": profile["sid"], "A2PProfileBundleSid": product["sid"],
    })  # fmt: skip
    sandbox.tick()
    statuses = {sid: b["status"] for sid, b in sandbox.twilio.brands.items()}
    assert statuses.pop(first["sid"]) == "APPROVED"
    assert list(statuses.values()) == ["PENDING"]  # the new one waits its own 60 seconds
