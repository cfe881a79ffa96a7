"""The Meta simulator's coexistence: ``POST /{phone}/smb_app_data`` (once per sync type,
within 24 hours of onboarding, only for a WhatsApp Business app number), the contacts and
history webhooks on the sandbox clock (phases, chunks, progress, media assets, the decline),
the app's contact changes and echoes.

Shapes are checked against Meta's own examples (``tests/fixtures/meta``, pages cited in its
README) and, for echoes, against pywa's ``OutgoingMessage``; pywa models neither ``history``
nor ``smb_app_state_sync``, which reach its raw-update handler.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from pywa import WhatsApp
from pywa.handlers import OutgoingMessageHandler, RawUpdateHandler

from provisioning.sandbox import Sandbox
from provisioning.sandbox.meta.coexistence import CHUNK_INTERVAL, DELIVERY_DELAY, SYNC_WINDOW

APP_ID, SECRET = "1234567890123456", "app-secret-0001"
G = "/meta/graph/v25.0"
COEXISTENCE = "FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING"
EXAMPLES = Path(__file__).parents[1] / "fixtures" / "meta"
# What the simulator adds to Meta's echo example: the business-scoped user ids of 2026.
ECHO_EXTRAS = frozenset({"value.contacts", "value.message_echoes[].to_user_id"})


def signup(sandbox: Sandbox, http: httpx.Client, flow: str = COEXISTENCE) -> dict[str, Any]:
    """A number onboarded through Embedded Signup, its token, and the app subscribed."""
    meta = sandbox.meta
    meta.control_seed_app(app_id=APP_ID, app_secret=SECRET,
                          webhook_url="https://portal.test/wh/meta")  # fmt: skip
    result = meta.control_complete_signup(app_id=APP_ID, flow=flow)
    token = http.get(
        f"{G}/oauth/access_token",
        params={"client_id": APP_ID, "client_secret": SECRET, "code": result["code"]},
    ).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    assert http.post(f"{G}/{result['waba_id']}/subscribed_apps", headers=auth).status_code == 200
    return {**result, "auth": auth}


@pytest.fixture
def number(sandbox: Sandbox, http: httpx.Client) -> dict[str, Any]:
    return signup(sandbox, http)


def start(http: httpx.Client, number: dict[str, Any], sync_type: str, **extra) -> httpx.Response:
    body = {"messaging_product": "whatsapp", "sync_type": sync_type, **extra}
    return http.post(f"{G}/{number['phone_number_id']}/smb_app_data", json=body,
                     headers=number["auth"])  # fmt: skip


def webhooks(captured, field: str | None = None) -> list[dict[str, Any]]:
    """The change values delivered so far (of one field)."""
    values = []
    for request in captured.requests:
        if request.method != "POST":
            continue
        change = json.loads(request.content)["entry"][0]["changes"][0]
        if field is None or change["field"] == field:
            values.append(change["value"])
    return values


def example(name: str) -> dict[str, Any]:
    """A change value from Meta's examples (an envelope's first change, or a value)."""
    payload = json.loads((EXAMPLES / name).read_text())
    return payload["entry"][0]["changes"][0]["value"] if "entry" in payload else payload


def shape_differences(actual: Any, model: Any, path: str = "value",
                      extras: frozenset[str] = frozenset()) -> list[str]:  # fmt: skip
    """Where ``actual`` differs from Meta's example ``model``: a key missing or added, a JSON
    type changed. List items are compared with the example item of the same ``type``."""
    if isinstance(model, dict):
        if not isinstance(actual, dict):
            return [f"{path} is not an object"]
        found = [f"{path}.{key} is missing" for key in model if key not in actual]
        for key, value in actual.items():
            if key in model:
                found += shape_differences(value, model[key], f"{path}.{key}", extras)
            elif f"{path}.{key}" not in extras:
                found.append(f"{path}.{key} is not in Meta's example")
        return found
    if isinstance(model, list):
        if not isinstance(actual, list) or not actual:
            return [f"{path} is not a non-empty list"]
        found = []
        for item in actual:
            kind = item.get("type") if isinstance(item, dict) else None
            same = [m for m in model if isinstance(m, dict) and m.get("type") == kind]
            found += shape_differences(item, (same or model)[0], f"{path}[]", extras)
        return found
    if type(actual) is not type(model):
        return [f"{path} is {type(actual).__name__}, Meta sends {type(model).__name__}"]
    return []


# -- the request --------------------------------------------------------------------------------
def test_a_sync_answers_as_meta_does_and_its_webhooks_follow_on_the_clock(
    sandbox, http, captured, number
):
    answer = start(http, number, "smb_app_state_sync")
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"messaging_product", "request_id"}
    assert body["messaging_product"] == "whatsapp" and body["request_id"]
    assert webhooks(captured, "smb_app_state_sync") == []
    sandbox.advance(DELIVERY_DELAY - 1)
    assert webhooks(captured, "smb_app_state_sync") == []
    sandbox.advance(1)
    [contacts] = webhooks(captured, "smb_app_state_sync")
    assert contacts["metadata"]["phone_number_id"] == number["phone_number_id"]
    assert [c["action"] for c in contacts["state_sync"]] == ["add", "add", "add"]
    assert {c["type"] for c in contacts["state_sync"]} == {"contact"}


def test_each_sync_type_is_accepted_once_per_onboarding(sandbox, http, number):
    assert start(http, number, "smb_app_state_sync").status_code == 200
    again = start(http, number, "smb_app_state_sync")
    assert again.status_code == 400
    error = again.json()["error"]
    assert error["code"] == 100 and "once per onboarding" in error["error_data"]["details"]
    assert start(http, number, "history").status_code == 200
    assert start(http, number, "history").json()["error"]["code"] == 100


def test_a_new_onboarding_allows_each_sync_once_more(sandbox, http, number):
    assert start(http, number, "history").status_code == 200
    sandbox.advance(3600)  # offboarded from the app, then onboarded again
    sandbox.meta.phones[number["phone_number_id"]].last_onboarded_time = sandbox.clock.time()
    assert start(http, number, "history").status_code == 200


def test_syncs_are_accepted_only_within_24_hours_of_onboarding(sandbox, http, number):
    sandbox.advance(SYNC_WINDOW)
    assert start(http, number, "history").status_code == 200  # the last second of the window
    sandbox.advance(1)
    late = start(http, number, "smb_app_state_sync")
    assert late.status_code == 400
    assert "24 hours" in late.json()["error"]["error_data"]["details"]
    status = sandbox.meta.control_coexistence_status(phone_number_id=number["phone_number_id"])
    assert status["window_open"] is False
    assert status["window_closes_at"] == "2026-01-02T00:00:00+00:00"


def test_only_a_whatsapp_business_app_number_has_app_data(sandbox, http):
    cloud = signup(sandbox, http, flow="FINISH")
    refused = start(http, cloud, "history")
    assert refused.status_code == 400
    assert "WhatsApp Business app" in refused.json()["error"]["error_data"]["details"]
    with pytest.raises(ValueError, match="WhatsApp Business app"):
        sandbox.meta.control_smb_message_echo(phone_number_id=cloud["phone_number_id"])
    control = http.post("/_sandbox/meta/smb_message_echo",
                        json={"phone_number_id": cloud["phone_number_id"]})  # fmt: skip
    assert control.status_code == 400


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"sync_type": "history"}, "messaging_product is required"),
        ({"messaging_product": "sms", "sync_type": "history"}, "must be one of {WHATSAPP}"),
        ({"messaging_product": "whatsapp"}, "sync_type is required"),
        ({"messaging_product": "whatsapp", "sync_type": "contacts"}, "must be one of"),
    ],
)
def test_bad_parameters_get_graphs_invalid_parameter(http, number, body, message):
    answer = http.post(f"{G}/{number['phone_number_id']}/smb_app_data", json=body,
                       headers=number["auth"])  # fmt: skip
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == 100 and message in error["message"]


def test_an_unknown_number_is_graphs_unknown_object(http, number):
    answer = http.post(f"{G}/999999999999999/smb_app_data", headers=number["auth"],
                       json={"messaging_product": "whatsapp", "sync_type": "history"})  # fmt: skip
    assert answer.json()["error"]["error_subcode"] == 33


# -- history ------------------------------------------------------------------------------------
def test_history_arrives_in_phases_and_chunks_with_its_media_on_the_clock(
    sandbox, http, captured, number
):
    phone_id = number["phone_number_id"]
    sandbox.meta.control_seed_coexistence(phone_number_id=phone_id, history=[4, 6, 0],
                                          chunk_size=5, media=1)  # fmt: skip
    assert start(http, number, "history").status_code == 200
    sandbox.advance(DELIVERY_DELAY)
    [first] = webhooks(captured, "history")
    assert first["history"][0]["metadata"] == {"phase": 0, "chunk_order": 1, "progress": 40}
    placeholder = next(
        m
        for t in first["history"][0]["threads"]
        for m in t["messages"]
        if m["type"] == "media_placeholder"
    )
    sandbox.advance(CHUNK_INTERVAL)
    media = webhooks(captured, "history")[-1]
    assert "history" not in media and media["messages"][0]["id"] == placeholder["id"]
    assert media["messages"][0]["type"] == "image"
    sandbox.advance(2 * CHUNK_INTERVAL)
    chunks = [v["history"][0]["metadata"] for v in webhooks(captured, "history") if "history" in v]
    assert chunks == [
        {"phase": 0, "chunk_order": 1, "progress": 40},
        {"phase": 1, "chunk_order": 1, "progress": 90},
        {"phase": 1, "chunk_order": 2, "progress": 100},
    ]  # phase 2 had no messages: no webhook for it
    status = sandbox.meta.control_coexistence_status(phone_number_id=phone_id)
    assert status["history_state"] == "complete" and status["pending"] == 0


def test_history_messages_fall_within_their_phases_days(sandbox, http, captured, number):
    sandbox.meta.control_seed_coexistence(phone_number_id=number["phone_number_id"],
                                          history=[2, 2, 2], chunk_size=10, media=0)  # fmt: skip
    start(http, number, "history")
    sandbox.advance(DELIVERY_DELAY + 3 * CHUNK_INTERVAL)
    onboarded = sandbox.clock.time() - DELIVERY_DELAY - 3 * CHUNK_INTERVAL
    days = {0: (0, 1), 1: (1, 90), 2: (90, 180)}
    for value in webhooks(captured, "history"):
        entry = value["history"][0]
        low, high = days[entry["metadata"]["phase"]]
        for thread in entry["threads"]:
            for message in thread["messages"]:
                age = (onboarded - int(message["timestamp"])) / 86400
                assert low <= age <= high, (entry["metadata"], age)


def test_the_business_declined_history_sharing(sandbox, http, captured, number):
    phone_id = number["phone_number_id"]
    sandbox.meta.control_decline_history(phone_number_id=phone_id)
    assert start(http, number, "history").status_code == 200  # the answer does not tell
    sandbox.advance(DELIVERY_DELAY + 10 * CHUNK_INTERVAL)
    [declined] = webhooks(captured, "history")
    [error] = declined["history"][0]["errors"]
    assert error["code"] == 2593109
    status = sandbox.meta.control_coexistence_status(phone_number_id=phone_id)
    assert status["history_state"] == "declined" and status["history_progress"] is None


def test_the_advance_control_walks_through_the_phases_one_chunk_at_a_time(
    sandbox, http, captured, number
):
    phone_id = number["phone_number_id"]
    meta = sandbox.meta
    meta.control_seed_coexistence(phone_number_id=phone_id, history=[3, 3, 3], chunk_size=2,
                                  media=0)  # fmt: skip
    start(http, number, "history")
    seen = []
    while True:
        step = meta.control_advance_coexistence(phone_number_id=phone_id, deliveries=1)
        if not step["sent"]:
            break
        seen.append(webhooks(captured, "history")[-1]["history"][0]["metadata"])
    assert [(m["phase"], m["chunk_order"]) for m in seen] == [
        (0, 1), (0, 2), (1, 1), (1, 2), (2, 1), (2, 2),
    ]  # fmt: skip
    progress = [m["progress"] for m in seen]
    assert progress == sorted(progress) and progress[-1] == 100
    assert meta.control_coexistence_status(phone_number_id=phone_id)["pending"] == 0


# -- contacts and echoes ------------------------------------------------------------------------
def test_contact_changes_in_the_app_follow_once_contacts_were_synced(
    sandbox, http, captured, number
):
    meta, phone_id = sandbox.meta, number["phone_number_id"]
    early = meta.control_app_contact(phone_number_id=phone_id, phone_number="+1 555 030 0001",
                                     full_name="Gil Costa")  # fmt: skip
    assert early["sent"] == [] and early["contacts"] == 4
    start(http, number, "smb_app_state_sync")
    sandbox.advance(DELIVERY_DELAY)
    assert len(webhooks(captured, "smb_app_state_sync")[0]["state_sync"]) == 4
    meta.control_app_contact(phone_number_id=phone_id, phone_number="15550300001",
                             action="remove")  # fmt: skip
    [removed] = webhooks(captured, "smb_app_state_sync")[-1]["state_sync"]
    assert removed["action"] == "remove" and removed["contact"] == {"phone_number": "15550300001"}


def test_an_echo_of_a_message_sent_from_the_app_parses_with_pywa(sandbox, captured, number):
    sent = sandbox.meta.control_smb_message_echo(
        phone_number_id=number["phone_number_id"], to="15550009999", text="Olá, até já"
    )
    [request] = [r for r in captured.requests if r.method == "POST"][-1:]
    typed: list[Any] = []
    wa = WhatsApp(token="unused", app_secret=SECRET, filter_updates=False,
                  skip_duplicate_updates=False)  # fmt: skip
    wa.add_handlers(OutgoingMessageHandler(lambda _, update: typed.append(update)))
    assert (
        wa.webhook_update_validator(request.content, request.headers["X-Hub-Signature-256"]) is None
    )
    assert wa.webhook_update_handler(request.content) == ("ok", 200)
    [echo] = typed
    assert echo.id == sent["message_id"] and echo.text == "Olá, até já"
    assert echo.to_user.wa_id == "15550009999" and echo.to_user.bsuid == sent["user_id"]
    assert echo.metadata.phone_number_id == number["phone_number_id"]
    assert echo.timestamp == dt.datetime.fromtimestamp(sandbox.clock.time(), dt.UTC)


def test_pywa_hands_history_and_contacts_to_its_raw_handler(sandbox, http, captured, number):
    start(http, number, "smb_app_state_sync")
    start(http, number, "history")
    sandbox.advance(DELIVERY_DELAY + 10 * CHUNK_INTERVAL)
    raw: list[Any] = []
    wa = WhatsApp(token="unused", app_secret=SECRET, filter_updates=False,
                  skip_duplicate_updates=False)  # fmt: skip
    wa.add_handlers(RawUpdateHandler(lambda _, update: raw.append(update)))
    posts = [r for r in captured.requests if r.method == "POST"][1:]  # after account_update
    for request in posts:
        signature = request.headers["X-Hub-Signature-256"]
        assert wa.webhook_update_validator(request.content, signature) is None
        assert wa.webhook_update_handler(request.content) == ("ok", 200)
    assert {update.field for update in raw} == {"smb_app_state_sync", "history"}
    assert {update.id for update in raw} == {number["waba_id"]}


# -- Meta's documented shapes -------------------------------------------------------------------
def test_every_coexistence_webhook_has_metas_documented_shape(sandbox, http, captured, number):
    meta, phone_id = sandbox.meta, number["phone_number_id"]
    start(http, number, "smb_app_state_sync")
    start(http, number, "history")
    sandbox.advance(DELIVERY_DELAY + 10 * CHUNK_INTERVAL)
    meta.control_smb_message_echo(phone_number_id=phone_id)
    chunks = [v for v in webhooks(captured, "history") if "history" in v]
    media = [v for v in webhooks(captured, "history") if "messages" in v]
    assert chunks and media
    for value in chunks:
        assert shape_differences(value, example("history_approved.json")) == []
    for value in media:
        assert shape_differences(value, example("history_media.json")) == []
    for value in webhooks(captured, "smb_app_state_sync"):
        assert shape_differences(value, example("smb_app_state_sync.json")) == []
    [echo] = webhooks(captured, "smb_message_echoes")
    assert shape_differences(echo, example("smb_message_echoes.json"), extras=ECHO_EXTRAS) == []


def test_the_decline_has_metas_documented_shape(sandbox, http, captured):
    other = signup(sandbox, http)
    sandbox.meta.control_seed_coexistence(phone_number_id=other["phone_number_id"],
                                          declined=True)  # fmt: skip
    start(http, other, "history")
    sandbox.advance(DELIVERY_DELAY)
    [declined] = webhooks(captured, "history")
    assert declined == {**example("history_declined.json"), "metadata": declined["metadata"]}


def test_the_shape_check_has_teeth():
    value = example("history_approved.json")
    wrong = json.loads(json.dumps(value))
    wrong["history"][0]["metadata"]["progress"] = "55"
    del wrong["history"][0]["threads"][0]["messages"][0]["history_context"]
    assert shape_differences(wrong, value) == [
        "value.history[].metadata.progress is str, Meta sends int",
        "value.history[].threads[].messages[].history_context is missing",
    ]
