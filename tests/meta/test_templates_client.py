"""Meta's template client (``provisioning.meta.templates``) against the Meta simulator: the
parser, the whole listing over several pages, a refused cursor, malformed items, a
creation that is never retried, and the lookup after a lost answer."""

from __future__ import annotations

import json

import httpx
import pytest

from provisioning.errors import Rejected, Retryable, Unreachable
from provisioning.meta import templates
from provisioning.meta.api import GraphClient
from provisioning.sandbox import Sandbox, SimClock
from provisioning.templates.core import Malformed

APP_ID = "1234567890123456"
BODY = {"type": "BODY", "text": "Hi {{1}}", "example": {"body_text": [["Ana"]]}}
ITEM = {
    "id": "1192339204654487",
    "name": "order_update",
    "language": "en_US",
    "status": "APPROVED",
    "category": "MARKETING",
    "components": [{"type": "HEADER", "format": "TEXT", "text": "Order"}, BODY],
    "parameter_format": "NAMED",
    "rejected_reason": "NONE",
    "quality_score": {"score": "GREEN", "date": 1767225600},
    "previous_category": "UTILITY",
    "correct_category": "AUTHENTICATION",
    "library_template_name": "order_update_1",
}


@pytest.fixture
def sandbox() -> Sandbox:
    answered = httpx.MockTransport(lambda request: httpx.Response(200))
    return Sandbox(seed=16, clock=SimClock(start=1_767_225_600.0), outbound_transport=answered,
                   record=True)  # fmt: skip


@pytest.fixture
def waba(sandbox: Sandbox) -> dict:
    sandbox.meta.control_seed_app(app_id=APP_ID)
    return sandbox.meta.control_seed_waba(app_id=APP_ID)


def graph_over(transport: httpx.BaseTransport, sandbox: Sandbox) -> GraphClient:
    return GraphClient(f"{sandbox.base_url}/meta/graph", "v23.0", transport=transport,
                       sleep=lambda seconds: None)  # fmt: skip


@pytest.fixture
def graph(sandbox: Sandbox) -> GraphClient:
    with graph_over(sandbox.transport(), sandbox) as client:
        yield client


def template_calls(sandbox: Sandbox, method: str = "GET") -> list[dict]:
    return [
        e for e in sandbox.exchanges
        if e["method"] == method and e["path"].endswith("/message_templates")
    ]  # fmt: skip


# -- parse ------------------------------------------------------------------------------------
def test_parse_reads_a_listing_item():
    remote = templates.parse(ITEM)
    assert remote.key == ("order_update", "en_US")
    assert (remote.provider_template_id, remote.status, remote.category) == (
        "1192339204654487", "APPROVED", "MARKETING",
    )  # fmt: skip
    assert remote.components == ITEM["components"] and remote.parameter_format == "NAMED"
    assert remote.quality_score == "GREEN"  # {"score": ..., "date": ...} -> the score
    assert remote.rejected_reason is None  # Meta's "NONE"
    assert remote.previous_category == "UTILITY"
    assert remote.impending_category == "AUTHENTICATION"  # correct_category
    assert remote.library_template_name == "order_update_1"


def test_parse_keeps_a_rejection_and_defaults_what_is_absent():
    keys = ("id", "name", "language", "status", "category", "components")
    minimal = {key: ITEM[key] for key in keys} | {"status": "REJECTED",
                                                  "rejected_reason": "SCAM"}  # fmt: skip
    remote = templates.parse(minimal)
    assert (remote.rejected_reason, remote.parameter_format) == ("SCAM", "POSITIONAL")
    assert remote.quality_score is remote.impending_category is remote.previous_category is None


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"id": None}, "id"),
        ({"id": 1192339204654487}, "id"),
        ({"name": ""}, "name"),
        ({"language": None}, "language"),
        ({"status": ["APPROVED"]}, "status"),
        ({"category": None}, "category"),
        ({"components": "BODY"}, "components"),
        ({"components": [BODY, "FOOTER"]}, "components"),
        ({"components": None}, "components"),
    ],
)
def test_parse_refuses_what_it_cannot_read(changes, says):
    raw = {k: v for k, v in (ITEM | changes).items() if v is not None}
    with pytest.raises(Malformed, match=says):
        templates.parse(raw)


# -- list_templates ---------------------------------------------------------------------------
def test_every_page_is_read_to_the_end(sandbox, waba, graph):
    sandbox.meta.control_seed_templates(waba_id=waba["waba_id"], count=600)
    listing = templates.list_templates(graph, waba["waba_id"], waba["access_token"])
    assert [t.name for t in listing.templates] == [f"seeded_{i:05d}" for i in range(600)]
    assert listing.skipped == []
    calls = template_calls(sandbox)
    assert len(calls) == 3  # 250 + 250 + 100
    assert {t.status for t in listing.templates} == {"APPROVED"}
    assert {t.quality_score for t in listing.templates} == {"GREEN"}


def test_the_page_size_is_the_callers(sandbox, waba, graph):
    sandbox.meta.control_seed_templates(waba_id=waba["waba_id"], count=20)
    listing = templates.list_templates(graph, waba["waba_id"], waba["access_token"], page_size=7)
    assert len(listing.templates) == 20 and len(template_calls(sandbox)) == 3


def test_a_malformed_item_is_skipped_and_recorded(sandbox, waba, graph):
    sandbox.meta.control_seed_templates(waba_id=waba["waba_id"], count=3)
    broken = sandbox.meta.control_add_malformed_template(waba_id=waba["waba_id"])
    sandbox.meta.control_seed_templates(waba_id=waba["waba_id"], count=2)
    listing = templates.list_templates(graph, waba["waba_id"], waba["access_token"], page_size=2)
    assert len(listing.templates) == 5  # the others, before and after it
    [skipped] = listing.skipped
    assert (skipped["id"], skipped["name"]) == (broken["template_id"], "malformed_template")
    assert "language" in skipped["problem"]


class DeletingTransport(httpx.BaseTransport):
    """The sandbox, with someone deleting the last template of each listed page right after
    it was served (``times`` pages at most): the next page's cursor names a deleted
    template. ``asked_after`` says which listing requests carried a cursor."""

    def __init__(self, sandbox: Sandbox, times: int) -> None:
        self.inner, self.times = sandbox.transport(), times
        self.asked_after: list[bool] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.method != "GET" or not request.url.path.endswith("/message_templates"):
            return response
        self.asked_after.append("after" in request.url.params)
        if response.status_code == 200 and self.times > 0:
            self.times -= 1
            last = json.loads(response.read())["data"][-1]["name"]
            auth = {"Authorization": request.headers["Authorization"]}
            url = request.url.copy_with(params={"name": last})
            deletion = httpx.Request("DELETE", url, headers=auth)
            assert self.inner.handle_request(deletion).status_code == 200
        return response


def test_a_refused_cursor_restarts_the_listing_once(sandbox, waba):
    sandbox.meta.control_seed_templates(waba_id=waba["waba_id"], count=10)
    transport = DeletingTransport(sandbox, times=1)
    with graph_over(transport, sandbox) as graph:
        listing = templates.list_templates(graph, waba["waba_id"], waba["access_token"],
                                           page_size=4)  # fmt: skip
    names = [t.name for t in listing.templates]
    assert names == [f"seeded_{i:05d}" for i in range(10) if i != 3]  # the deleted one is gone
    assert [e["status"] for e in template_calls(sandbox)] == [200, 400, 200, 200, 200]
    assert transport.asked_after == [False, True, False, True, True]  # from the first page


def test_a_cursor_refused_twice_is_an_error(sandbox, waba):
    sandbox.meta.control_seed_templates(waba_id=waba["waba_id"], count=10)
    transport = DeletingTransport(sandbox, times=5)
    with graph_over(transport, sandbox) as graph, pytest.raises(Rejected) as refused:
        templates.list_templates(graph, waba["waba_id"], waba["access_token"], page_size=4)
    assert refused.value.code == "100"
    assert [e["status"] for e in template_calls(sandbox)] == [200, 400, 200, 400]
    assert transport.asked_after == [False, True, False, True]


def test_a_refusal_of_the_first_page_is_not_retried(sandbox, waba, graph):
    other = sandbox.meta.control_seed_waba(app_id=APP_ID)  # a WABA this token cannot see
    with pytest.raises(Rejected) as refused:
        templates.list_templates(graph, other["waba_id"], waba["access_token"])
    assert refused.value.code == "100" and refused.value.subcode == "33"
    assert len(template_calls(sandbox)) == 1


# -- submit and find --------------------------------------------------------------------------
def payload(name: str = "order_update", **changes) -> dict:
    return {"name": name, "language": "en_US", "category": "UTILITY", "components": [BODY],
            "parameter_format": None, **changes}  # fmt: skip


def test_submit_answers_what_graph_made_and_find_sees_it(sandbox, waba, graph):
    answer = templates.submit(graph, waba["waba_id"], waba["access_token"],
                              payload(allow_category_change=True))  # fmt: skip
    assert set(answer) == {"id", "status", "category"}
    assert (answer["status"], answer["category"]) == ("PENDING", "UTILITY")
    found = templates.find(graph, waba["waba_id"], waba["access_token"], "order_update", "en_US")
    assert found is not None and found.provider_template_id == answer["id"]
    assert (found.status, found.parameter_format, found.components) == (
        "PENDING", "POSITIONAL", [BODY],
    )  # fmt: skip
    sandbox.advance(30)  # reviewed on the sandbox clock
    found = templates.find(graph, waba["waba_id"], waba["access_token"], "order_update", "en_US")
    assert found is not None and found.status == "APPROVED"


def test_a_refused_submit_says_why(waba, graph):
    templates.submit(graph, waba["waba_id"], waba["access_token"], payload())
    with pytest.raises(Rejected) as refused:
        templates.submit(graph, waba["waba_id"], waba["access_token"], payload())
    assert (refused.value.code, refused.value.subcode) == ("100", "2388024")
    assert "already" in refused.value.message


def test_submit_is_never_retried(sandbox, waba, graph):
    sandbox.meta.control_set_template_cap(per_hour=1)
    templates.submit(graph, waba["waba_id"], waba["access_token"], payload("first"))
    with pytest.raises(Retryable) as throttled:
        templates.submit(graph, waba["waba_id"], waba["access_token"], payload("second"))
    assert throttled.value.code == "80008"
    sandbox.faults.add("server_error", provider="meta", method="POST", times=1)
    sandbox.advance(3600)
    with pytest.raises(Retryable):
        templates.submit(graph, waba["waba_id"], waba["access_token"], payload("second"))
    assert len(template_calls(sandbox, "POST")) == 3  # one call each, never repeated


def test_find_after_a_lost_answer(sandbox, waba, graph):
    sandbox.faults.add("drop", provider="meta", method="POST", times=1)
    with pytest.raises(Unreachable):
        templates.submit(graph, waba["waba_id"], waba["access_token"], payload())
    found = templates.find(graph, waba["waba_id"], waba["access_token"], "order_update", "en_US")
    assert found is not None and found.status == "PENDING"  # Graph made it all the same


def test_find_wants_the_exact_name_and_language(sandbox, waba, graph):
    token, waba_id = waba["access_token"], waba["waba_id"]
    for name in ("order_update_v2", "order_update", "my_order_update"):
        templates.submit(graph, waba_id, token, payload(name))
    templates.submit(graph, waba_id, token, payload("order_update", language="es"))
    found = templates.find(graph, waba_id, token, "order_update", "en_US")
    assert found is not None and found.key == ("order_update", "en_US")
    assert templates.find(graph, waba_id, token, "order", "en_US") is None
    assert templates.find(graph, waba_id, token, "order_update", "pt_BR") is None


def test_find_of_a_malformed_template_is_none(sandbox, waba, graph):
    raw = {"id": "1", "name": "broken", "language": "en_US", "status": "APPROVED"}
    sandbox.meta.control_add_malformed_template(waba_id=waba["waba_id"], raw=raw)
    assert templates.find(graph, waba["waba_id"], waba["access_token"], "broken", "en_US") is None
