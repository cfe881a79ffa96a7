"""The coexistence client (``provisioning.meta.coexistence``) against the Meta simulator:
``start_sync`` sends Meta's request once and never again by itself, and the parsers read
the webhooks the simulator really delivered, Meta's own examples (``tests/fixtures/meta``),
and refuse malformed values."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from provisioning.errors import Rejected, Retryable, Unreachable
from provisioning.meta import coexistence
from provisioning.meta.api import GraphClient
from provisioning.meta.coexistence import (
    HISTORY_DECLINED,
    MalformedCoexistenceWebhook,
    parse_echoes,
    parse_history,
    parse_state_sync,
    start_sync,
)
from provisioning.sandbox import Sandbox, SimClock

APP_ID, SECRET = "1234567890123456", "app-secret-0017"
START = 1_767_225_600.0  # 2026-01-01T00:00:00Z
EXAMPLES = Path(__file__).parents[1] / "fixtures" / "meta"


class Recording(httpx.BaseTransport):
    """The sandbox's transport, keeping each request it passes on."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.inner = sandbox.transport()
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        return self.inner.handle_request(request)


@pytest.fixture
def delivered() -> list[httpx.Request]:
    return []


@pytest.fixture
def sandbox(delivered: list[httpx.Request]) -> Sandbox:
    def answer(request: httpx.Request) -> httpx.Response:
        request.read()
        delivered.append(request)
        return httpx.Response(200)

    return Sandbox(seed=17, clock=SimClock(start=START),
                   outbound_transport=httpx.MockTransport(answer))  # fmt: skip


@pytest.fixture
def transport(sandbox: Sandbox) -> Recording:
    return Recording(sandbox)


@pytest.fixture
def graph(sandbox: Sandbox, transport: Recording) -> Iterator[GraphClient]:
    with GraphClient(f"{sandbox.base_url}/meta/graph", "v25.0", transport=transport,
                     sleep=lambda seconds: None) as client:  # fmt: skip
        yield client


@pytest.fixture
def number(sandbox: Sandbox, graph: GraphClient) -> dict[str, Any]:
    """A WhatsApp Business app number onboarded through Embedded Signup, with its token."""
    sandbox.meta.control_seed_app(app_id=APP_ID, app_secret=SECRET,
                                  webhook_url="https://portal.test/wh/meta")  # fmt: skip
    signup = sandbox.meta.control_complete_signup(
        app_id=APP_ID, flow="FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING"
    )
    token = graph.exchange_code(APP_ID, SECRET, signup["code"])
    graph.subscribe_app(signup["waba_id"], token)
    return {**signup, "token": token}


def values(delivered: list[httpx.Request], field: str) -> list[dict[str, Any]]:
    found = []
    for request in delivered:
        change = json.loads(request.content)["entry"][0]["changes"][0]
        if change["field"] == field:
            found.append(change["value"])
    return found


def example(name: str) -> dict[str, Any]:
    payload = json.loads((EXAMPLES / name).read_text())
    return payload["entry"][0]["changes"][0]["value"] if "entry" in payload else payload


# -- start_sync ---------------------------------------------------------------------------------
def test_start_sync_sends_metas_request_and_returns_the_request_id(
    sandbox, graph, transport, number
):
    request_id = start_sync(graph, number["phone_number_id"], number["token"], "history")
    request = transport.requests[-1]
    assert request.method == "POST"
    assert request.url.path.endswith(f"/v25.0/{number['phone_number_id']}/smb_app_data")
    assert json.loads(request.content) == {"messaging_product": "whatsapp", "sync_type": "history"}
    assert request.headers["Authorization"] == f"Bearer {number['token']}"
    assert "access_token" not in str(request.url)
    status = sandbox.meta.control_coexistence_status(phone_number_id=number["phone_number_id"])
    assert request_id == status["requests"]["history"]


def test_a_second_start_gets_metas_refusal(graph, number):
    start_sync(graph, number["phone_number_id"], number["token"], "smb_app_state_sync")
    with pytest.raises(Rejected) as refused:
        start_sync(graph, number["phone_number_id"], number["token"], "smb_app_state_sync")
    assert refused.value.code == "100" and "once per onboarding" in str(refused.value)


def test_an_unknown_sync_type_is_refused_before_any_request(graph, transport, number):
    sent = len(transport.requests)
    with pytest.raises(ValueError, match="sync_type"):
        start_sync(graph, number["phone_number_id"], number["token"], "contacts")
    assert len(transport.requests) == sent


def test_start_sync_is_never_retried(sandbox, graph, transport, number):
    sandbox.faults.add("server_error", provider="meta", path="smb_app_data", times=1)
    sent = len(transport.requests)
    with pytest.raises(Retryable):
        start_sync(graph, number["phone_number_id"], number["token"], "history")
    assert len(transport.requests) == sent + 1


def test_a_lost_answer_is_left_to_the_caller(sandbox, graph, delivered, number):
    """The sync started although its answer was lost: asking again is refused, and the
    webhooks arrive all the same."""
    sandbox.faults.add("drop", provider="meta", path="smb_app_data", times=1)
    phone_id, token = number["phone_number_id"], number["token"]
    with pytest.raises(Unreachable):
        start_sync(graph, phone_id, token, "smb_app_state_sync")
    with pytest.raises(Rejected):
        start_sync(graph, phone_id, token, "smb_app_state_sync")
    sandbox.advance(60)
    [contacts] = values(delivered, "smb_app_state_sync")
    assert parse_state_sync(contacts).count == 3


def test_the_sync_window_is_24_hours_from_graphs_last_onboarded_time(graph, number):
    node = graph.get(f"/{number['phone_number_id']}", number["token"],
                     fields="is_on_biz_app,last_onboarded_time")  # fmt: skip
    assert node["is_on_biz_app"] is True
    onboarded = coexistence.onboarded_at(node["last_onboarded_time"])
    assert onboarded == dt.datetime.fromtimestamp(START, dt.UTC)
    assert coexistence.window_closes_at(onboarded) == dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
    with pytest.raises(ValueError):
        coexistence.onboarded_at("yesterday")


# -- the parsers on what the simulator sends ------------------------------------------------------
def test_the_parsers_read_a_whole_sync_as_the_simulator_delivers_it(
    sandbox, graph, delivered, number
):
    phone_id, token = number["phone_number_id"], number["token"]
    sandbox.meta.control_seed_coexistence(phone_number_id=phone_id, contacts=4,
                                          history=[4, 6, 0], chunk_size=5, media=1)  # fmt: skip
    start_sync(graph, phone_id, token, "smb_app_state_sync")
    start_sync(graph, phone_id, token, "history")
    sandbox.advance(120)
    [contacts] = [parse_state_sync(v) for v in values(delivered, "smb_app_state_sync")]
    assert contacts.phone_number_id == phone_id and contacts.count == contacts.added == 4
    assert contacts.contacts[0].at == dt.datetime.fromtimestamp(START, dt.UTC)
    updates = [parse_history(v) for v in values(delivered, "history")]
    assert [u.progress for u in updates] == [40, None, 90, 100]
    first, media, _, last = updates
    assert [(c.phase, c.chunk_order, c.messages) for c in first.chunks] == [(0, 1, 4)]
    assert len(media.media_message_ids) == 1 and media.chunks == ()
    assert last.chunks[0].complete and not last.declined
    assert sum(c.messages for u in updates for c in u.chunks) == 10


def test_the_parsers_read_a_declined_history(sandbox, graph, delivered, number):
    phone_id = number["phone_number_id"]
    sandbox.meta.control_decline_history(phone_number_id=phone_id)
    start_sync(graph, phone_id, number["token"], "history")
    sandbox.advance(60)
    [update] = [parse_history(v) for v in values(delivered, "history")]
    assert update.declined and update.progress is None
    assert update.chunks[0].error.code == HISTORY_DECLINED


def test_the_parser_reads_an_echo(sandbox, delivered, number):
    sent = sandbox.meta.control_smb_message_echo(
        phone_number_id=number["phone_number_id"], to="15550009999", text="On my way"
    )
    [echo] = parse_echoes(values(delivered, "smb_message_echoes")[0])
    assert echo.message_id == sent["message_id"] and echo.type == "text"
    assert (echo.to, echo.to_user_id, echo.text) == ("15550009999", sent["user_id"], "On my way")
    assert echo.timestamp == dt.datetime.fromtimestamp(START, dt.UTC)
    assert echo.phone_number_id == number["phone_number_id"]


def test_every_field_has_its_parser():
    fields = ["history", "smb_app_state_sync", "smb_message_echoes"]
    assert sorted(coexistence.PARSERS) == sorted(coexistence.FIELDS) == fields


# -- the parsers on Meta's examples -------------------------------------------------------------
def test_the_parsers_read_metas_examples():
    approved = parse_history(example("history_approved.json"))
    [chunk] = approved.chunks
    assert (chunk.phase, chunk.chunk_order, chunk.progress) == (0, 1, 55)
    assert (chunk.threads, chunk.messages) == (2, 4)
    media = parse_history(example("history_media.json"))
    assert media.media_message_ids == (
        "wamid.QyNUEHBgLMTY0NjcwNDM1OTUVAgARGBI1Rj3NEYxMzAzMzQ5MkEA",
    )
    declined = parse_history(example("history_declined.json"))
    assert declined.declined
    assert declined.chunks[0].error.details == "History sharing is turned off by the business"
    contacts = parse_state_sync(example("smb_app_state_sync.json"))
    [pablo] = contacts.contacts
    assert (pablo.full_name, pablo.first_name) == ("Pablo Morales", "Pablo")
    assert (pablo.phone_number, pablo.action) == ("16505551234", "add")
    [echo] = parse_echoes(example("smb_message_echoes.json"))
    assert (echo.to, echo.to_user_id) == ("16505551234", None)  # no business-scoped user id


# -- malformed values ---------------------------------------------------------------------------
METADATA = {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"}


def chunk(**metadata) -> dict[str, Any]:
    return {"metadata": {"phase": 0, "chunk_order": 1, "progress": 10, **metadata},
            "threads": []}  # fmt: skip


@pytest.mark.parametrize(
    ("parser", "value"),
    [
        (parse_history, None),
        (parse_history, {"history": [chunk()]}),  # no metadata
        (parse_history, {"metadata": {"phone_number_id": "1"}, "history": [chunk()]}),
        (parse_history, {"metadata": METADATA}),  # neither history nor messages
        (parse_history, {"metadata": METADATA, "history": []}),
        (parse_history, {"metadata": METADATA, "history": [chunk(phase=3)]}),
        (parse_history, {"metadata": METADATA, "history": [chunk(progress=101)]}),
        (parse_history, {"metadata": METADATA, "history": [chunk(progress=True)]}),
        (parse_history, {"metadata": METADATA, "history": [chunk(chunk_order="first")]}),
        (parse_history, {"metadata": METADATA, "history": [{"threads": []}]}),
        (parse_history, {"metadata": METADATA, "history": [{"errors": []}]}),
        (parse_history, {"metadata": METADATA, "history": [{"errors": [{"title": "x"}]}]}),
        (parse_history, {"metadata": METADATA,
                         "history": [{**chunk(), "threads": [{"id": "1", "messages": [{}]}]}]}),
        (parse_history, {"metadata": METADATA, "messages": [{"type": "image"}]}),
        (parse_state_sync, {"metadata": METADATA}),
        (parse_state_sync, {"metadata": METADATA, "state_sync": []}),
        (parse_state_sync, {"metadata": METADATA, "state_sync": [{"type": "contact"}]}),
        (parse_state_sync, {"metadata": METADATA, "state_sync": [
            {"type": "contact", "contact": {"phone_number": "1"}}]}),  # no action
        (parse_state_sync, {"metadata": METADATA, "state_sync": [
            {"type": "contact", "contact": {"phone_number": "1"}, "action": "add",
             "metadata": {"timestamp": "soon"}}]}),
        (parse_echoes, {"metadata": METADATA, "message_echoes": []}),
        (parse_echoes, {"metadata": METADATA, "message_echoes": [
            {"from": "1", "id": "wamid.1", "timestamp": "1700255121", "type": "text"}]}),  # no to
        (parse_echoes, {"metadata": METADATA, "message_echoes": [
            {"from": "1", "to": "2", "id": "wamid.1", "timestamp": "x", "type": "text"}]}),
        (parse_echoes, {"metadata": METADATA, "message_echoes": [
            {"from": "1", "to": 2, "id": "wamid.1", "timestamp": "1", "type": "text"}]}),
    ],
)  # fmt: skip
def test_malformed_values_are_refused(parser, value):
    with pytest.raises(MalformedCoexistenceWebhook):
        parser(value)
    assert issubclass(MalformedCoexistenceWebhook, ValueError)


def test_other_state_sync_types_are_left_out_and_numbers_may_be_strings():
    value = {"metadata": METADATA, "state_sync": [{"type": "label", "label": {}}]}
    assert parse_state_sync(value).contacts == ()
    string_numbers = {"metadata": METADATA, "history": [chunk(phase="1", progress="55")]}
    [entry] = parse_history(string_numbers).chunks
    assert (entry.phase, entry.progress) == (1, 55)
