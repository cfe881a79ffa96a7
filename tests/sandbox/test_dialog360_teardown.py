"""360dialog teardown in the sandbox: clear a number's (and its WABA's) webhooks, revoke
the channel's API keys, and list whatever still receives messages on a host
(``control_routes_to``). Responses are checked with the fact sheet's shapes, as the
360dialog conformance test checks them."""

from __future__ import annotations

import pytest

from tests.sandbox.test_dialog360_conformance import check

API = "/dialog360/hub/api/v2"
WABA = "/dialog360/waba"
PID = "t34rd0wnPA"
PLATFORM = "platform.test"


@pytest.fixture
def channel(sandbox, http):
    """A running channel with a live key, its number's webhook, two multi-webhook
    destinations and the WABA's webhook on the platform (one destination elsewhere)."""
    sim = sandbox.dialog360
    sim.control_seed_partner(
        partner_id=PID, api_key="pk", webhook_url=f"https://{PLATFORM}/webhooks/360dialog/partner"
    )
    seeded = sim.control_seed_channels(partner_id=PID, name="Acme")
    chid = seeded["channel_ids"][0]
    keys = f"{API}/partners/{PID}/channels/{chid}/api_keys"
    key = http.post(keys, headers={"X-API-Key": "pk"}).json()["api_key"]
    d360 = {"D360-API-KEY": key}
    hook = f"https://{PLATFORM}/webhooks/360dialog/messages"
    assert http.post(f"{WABA}/v1/configs/webhook", headers=d360, json={"url": hook}).is_success
    assert http.post(
        f"{WABA}/multi_webhook",
        headers=d360,
        json={
            "enabled": True,
            "destinations": [
                {"name": "copy", "url": f"https://{PLATFORM}/webhooks/360dialog/copy"},
                {"name": "crm", "url": "https://crm.elsewhere.test/wa"},
            ],
        },
    ).is_success
    assert http.post(f"{WABA}/waba_webhook", headers=d360, json={"url": hook}).is_success
    return {"id": chid, "client_id": seeded["client_id"], "keys": keys, "d360": d360}


def kinds(listing: dict, client_id: str) -> list[str]:
    entry = listing["clients"].get(client_id) or {"routes": []}
    return sorted(r["kind"] for r in entry["routes"])


def test_routes_to_lists_the_numbers_and_wabas_webhooks_per_client(sandbox, channel):
    listing = sandbox.dialog360.control_routes_to(host=PLATFORM)
    assert listing["routes"] == 3
    assert kinds(listing, channel["client_id"]) == [
        "multi_webhook",
        "phone_webhook",
        "waba_webhook",
    ]
    phone = next(
        r
        for r in listing["clients"][channel["client_id"]]["routes"]
        if r["kind"] == "phone_webhook"
    )
    assert phone["channel_id"] == channel["id"] and phone["active_api_keys"] == 1
    # The partner's own webhook is hub-wide: listed apart from the clients.
    assert listing["partners"] == {
        PID: [{"kind": "webhook_url", "url": f"https://{PLATFORM}/webhooks/360dialog/partner"}]
    }
    elsewhere = sandbox.dialog360.control_routes_to(host="crm.elsewhere.test")
    assert elsewhere["routes"] == 1 and elsewhere["partners"] == {}


def test_clearing_the_webhooks_then_revoking_the_key_leaves_nothing(
    sandbox, http, channel, captured
):
    d360 = channel["d360"]
    cleared = http.post(f"{WABA}/v1/configs/webhook", headers=d360, json={"url": ""})
    assert cleared.json() == {"url": None, "headers": {}}
    assert http.get(f"{WABA}/v1/configs/webhook", headers=d360).json()["url"] is None
    waba = http.post(f"{WABA}/waba_webhook", headers=d360, json={"url": None})
    assert waba.json() == {"url": None, "headers": {}, "override_all": False}
    assert http.post(f"{WABA}/multi_webhook", headers=d360, json={"enabled": False}).is_success
    deleted = http.delete(channel["keys"], headers={"X-API-Key": "pk"})
    assert deleted.status_code == 200 and deleted.json() == {}

    assert http.get(f"{WABA}/v1/configs/webhook", headers=d360).status_code == 401
    assert http.get(channel["keys"], headers={"X-API-Key": "pk"}).json() == {"api_keys": []}
    listing = sandbox.dialog360.control_routes_to(host=PLATFORM)
    assert listing["routes"] == 0 and listing["clients"] == {}
    assert PLATFORM not in sandbox.dialog360.describe()["routes_by_host"]
    # A customer's message goes nowhere now.
    sent = len(captured.requests)
    assert sandbox.dialog360.control_inbound_message(channel_id=channel["id"])["deliveries"] == []
    assert len(captured.requests) == sent
    assert {check(e) for e in sandbox.exchanges} >= {r"^/waba/v1/configs/webhook$"}


def test_revoking_the_key_first_strands_the_webhook(sandbox, http, channel, captured):
    http.delete(channel["keys"], headers={"X-API-Key": "pk"})
    # The number still sends its messages to the platform...
    delivered = sandbox.dialog360.control_inbound_message(channel_id=channel["id"])
    assert delivered["deliveries"] == [200, 200, 200]  # the number's, then two copies
    assert [r.url.host for r in captured.requests[-3:]] == [
        PLATFORM,
        PLATFORM,
        "crm.elsewhere.test",
    ]
    listing = sandbox.dialog360.control_routes_to(host=PLATFORM)
    routes = listing["clients"][channel["client_id"]]["routes"]
    assert {r["active_api_keys"] for r in routes if "active_api_keys" in r} == {0}
    # ...and nothing the partner holds can clear it any more.
    refused = http.post(f"{WABA}/v1/configs/webhook", headers=channel["d360"], json={"url": ""})
    assert refused.status_code == 401
    for exchange in sandbox.exchanges:
        check(exchange)


def test_clearing_needs_the_url_field(http, channel):
    response = http.post(f"{WABA}/v1/configs/webhook", headers=channel["d360"], json={})
    assert response.status_code == 400 and set(response.json()) == {"error"}
    still = http.get(f"{WABA}/v1/configs/webhook", headers=channel["d360"]).json()
    assert still["url"] == f"https://{PLATFORM}/webhooks/360dialog/messages"


def test_routes_to_over_the_control_api_and_in_the_state(http, channel):
    listing = http.post("/_sandbox/dialog360/routes_to", json={"host": PLATFORM}).json()
    assert listing["routes"] == 3 and set(listing["clients"]) == {channel["client_id"]}
    state = http.get("/_sandbox/state").json()["dialog360"]
    assert state["routes_by_host"] == {PLATFORM: 3, "crm.elsewhere.test": 1}
