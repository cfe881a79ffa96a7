"""360dialog templates in the sandbox: the Partner API's shapes and paging, review on the
clock, and the partner event every change sends (signed like the other partner events)."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

API = "/dialog360/hub/api/v2"
PID = "tmplPA"
KEY = {"X-API-Key": "pk"}
SECRET = "platform-secret"
HOOK = "https://platform.example/webhooks/360dialog"
NUMBER_HOOK = "https://platform.example/webhooks/whatsapp/360dialog"
ENVELOPE = {"count", "filters", "limit", "offset", "sort", "total", "waba_templates"}
ITEM = {
    "id", "external_id", "name", "language", "category", "components", "namespace", "status",
    "rejected_reason", "quality_score", "previous_category", "allow_category_change",
    "partner_id", "waba_account_id", "created_at", "modified_at",
}  # fmt: skip


@pytest.fixture
def wid(sandbox):
    sandbox.dialog360.control_seed_partner(
        partner_id=PID, api_key="pk", webhook_url=HOOK, webhook_secret=SECRET
    )
    return sandbox.dialog360.control_seed_channels(partner_id=PID)["waba_account_id"]


def url(wid: str) -> str:
    return f"{API}/partners/{PID}/waba_accounts/{wid}/waba_templates"


def create(http, wid, name="order_update", **fields):
    body = {
        "name": name,
        "language": "en_US",
        "category": "UTILITY",
        "allow_category_change": True,
        "components": [{"type": "BODY", "text": "Your order {{1}} shipped"}],
        **fields,
    }
    return http.post(url(wid), headers=KEY, json=body)


def events(captured):
    """Partner events, each signature checked against the exact raw body."""
    out = []
    for request in captured.requests:
        if str(request.url) != HOOK:
            continue
        expected = hmac.new(SECRET.encode(), request.content, hashlib.sha256).hexdigest()
        assert request.headers["x-360dialog-signature"] == expected
        body = json.loads(request.content)
        assert set(body) == {"id", "event", "data"}
        out.append(body)
    return out


def changes(captured):
    """(name, old status, new status) of every template event."""
    return [
        (t["name"], t["old_status"], t["new_status"])
        for e in events(captured)
        if e["event"] == "waba_template_status_changed"
        for t in [e["data"]["template"]]
    ]


def listed(http, wid, **params):
    return http.get(url(wid), headers=KEY, params=params).json()


def test_creation_answers_the_template_and_the_listing_has_the_real_shape(http, sandbox, wid):
    created = create(http, wid)
    assert created.status_code == 201
    item = created.json()
    assert set(item) == ITEM
    assert (item["status"], item["waba_account_id"], item["partner_id"]) == ("submitted", wid, PID)
    assert item["id"].endswith("TP") and item["external_id"].isdigit()
    assert item["quality_score"]["score"] == "UNKNOWN"
    body = listed(http, wid)
    assert set(body) == ENVELOPE
    assert (body["total"], body["count"], body["waba_templates"]) == (1, 1, [item])
    assert create(http, wid).status_code == 400  # the same name and language again


def test_paging_with_limit_and_offset_reaches_every_template(http, sandbox, wid):
    sandbox.dialog360.control_seed_templates(waba_account_id=wid, count=25)
    seen, offset = [], 0
    while True:
        page = listed(http, wid, limit=10, offset=offset)
        assert (page["limit"], page["offset"], page["total"]) == (10, offset, 25)
        assert page["count"] == len(page["waba_templates"])
        seen += [t["name"] for t in page["waba_templates"]]
        offset += page["count"]
        if offset >= page["total"]:
            break
    assert len(seen) == 25 == len(set(seen))
    assert listed(http, wid, limit=10, offset=30)["waba_templates"] == []


def test_review_approves_on_the_clock_and_tells_the_partner(http, sandbox, wid, captured):
    create(http, wid)
    sandbox.advance(29)
    assert listed(http, wid)["waba_templates"][0]["status"] == "submitted"
    assert changes(captured) == []
    sandbox.advance(1)
    assert listed(http, wid)["waba_templates"][0]["status"] == "approved"
    (event,) = [e for e in events(captured) if e["event"] == "waba_template_status_changed"]
    data = event["data"]
    assert (data["id"], data["partner_id"]) == (wid, PID)
    assert data["external_id"] == sandbox.dialog360.store.wabas[wid].external_id
    assert data["template"]["old_status"] == "submitted"
    assert data["template"]["new_status"] == data["template"]["status"] == "approved"
    assert data["template"]["modified_at"] == "2026-01-01T00:00:30Z"


def test_review_time_is_a_control_and_a_queued_rejection_carries_its_reason(
    http, sandbox, wid, captured
):
    sandbox.dialog360.control_set_template_review(seconds=600)
    sandbox.dialog360.control_reject_template(name="promo", reason="PROMOTIONAL")
    create(http, wid, name="promo")
    create(http, wid, name="fine")
    sandbox.advance(599)
    assert changes(captured) == []
    sandbox.advance(1)
    assert sorted(changes(captured)) == [
        ("fine", "submitted", "approved"),
        ("promo", "submitted", "rejected"),
    ]
    by_name = {t["name"]: t for t in listed(http, wid)["waba_templates"]}
    assert by_name["promo"]["rejected_reason"] == "PROMOTIONAL"
    assert by_name["fine"]["rejected_reason"] is None
    with pytest.raises(ValueError):
        sandbox.dialog360.control_reject_template(name="x", reason="BECAUSE")


def test_pause_disable_and_recategorise_each_send_the_event(http, sandbox, wid, captured):
    sim = sandbox.dialog360
    create(http, wid)
    sandbox.advance(30)
    sim.control_pause_template(name="order_update", waba_account_id=wid)
    sim.control_recategorise_template(
        name="order_update", waba_account_id=wid, category="MARKETING"
    )
    sim.control_disable_template(name="order_update", waba_account_id=wid)
    assert changes(captured) == [
        ("order_update", "submitted", "approved"),
        ("order_update", "approved", "paused"),
        ("order_update", "paused", "paused"),
        ("order_update", "paused", "disabled"),
    ]
    templates = [e["data"]["template"] for e in events(captured)]
    assert templates[1]["quality_score"]["score"] == "RED"
    assert (templates[2]["category"], templates[2]["previous_category"]) == (
        "MARKETING",
        "UTILITY",
    )
    item = listed(http, wid)["waba_templates"][0]
    assert (item["status"], item["category"]) == ("disabled", "MARKETING")
    with pytest.raises(LookupError):
        sim.control_pause_template(name="nope", waba_account_id=wid)


def test_the_number_webhook_gets_metas_own_template_webhooks(http, sandbox, wid, captured):
    sim = sandbox.dialog360
    chid = next(c.id for c in sim.store.channels.values() if c.waba_id == wid)
    key = http.post(f"{API}/partners/{PID}/channels/{chid}/api_keys", headers=KEY).json()
    http.post(
        "/dialog360/waba/v1/configs/webhook",
        headers={"D360-API-KEY": key["api_key"]},
        json={"url": NUMBER_HOOK},
    )
    meta_id = int(create(http, wid).json()["external_id"])
    sandbox.advance(30)
    sim.control_pause_template(name="order_update", waba_account_id=wid)
    forwarded = [json.loads(r.content) for r in captured.requests if str(r.url) == NUMBER_HOOK]
    fields = [(e["entry"][0]["changes"][0]["field"], e["entry"][0]["changes"][0]["value"])
              for e in forwarded]  # fmt: skip
    assert [f for f, _ in fields] == [
        "message_template_status_update",
        "message_template_quality_update",
        "message_template_status_update",
    ]
    assert fields[0][1]["event"] == "APPROVED" and fields[0][1]["message_template_id"] == meta_id
    assert fields[1][1]["new_quality_score"] == "RED"
    assert forwarded[0]["entry"][0]["id"] == sim.store.wabas[wid].external_id


def test_seeding_is_cheap_and_submitted_seeds_are_reviewed(http, sandbox, wid, captured):
    made = sandbox.dialog360.control_seed_templates(waba_account_id=wid, count=2000)
    assert made["count"] == 2000 == len(set(made["template_ids"]))
    assert captured.requests == []  # no webhooks for seeded templates
    pages = [listed(http, wid, limit=1000, offset=o) for o in (0, 1000)]
    assert [p["count"] for p in pages] == [1000, 1000]
    assert {t["status"] for p in pages for t in p["waba_templates"]} == {"approved"}
    sandbox.dialog360.control_seed_templates(
        waba_account_id=wid, count=2, status="submitted", prefix="later"
    )
    sandbox.advance(30)
    assert sorted(n for n, _, _ in changes(captured)) == ["later_02000", "later_02001"]


def test_a_malformed_item_is_served_as_it_is(http, sandbox, wid):
    create(http, wid)
    raw = {"id": "brokenTP", "name": "broken", "status": "approved", "components": "BODY"}
    sandbox.dialog360.control_add_malformed_template(waba_account_id=wid, raw=raw)
    items = listed(http, wid)["waba_templates"]
    assert items[-1] == raw and len(items) == 2


def test_a_deleted_template_is_not_reviewed(http, sandbox, wid, captured):
    tid = create(http, wid).json()["id"]
    assert http.delete(f"{url(wid)}/{tid}", headers=KEY).status_code == 200
    sandbox.advance(60)
    assert changes(captured) == [] and listed(http, wid)["total"] == 0


def test_template_controls_over_http(http, sandbox, wid, captured):
    seeded = http.post(
        "/_sandbox/dialog360/seed_templates", json={"waba_account_id": wid, "count": 3}
    ).json()
    assert seeded["count"] == 3
    paused = http.post(
        "/_sandbox/dialog360/pause_template", json={"waba_account_id": wid, "name": "seeded_00000"}
    ).json()
    assert paused[0]["new_status"] == "paused"
    assert changes(captured) == [("seeded_00000", "approved", "paused")]
