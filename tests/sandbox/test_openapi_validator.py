"""Tests for the OpenAPI conformance validator (tests/sandbox/openapi.py).

Exchanges are built by hand from the specs' own examples, then broken on purpose.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tests.sandbox import openapi
from tests.sandbox.openapi import assert_conforms, load_spec, validate_exchange

ACCOUNT = "AC" + "a" * 32
WABA = "104996122399160"
PHONE = "106540352242922"


def example(spec: str, key: str, status: str, name: str | None = None) -> Any:
    """The spec's own example response body for operation ``key`` and ``status``."""
    loaded = load_spec(spec)
    (op,) = [op for op in loaded.operations if op.key == key]
    response, _ = openapi._resolve_local(loaded.doc, op.responses[status], "")
    media = response["content"]["application/json"]
    if name is None and "example" in media:
        return copy.deepcopy(media["example"])
    examples = media["examples"]
    chosen, _ = openapi._resolve_local(loaded.doc, examples[name or next(iter(examples))], "")
    return copy.deepcopy(chosen["value"])


def exchange(
    provider: str, method: str, path: str, status: int, body: Any, content_type: str | None = None
) -> dict[str, Any]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return {
        "provider": provider,
        "method": method,
        "path": path,
        "status": status,
        "content_type": "application/json; charset=UTF-8" if content_type is None else content_type,
        "body": raw,
    }


def failure(ex: dict[str, Any], hints: Any = None) -> str:
    with pytest.raises(AssertionError) as caught:
        validate_exchange(ex, hints)
    return str(caught.value)


# -- loading ---------------------------------------------------------------------------------
def test_specs_load_once_with_their_openapi_versions() -> None:
    assert load_spec("meta") is load_spec("meta")
    assert load_spec("meta").openapi.startswith("3.1")
    for name in openapi.SPEC_FILES:
        if name.startswith("twilio"):
            assert load_spec(name).openapi.startswith("3.0")
    keys = {op.key for op in load_spec("meta").operations}
    assert "GET /{Version}/{WABA-ID}/phone_numbers" in keys


def test_specs_are_vendored_in_the_repository() -> None:
    # The suite carries its specs (tests/specs, with the MIT licenses): nothing outside
    # the repository is read, and a missing spec fails instead of skipping.
    vendored = Path(__file__).resolve().parents[1] / "specs"
    assert openapi.SPECS_DIR.samefile(vendored)
    for name in openapi.SPEC_FILES:
        assert load_spec(name).operations, name
    for license_file in ("LICENSE.meta-openapi", "LICENSE.twilio-oai"):
        assert "MIT License" in (openapi.SPECS_DIR / license_file).read_text()


def test_a_missing_spec_fails_loudly(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(openapi, "SPECS_DIR", tmp_path / "nowhere")
    with pytest.raises(openapi.SpecsMissing, match="nowhere"):
        openapi._load_doc.__wrapped__("meta")


def test_unknown_spec_name() -> None:
    with pytest.raises(KeyError, match="unknown spec"):
        load_spec("dialog360")


# -- Meta ------------------------------------------------------------------------------------
def test_meta_example_validates_and_names_the_operation() -> None:
    key = "GET /{Version}/{WABA-ID}/subscribed_apps"
    body = example("meta", key, "200", "multiple_subscriptions")
    path = f"/graph/v21.0/{WABA}/subscribed_apps?fields=id,name&access_token=x"
    assert validate_exchange(exchange("meta", "GET", path, 200, body)) == key


def test_meta_any_graph_version_and_documented_error_envelope() -> None:
    key = "POST /{Version}/{Phone-Number-ID}/register"
    ok = example("meta", key, "200", None)
    path = f"/graph/v19.0/{PHONE}/register"
    assert validate_exchange(exchange("meta", "POST", path, 200, ok)) == key
    error = {"error": {"message": "Invalid OAuth access token", "type": "OAuthException"}}
    error["error"]["code"] = 190
    assert validate_exchange(exchange("meta", "POST", path, 401, error)) == key
    del error["error"]["code"]
    message = failure(exchange("meta", "POST", path, 401, error))
    assert "POST /{Version}/{Phone-Number-ID}/register response 401" in message
    assert "at /error: 'code' is a required property" in message


def test_meta_wrong_type_names_operation_status_and_pointer() -> None:
    body = {"data": [{"id": 1234, "name": "App"}]}
    message = failure(exchange("meta", "GET", f"/graph/v21.0/{WABA}/subscribed_apps", 200, body))
    assert f"meta GET /graph/v21.0/{WABA}/subscribed_apps -> 200" in message
    assert "GET /{Version}/{WABA-ID}/subscribed_apps response 200" in message
    assert "at /data/0/id: 1234 is not of type 'string' (type)" in message


def test_meta_missing_required_field() -> None:
    path = f"/graph/v21.0/{WABA}/subscribed_apps"
    message = failure(exchange("meta", "POST", path, 200, {"data": []}))
    assert "at /: 'success' is a required property (required)" in message


def test_meta_bad_enum_names_the_field() -> None:
    key = "GET /{Version}/{WABA-ID}/phone_numbers"
    body = example("meta", key, "200", "single_phone_number")
    path = f"/graph/v21.0/{WABA}/phone_numbers"
    assert validate_exchange(exchange("meta", "GET", path, 200, body)) == key
    body["data"][0]["quality_rating"] = "PURPLE"
    message = failure(exchange("meta", "GET", path, 200, body))
    assert "at /data/0/quality_rating: 'PURPLE' is not one of" in message
    assert "(enum)" in message


def test_meta_ambiguous_templates_pass_when_any_candidate_accepts() -> None:
    # /{Version}/{Business-ID}, /{Version}/{Phone-Number-ID}, /{Version}/{WABA-ID}, ... all
    # match GET /v21.0/<id>: the first (in spec order) that accepts the body is reported.
    waba = example("meta", "GET /{Version}/{WABA-ID}", "200", "basic_account")
    ex = exchange("meta", "GET", f"/graph/v21.0/{WABA}", 200, waba)
    assert validate_exchange(ex) in {
        "GET /{Version}/{Business-ID}",
        "GET /{Version}/{WABA-ID}",
        "GET /{Version}/{Phone-Number-ID}",
    }
    assert validate_exchange(ex, {WABA: "WABA-ID"}) == "GET /{Version}/{WABA-ID}"
    assert validate_exchange(ex, lambda seg: "WABA-ID" if seg == WABA else None) == (
        "GET /{Version}/{WABA-ID}"
    )
    # a body no candidate accepts lists every candidate's reasons
    message = failure(exchange("meta", "GET", f"/graph/v21.0/{WABA}", 200, {"id": 5}))
    assert "matches none of its candidate operations" in message
    assert "GET /{Version}/{WABA-ID} response 200" in message
    assert "GET /{Version}/{Business-ID} response 200" in message


def test_meta_hint_pins_the_template() -> None:
    # WABA-ID requires "name": pinned to it, a body without one fails even though the
    # Business-ID template would accept it.
    body = {"id": WABA}
    ex = exchange("meta", "GET", f"/graph/v21.0/{WABA}", 200, body)
    assert validate_exchange(ex) is not None
    message = failure(ex, {WABA: "WABA-ID"})
    assert "against meta GET /{Version}/{WABA-ID} response 200" in message
    assert "'name' is a required property" in message
    assert "Business-ID" not in message


def test_hints_that_fit_no_template_are_ignored() -> None:
    # The spec calls the WABA "WhatsApp-Business-Account-ID" on assigned_users.
    key = "GET /{Version}/{WhatsApp-Business-Account-ID}/assigned_users"
    body = example("meta", key, "200", "single_user")
    ex = exchange("meta", "GET", f"/graph/v21.0/{WABA}/assigned_users", 200, body)
    assert validate_exchange(ex, {WABA: "WABA-ID"}) == key


def test_most_literal_segments_win() -> None:
    # /{Version}/{Phone-Number-ID}/register beats nothing else, but /v21.0/<id>/register must
    # never be tried against single-segment templates; QR codes have a two-parameter template
    key = "DELETE /{Version}/{Phone-Number-ID}/message_qrdls/{QR-Code-ID}"
    ex = exchange(
        "meta",
        "DELETE",
        f"/graph/v21.0/{PHONE}/message_qrdls/ANED2T5QRU7HGA",
        200,
        {"success": True},
    )
    assert validate_exchange(ex) == key


def test_meta_paths_outside_the_spec_are_none() -> None:
    token = {"access_token": "EAAG", "token_type": "bearer"}
    for method, path in [
        ("POST", "/graph/"),  # batch
        ("POST", "/graph/v21.0/"),
        ("GET", "/graph/v21.0/oauth/access_token?code=x"),
        ("GET", "/graph/v21.0/debug_token?input_token=x"),
        ("GET", "/graph/v21.0/me"),
        ("GET", f"/graph/{WABA}/phone_numbers"),  # unversioned
        ("PUT", f"/graph/v21.0/{WABA}/phone_numbers"),  # method not in the spec
        ("POST", "/graph/whatsapp/webhooks"),  # Meta sends this, Graph does not serve it
    ]:
        assert validate_exchange(exchange("meta", method, path, 200, token)) is None, path
    page = exchange("meta", "GET", "/www/v21.0/dialog/oauth", 200, b"<html>", "text/html")
    assert validate_exchange(page) is None
    d360 = exchange("dialog360", "GET", "/hub/api/v2/partners/x/channels", 200, {"a": 1})
    assert validate_exchange(d360) is None


def test_non_json_and_wrong_content_type_fail() -> None:
    path = f"/graph/v21.0/{PHONE}/register"
    message = failure(exchange("meta", "POST", path, 200, b"<html>oops</html>"))
    assert "body is not JSON" in message
    message = failure(exchange("meta", "POST", path, 200, {"success": True}, "text/html"))
    assert "content type 'text/html' is not documented" in message
    message = failure(exchange("meta", "POST", path, 200, b""))
    assert "empty body" in message


# -- Twilio ----------------------------------------------------------------------------------
NUMBERS = f"/api/2010-04-01/Accounts/{ACCOUNT}/IncomingPhoneNumbers"


def test_twilio_2010_create_and_list() -> None:
    key = "POST /2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers.json"
    body = example("twilio_api_v2010", key, "201")
    assert validate_exchange(exchange("twilio", "POST", NUMBERS + ".json", 201, body)) == key
    key = "GET /2010-04-01/Accounts/{AccountSid}/Messages.json"
    body = example("twilio_api_v2010", key, "200", "readFullPage1")
    path = f"/api/2010-04-01/Accounts/{ACCOUNT}/Messages.json?PageSize=50"
    assert validate_exchange(exchange("twilio", "GET", path, 200, body)) == key


def test_twilio_2010_literal_segment_beats_parameter() -> None:
    key = "GET /2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers/Local.json"
    body = {"incoming_phone_numbers": [], "page": 0, "page_size": 50, "uri": "/x", "end": 0}
    body |= {"start": 0, "first_page_uri": "/x", "next_page_uri": None}
    body["previous_page_uri"] = None
    assert validate_exchange(exchange("twilio", "GET", NUMBERS + "/Local.json", 200, body)) == key


def test_twilio_2010_dates_are_rfc_2822() -> None:
    key = "GET /2010-04-01/Accounts/{Sid}.json"
    body = example("twilio_api_v2010", key, "200")
    path = f"/api/2010-04-01/Accounts/{ACCOUNT}.json"
    assert validate_exchange(exchange("twilio", "GET", path, 200, body)) == key
    body["date_created"] = "2026-01-01T00:00:00Z"
    message = failure(exchange("twilio", "GET", path, 200, body))
    assert "at /date_created: '2026-01-01T00:00:00Z' is not a 'date-time-rfc-2822'" in message


def test_twilio_nullable_and_sid_patterns() -> None:
    key = "GET /2010-04-01/Accounts/{Sid}.json"
    body = example("twilio_api_v2010", key, "200")
    path = f"/api/2010-04-01/Accounts/{ACCOUNT}.json"
    body["owner_account_sid"] = None  # nullable: true in the 3.0 spec
    assert validate_exchange(exchange("twilio", "GET", path, 200, body)) == key
    body["owner_account_sid"] = "XX123"
    message = failure(exchange("twilio", "GET", path, 200, body))
    assert "at /owner_account_sid: 'XX123'" in message


def test_twilio_undocumented_success_status_fails() -> None:
    key = "POST /2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers.json"
    body = example("twilio_api_v2010", key, "201")
    message = failure(exchange("twilio", "POST", NUMBERS + ".json", 200, body))
    assert "status 200 is not documented (documented: ['201'])" in message


def test_twilio_errors_are_checked_against_the_fact_sheet_envelope() -> None:
    # The Twilio specs document no error responses; twilio.md 7 gives the envelope.
    key = "GET /2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers/{Sid}.json"
    path = NUMBERS + f"/PN{'b' * 32}.json"
    error = {"code": 20404, "message": "not found", "more_info": "https://x", "status": 404}
    assert validate_exchange(exchange("twilio", "GET", path, 404, error)) == key
    rfc9457 = {"type": "https://x", "title": "Bad", "status": 400, "code": 20001}
    ex = exchange("twilio", "POST", "/messaging/v2/Channels/Senders", 400, rfc9457)
    assert validate_exchange(ex) == "POST /v2/Channels/Senders"
    graph_style = {"error": {"message": "nope", "type": "OAuthException", "code": 190}}
    message = failure(exchange("twilio", "GET", path, 404, graph_style))
    assert f"{key} response 404" in message
    assert "no anyOf branch matches" in message
    message = failure(exchange("twilio", "GET", path, 500, b"Internal error", "text/plain"))
    assert "is not JSON (error envelope)" in message


def test_meta_undocumented_error_status_uses_the_graph_envelope() -> None:
    path = f"/graph/v21.0/{PHONE}/register"  # register documents no 409
    error = {"error": {"message": "Conflict", "type": "OAuthException", "code": 100}}
    ex = exchange("meta", "POST", path, 409, error)
    assert validate_exchange(ex) == "POST /{Version}/{Phone-Number-ID}/register"
    message = failure(exchange("meta", "POST", path, 409, {"message": "Conflict"}))
    assert "at /: 'error' is a required property" in message


def test_twilio_messaging_v2_senders_and_bad_enum() -> None:
    key = "POST /v2/Channels/Senders"
    body = example("twilio_messaging_v2", key, "202", "whatsapp_create")
    ex = exchange("twilio", "POST", "/messaging/v2/Channels/Senders", 202, body)
    assert validate_exchange(ex) == key
    body["status"] = "LIVE"
    message = failure(exchange("twilio", "POST", "/messaging/v2/Channels/Senders", 202, body))
    assert "at /status: 'LIVE' is not one of ['CREATING'" in message


def test_twilio_messaging_v1_brand_dates_are_iso() -> None:
    key = "POST /v1/a2p/BrandRegistrations"
    body = example("twilio_messaging_v1", key, "201")
    ex = exchange("twilio", "POST", "/messaging/v1/a2p/BrandRegistrations", 201, body)
    assert validate_exchange(ex) == key
    body["date_created"] = "Thu, 30 Jul 2015 23:19:04 +0000"
    message = failure(exchange("twilio", "POST", "/messaging/v1/a2p/BrandRegistrations", 201, body))
    assert "at /date_created:" in message
    assert "is not a 'date-time'" in message


def test_twilio_trusthub_wrong_type() -> None:
    key = "POST /v1/CustomerProfiles"
    body = example("twilio_trusthub_v1", key, "201")
    ex = exchange("twilio", "POST", "/trusthub/v1/CustomerProfiles", 201, body)
    assert validate_exchange(ex) == key
    body["links"] = "nope"
    message = failure(exchange("twilio", "POST", "/trusthub/v1/CustomerProfiles", 201, body))
    assert "at /links: 'nope' is not of type 'object', 'null' (type)" in message


def test_twilio_events_204_has_no_body() -> None:
    path = f"/events/v1/Sinks/DG{'c' * 32}"
    ok = exchange("twilio", "DELETE", path, 204, b"", "")
    assert validate_exchange(ok) == "DELETE /v1/Sinks/{Sid}"
    message = failure(exchange("twilio", "DELETE", path, 204, {"deleted": True}))
    assert "a 204 must have an empty body" in message


def test_twilio_unknown_paths_are_none() -> None:
    for path in [
        f"/api/2010-04-01/Accounts/{ACCOUNT}/NoSuchThing.json",
        "/messaging/v3/Services",
        "/lookups/v2/PhoneNumbers/+15005550006",
    ]:
        assert validate_exchange(exchange("twilio", "GET", path, 200, {})) is None, path


# -- assert_conforms ---------------------------------------------------------------------------
def test_assert_conforms_lists_every_failure_and_returns_coverage() -> None:
    key = "GET /{Version}/{WABA-ID}/subscribed_apps"
    good = exchange(
        "meta",
        "GET",
        f"/graph/v21.0/{WABA}/subscribed_apps",
        200,
        example("meta", key, "200", "no_subscriptions"),
    )
    events = exchange("twilio", "DELETE", f"/events/v1/Sinks/DG{'c' * 32}", 204, b"", "")
    other = exchange("dialog360", "GET", "/hub/x", 200, {})
    assert assert_conforms([good, events, other]) == {key, "DELETE /v1/Sinks/{Sid}"}
    bad1 = exchange("meta", "GET", f"/graph/v21.0/{WABA}/subscribed_apps", 200, {"data": 1})
    bad2 = exchange("twilio", "DELETE", f"/events/v1/Sinks/DG{'c' * 32}", 204, b"x", "")
    with pytest.raises(AssertionError) as caught:
        assert_conforms([good, bad1, other, bad2])
    text = str(caught.value)
    assert text.startswith("2 response(s) do not conform")
    assert "[1] meta GET" in text
    assert "[3] twilio DELETE" in text


def test_assert_conforms_is_fast_enough_for_hundreds() -> None:
    # Not timed: just exercises the cached validators on a realistic volume.
    key = "GET /{Version}/{WABA-ID}/phone_numbers"
    body = example("meta", key, "200", "single_phone_number")
    ex = exchange("meta", "GET", f"/graph/v21.0/{WABA}/phone_numbers", 200, body)
    assert assert_conforms([ex] * 300) == {key}


# -- request bodies (the webhooks Meta sends) --------------------------------------------------
WEBHOOK = "POST /whatsapp/webhooks"


def webhook_example(name: str) -> Any:
    media = load_spec("meta").doc["paths"]["/whatsapp/webhooks"]["post"]["requestBody"]
    return copy.deepcopy(media["content"]["application/json"]["examples"][name]["value"])


def test_meta_inbound_message_webhooks_validate_after_the_spec_fix() -> None:
    # The published schema sends inbound messages to the outbound send schemas; the fix in
    # openapi_rules retargets them, so the spec's own inbound examples validate.
    for name in ("Text Message", "Image Message", "Interactive Button Reply Message"):
        openapi.validate_request_body("meta", WEBHOOK, webhook_example(name))
    body = webhook_example("Text Message")
    body["entry"][0]["changes"][0]["value"]["messages"][0]["text"] = {"body": 5}
    with pytest.raises(AssertionError) as caught:
        openapi.validate_request_body("meta", WEBHOOK, json.dumps(body))
    text = str(caught.value)
    assert text.startswith("request body for meta POST /whatsapp/webhooks does not conform")
    assert "at /entry/0/changes/0/value: no oneOf branch matches [closest:" in text


def test_meta_status_webhook_and_required_envelope() -> None:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE},
        "statuses": [
            {
                "id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI",
                "status": "delivered",
                "timestamp": "1767225600",
                "recipient_id": "16505551234",
            }
        ],
    }
    body = {"object": "whatsapp_business_account", "entry": [{"id": WABA, "changes": []}]}
    body["entry"][0]["changes"].append({"field": "messages", "value": value})
    openapi.validate_request_body("meta", WEBHOOK, body)
    value["statuses"][0]["status"] = "bounced"
    with pytest.raises(AssertionError, match="no oneOf branch matches"):
        openapi.validate_request_body("meta", WEBHOOK, body)
    with pytest.raises(AssertionError, match="at /: 'entry' is a required property"):
        openapi.validate_request_body("meta", WEBHOOK, {"object": "whatsapp_business_account"})
    with pytest.raises(KeyError, match="no operation"):
        openapi.validate_request_body("meta", "POST /nope", {})


def test_meta_group_ids_are_opaque_tokens() -> None:
    group = "Y2FwaV9ncm91cDoxODA1NTU1MDE3MjoxMjAzNjMyMjI3NzE5NjMwNjcZD"
    ex = exchange("meta", "DELETE", f"/graph/v21.0/{group}", 200, {"success": True})
    assert validate_exchange(ex) == "DELETE /{Version}/{group_id}"
    short = exchange("meta", "DELETE", "/graph/v21.0/debug_token", 200, {"success": True})
    assert validate_exchange(short) is None


# -- the fact sheets win over the specs ---------------------------------------------------------
def test_live_enum_values_from_the_fact_sheet_are_accepted() -> None:
    # meta.md 1.7: quality_rating UNKNOWN, code_verification_status NOT_VERIFIED, status
    # CONNECTED; the phone_numbers edge returns no status unless asked for it.
    path = f"/graph/v21.0/{WABA}/phone_numbers"
    item = {"id": PHONE, "display_phone_number": "+1 555-0100", "verified_name": "Acme"}
    item |= {"quality_rating": "UNKNOWN", "code_verification_status": "NOT_VERIFIED"}
    body = {"data": [item, {"id": "1", "status": "CONNECTED", "messaging_limit_tier": "TIER_2K"}]}
    assert validate_exchange(exchange("meta", "GET", path, 200, body)) is not None
    single = {"id": PHONE, "quality_rating": "UNKNOWN", "code_verification_status": "EXPIRED"}
    ex = exchange("meta", "GET", f"/graph/v21.0/{PHONE}", 200, single)
    assert validate_exchange(ex, {PHONE: "Phone-Number-ID"}) == "GET /{Version}/{Phone-Number-ID}"


def test_every_patch_points_at_an_existing_node_and_gives_a_reason() -> None:
    for name, patches in openapi.SPEC_PATCHES.items():
        doc = load_spec(name).doc
        for pointer, _patch, reason in patches:
            node, _ = openapi._resolve_local(doc, {"$ref": "#" + pointer}, "")
            assert isinstance(node, dict), pointer
            assert len(reason) > 20, pointer


# The operations the platform drives: every example the spec gives for them must validate
# (after SPEC_PATCHES), so a wrong patch or a validator regression shows up here.
PLATFORM_OPERATIONS = [
    ("meta", "GET /{Version}/{WABA-ID}/phone_numbers"),
    ("meta", "POST /{Version}/{WABA-ID}/phone_numbers"),
    ("meta", "GET /{Version}/{Phone-Number-ID}"),
    ("meta", "POST /{Version}/{Phone-Number-ID}/register"),
    ("meta", "POST /{Version}/{Phone-Number-ID}/request_code"),
    ("meta", "POST /{Version}/{Phone-Number-ID}/verify_code"),
    ("meta", "GET /{Version}/{WABA-ID}/subscribed_apps"),
    ("meta", "POST /{Version}/{WABA-ID}/subscribed_apps"),
    ("meta", "DELETE /{Version}/{WABA-ID}/subscribed_apps"),
    ("meta", "GET /{Version}/{WABA-ID}"),
    ("meta", "GET /{Version}/{Business-ID}/extendedcredits"),
    ("meta", "GET /{Version}/{WhatsApp-Business-Account-ID}/assigned_users"),
    ("meta", "POST /{Version}/{WhatsApp-Business-Account-ID}/assigned_users"),
    ("meta", "GET /{Version}/{WABA-ID}/message_templates"),
    ("twilio_api_v2010", "POST /2010-04-01/Accounts.json"),
    ("twilio_api_v2010", "GET /2010-04-01/Accounts/{Sid}.json"),
    (
        "twilio_api_v2010",
        "GET /2010-04-01/Accounts/{AccountSid}/AvailablePhoneNumbers/{CountryCode}/Local.json",
    ),
    ("twilio_api_v2010", "POST /2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers.json"),
    ("twilio_api_v2010", "GET /2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers/{Sid}.json"),
    ("twilio_api_v2010", "POST /2010-04-01/Accounts/{AccountSid}/Messages.json"),
    ("twilio_messaging_v1", "POST /v1/Services"),
    ("twilio_messaging_v1", "GET /v1/a2p/BrandRegistrations/{Sid}"),
    ("twilio_messaging_v1", "POST /v1/Services/{MessagingServiceSid}/Compliance/Usa2p"),
    ("twilio_messaging_v2", "GET /v2/Channels/Senders"),
    ("twilio_messaging_v2", "GET /v2/Channels/Senders/{Sid}"),
    ("twilio_trusthub_v1", "POST /v1/CustomerProfiles"),
    ("twilio_trusthub_v1", "POST /v1/TrustProducts"),
    ("twilio_trusthub_v1", "POST /v1/EndUsers"),
    ("twilio_events_v1", "POST /v1/Sinks"),
    ("twilio_events_v1", "POST /v1/Subscriptions"),
]


@pytest.mark.parametrize(("spec", "key"), PLATFORM_OPERATIONS)
def test_spec_examples_of_platform_operations_validate(spec: str, key: str) -> None:
    loaded = load_spec(spec)
    (op,) = [op for op in loaded.operations if op.key == key]
    checked = 0
    for status, raw in op.responses.items():
        response, _ = openapi._resolve_local(loaded.doc, raw, "")
        media = (response.get("content") or {}).get("application/json") or {}
        values = [media["example"]] if "example" in media else []
        for item in (media.get("examples") or {}).values():
            values.append(openapi._resolve_local(loaded.doc, item, "")[0]["value"])
        for value in values:
            body = json.dumps(value).encode()
            assert loaded.check(op, int(status), "application/json", body) == [], (status, value)
            checked += 1
    assert checked, f"{key} has no examples"
