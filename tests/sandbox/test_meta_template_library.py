"""The Meta simulator's Template Library: browsing ``GET /message_template_library`` (Graph's
paging envelope, ``search``, ``topic``, ``usecase``, ``industry``, ``language``, ``name``),
and creating a template from it with ``library_template_name`` (the item's category and
content, button and body inputs checked as Meta checks them, review on the clock), the
created template read back by pywa's ``TemplateDetails``."""

from __future__ import annotations

import json

import pytest
from pywa import WhatsApp
from pywa.types.templates import (
    AuthenticationBody,
    AuthenticationFooter,
    BodyText,
    Buttons,
    CopyCodeOTPButton,
    HeaderText,
    LibraryTemplate,
    PhoneNumberButton,
    TemplateCategory,
    TemplateDetails,
    TemplateLanguage,
    URLButton,
)

from provisioning.sandbox import Sandbox
from tests.sandbox.openapi import assert_conforms
from tests.sandbox.test_meta_pywa import unknown_enums

APP_ID, SECRET = "1234567890123456", "app-secret-0001"
G = "/meta/graph/v23.0"
LIBRARY = f"{G}/message_template_library"
ITEM_KEYS = {"name", "language", "category", "topic", "usecase", "industry", "body",
             "body_params", "body_param_types", "buttons", "id"}  # fmt: skip
ALL_FIELDS = (
    "id,name,language,status,category,components,parameter_format,rejected_reason,"
    "quality_score,previous_category,correct_category,library_template_name"
)
TRACK = {
    "type": "URL",
    "url": {
        "base_url": "https://shop.example/track/{{1}}",
        "url_suffix_example": "https://shop.example/track/A-17",
    },
}
CALL = {"type": "PHONE_NUMBER", "phone_number": "+15550100001"}


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


def browse(http, auth, **params) -> dict:
    response = http.get(LIBRARY, params=params, headers=auth)
    assert response.status_code == 200, response.text
    return response.json()


def names(http, auth, **params) -> list[tuple[str, str]]:
    return [(i["name"], i["language"]) for i in browse(http, auth, **params)["data"]]


def from_library(library_name: str = "delivery_update_1", **changes) -> dict:
    body = {"name": "shipping_news", "language": "en_US", "category": "UTILITY",
            "library_template_name": library_name,
            "library_template_button_inputs": [TRACK]}  # fmt: skip
    return {key: value for key, value in {**body, **changes}.items() if value is not None}


def create(http, edge, auth, **changes) -> dict:
    response = http.post(edge, json=from_library(**changes), headers=auth)
    assert response.status_code == 200, response.text
    return response.json()


def refused(http, edge, auth, body: dict) -> dict:
    response = http.post(edge, json=body, headers=auth)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == 100
    return error


def listed(http, edge, auth) -> list[dict]:
    return http.get(edge, params={"fields": ALL_FIELDS}, headers=auth).json()["data"]


# -- browsing ---------------------------------------------------------------------------------
def test_the_library_lists_utility_and_authentication_items_in_metas_shape(http, auth):
    items = browse(http, auth, limit=100)["data"]
    assert len(items) >= 12
    assert {i["category"] for i in items} == {"UTILITY", "AUTHENTICATION"}
    for item in items:
        assert ITEM_KEYS <= set(item) <= ITEM_KEYS | {"header"}, item
        assert len(item["body_params"]) == len(item["body_param_types"]) == item["body"].count("{{")
        assert isinstance(item["industry"], list) and item["id"].isdigit()
        assert all({"type", "text"} <= set(button) for button in item["buttons"])
    by_name = {(i["name"], i["language"]): i for i in items}
    delivery = by_name["delivery_update_1", "en_US"]
    assert (delivery["topic"], delivery["usecase"]) == ("ORDER_MANAGEMENT", "DELIVERY_UPDATE")
    assert delivery["buttons"] == [
        {"type": "URL", "text": "Track order", "url": "https://www.example.com/"}
    ]
    otp = by_name["otp_verification_1", "en_US"]
    assert otp["buttons"][0] == {"type": "OTP", "otp_type": "COPY_CODE", "text": "Copy code"}
    wanted = {"delivery_update_1", "payment_reminder_1", "appointment_reminder_1",
              "order_confirmation_1", "otp_verification_1"}  # fmt: skip
    assert wanted <= {name for name, _ in by_name}


def test_paging_follows_graphs_cursors_to_the_end(http, auth):
    everything = names(http, auth, limit=100)
    first = browse(http, auth, limit=5)
    assert first["paging"]["cursors"].keys() == {"before", "after"}
    assert "previous" not in first["paging"]
    pages, seen = [first], names(http, auth, limit=5)
    while "next" in pages[-1]["paging"]:
        pages.append(http.get(pages[-1]["paging"]["next"], headers=auth).json())
        seen += [(i["name"], i["language"]) for i in pages[-1]["data"]]
    assert seen == everything and len(pages) == -(-len(everything) // 5)
    assert "previous" in pages[1]["paging"]
    back = browse(http, auth, limit=5, before=pages[1]["paging"]["cursors"]["before"])
    assert back["data"] == first["data"]
    bad = http.get(LIBRARY, params={"after": "not-a-cursor"}, headers=auth)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == 100


def test_the_next_link_keeps_the_filters(http, auth):
    first = browse(http, auth, limit=1, topic="PAYMENTS")
    second = http.get(first["paging"]["next"], headers=auth).json()
    assert {i["topic"] for i in first["data"] + second["data"]} == {"PAYMENTS"}
    assert "next" not in second["paging"]


def test_search_matches_the_name_or_the_content_in_any_case(http, auth):
    assert {n for n, _ in names(http, auth, search="PAYMENT")} == {
        "payment_reminder_1", "payment_confirmation_1",
    }  # fmt: skip
    assert names(http, auth, search="verification code") == [("otp_verification_1", "en_US")]
    assert ("appointment_reminder_1", "en_US") in names(http, auth, search="Reschedule")
    assert names(http, auth, search="Delivery Update") == [("delivery_update_1", "en_US")]  # header
    nothing = browse(http, auth, search="zeppelin")
    assert nothing == {"data": []}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"topic": "PAYMENTS"}, {"payment_reminder_1", "payment_confirmation_1"}),
        ({"usecase": "DELIVERY_FAILED"}, {"delivery_failed_1"}),
        ({"industry": "FINANCIAL_SERVICES"},
         {"payment_reminder_1", "payment_confirmation_1", "low_balance_warning_1"}),
        ({"language": "es_ES"}, {"delivery_update_1", "otp_verification_1"}),
        ({"name": "order_confirmation_1"}, {"order_confirmation_1"}),
        ({"topic": "ORDER_MANAGEMENT", "language": "pt_BR"}, {"order_confirmation_1"}),
        ({"search": "order", "usecase": "SHIPMENT_CONFIRMATION"}, {"shipment_confirmation_1"}),
    ],
)  # fmt: skip
def test_filters(http, auth, params, expected):
    found = browse(http, auth, limit=100, **params)["data"]
    assert {i["name"] for i in found} == expected
    for key, value in params.items():
        if key in ("topic", "usecase", "language", "name"):
            assert {i[key] for i in found} == {value}
        elif key == "industry":
            assert all(value in i["industry"] for i in found)


def test_browsing_needs_a_token(http):
    response = http.get(LIBRARY)
    assert response.status_code >= 400 and response.json()["error"]["code"] == 104


def test_an_answer_is_a_copy_of_the_library(http, auth):
    first = browse(http, auth, name="delivery_update_1", language="en_US")["data"][0]
    first["body"] = "changed"
    again = browse(http, auth, name="delivery_update_1", language="en_US")["data"][0]
    assert again["body"].startswith("Good news!")


# -- creating from the library ------------------------------------------------------------------
def test_a_template_from_the_library_takes_the_items_content(http, edge, auth):
    answer = create(http, edge, auth)
    assert set(answer) == {"id", "status", "category"}
    assert (answer["status"], answer["category"]) == ("PENDING", "UTILITY")
    [item] = listed(http, edge, auth)
    library = browse(http, auth, name="delivery_update_1", language="en_US")["data"][0]
    assert (item["id"], item["name"], item["language"]) == (answer["id"], "shipping_news", "en_US")
    assert item["library_template_name"] == "delivery_update_1"
    assert item["parameter_format"] == "POSITIONAL"
    assert item["components"] == [
        {"type": "HEADER", "format": "TEXT", "text": library["header"]},
        {"type": "BODY", "text": library["body"],
         "example": {"body_text": [library["body_params"]]}},
        {"type": "BUTTONS", "buttons": [
            {"type": "URL", "text": "Track order", "url": "https://shop.example/track/{{1}}",
             "example": ["https://shop.example/track/A-17"]},
        ]},
    ]  # fmt: skip


def test_the_library_items_category_wins(http, edge, auth):
    answer = create(http, edge, auth, category="MARKETING")
    assert answer["category"] == "UTILITY"
    assert listed(http, edge, auth)[0]["category"] == "UTILITY"


def test_a_library_template_is_reviewed_on_the_clock(sandbox, http, captured, edge, auth):
    sandbox.meta.control_set_template_review(seconds=60)
    created = create(http, edge, auth)
    sandbox.advance(59)
    assert listed(http, edge, auth)[0]["status"] == "PENDING"
    sandbox.advance(1)
    assert listed(http, edge, auth)[0]["status"] == "APPROVED"
    posts = [r for r in captured.requests if r.method == "POST"]
    [change] = [json.loads(r.content)["entry"][0]["changes"][0] for r in posts]
    assert change["field"] == "message_template_status_update"
    assert change["value"]["event"] == "APPROVED"
    assert change["value"]["message_template_id"] == int(created["id"])


def test_a_phone_button_takes_the_businesss_number(http, edge, auth):
    create(http, edge, auth, name="payment_due", library_template_name="payment_reminder_1",
           library_template_button_inputs=[CALL, TRACK])  # fmt: skip
    buttons = listed(http, edge, auth)[0]["components"][-1]["buttons"]
    assert [b["type"] for b in buttons] == ["URL", "PHONE_NUMBER"]  # the item's order
    assert buttons[1] == {"type": "PHONE_NUMBER", "text": "Call us", "phone_number": "+15550100001"}


def test_a_url_without_variable_needs_no_example(http, edge, auth):
    plain = {"type": "URL", "url": {"base_url": "https://shop.example/orders"}}
    create(http, edge, auth, library_template_button_inputs=[plain])
    [button] = listed(http, edge, auth)[0]["components"][-1]["buttons"]
    assert button == {"type": "URL", "text": "Track order", "url": "https://shop.example/orders"}


def test_an_item_without_buttons_takes_no_inputs(http, edge, auth):
    create(http, edge, auth, name="paid", library_template_name="payment_confirmation_1",
           library_template_button_inputs=None)  # fmt: skip
    assert [c["type"] for c in listed(http, edge, auth)[0]["components"]] == ["BODY"]
    error = refused(http, edge, auth, from_library("payment_confirmation_1", name="paid_again"))
    assert "has 0 URL button(s)" in error["error_user_msg"]


def test_inputs_sent_as_form_fields_are_read_as_json(http, edge, auth):
    form = from_library(library_template_button_inputs=json.dumps([TRACK]))
    response = http.post(edge, data=form, headers=auth)
    assert response.status_code == 200, response.text
    assert listed(http, edge, auth)[0]["components"][-1]["buttons"][0]["url"].endswith("{{1}}")


def test_another_language_of_a_library_item(http, edge, auth):
    create(http, edge, auth, language="es_ES")
    [item] = listed(http, edge, auth)
    assert item["language"] == "es_ES" and item["components"][1]["text"].startswith("¡Buenas")
    assert item["components"][-1]["buttons"][0]["text"] == "Seguir pedido"


def test_a_name_and_language_exist_once_from_the_library_too(http, edge, auth):
    create(http, edge, auth)
    error = refused(http, edge, auth, from_library())
    assert error["error_subcode"] == 2388024


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"library_template_name": ""}, "library_template_name must be a non-empty string"),
        ({"library_template_name": ["delivery_update_1"]}, "non-empty string"),
        ({"library_template_name": "delivery_update_9"},
         "no template named delivery_update_9 in the template library"),
        ({"language": "pt_BR"}, "not available in pt_BR; it is available in en_US, es_ES"),
        ({"components": [{"type": "BODY", "text": "Hi"}]}, "leave out components"),
        ({"name": "Shipping News"}, "lowercase letters"),
        ({"category": None}, "category must be one of"),
        ({"library_template_button_inputs": "not json"}, "must be valid JSON"),
        ({"library_template_button_inputs": {"type": "URL"}}, "wrong type"),
    ],
)  # fmt: skip
def test_the_library_name_and_the_payload_are_checked(http, edge, auth, changes, says):
    error = refused(http, edge, auth, from_library(**changes))
    assert says in error.get("error_user_msg", error["message"])
    assert listed(http, edge, auth) == []


@pytest.mark.parametrize(
    ("library_name", "inputs", "says"),
    [
        ("delivery_update_1", [], 'URL button "Track order" of the library template '
         'delivery_update_1 needs a "url": {"base_url", "url_suffix_example"}'),
        ("delivery_failed_1", [], 'PHONE_NUMBER button "Call us" of the library template '
         'delivery_failed_1 needs a "phone_number"'),
        ("payment_reminder_1", [TRACK], "needs a \"phone_number\""),
        ("delivery_update_1", [{"type": "URL", "url": {"base_url": "shop.example/{{1}}"}}],
         "must be a web address"),
        ("delivery_update_1", [{"type": "URL", "url": "https://shop.example"}],
         "must be a web address"),
        ("delivery_update_1",
         [{"type": "URL", "url": {"base_url": "https://shop.example/" + "a" * 2000}}],
         "at most 2000 characters"),
        ("delivery_update_1",
         [{"type": "URL", "url": {"base_url": "https://shop.example/track/{{1}}"}}],
         "give url_suffix_example"),
        ("delivery_update_1",
         [{"type": "URL", "url": {"base_url": "https://shop.example/track/{{1}}",
                                  "url_suffix_example": "https://elsewhere.example/A-17"}}],
         "give url_suffix_example"),
        ("delivery_update_1",
         [{"type": "URL", "url": {"base_url": "https://shop.example/{{1}}/track",
                                  "url_suffix_example": "https://shop.example/A/track"}}],
         "one variable at most"),
        ("delivery_update_1",
         [{"type": "URL", "url": {"base_url": "https://shop.example/{{order}}",
                                  "url_suffix_example": "https://shop.example/A"}}],
         "one variable at most"),
        ("delivery_failed_1", [{"type": "PHONE_NUMBER", "phone_number": "call me"}],
         "must be a phone number with its country code"),
        ("delivery_failed_1", [{"type": "PHONE_NUMBER", "phone_number": "+1" + "5" * 25}],
         "must be a phone number"),
        ("delivery_update_1", [TRACK, TRACK], "has 1 URL button(s): remove the 1 extra"),
        ("delivery_update_1", [TRACK, CALL], "has 0 PHONE_NUMBER button(s)"),
        ("delivery_update_1", [{"type": "QUICK_REPLY", "text": "Yes"}], "with a type"),
        ("delivery_update_1", ["URL"], "with a type"),
    ],
)  # fmt: skip
def test_button_inputs_are_checked_as_meta_checks_them(http, edge, auth, library_name, inputs,
                                                       says):  # fmt: skip
    body = from_library(library_name, library_template_button_inputs=inputs)
    error = refused(http, edge, auth, body)
    assert error.get("error_user_title") in ("Invalid library template input", None)
    assert says in error.get("error_user_msg", error["message"])
    assert listed(http, edge, auth) == []


# -- authentication templates from the library ----------------------------------------------------
def otp(**changes) -> dict:
    defaults = {"name": "login_code", "category": "AUTHENTICATION",
                "library_template_button_inputs": None}  # fmt: skip
    return from_library("otp_verification_1", **{**defaults, **changes})


def test_an_authentication_template_with_its_options(http, edge, auth):
    body_inputs = {"add_security_recommendation": True, "code_expiration_minutes": 10}
    response = http.post(edge, json=otp(library_template_body_inputs=body_inputs), headers=auth)
    assert response.json()["category"] == "AUTHENTICATION"
    [item] = listed(http, edge, auth)
    assert item["library_template_name"] == "otp_verification_1"
    assert item["components"] == [
        {"type": "BODY", "add_security_recommendation": True,
         "text": "*{{1}}* is your verification code. For your security, do not share this code.",
         "example": {"body_text": [["123456"]]}},
        {"type": "FOOTER", "text": "This code expires in 10 minutes.",
         "code_expiration_minutes": 10},
        {"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "COPY_CODE",
                                         "text": "Copy code"}]},
    ]  # fmt: skip


def test_an_authentication_template_without_options(http, edge, auth):
    inputs = [{"type": "OTP", "otp_type": "COPY_CODE"}]
    http.post(edge, json=otp(library_template_button_inputs=inputs), headers=auth)
    [item] = listed(http, edge, auth)
    assert [c["type"] for c in item["components"]] == ["BODY", "BUTTONS"]
    assert item["components"][0]["add_security_recommendation"] is False


def test_one_tap_and_zero_tap_name_their_apps(http, edge, auth):
    app = {"package_name": "com.example.bank", "signature_hash": "K8a/AINcGX7"}
    one_tap = [{"type": "OTP", "otp_type": "ONE_TAP", "supported_apps": [app]}]
    assert http.post(edge, json=otp(library_template_button_inputs=one_tap), headers=auth)
    zero_tap = [{"type": "OTP", "otp_type": "ZERO_TAP", "supported_apps": [app],
                 "zero_tap_terms_accepted": True}]  # fmt: skip
    http.post(edge, json=otp(name="silent_code", library_template_button_inputs=zero_tap),
              headers=auth)  # fmt: skip
    buttons = {i["name"]: i["components"][-1]["buttons"][0] for i in listed(http, edge, auth)}
    assert buttons["login_code"]["otp_type"] == "ONE_TAP"
    assert buttons["login_code"]["supported_apps"] == [app]
    assert buttons["silent_code"]["zero_tap_terms_accepted"] is True


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"library_template_body_inputs": {"code_expiration_minutes": 0}}, "1 to 90"),
        ({"library_template_body_inputs": {"code_expiration_minutes": 91}}, "1 to 90"),
        ({"library_template_body_inputs": {"code_expiration_minutes": True}}, "1 to 90"),
        ({"library_template_body_inputs": {"add_security_recommendation": "yes"}},
         "true or false"),
        ({"library_template_body_inputs": {"add_track_package_link": True}},
         "does not apply to otp_verification_1 (authentication)"),
        ({"library_template_body_inputs": "[1]"}, "must be a JSON object"),
        ({"library_template_button_inputs": [{"type": "OTP", "otp_type": "TWO_TAP"}]},
         "otp_type is one of"),
        ({"library_template_button_inputs": [{"type": "OTP", "otp_type": "ONE_TAP"}]},
         "needs supported_apps"),
        ({"library_template_button_inputs": [
            {"type": "OTP", "otp_type": "ZERO_TAP",
             "supported_apps": [{"package_name": "com.example.bank", "signature_hash": "x"}]}]},
         "zero_tap_terms_accepted: true"),
        ({"library_template_button_inputs": [TRACK]}, "has 0 URL button(s)"),
    ],
)  # fmt: skip
def test_authentication_inputs_are_checked(http, edge, auth, changes, says):
    error = refused(http, edge, auth, otp(**changes))
    assert says in error.get("error_user_msg", error["message"])


def test_a_utility_item_takes_utility_body_inputs_only(http, edge, auth):
    create(http, edge, auth, library_template_body_inputs={"add_track_package_link": True})
    error = refused(http, edge, auth, from_library(
        name="other", library_template_body_inputs={"code_expiration_minutes": 5}))  # fmt: skip
    assert "does not apply to delivery_update_1 (utility)" in error["error_user_msg"]


# -- read by parsers we did not write -----------------------------------------------------------
def test_pywa_builds_template_details_with_the_library_name(sandbox, http, edge, auth):
    create(http, edge, auth)
    create(http, edge, auth, name="payment_due", library_template_name="payment_reminder_1",
           library_template_button_inputs=[TRACK, CALL])  # fmt: skip
    security = {"add_security_recommendation": True, "code_expiration_minutes": 5}
    http.post(edge, json=otp(library_template_body_inputs=security), headers=auth)
    sandbox.advance(3600)
    wa = WhatsApp(token="unused", filter_updates=False)
    details = {d.name: d for d in (TemplateDetails.from_dict(i, wa) for i in
                                   listed(http, edge, auth))}  # fmt: skip
    assert set(details) == {"shipping_news", "payment_due", "login_code"}
    for detail in details.values():
        assert detail.status == "APPROVED" and detail.library_template_name
        # UNKNOWN is a real quality score ("quality pending"), not a value pywa missed
        missed = [p for p in unknown_enums(detail) if not p.endswith("quality_score.score")]
        assert missed == [], missed
        assert not any(isinstance(c, dict) for c in detail.components), detail.components
    news = details["shipping_news"]
    assert news.library_template_name == "delivery_update_1"
    assert [type(c) for c in news.components] == [HeaderText, BodyText, Buttons]
    [track] = news.components[-1].buttons
    assert isinstance(track, URLButton) and track.example == "https://shop.example/track/A-17"
    due = details["payment_due"].components[-1].buttons
    assert [type(b) for b in due] == [URLButton, PhoneNumberButton]
    login = details["login_code"]
    assert login.category == "AUTHENTICATION"
    assert [type(c) for c in login.components] == [AuthenticationBody, AuthenticationFooter,
                                                   Buttons]  # fmt: skip
    assert login.components[1].code_expiration_minutes == 5
    assert isinstance(login.components[-1].buttons[0], CopyCodeOTPButton)


def test_pywas_library_template_payload_is_accepted(http, edge, auth):
    """What pywa's ``LibraryTemplate`` sends (its own serialisation of the inputs)."""
    sent = LibraryTemplate(
        name="pywa_delivery", library_template_name="payment_reminder_1",
        category=TemplateCategory.UTILITY, language=TemplateLanguage.ENGLISH_US,
        library_template_button_inputs=[
            URLButton.library_input(base_url="https://pay.example/{{1}}",
                                    url_suffix_example="https://pay.example/inv-9"),
            PhoneNumberButton.library_input(phone_number="+15550100002"),
        ],
    )  # fmt: skip
    otp_sent = LibraryTemplate(
        name="pywa_code", library_template_name="otp_verification_1",
        category=TemplateCategory.AUTHENTICATION, language=TemplateLanguage.ENGLISH_US,
        library_template_body_inputs=AuthenticationBody.library_input(
            add_security_recommendation=True, code_expiration_minutes=15),
        library_template_button_inputs=[CopyCodeOTPButton.library_input()],
    )  # fmt: skip
    for template in (sent, otp_sent):
        response = http.post(edge, content=template.to_json(), headers={
            **auth, "Content-Type": "application/json"})  # fmt: skip
        assert response.status_code == 200, response.text
    by_name = {i["name"]: i for i in listed(http, edge, auth)}
    assert by_name["pywa_delivery"]["components"][-1]["buttons"][1]["phone_number"] == (
        "+15550100002"
    )
    assert by_name["pywa_code"]["components"][1]["code_expiration_minutes"] == 15


def test_a_library_creation_conforms_to_the_meta_spec(sandbox, http, waba, edge, auth):
    sandbox.exchanges.clear()
    create(http, edge, auth)
    http.post(edge, json=from_library("delivery_update_9"), headers=auth)
    http.get(edge, params={"fields": ALL_FIELDS}, headers=auth)
    assert [e["status"] for e in sandbox.exchanges] == [200, 400, 200]
    covered = assert_conforms(sandbox.exchanges, hints={waba["waba_id"]: "WABA-ID"})
    assert {"POST /{Version}/{WABA-ID}/message_templates",
            "GET /{Version}/{WABA-ID}/message_templates"} <= covered  # fmt: skip
