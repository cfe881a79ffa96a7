"""Twilio's WhatsApp templates (Content API): the parser on wire JSON, the listing through
the SDK against the sandbox, and submission with its lost answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from provisioning.errors import Rejected, Unreachable
from provisioning.sandbox import Sandbox, SimClock
from provisioning.templates.core import Malformed
from provisioning.twilio.api import connect
from provisioning.twilio.templates import content_of, list_templates, parse, submit

SPEC = Path(__file__).resolve().parents[1] / "specs" / "twilio_content_v1.json"
SID = "HX" + "a" * 32
APPROVED = {"name": "order_ready", "category": "UTILITY", "content_type": "", "status": "approved",
            "rejection_reason": "", "allow_category_change": True}  # fmt: skip


def item(types, *, variables=None, approval=APPROVED, **fields):
    """A ContentAndApprovals item as Twilio sends it."""
    return {
        "date_created": "2026-01-01T00:00:00Z",
        "date_updated": "2026-01-01T00:00:00Z",
        "sid": SID,
        "account_sid": "AC" + "b" * 32,
        "friendly_name": "order_ready",
        "language": "en",
        "variables": variables or {},
        "types": types,
        "approval_requests": approval,
        **fields,
    }


@pytest.fixture
def sandbox():
    return Sandbox(seed=16, clock=SimClock(start=1_767_225_600), record=True)


@pytest.fixture
def api(sandbox):
    base_url, transport = f"{sandbox.base_url}/twilio", sandbox.transport()
    master = sandbox.twilio.control_seed_master(isv_profile=False)
    parent = connect(
        master["account_sid"], master["auth_token"], base_url=base_url, transport=transport
    )
    sub = parent.create_subaccount("Acme")
    return connect(sub.sid, sub.auth_token, base_url=base_url, transport=transport)


def requests_to(sandbox, method, suffix):
    return [e for e in sandbox.exchanges if e["method"] == method and e["path"].endswith(suffix)]


# -- the parser, on wire JSON -----------------------------------------------------------------
BUTTONS = [
    {"type": "URL", "title": "Track", "url": "https://acme.example/t/{{2}}"},
    {"type": "PHONE_NUMBER", "title": "Call us", "phone": "+15551234567"},
    {"type": "COPY_CODE", "title": "Copy", "code": "SAVE10"},
]
PARSED = [
    (
        {"twilio/text": {"body": "Hi {{1}}, your order is ready."}},
        {"1": "Sam"},
        [{"type": "BODY", "text": "Hi {{1}}, your order is ready.",
          "example": {"body_text": [["Sam"]]}}],
    ),
    (
        {"twilio/media": {"body": "Your invoice", "media": ["https://cdn.example/{{1}}"]}},
        {"1": "invoices/17.pdf"},
        [{"type": "HEADER", "format": "DOCUMENT",
          "example": {"header_handle": ["https://cdn.example/invoices/17.pdf"]}},
         {"type": "BODY", "text": "Your invoice"}],
    ),
    (
        {"twilio/quick-reply": {"body": "Still coming?", "actions": [
            {"title": "Yes", "id": "yes"}, {"type": "QUICK_REPLY", "title": "No", "id": "no"}]}},
        {},
        [{"type": "BODY", "text": "Still coming?"},
         {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Yes"},
                                          {"type": "QUICK_REPLY", "text": "No"}]}],
    ),
    (
        {"twilio/call-to-action": {"body": "Order {{1}} shipped", "actions": BUTTONS}},
        {"1": "A-17", "2": "a17"},
        [{"type": "BODY", "text": "Order {{1}} shipped", "example": {"body_text": [["A-17"]]}},
         {"type": "BUTTONS", "buttons": [
             {"type": "URL", "text": "Track", "url": "https://acme.example/t/{{2}}",
              "example": ["https://acme.example/t/a17"]},
             {"type": "PHONE_NUMBER", "text": "Call us", "phone_number": "+15551234567"},
             {"type": "COPY_CODE", "example": "SAVE10"}]}],
    ),
    (
        {"twilio/card": {"title": "Spring sale", "subtitle": "Acme",
                         "media": ["https://cdn.example/sale.jpg"],
                         "actions": [{"type": "QUICK_REPLY", "title": "Stop"}]}},
        {},
        [{"type": "HEADER", "format": "IMAGE",
          "example": {"header_handle": ["https://cdn.example/sale.jpg"]}},
         {"type": "BODY", "text": "Spring sale"},
         {"type": "FOOTER", "text": "Acme"},
         {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Stop"}]}],
    ),
    (
        {"whatsapp/card": {"header_text": "Hi {{name}}", "body": "See {{item}}",
                           "footer": "Acme", "actions": []}},
        {"name": "Sam", "item": "shoes"},
        [{"type": "HEADER", "format": "TEXT", "text": "Hi {{name}}",
          "example": {"header_text_named_params": [{"param_name": "name", "example": "Sam"}]}},
         {"type": "BODY", "text": "See {{item}}",
          "example": {"body_text_named_params": [{"param_name": "item", "example": "shoes"}]}},
         {"type": "FOOTER", "text": "Acme"}],
    ),
    (
        {"whatsapp/authentication": {"add_security_recommendation": True,
                                     "code_expiration_minutes": 5, "actions": [
                                         {"type": "COPY_CODE", "copy_code_text": "Copy code"}]}},
        {},
        [{"type": "BODY", "add_security_recommendation": True},
         {"type": "FOOTER", "code_expiration_minutes": 5},
         {"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "COPY_CODE",
                                          "text": "Copy code"}]}],
    ),
    (  # a type this platform does not model: its text is kept
        {"twilio/list-picker": {"body": "Pick one", "button": "Menu", "items": [
            {"item": "A", "id": "a"}]}},
        {},
        [{"type": "BODY", "text": "Pick one"}],
    ),
]  # fmt: skip


@pytest.mark.parametrize(("types", "variables", "components"), PARSED)
def test_each_content_type_reads_as_metas_components(types, variables, components):
    template = parse(item(types, variables=variables))
    assert template.components == components
    assert template.provider_template_id == SID
    assert template.key == ("order_ready", "en")
    named = any("named" in json.dumps(c) for c in components)
    assert template.parameter_format == ("NAMED" if named else "POSITIONAL")


def test_the_approved_type_is_the_one_read_and_text_is_the_fallback():
    types = {"twilio/text": {"body": "Plain"}, "twilio/quick-reply": {
        "body": "Rich", "actions": [{"title": "Ok"}]}}  # fmt: skip
    assert parse(item(types)).components[0]["text"] == "Rich"
    named = {**APPROVED, "content_type": "twilio/text"}
    assert parse(item(types, approval=named)).components == [{"type": "BODY", "text": "Plain"}]


def test_the_specs_own_examples_parse():
    doc = json.loads(SPEC.read_text())
    examples = doc["paths"]["/v1/ContentAndApprovals"]["get"]["responses"]["200"]["content"]
    contents = examples["application/json"]["examples"]["readResults"]["value"]["contents"]
    draft, approved, rejected = (parse(c) for c in contents)
    assert (draft.name, draft.status, draft.category) == ("Some content", "DRAFT", "UTILITY")
    assert draft.components == [
        {"type": "BODY", "text": "Foo Bar Co is located at 39.7392, 104.9903"}
    ]
    assert (approved.status, approved.category) == ("APPROVED", "UTILITY")  # TRANSACTIONAL
    assert approved.components[1]["example"] == {"body_text": [["name", "typedocument"]]}
    assert rejected.status == "REJECTED" and rejected.rejected_reason == "INVALID_FORMAT"
    assert rejected.components[0]["format"] == "VIDEO"  # highlights/{{3}} with "small.mp4"


@pytest.mark.parametrize(
    ("twilio", "ours"),
    [("unsubmitted", "DRAFT"), ("received", "PENDING"), ("pending", "PENDING"),
     ("approved", "APPROVED"), ("rejected", "REJECTED"), ("paused", "PAUSED"),
     ("disabled", "DISABLED"), ("Approved", "APPROVED")],
)  # fmt: skip
def test_approval_statuses_map_to_metas(twilio, ours):
    approval = {**APPROVED, "status": twilio, "rejection_reason": "Too generic"}
    template = parse(item({"twilio/text": {"body": "Hi"}}, approval=approval))
    assert template.status == ours
    assert template.rejected_reason == ("Too generic" if ours == "REJECTED" else None)


def test_an_approval_under_whatsapp_and_a_missing_one_both_read():
    fetched = {"whatsapp": {**APPROVED, "name": "renamed", "category": "marketing"}}
    template = parse(item({"twilio/text": {"body": "Hi"}}, approval=fetched))
    assert (template.name, template.category, template.status) == (
        "renamed", "MARKETING", "APPROVED")  # fmt: skip
    never = parse(item({"whatsapp/authentication": {"actions": [
        {"type": "COPY_CODE", "copy_code_text": "Copy"}]}}, approval=None))  # fmt: skip
    assert (never.status, never.category) == ("DRAFT", "AUTHENTICATION")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda r: r.update(sid=None), "no sid"),
        (lambda r: r.update(sid="SM" + "0" * 32), "not a content SID"),
        (lambda r: r.update(language=""), "no language"),
        (lambda r: r.update(types={}), "no content types"),
        (lambda r: r.update(friendly_name="", approval_requests=None), "neither"),
        (lambda r: r["approval_requests"].update(status="archived"), "unknown approval status"),
        (lambda r: r["approval_requests"].update(category="PROMO"), "unknown template category"),
        (lambda r: r.update(types={"twilio/text": {}}), "twilio/text has no body"),
        (lambda r: r.update(types={"twilio/card": {"subtitle": "x"}}), "has no title"),
        (lambda r: r.update(types={"twilio/quick-reply": {"body": "x", "actions": [{}]}}),
         "QUICK_REPLY button has no title"),
        (lambda r: r.update(types={"twilio/location": {"latitude": 1, "longitude": 2}}),
         "no text this platform can show"),
    ],
)  # fmt: skip
def test_what_cannot_be_read_raises_malformed_saying_why(change, problem):
    raw = item({"twilio/text": {"body": "Hi"}}, approval=dict(APPROVED))
    change(raw)
    with pytest.raises(Malformed, match=problem):
        parse(raw)


# -- the listing, through the SDK -------------------------------------------------------------
def test_the_listing_reads_every_page_through_the_sdk(sandbox, api):
    sandbox.twilio.control_seed_contents(account_sid=api.account_sid, count=1203)
    listing = list_templates(api)
    assert len(listing.templates) == 1203 and listing.skipped == []
    assert {t.status for t in listing.templates} == {"APPROVED"}
    assert listing.templates[-1].name == "seeded_1202"
    pages = requests_to(sandbox, "GET", "/ContentAndApprovals")
    assert len(pages) == 3  # 500 + 500 + 203
    sandbox.exchanges.clear()
    assert len(list_templates(api, page_size=5000).templates) == 1203
    assert len(requests_to(sandbox, "GET", "/ContentAndApprovals")) == 2  # at most 1000 a page


def test_a_malformed_item_is_skipped_and_the_others_still_come(sandbox, api):
    twilio = sandbox.twilio
    twilio.control_seed_contents(account_sid=api.account_sid, count=2)
    for problem in ("no_types", "no_language", "unknown_status"):
        twilio.control_add_malformed_content(account_sid=api.account_sid, problem=problem)
    twilio.control_seed_contents(account_sid=api.account_sid, count=1)
    listing = list_templates(api)
    assert [t.name for t in listing.templates] == ["seeded_0", "seeded_1", "seeded_5"]
    assert [(s["name"], s["problem"]) for s in listing.skipped] == [
        ("broken_no_types", "the content has no content types"),
        ("broken_no_language", "the content has no language"),
        ("broken_unknown_status", "unknown approval status 'mystery'"),
    ]
    assert all(s["id"].startswith("HX") for s in listing.skipped)


def test_another_subaccount_lists_none_of_them(sandbox, api):
    sandbox.twilio.control_seed_contents(account_sid=api.account_sid, count=3)
    other = sandbox.twilio.control_seed_subaccounts(count=1, senders_per_account=0)[0]
    stranger = connect(
        other["account_sid"],
        other["auth_token"],
        base_url=f"{sandbox.base_url}/twilio",
        transport=sandbox.transport(),
    )
    assert list_templates(stranger).templates == []


# -- submission -------------------------------------------------------------------------------
TEXT = [{"type": "BODY", "text": "Hi {{1}}, your order {{2}} is ready.",
         "example": {"body_text": [["Sam", "A-17"]]}}]  # fmt: skip
QUICK = [{"type": "BODY", "text": "Still coming?"},
         {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Yes"},
                                          {"type": "QUICK_REPLY", "text": "No"}]}]  # fmt: skip
CALL = [{"type": "BODY", "text": "Order {{1}} shipped", "example": {"body_text": [["A-17"]]}},
        {"type": "BUTTONS", "buttons": [
            {"type": "URL", "text": "Track", "url": "https://acme.example/t/{{2}}",
             "example": ["https://acme.example/t/a17"]},
            {"type": "PHONE_NUMBER", "text": "Call us",
             "phone_number": "+15551234567"}]}]  # fmt: skip
MEDIA = [{"type": "HEADER", "format": "IMAGE",
          "example": {"header_handle": ["https://cdn.example/sale.png"]}},
         {"type": "BODY", "text": "Spring sale"}]  # fmt: skip
CARD = [{"type": "HEADER", "format": "TEXT", "text": "Order {{1}}",
         "example": {"header_text": ["A-17"]}},
        {"type": "BODY", "text": "Hi {{2}}, it is ready.", "example": {"body_text": [["Sam"]]}},
        {"type": "FOOTER", "text": "Acme"},
        {"type": "BUTTONS", "buttons": [
            {"type": "URL", "text": "Track", "url": "https://acme.example/t/{{3}}",
             "example": ["https://acme.example/t/a17"]},
            {"type": "QUICK_REPLY", "text": "Thanks"}]}]  # fmt: skip
AUTH = [{"type": "BODY", "add_security_recommendation": True},
        {"type": "FOOTER", "code_expiration_minutes": 10},
        {"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "COPY_CODE",
                                         "text": "Copy code"}]}]  # fmt: skip


def draft(components, category="UTILITY", name="order_ready"):
    return {"name": name, "language": "en", "category": category, "components": components}


@pytest.mark.parametrize(
    ("components", "category", "kind", "variables"),
    [
        (TEXT, "UTILITY", "twilio/text", {"1": "Sam", "2": "A-17"}),
        (QUICK, "MARKETING", "twilio/quick-reply", {}),
        (CALL, "UTILITY", "twilio/call-to-action", {"1": "A-17", "2": "a17"}),
        (MEDIA, "MARKETING", "twilio/media", {}),
        (CARD, "UTILITY", "whatsapp/card", {"1": "A-17", "2": "Sam", "3": "a17"}),
        (AUTH, "AUTHENTICATION", "whatsapp/authentication", {}),
    ],
)
def test_a_draft_becomes_content_submitted_to_whatsapp(
    sandbox, api, components, category, kind, variables
):
    template = submit(api, draft(components, category))
    assert template.status == "PENDING" and template.category == category
    assert template.components == components  # read back, the draft it was made from
    stored = sandbox.twilio.contents[template.provider_template_id]
    assert list(stored["types"]) == [kind] and stored["variables"] == variables
    assert stored["friendly_name"] == "order_ready"
    assert stored["approval"]["name"] == "order_ready"
    assert stored["approval"]["content_type"] == kind


@pytest.mark.parametrize(
    ("components", "problem"),
    [
        ([{"type": "HEADER", "format": "TEXT", "text": "x"}], "no body text"),
        ([{"type": "HEADER", "format": "LOCATION"}, {"type": "BODY", "text": "x"}],
         "LOCATION header"),
        ([{"type": "HEADER", "format": "IMAGE", "example": {"header_handle": ["4::aW1h"]}},
          {"type": "BODY", "text": "x"}], "public URL"),
        ([{"type": "BODY", "text": "x"},
          {"type": "BUTTONS", "buttons": [{"type": "FLOW", "text": "Go"}]}], "FLOW buttons"),
    ],
)  # fmt: skip
def test_what_twilio_content_cannot_express_is_refused_before_any_call(components, problem):
    with pytest.raises(Malformed, match=problem):
        content_of(draft(components))


def test_a_lost_create_answer_finds_the_content_instead_of_making_another(sandbox, api):
    sandbox.faults.add("drop", provider="twilio", method="POST", path=r"/v1/Content$", times=1)
    template = submit(api, draft(TEXT))
    assert template.status == "PENDING"
    assert list(sandbox.twilio.contents) == [template.provider_template_id]


def test_a_lost_approval_answer_finds_the_request_it_made(sandbox, api):
    path = r"/ApprovalRequests/whatsapp$"
    sandbox.faults.add("drop", provider="twilio", method="POST", path=path, times=1)
    template = submit(api, draft(TEXT))
    assert template.status == "PENDING"
    (stored,) = sandbox.twilio.contents.values()
    assert stored["approval"]["status"] == "received"
    assert len(requests_to(sandbox, "GET", "/ApprovalRequests")) == 1  # found, not re-asked


def test_no_answer_and_nothing_made_raises_and_leaves_nothing(sandbox, api):
    sandbox.faults.add("timeout", provider="twilio", method="POST", path=r"/v1/Content$", times=1)
    with pytest.raises(Unreachable):
        submit(api, draft(TEXT))
    assert sandbox.twilio.contents == {}


def test_a_resumed_submit_asks_only_for_the_approval_that_never_came(sandbox, api):
    path = r"/ApprovalRequests/whatsapp$"
    sandbox.faults.add("timeout", provider="twilio", method="POST", path=path, times=1)
    with pytest.raises(Unreachable):
        submit(api, draft(TEXT))
    (sid,) = sandbox.twilio.contents
    assert sandbox.twilio.contents[sid]["approval"]["status"] == "unsubmitted"
    template = submit(api, draft(TEXT), resume=True)
    assert template.provider_template_id == sid and template.status == "PENDING"
    assert list(sandbox.twilio.contents) == [sid]


def test_a_refused_approval_deletes_the_content_it_was_for(sandbox, api):
    with pytest.raises(Rejected, match="name"):
        submit(api, draft(TEXT, name="Order Ready"))
    assert sandbox.twilio.contents == {}


def test_statuses_follow_the_review_timeline(sandbox, api):
    twilio = sandbox.twilio
    kept = submit(api, draft(TEXT, name="kept"))
    refused = submit(api, draft(TEXT, name="refused"))
    twilio.control_reject_content(content_sid=refused.provider_template_id, reason="SCAM")

    def statuses():
        listing = list_templates(api)
        return {t.name: (t.status, t.rejected_reason) for t in listing.templates}

    assert statuses() == {"kept": ("PENDING", None), "refused": ("PENDING", None)}
    sandbox.advance(29)
    assert statuses() == {"kept": ("PENDING", None), "refused": ("PENDING", None)}
    sandbox.advance(1)
    assert statuses() == {"kept": ("APPROVED", None), "refused": ("REJECTED", "SCAM")}
    twilio.control_pause_content(content_sid=kept.provider_template_id)
    assert statuses()["kept"] == ("PAUSED", None)
    twilio.control_disable_content(content_sid=kept.provider_template_id)
    assert statuses()["kept"] == ("DISABLED", None)
