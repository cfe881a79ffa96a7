"""The Meta simulator's message templates: the ``message_templates`` edge (paging, fields,
filters, creation and its refusals, the hourly cap, deletion), the review on the sandbox
clock, and every template webhook, read by parsers we did not write (pywa) and checked
against the vendored Meta spec."""

from __future__ import annotations

import json

import httpx
import pytest
from pywa import WhatsApp
from pywa.handlers import (
    RawUpdateHandler,
    TemplateCategoryUpdateHandler,
    TemplateComponentsUpdateHandler,
    TemplateQualityUpdateHandler,
    TemplateStatusUpdateHandler,
)
from pywa.types.templates import TemplateDetails

from provisioning.sandbox import Sandbox
from tests.sandbox.openapi import assert_conforms
from tests.sandbox.test_meta_pywa import unknown_enums

APP_ID, SECRET = "1234567890123456", "app-secret-0001"
G = "/meta/graph/v23.0"
ALL_FIELDS = (
    "id,name,language,status,category,components,parameter_format,rejected_reason,"
    "quality_score,previous_category,correct_category,library_template_name"
)
BODY = {"type": "BODY", "text": "Hi {{1}}, your order {{2}} is on its way.",
        "example": {"body_text": [["Ana", "A-17"]]}}  # fmt: skip


def payload(name: str = "order_update", **changes) -> dict:
    return {"name": name, "language": "en_US", "category": "UTILITY", "components": [BODY],
            **changes}  # fmt: skip


class Parsed:
    """pywa's reading of each webhook delivered: its typed template update."""

    def __init__(self) -> None:
        self.typed: list[object] = []
        self.wa = WhatsApp(token="unused", app_secret=SECRET, filter_updates=False,
                           skip_duplicate_updates=False)  # fmt: skip
        keep = lambda _, update: self.typed.append(update)  # noqa: E731
        self.wa.add_handlers(
            TemplateStatusUpdateHandler(keep),
            TemplateQualityUpdateHandler(keep),
            TemplateCategoryUpdateHandler(keep),
            TemplateComponentsUpdateHandler(keep),
            RawUpdateHandler(lambda _, update: None),
        )

    def read(self, request: httpx.Request) -> object:
        signature = request.headers["X-Hub-Signature-256"]
        assert self.wa.webhook_update_validator(request.content, signature) is None
        before = len(self.typed)
        assert self.wa.webhook_update_handler(request.content) == ("ok", 200)
        assert len(self.typed) == before + 1, f"pywa built no update from {request.content!r}"
        update = self.typed[-1]
        assert unknown_enums(update) == [], unknown_enums(update)
        return update


@pytest.fixture
def waba(sandbox: Sandbox) -> dict:
    sandbox.meta.control_seed_app(app_id=APP_ID, app_secret=SECRET,
                                  webhook_url="https://portal.test/wh/meta")  # fmt: skip
    return sandbox.meta.control_seed_waba(app_id=APP_ID, subscribe=True)


@pytest.fixture
def auth(waba: dict) -> dict:
    return {"Authorization": f"Bearer {waba['access_token']}"}


@pytest.fixture
def edge(waba: dict) -> str:
    return f"{G}/{waba['waba_id']}/message_templates"


def webhooks(captured, field: str | None = None) -> list[httpx.Request]:
    posts = [r for r in captured.requests if r.method == "POST"]
    if field is None:
        return posts
    return [r for r in posts if json.loads(r.content)["entry"][0]["changes"][0]["field"] == field]


def create(http, edge, auth, **changes) -> dict:
    response = http.post(edge, json=payload(**changes), headers=auth)
    assert response.status_code == 200, response.text
    return response.json()


def listed(http, edge, auth, **params) -> list[dict]:
    return http.get(edge, params={"fields": ALL_FIELDS, **params}, headers=auth).json()["data"]


# -- the edge -------------------------------------------------------------------------------
def test_paging_with_limit_and_cursors_reaches_the_end(sandbox, http, waba, edge, auth):
    sandbox.meta.control_seed_templates(waba_id=waba["waba_id"], count=23)
    first = http.get(edge, params={"limit": 5}, headers=auth).json()
    pages, names = [first], [t["name"] for t in first["data"]]
    while "next" in pages[-1]["paging"]:
        pages.append(http.get(pages[-1]["paging"]["next"], headers=auth).json())
        names += [t["name"] for t in pages[-1]["data"]]
    assert names == [f"seeded_{i:05d}" for i in range(23)]
    assert [len(p["data"]) for p in pages] == [5, 5, 5, 5, 3]
    assert "previous" not in first["paging"] and "previous" in pages[1]["paging"]
    # the same pages by hand, with ``after``; and ``before`` goes back a page
    second = http.get(edge, params={"limit": 5, "after": first["paging"]["cursors"]["after"]},
                      headers=auth).json()  # fmt: skip
    assert second["data"] == pages[1]["data"]
    back = http.get(edge, params={"limit": 5, "before": second["paging"]["cursors"]["before"]},
                    headers=auth).json()  # fmt: skip
    assert back["data"] == first["data"]


def test_a_bad_or_stale_cursor_is_refused_with_code_100(sandbox, http, waba, edge, auth):
    sandbox.meta.control_seed_templates(waba_id=waba["waba_id"], count=4)
    bad = http.get(edge, params={"after": "not-a-cursor"}, headers=auth)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == 100
    page = http.get(edge, params={"limit": 2}, headers=auth).json()
    last = page["data"][-1]["name"]
    assert http.delete(edge, params={"name": last}, headers=auth).json() == {"success": True}
    stale = http.get(edge, params={"limit": 2, "after": page["paging"]["cursors"]["after"]},
                     headers=auth)  # fmt: skip
    assert stale.status_code == 400 and stale.json()["error"]["code"] == 100


def test_fields_give_what_is_asked_and_graph_defaults_otherwise(sandbox, http, waba, edge, auth):
    sandbox.meta.control_seed_templates(waba_id=waba["waba_id"], count=1)
    assert set(listed(http, edge, auth, fields="id,name")[0]) == {"id", "name"}
    default = http.get(edge, headers=auth).json()["data"][0]
    assert set(default) == {"id", "name", "parameter_format", "components", "language",
                            "status", "category"}  # fmt: skip
    every = listed(http, edge, auth)[0]
    assert every["quality_score"] == {"score": "GREEN", "date": int(sandbox.clock.time())}
    assert every["rejected_reason"] == "NONE"
    unknown = http.get(edge, params={"fields": "id,colour"}, headers=auth)
    assert unknown.status_code == 400 and "nonexisting field (colour)" in unknown.text


def test_filters_by_name_status_and_language(sandbox, http, waba, edge, auth):
    meta = sandbox.meta
    meta.control_seed_templates(waba_id=waba["waba_id"], count=2, prefix="order")
    meta.control_seed_templates(waba_id=waba["waba_id"], count=1, prefix="promo",
                                status="PENDING", language="pt_BR")  # fmt: skip
    assert [t["name"] for t in listed(http, edge, auth, name="order")] == [
        "order_00000", "order_00001",
    ]  # fmt: skip
    assert [t["name"] for t in listed(http, edge, auth, status="PENDING")] == ["promo_00002"]
    assert [t["name"] for t in listed(http, edge, auth, language="pt_BR")] == ["promo_00002"]
    assert listed(http, edge, auth, name="nothing") == []


def test_a_template_node_is_read_by_its_id(sandbox, http, waba, auth):
    [template_id] = sandbox.meta.control_seed_templates(waba_id=waba["waba_id"], count=1)[
        "template_ids"
    ]
    node = http.get(f"{G}/{template_id}", params={"fields": "name,status"}, headers=auth)
    assert node.json() == {"name": "seeded_00000", "status": "APPROVED", "id": template_id}
    other = sandbox.meta.control_seed_waba(app_id=APP_ID)["access_token"]
    hidden = http.get(f"{G}/{template_id}", headers={"Authorization": f"Bearer {other}"})
    assert hidden.status_code == 400 and hidden.json()["error"]["code"] == 100


def test_creation_answers_pending_with_the_category(http, edge, auth):
    answer = create(http, edge, auth, category="marketing", parameter_format="named")
    assert set(answer) == {"id", "status", "category"}
    assert answer["status"] == "PENDING" and answer["category"] == "MARKETING"
    [item] = listed(http, edge, auth)
    assert item["id"] == answer["id"] and item["parameter_format"] == "NAMED"
    assert item["status"] == "PENDING" and item["components"] == [BODY]


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"name": "Order Update"}, "lowercase letters"),
        ({"name": "a" * 513}, "at most 512"),
        ({"name": ""}, "name is required"),
        ({"language": None}, "language is required"),
        ({"language": "english"}, "not a supported language"),
        ({"category": "TRANSACTIONAL"}, "category must be one of"),
        ({"components": []}, "components is required"),
        ({"components": [{"type": "HEADER", "format": "TEXT", "text": "Hi"}]}, "one BODY"),
        ({"components": [BODY, BODY]}, "one BODY"),
        ({"components": ["BODY"]}, "object with a type"),
        ({"parameter_format": "MIXED"}, "parameter_format"),
    ],
)
def test_creation_is_refused_as_meta_refuses_it(http, edge, auth, changes, says):
    response = http.post(edge, json=payload(**changes), headers=auth)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == 100
    assert says in error.get("error_user_msg", error["message"])
    assert listed(http, edge, auth) == []


def test_a_name_and_language_exist_once(http, edge, auth):
    create(http, edge, auth)
    again = http.post(edge, json=payload(), headers=auth)
    error = again.json()["error"]
    assert again.status_code == 400 and (error["code"], error["error_subcode"]) == (100, 2388024)
    assert error["error_user_title"] == "Message template already exists"
    create(http, edge, auth, language="es")  # another language of the same name
    assert len(listed(http, edge, auth)) == 2


def test_a_waba_creates_100_templates_an_hour(sandbox, http, edge, auth):
    for i in range(100):
        create(http, edge, auth, name=f"t_{i}")
    refused = http.post(edge, json=payload(name="t_100"), headers=auth)
    error = refused.json()["error"]
    assert refused.status_code == 429 and error["code"] == 80008 and error["is_transient"]
    assert "too many calls to this WhatsApp Business account" in error["message"]
    sandbox.advance(3600)
    create(http, edge, auth, name="t_100")


def test_the_hourly_cap_is_a_control(sandbox, http, edge, auth):
    sandbox.meta.control_set_template_cap(per_hour=2)
    create(http, edge, auth, name="one")
    create(http, edge, auth, name="two")
    assert http.post(edge, json=payload(name="three"), headers=auth).status_code == 429
    sandbox.advance(1800)
    assert http.post(edge, json=payload(name="three"), headers=auth).status_code == 429
    sandbox.advance(1801)
    create(http, edge, auth, name="three")


def test_deleting_by_name_and_by_id(sandbox, http, edge, auth):
    english = create(http, edge, auth)
    spanish = create(http, edge, auth, language="es")
    create(http, edge, auth, name="other")
    gone = http.delete(edge, params={"name": "order_update", "hsm_id": spanish["id"]},
                       headers=auth)  # fmt: skip
    assert gone.json() == {"success": True}
    assert [t["id"] for t in listed(http, edge, auth, name="order_update")] == [english["id"]]
    http.delete(edge, params={"name": "order_update"}, headers=auth)
    assert [t["name"] for t in listed(http, edge, auth)] == ["other"]
    missing = http.delete(edge, params={"name": "order_update"}, headers=auth)
    assert missing.status_code == 400 and missing.json()["error"]["code"] == 100


# -- review on the clock ---------------------------------------------------------------------
def test_a_new_template_is_approved_after_the_review_time(sandbox, http, captured, edge, auth):
    sandbox.meta.control_set_template_review(seconds=60)
    created = create(http, edge, auth)
    sandbox.advance(59)
    assert listed(http, edge, auth)[0]["status"] == "PENDING"
    assert webhooks(captured) == []
    sandbox.advance(1)
    assert listed(http, edge, auth)[0]["status"] == "APPROVED"
    [request] = webhooks(captured, "message_template_status_update")
    update = Parsed().read(request)
    assert (update.new_status, update.reason, update.category) == ("APPROVED", "NONE", "UTILITY")
    assert (update.template_id, update.template_name) == (created["id"], "order_update")
    assert update.template_language == "en_US"
    value = json.loads(request.content)["entry"][0]["changes"][0]["value"]
    assert value["message_template_id"] == int(created["id"])  # a number in webhooks
    sandbox.advance(3600)
    assert len(webhooks(captured)) == 1  # decided once


@pytest.mark.parametrize("queued", ["before", "after"])
def test_a_queued_rejection_rejects_at_review(sandbox, http, captured, edge, auth, queued):
    if queued == "before":
        sandbox.meta.control_reject_template(name="order_update", reason="INVALID_FORMAT")
    create(http, edge, auth)
    if queued == "after":
        sandbox.meta.control_reject_template(name="order_update", reason="INVALID_FORMAT")
    sandbox.advance(30)
    item = listed(http, edge, auth)[0]
    assert (item["status"], item["rejected_reason"]) == ("REJECTED", "INVALID_FORMAT")
    update = Parsed().read(webhooks(captured)[0])
    assert (update.new_status, update.reason) == ("REJECTED", "INVALID_FORMAT")
    assert update.rejection_info.reason and update.rejection_info.recommendation
    create(http, edge, auth, language="es")  # the queued rejection was used up
    sandbox.advance(30)
    assert Parsed().read(webhooks(captured)[-1]).new_status == "APPROVED"


def test_a_review_decided_now_is_not_decided_again(sandbox, http, captured, waba, edge, auth):
    created = create(http, edge, auth)
    result = sandbox.meta.control_review_template(
        template_id=created["id"], decision="REJECTED", reason="PROMOTIONAL"
    )
    assert result["status"] == "REJECTED"
    update = Parsed().read(webhooks(captured)[0])
    assert (update.new_status, update.reason, update.rejection_info) == (
        "REJECTED", "PROMOTIONAL", None,
    )  # fmt: skip
    sandbox.advance(3600)
    assert len(webhooks(captured)) == 1
    sandbox.meta.control_approve_template(waba_id=waba["waba_id"], name="order_update")
    assert Parsed().read(webhooks(captured)[-1]).new_status == "APPROVED"


# -- controls and their webhooks -------------------------------------------------------------
@pytest.fixture
def approved(sandbox, waba) -> str:
    return sandbox.meta.control_seed_templates(waba_id=waba["waba_id"], count=1)["template_ids"][0]


def test_pausing_for_low_quality(sandbox, http, captured, edge, auth, approved):
    sandbox.meta.control_pause_template(template_id=approved)
    quality, status = (Parsed().read(r) for r in webhooks(captured))
    assert (quality.previous_quality_score, quality.new_quality_score) == ("GREEN", "RED")
    assert (status.new_status, status.reason) == ("PAUSED", "NONE")
    assert status.other_info.title == "FIRST_PAUSE" and "3 hours" in status.other_info.description
    item = listed(http, edge, auth)[0]
    assert (item["status"], item["quality_score"]["score"]) == ("PAUSED", "RED")
    sandbox.meta.control_pause_template(template_id=approved)
    assert Parsed().read(webhooks(captured)[-1]).other_info.title == "SECOND_PAUSE"
    sandbox.meta.control_pause_template(template_id=approved)  # a third pause disables
    disabled = Parsed().read(webhooks(captured)[-1])
    assert disabled.new_status == "DISABLED" and disabled.disable_info.disable_date
    assert listed(http, edge, auth)[0]["status"] == "DISABLED"


def test_setting_the_quality(sandbox, http, captured, edge, auth, approved):
    sandbox.meta.control_set_template_quality(template_id=approved, score="YELLOW")
    update = Parsed().read(webhooks(captured)[0])
    assert (update.previous_quality_score, update.new_quality_score) == ("GREEN", "YELLOW")
    assert listed(http, edge, auth)[0]["quality_score"]["score"] == "YELLOW"
    with pytest.raises(ValueError):
        sandbox.meta.control_set_template_quality(template_id=approved, score="BLUE")


def test_recategorising_announced_then_completed(sandbox, http, captured, edge, auth, approved):
    sandbox.meta.control_recategorise_template(template_id=approved, category="MARKETING")
    impending = Parsed().read(webhooks(captured)[0])
    assert (impending.correct_category, impending.new_category) == ("MARKETING", "UTILITY")
    assert impending.previous_category is None
    value = json.loads(webhooks(captured)[0].content)["entry"][0]["changes"][0]["value"]
    assert value["category_update_timestamp"] == int(sandbox.clock.time()) + 86400
    item = listed(http, edge, auth)[0]
    assert (item["category"], item["correct_category"]) == ("UTILITY", "MARKETING")
    sandbox.meta.control_recategorise_template(
        template_id=approved, category="MARKETING", complete=True
    )
    done = Parsed().read(webhooks(captured)[1])
    assert (done.previous_category, done.new_category, done.correct_category) == (
        "UTILITY", "MARKETING", None,
    )  # fmt: skip
    item = listed(http, edge, auth)[0]
    assert (item["category"], item["previous_category"]) == ("MARKETING", "UTILITY")
    assert "correct_category" not in item
    sandbox.advance(2 * 86400)
    assert len(webhooks(captured)) == 2  # completed by hand: nothing left to apply


def test_an_announced_category_applies_a_day_later(sandbox, http, captured, edge, auth, approved):
    sandbox.meta.control_recategorise_template(template_id=approved, category="MARKETING")
    sandbox.advance(86399)
    assert len(webhooks(captured)) == 1
    sandbox.advance(1)
    done = Parsed().read(webhooks(captured)[1])
    assert (done.previous_category, done.new_category) == ("UTILITY", "MARKETING")
    assert listed(http, edge, auth)[0]["category"] == "MARKETING"


def test_updating_the_components(sandbox, http, captured, edge, auth, approved):
    buttons = [
        {"type": "URL", "text": "Track", "url": "https://shop.test/t/{{1}}"},
        {"type": "PHONE_NUMBER", "text": "Call us", "phone_number": "+15550100001"},
        {"type": "QUICK_REPLY", "text": "Stop"},
    ]
    sandbox.meta.control_update_template_components(
        template_id=approved, body="Your parcel is on its way.", header="Parcel",
        footer="Reply STOP to opt out", buttons=buttons,
    )  # fmt: skip
    update = Parsed().read(webhooks(captured)[0])
    assert update.template_element == "Your parcel is on its way."
    assert (update.template_title, update.template_footer) == ("Parcel", "Reply STOP to opt out")
    assert [b["message_template_button_type"] for b in update.template_buttons] == [
        "URL", "PHONE_NUMBER",
    ]  # fmt: skip
    assert update.template_buttons[0]["message_template_button_url"] == buttons[0]["url"]
    components = listed(http, edge, auth)[0]["components"]
    assert [c["type"] for c in components] == ["BODY", "HEADER", "FOOTER", "BUTTONS"]
    assert components[0]["text"] == "Your parcel is on its way."


def test_disabling(sandbox, captured, approved):
    sandbox.meta.control_disable_template(template_id=approved)
    update = Parsed().read(webhooks(captured)[0])
    assert update.new_status == "DISABLED"
    assert update.disable_info.disable_date.timestamp() == sandbox.clock.time()


def test_controls_run_through_the_control_api(sandbox, http, waba, captured):
    seeded = http.post(
        "/_sandbox/meta/seed_templates", json={"waba_id": waba["waba_id"], "count": 3}
    ).json()
    assert seeded["count"] == 3
    which = {"waba_id": waba["waba_id"], "name": "seeded_00001"}
    paused = http.post("/_sandbox/meta/pause_template", json=which).json()
    assert paused["status"] == "PAUSED" and len(webhooks(captured)) == 2
    unknown = http.post("/_sandbox/meta/pause_template", json={**which, "name": "nope"})
    assert unknown.status_code == 400
    state = http.get("/_sandbox/state").json()["meta"]
    assert state["counts"]["templates"] == 3 and state["wabas"][-1]["templates"] == 3


# -- parsers we did not write, the spec ------------------------------------------------------
def test_every_listing_item_builds_pywa_template_details(sandbox, http, waba, edge, auth):
    meta = sandbox.meta
    meta.control_seed_templates(waba_id=waba["waba_id"], count=2)
    pending = create(http, edge, auth)
    rejected = create(http, edge, auth, name="promo", category="MARKETING")
    meta.control_review_template(template_id=rejected["id"], decision="REJECTED",
                                 reason="TAG_CONTENT_MISMATCH")  # fmt: skip
    meta.control_recategorise_template(template_id=pending["id"], category="MARKETING")
    meta.control_pause_template(waba_id=waba["waba_id"], name="seeded_00000")
    meta.control_recategorise_template(waba_id=waba["waba_id"], name="seeded_00001",
                                       category="MARKETING", complete=True)  # fmt: skip
    wa = WhatsApp(token="unused", filter_updates=False)
    items = listed(http, edge, auth)
    details = [TemplateDetails.from_dict(item, wa) for item in items]
    assert len(details) == 4
    for item, detail in zip(items, details, strict=True):
        # UNKNOWN is a real quality score ("quality pending"), not a value pywa missed
        pending = item["quality_score"]["score"] == "UNKNOWN"
        missed = [p for p in unknown_enums(detail) if not (pending and p.endswith(".score"))]
        assert missed == [], missed
        assert detail.quality_score is not None and detail.parameter_format is not None
    by_name = {d.name: d for d in details}
    assert by_name["promo"].rejected_reason == "TAG_CONTENT_MISMATCH"
    assert by_name["order_update"].correct_category == "MARKETING"
    assert by_name["seeded_00001"].previous_category == "UTILITY"
    assert by_name["seeded_00000"].quality_score.score == "RED"


def test_the_edge_conforms_to_the_meta_spec(sandbox, http, waba, edge, auth):
    sandbox.meta.control_seed_templates(waba_id=waba["waba_id"], count=4)
    sandbox.meta.control_set_template_cap(per_hour=1)
    sandbox.exchanges.clear()
    http.get(edge, headers=auth)
    http.get(edge, params={"fields": ALL_FIELDS, "limit": 2}, headers=auth)
    http.get(edge, params={"name": "seeded_00001"}, headers=auth)
    http.get(edge, params={"after": "garbage"}, headers=auth)
    http.post(edge, json=payload(name="Bad Name"), headers=auth)
    create(http, edge, auth)
    http.post(edge, json=payload(name="capped"), headers=auth)
    http.delete(edge, params={"name": "order_update"}, headers=auth)
    statuses = [e["status"] for e in sandbox.exchanges]
    assert statuses == [200, 200, 200, 400, 400, 200, 429, 200]
    covered = assert_conforms(sandbox.exchanges, hints={waba["waba_id"]: "WABA-ID"})
    assert {
        "GET /{Version}/{WABA-ID}/message_templates",
        "POST /{Version}/{WABA-ID}/message_templates",
        "DELETE /{Version}/{WABA-ID}/message_templates",
    } <= covered, covered


def test_seeding_and_a_malformed_item(sandbox, http, waba, edge, auth):
    seeded = sandbox.meta.control_seed_templates(waba_id=waba["waba_id"], count=250)
    assert len(set(seeded["template_ids"])) == 250
    broken = sandbox.meta.control_add_malformed_template(waba_id=waba["waba_id"])
    items = listed(http, edge, auth, limit=300)
    assert len(items) == 251 and items[-1] == broken["raw"]
    assert "language" not in items[-1] and items[-1]["components"] == "BODY"
