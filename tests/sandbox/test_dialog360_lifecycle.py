"""Channel lifecycle over simulated time, partner webhooks in order, signatures, controls."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

API = "/dialog360/hub/api/v2"
PID = "l1feCyclPA"
SECRET = "platform-secret"
HOOK = "https://platform.example/webhooks/360dialog"


@pytest.fixture
def partner(sandbox):
    return sandbox.dialog360.control_seed_partner(
        partner_id=PID,
        api_key="pk",
        webhook_url=HOOK,
        webhook_secret=SECRET,
        redirect_url="https://platform.example/return",
    )


def events(captured):
    """Partner events, each signature checked against the exact raw body."""
    out = []
    for request in captured.requests:
        if str(request.url) != HOOK:
            continue
        expected = hmac.new(SECRET.encode(), request.content, hashlib.sha256).hexdigest()
        assert request.headers["x-360dialog-signature"] == expected
        assert request.headers["content-type"] == "application/json"
        body = json.loads(request.content)
        assert set(body) == {"id", "event", "data"}
        out.append(body)
    return out


def channel(http, chid):
    return http.get(f"{API}/partners/{PID}/channels/{chid}", headers={"X-API-Key": "pk"}).json()


def test_default_lifecycle_in_minutes_with_webhooks_in_order(http, sandbox, partner, captured):
    made = sandbox.dialog360.control_complete_onboarding(partner_id=PID, numbers=["+15550001000"])
    chid = made["channel_ids"][0]
    assert [e["event"] for e in events(captured)] == ["client_created", "channel_created"]

    sandbox.advance(59)
    assert channel(http, chid)["status"] == "created"
    sandbox.advance(1)
    assert channel(http, chid)["status"] == "submitted"
    sandbox.advance(240)
    assert channel(http, chid)["status"] == "ready"
    sandbox.advance(300)
    running = channel(http, chid)
    assert running["status"] == "running"
    assert running["billing_started_at"] is not None

    received = events(captured)
    assert [e["event"] for e in received] == [
        "client_created",
        "channel_created",
        "channel_submitted",
        "channel_ready",
        "channel_running",
    ]
    assert [e["data"]["status"] for e in received[1:]] == [
        "created",
        "submitted",
        "ready",
        "running",
    ]
    assert all(e["data"]["id"] == chid for e in received[1:])
    assert len({e["id"] for e in received}) == len(received)


def test_a_channel_that_takes_days_and_one_big_clock_jump(http, sandbox, partner, captured):
    made = sandbox.dialog360.control_complete_onboarding(partner_id=PID, numbers=["+15550002000"])
    chid = made["channel_ids"][0]
    sandbox.dialog360.control_set_channel_timeline(channel_id=chid, days=3)
    keys = f"{API}/partners/{PID}/channels/{chid}/api_keys"

    sandbox.advance(2 * 86400)
    assert channel(http, chid)["status"] == "ready"
    assert http.post(keys, headers={"X-API-Key": "pk"}).status_code == 400
    sandbox.advance(86400)  # ready came 300 s after signup; running 3 days after that
    assert channel(http, chid)["status"] == "ready"
    sandbox.advance(300)
    assert channel(http, chid)["status"] == "running"
    assert http.post(keys, headers={"X-API-Key": "pk"}).status_code == 201
    assert [e["event"] for e in events(captured)][-3:] == [
        "channel_submitted",
        "channel_ready",
        "channel_running",
    ]


def test_default_timeline_and_hold(http, sandbox, partner):
    sandbox.dialog360.control_set_channel_timeline(submitted=5, ready=5, running=5)
    fast = sandbox.dialog360.control_complete_onboarding(partner_id=PID, numbers=["+15550003000"])
    held = sandbox.dialog360.control_complete_onboarding(
        partner_id=PID, numbers=["+15550003001"], email="held@x.example"
    )
    sandbox.dialog360.control_set_channel_timeline(channel_id=held["channel_ids"][0], hold=True)
    sandbox.advance(15)
    assert channel(http, fast["channel_ids"][0])["status"] == "running"
    sandbox.advance(10 * 86400)
    assert channel(http, held["channel_ids"][0])["status"] == "created"


def test_set_running_sends_skipped_steps_in_order(sandbox, partner, captured):
    made = sandbox.dialog360.control_complete_onboarding(partner_id=PID, numbers=["+15550004000"])
    result = sandbox.dialog360.control_set_running(channel_id=made["channel_ids"][0])
    assert result["status"] == "running"
    assert [e["event"] for e in events(captured)][-3:] == [
        "channel_submitted",
        "channel_ready",
        "channel_running",
    ]
    sandbox.advance(86400)  # nothing further is scheduled
    assert [e["event"] for e in events(captured)][-1] == "channel_running"


def test_open_status_values_are_accepted(http, sandbox, partner):
    chid = sandbox.dialog360.control_seed_channels(partner_id=PID)["channel_ids"][0]
    sandbox.dialog360.control_set_status(channel_id=chid, status="pending_deletion")
    assert channel(http, chid)["status"] == "pending_deletion"


def test_quality_and_limit_show_in_channel_reads(http, sandbox, partner):
    chid = sandbox.dialog360.control_seed_channels(partner_id=PID)["channel_ids"][0]
    sandbox.dialog360.control_set_quality(channel_id=chid, quality_rating="YELLOW")
    sandbox.dialog360.control_set_messaging_limit(channel_id=chid, limit="TIER_10K")
    listed = http.get(
        f"{API}/partners/{PID}/channels",
        headers={"X-API-Key": "pk"},
        params={"filters": json.dumps({"current_quality_rating": "YELLOW"})},
    ).json()["partner_channels"]
    assert [(c["id"], c["current_limit"]) for c in listed] == [(chid, "TIER_10K")]


def test_violation_restriction_and_template_events(sandbox, partner, captured):
    seeded = sandbox.dialog360.control_seed_channels(partner_id=PID)
    chid = seeded["channel_ids"][0]
    sandbox.dialog360.control_account_violation(channel_id=chid, violation_type="SPAM")
    sandbox.dialog360.control_account_restriction(channel_id=chid)
    sandbox.dialog360.control_template_messaging(channel_id=chid, enabled=False)
    sandbox.dialog360.control_template_messaging(channel_id=chid, enabled=True)
    received = events(captured)
    assert [e["event"] for e in received] == [
        "account_violation",
        "account_restriction",
        "template_messaging_disabled",
        "template_messaging_enabled",
    ]
    assert received[0]["data"]["violation_type"] == "SPAM"
    assert received[0]["data"]["phone_number"] == seeded["phone_numbers"][0]
    assert received[1]["data"]["waba_account"]["status"] == "account_restriction"


def test_no_signature_without_secret(sandbox, partner, captured):
    sandbox.dialog360.control_configure_partner(partner_id=PID, webhook_secret=None)
    sandbox.dialog360.control_complete_onboarding(partner_id=PID, numbers=["+15550005000"])
    assert captured.requests
    assert all("x-360dialog-signature" not in r.headers for r in captured.requests)


def test_failed_webhooks_are_retried_on_tick(sandbox, partner, captured):
    captured.status = 503
    sandbox.dialog360.control_complete_onboarding(partner_id=PID, numbers=["+15550006000"])
    failed = sandbox.outbound.for_provider("dialog360")
    assert failed and not any(d.delivered for d in failed)
    captured.status = 200
    sandbox.tick()
    assert all(d.delivered for d in failed)


def test_control_api_over_http(http, sandbox):
    seeded = http.post(
        "/_sandbox/dialog360/seed_partner", json={"partner_id": PID, "api_key": "pk"}
    ).json()
    assert seeded["id"] == PID and seeded["api_key"] == "pk"
    assert seeded["permissions_url"].endswith(f"/dialog360/hub-ui/dashboard/app/{PID}/permissions")
    fleet = http.post(
        "/_sandbox/dialog360/seed_channels", json={"partner_id": PID, "count": 3}
    ).json()
    assert len(fleet["channel_ids"]) == 3
    state = http.get("/_sandbox/state").json()["dialog360"]
    assert state["channels_by_status"] == {"running": 3}
    bad = http.post("/_sandbox/dialog360/set_running", json={"channel_id": "nopeCH"})
    assert bad.status_code == 400


def test_fleet_of_thousands_pages(http, sandbox, partner):
    sandbox.dialog360.control_seed_channels(partner_id=PID, count=2500)
    seen = set()
    offset = 0
    while True:
        body = http.get(
            f"{API}/partners/{PID}/channels",
            headers={"X-API-Key": "pk"},
            params={"limit": 1000, "offset": offset, "sort": "created_at"},
        ).json()
        seen |= {c["id"] for c in body["partner_channels"]}
        offset += body["count"]
        if offset >= body["total"]:
            break
    assert len(seen) == 2500
