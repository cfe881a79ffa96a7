"""The Twilio simulator's Content API (content.twilio.com v1): WhatsApp templates.

Every answer is checked against Twilio's own content spec (vendored,
``tests/specs/twilio_content_v1.json``) by the project's validator and by openapi-core, and
read by the official SDK's classes (``tests/sandbox/independent.py``).
"""

from __future__ import annotations

import json

import pytest

from tests.sandbox import independent
from tests.sandbox.openapi import assert_conforms

API = "/twilio/api/2010-04-01"
C = "/twilio/content/v1"
SPEC = "twilio_content_v1"
CARD = {
    "whatsapp/card": {
        "header_text": "Order {{1}}",
        "body": "Hi {{2}}, your order is ready.",
        "footer": "Acme",
        "actions": [
            {"type": "URL", "title": "Track", "url": "https://acme.example/t/{{3}}"},
            {"type": "QUICK_REPLY", "title": "Thanks", "id": "thanks"},
        ],
    }
}


def ok(response, status=200):
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def subaccount(sandbox, http, name="Acme"):
    m = sandbox.twilio.control_seed_master(isv_profile=False)
    parent = (m["account_sid"], m["auth_token"])
    sub = ok(http.post(f"{API}/Accounts.json", data={"FriendlyName": name}, auth=parent), 201)
    return parent, (sub["sid"], sub["auth_token"])


def create(http, auth, types, *, name="order_ready", language="en", variables=None):
    # What SDK 9.13 sends: every content type key, the unused ones null.
    body = {
        "friendly_name": name,
        "language": language,
        "variables": variables,
        "types": {"twilio/media": None, **types},
    }
    return http.post(f"{C}/Content", json=body, auth=auth)


def test_every_route_answers_as_the_content_spec_says(sandbox, http):
    _, auth = subaccount(sandbox, http)
    variables = {"1": "A-17", "2": "Sam", "3": "a17"}
    item = ok(create(http, auth, CARD, variables=variables), 201)
    sid = item["sid"]
    assert sid.startswith("HX") and item["types"] == CARD
    assert item["links"]["approval_fetch"].endswith(f"/v1/Content/{sid}/ApprovalRequests")
    ok(http.get(f"{C}/Content/{sid}", auth=auth))
    ok(http.get(f"{C}/Content", auth=auth))
    unsubmitted = ok(http.get(f"{C}/ContentAndApprovals", auth=auth))["contents"][0]
    assert unsubmitted["approval_requests"]["status"] == "unsubmitted"
    approval = ok(
        http.post(
            f"{C}/Content/{sid}/ApprovalRequests/whatsapp",
            json={"name": "order_ready", "category": "UTILITY", "send_ttl_seconds": None},
            auth=auth,
        ),
        201,
    )
    assert approval == {
        "name": "order_ready",
        "category": "UTILITY",
        "content_type": "whatsapp/card",
        "status": "received",
        "rejection_reason": "",
        "allow_category_change": True,
    }
    fetched = ok(http.get(f"{C}/Content/{sid}/ApprovalRequests", auth=auth))
    assert fetched["whatsapp"]["type"] == "whatsapp" and fetched["whatsapp"]["status"] == "received"
    for status in ("pending", "approved", "rejected", "paused", "disabled"):
        sandbox.twilio.control_set_content_status(
            content_sid=sid, status=status, rejection_reason="INVALID_FORMAT. Sample"
        )
        ok(http.get(f"{C}/ContentAndApprovals", params={"PageSize": 1000}, auth=auth))
        ok(http.get(f"{C}/Content/{sid}/ApprovalRequests", auth=auth))
    ok(http.delete(f"{C}/Content/{sid}", auth=auth), 204)
    http.get(f"{C}/Content/{sid}", auth=auth)  # 404 in Twilio's envelope
    http.post(f"{C}/Content", json={"types": {"twilio/text": {"body": "x"}}}, auth=auth)

    covered = assert_conforms(sandbox.exchanges)
    assert {
        "POST /v1/Content",
        "GET /v1/Content",
        "GET /v1/Content/{Sid}",
        "DELETE /v1/Content/{Sid}",
        "GET /v1/ContentAndApprovals",
        "POST /v1/Content/{ContentSid}/ApprovalRequests/whatsapp",
        "GET /v1/Content/{Sid}/ApprovalRequests",
    } <= covered
    independent_covered = independent.check_twilio_exchanges(sandbox.exchanges)
    content_keys = {key for key in covered if " /v1/" in key}
    assert {c for c in independent_covered if c.startswith(SPEC)} == {
        f"{SPEC} {key}" for key in content_keys
    }


def test_a_field_the_sdk_does_not_know_fails_the_independent_check(sandbox, http):
    _, auth = subaccount(sandbox, http)
    ok(create(http, auth, {"twilio/text": {"body": "Hi"}}), 201)
    exchange = dict(sandbox.exchanges[-1])
    body = json.loads(exchange["body"])
    body["approval_status"] = "approved"
    exchange["body"] = json.dumps(body).encode()
    with pytest.raises(AssertionError, match="the SDK has no field 'approval_status'"):
        independent.check_twilio_exchanges([exchange])


def test_list_pages_follow_twilios_envelope_to_the_end(sandbox, http):
    _, auth = subaccount(sandbox, http)
    sandbox.twilio.control_seed_contents(account_sid=auth[0], count=5)
    first = ok(http.get(f"{C}/ContentAndApprovals", params={"PageSize": 2}, auth=auth))
    meta = first["meta"]
    assert meta["key"] == "contents" and meta["page"] == 0 and meta["page_size"] == 2
    assert meta["previous_page_url"] is None
    assert meta["first_page_url"].startswith("http://sandbox.test/twilio/content/v1/")
    names, url = [c["friendly_name"] for c in first["contents"]], meta["next_page_url"]
    while url:
        page = ok(http.get(url.removeprefix(sandbox.base_url), auth=auth))
        names += [c["friendly_name"] for c in page["contents"]]
        url = page["meta"]["next_page_url"]
    assert names == [f"seeded_{i}" for i in range(5)]
    too_big = http.get(f"{C}/ContentAndApprovals", params={"PageSize": 1001}, auth=auth)
    assert too_big.status_code == 400 and too_big.json()["code"] == 20001
    assert_conforms(sandbox.exchanges)


def test_content_belongs_to_the_account_that_made_it(sandbox, http):
    parent, auth = subaccount(sandbox, http)
    _, other = subaccount(sandbox, http, "Other")
    sid = ok(create(http, auth, {"twilio/text": {"body": "Hi"}}), 201)["sid"]
    assert ok(http.get(f"{C}/ContentAndApprovals", auth=other))["contents"] == []
    for credentials in (other, parent):  # product APIs act only on the caller's account
        answer = http.get(f"{C}/Content/{sid}", auth=credentials)
        assert answer.status_code == 404 and answer.json()["code"] == 20404
    assert http.get(f"{C}/Content", auth=(auth[0], "wrong")).status_code == 401
    assert_conforms(sandbox.exchanges)


@pytest.mark.parametrize(
    ("body", "found"),
    [
        ({"types": {"twilio/text": {"body": "x"}}}, "language"),
        ({"language": "en"}, "types"),
        ({"language": "en", "types": {"twilio/sms": {"body": "x"}}}, "unknown content type"),
        ({"language": "en", "types": {"twilio/quick-reply": {"body": "x"}}}, "needs actions"),
        ({"language": "en", "types": {"twilio/text": {"body": "x"}}, "variables": {"1": 2}},
         "variables"),
    ],
)  # fmt: skip
def test_a_create_twilio_would_refuse_is_refused(sandbox, http, body, found):
    _, auth = subaccount(sandbox, http)
    answer = http.post(f"{C}/Content", json=body, auth=auth)
    assert answer.status_code == 400 and found in answer.json()["message"]
    assert sandbox.twilio.contents == {}


def test_approval_requests_are_checked(sandbox, http):
    _, auth = subaccount(sandbox, http)
    text = ok(create(http, auth, {"twilio/text": {"body": "Hi"}}), 201)["sid"]
    place = {"twilio/location": {"latitude": 1.5, "longitude": 2.5}}
    location = ok(create(http, auth, place, name="here"), 201)["sid"]
    submit = f"{C}/Content/{{}}/ApprovalRequests/whatsapp"

    def approve(sid, name, category="UTILITY"):
        return http.post(submit.format(sid), json={"name": name, "category": category}, auth=auth)

    assert "name" in approve(text, "Order Ready").json()["message"]
    assert "category" in approve(text, "order_ready", "PROMO").json()["message"]
    assert "WhatsApp template" in approve(location, "here").json()["message"]
    assert approve(text, "order_ready").status_code == 201
    assert "submitted already" in approve(text, "order_ready").json()["message"]
    twin = ok(create(http, auth, {"twilio/text": {"body": "Hey"}}), 201)["sid"]
    assert "exists already" in approve(twin, "order_ready").json()["message"]
    assert_conforms(sandbox.exchanges)


def test_the_review_runs_on_the_sandbox_clock(sandbox, http):
    _, auth = subaccount(sandbox, http)
    twilio = sandbox.twilio
    sids = [ok(create(http, auth, {"twilio/text": {"body": "Hi"}}, name=f"t{i}"), 201)["sid"]
            for i in range(3)]  # fmt: skip
    twilio.control_reject_content(content_sid=sids[1], reason="PROMOTIONAL")
    for i, sid in enumerate(sids):
        body = {"name": f"t{i}", "category": "MARKETING"}
        ok(http.post(f"{C}/Content/{sid}/ApprovalRequests/whatsapp", json=body, auth=auth), 201)

    def statuses():
        items = ok(http.get(f"{C}/ContentAndApprovals", auth=auth))["contents"]
        return [(c["approval_requests"]["status"], c["approval_requests"]["rejection_reason"])
                for c in items]  # fmt: skip

    assert statuses() == [("received", "")] * 3
    sandbox.advance(1)
    assert statuses() == [("pending", "")] * 3
    assert [r["content_sid"] for r in twilio.describe()["reviews"]["templates"]] == sorted(sids)
    sandbox.advance(29)
    assert statuses() == [("approved", ""), ("rejected", "PROMOTIONAL"), ("approved", "")]
    twilio.control_pause_content(content_sid=sids[0])
    twilio.control_disable_content(content_sid=sids[2])
    assert [s for s, _ in statuses()] == ["paused", "rejected", "disabled"]
    assert twilio.describe()["reviews"]["templates"] == []


def test_a_review_waits_for_a_person_when_the_timeline_is_off(sandbox, http):
    _, auth = subaccount(sandbox, http)
    sandbox.twilio.control_set_template_review(seconds=None)
    sid = ok(create(http, auth, {"twilio/text": {"body": "Hi"}}), 201)["sid"]
    body = {"name": "order_ready", "category": "UTILITY"}
    ok(http.post(f"{C}/Content/{sid}/ApprovalRequests/whatsapp", json=body, auth=auth), 201)
    sandbox.advance(86_400)
    assert sandbox.twilio.contents[sid]["approval"]["status"] == "pending"
    approved = sandbox.twilio.control_approve_content(content_sid=sid)
    assert approved["approval_requests"]["status"] == "approved"


def test_seeding_and_malformed_items_are_served_as_they_are(sandbox, http):
    _, auth = subaccount(sandbox, http)
    twilio = sandbox.twilio
    seeded = twilio.control_seed_contents(account_sid=auth[0], count=3, status="paused")
    for problem in ("no_types", "no_language", "unknown_status"):
        twilio.control_add_malformed_content(account_sid=auth[0], problem=problem)
    items = ok(http.get(f"{C}/ContentAndApprovals", auth=auth))["contents"]
    assert [c["sid"] for c in items[:3]] == seeded["content_sids"]
    assert {c["approval_requests"]["status"] for c in items[:3]} == {"paused"}
    broken = items[3:]
    assert broken[0]["types"] == {} and broken[1]["language"] is None
    assert broken[2]["approval_requests"]["status"] == "mystery"
    with pytest.raises(ValueError, match="unknown problem"):
        twilio.control_add_malformed_content(account_sid=auth[0], problem="other")
