"""Meta's Template Library through the template client (``provisioning.meta.templates``)
against the Meta simulator: ``library()`` browses one page with Meta's filters, and
``submit()`` creates a template from the library unchanged (``library_template_name`` and
button inputs, no components), which the listing then reads with its library name."""

from __future__ import annotations

import json

import httpx
import pytest

from provisioning.errors import AuthError, Rejected
from provisioning.meta import templates
from provisioning.meta.api import GraphClient
from provisioning.sandbox import Sandbox, SimClock

APP_ID = "1234567890123456"
TRACK = {
    "type": "URL",
    "url": {
        "base_url": "https://shop.example/track/{{1}}",
        "url_suffix_example": "https://shop.example/track/A-17",
    },
}


class Recording(httpx.BaseTransport):
    """The sandbox's transport, keeping each request it passes on."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.inner, self.requests = sandbox.transport(), []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        return self.inner.handle_request(request)


@pytest.fixture
def sandbox() -> Sandbox:
    answered = httpx.MockTransport(lambda request: httpx.Response(200))
    return Sandbox(seed=16, clock=SimClock(start=1_767_225_600.0), outbound_transport=answered,
                   record=True)  # fmt: skip


@pytest.fixture
def waba(sandbox: Sandbox) -> dict:
    sandbox.meta.control_seed_app(app_id=APP_ID)
    return sandbox.meta.control_seed_waba(app_id=APP_ID)


@pytest.fixture
def transport(sandbox: Sandbox) -> Recording:
    return Recording(sandbox)


@pytest.fixture
def graph(sandbox: Sandbox, transport: Recording) -> GraphClient:
    with GraphClient(f"{sandbox.base_url}/meta/graph", "v23.0", transport=transport,
                     sleep=lambda seconds: None) as client:  # fmt: skip
        yield client


def library_payload(name: str = "shipping_news", **changes) -> dict:
    return {"name": name, "language": "en_US", "category": "UTILITY",
            "library_template_name": "delivery_update_1",
            "library_template_button_inputs": [TRACK], **changes}  # fmt: skip


# -- library ----------------------------------------------------------------------------------
def test_library_gives_metas_items_of_the_first_page(waba, graph, transport):
    items = templates.library(graph, waba["access_token"])
    assert len(items) >= 12  # the whole built-in library fits the default page of 50
    assert {"UTILITY", "AUTHENTICATION"} == {item["category"] for item in items}
    delivery = next(i for i in items if (i["name"], i["language"]) == ("delivery_update_1",
                                                                         "en_US"))  # fmt: skip
    assert delivery["body_param_types"] == ["TEXT", "DATE"]
    assert delivery["buttons"][0]["type"] == "URL"
    [request] = transport.requests
    assert request.url.path == "/meta/graph/v23.0/message_template_library"
    assert dict(request.url.params) == {"limit": "50"}  # no empty filter, no token in the URL
    assert request.headers["Authorization"] == f"Bearer {waba['access_token']}"


def test_library_passes_metas_filters(waba, graph, transport):
    found = templates.library(graph, waba["access_token"], search="payment", language="en_US",
                              topic="PAYMENTS", usecase="PAYMENT_DUE_REMINDER",
                              industry="FINANCIAL_SERVICES")  # fmt: skip
    assert [item["name"] for item in found] == ["payment_reminder_1"]
    assert dict(transport.requests[0].url.params) == {
        "limit": "50", "search": "payment", "language": "en_US", "topic": "PAYMENTS",
        "usecase": "PAYMENT_DUE_REMINDER", "industry": "FINANCIAL_SERVICES",
    }  # fmt: skip
    assert templates.library(graph, waba["access_token"], search="zeppelin") == []


def test_library_reads_one_page_only(waba, graph, transport):
    items = templates.library(graph, waba["access_token"], limit=3)
    assert len(items) == 3 and len(transport.requests) == 1


def test_library_with_a_bad_token_is_an_auth_error(graph):
    with pytest.raises(AuthError):
        templates.library(graph, "not-a-token")


# -- submit from the library --------------------------------------------------------------------
def test_submit_creates_from_the_library_unchanged(sandbox, waba, graph, transport):
    token, waba_id = waba["access_token"], waba["waba_id"]
    payload = library_payload(library_template_body_inputs=None)
    answer = templates.submit(graph, waba_id, token, payload)
    assert set(answer) == {"id", "status", "category"}
    assert (answer["status"], answer["category"]) == ("PENDING", "UTILITY")
    sent = json.loads(transport.requests[-1].content)
    assert sent == library_payload()  # the None is dropped, nothing else is touched
    assert "components" not in sent
    sandbox.advance(30)  # reviewed on the sandbox clock like any creation
    listing = templates.list_templates(graph, waba_id, token)
    [remote] = listing.templates
    assert (remote.provider_template_id, remote.status) == (answer["id"], "APPROVED")
    assert remote.library_template_name == "delivery_update_1"
    assert remote.category == "UTILITY" and remote.parameter_format == "POSITIONAL"
    assert [c["type"] for c in remote.components] == ["HEADER", "BODY", "BUTTONS"]
    [button] = remote.components[-1]["buttons"]
    assert button["url"] == "https://shop.example/track/{{1}}"
    found = templates.find(graph, waba_id, token, "shipping_news", "en_US")
    assert found is not None and found.library_template_name == "delivery_update_1"


def test_an_authentication_template_from_the_library(waba, graph):
    payload = {"name": "login_code", "language": "en_US", "category": "AUTHENTICATION",
               "library_template_name": "otp_verification_1",
               "library_template_body_inputs": {"add_security_recommendation": True,
                                                "code_expiration_minutes": 10},
               "library_template_button_inputs": [{"type": "OTP",
                                                   "otp_type": "COPY_CODE"}]}  # fmt: skip
    answer = templates.submit(graph, waba["waba_id"], waba["access_token"], payload)
    assert answer["category"] == "AUTHENTICATION"
    found = templates.find(graph, waba["waba_id"], waba["access_token"], "login_code", "en_US")
    assert found is not None and found.library_template_name == "otp_verification_1"
    assert found.components[1] == {"type": "FOOTER", "text": "This code expires in 10 minutes.",
                                   "code_expiration_minutes": 10}  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"library_template_name": "no_such_item"},
         "There is no template named no_such_item in the template library"),
        ({"library_template_button_inputs": None},
         'The URL button "Track order" of the library template delivery_update_1 needs'),
    ],
)  # fmt: skip
def test_a_refused_library_submit_says_why_in_metas_words(sandbox, waba, graph, changes, says):
    with pytest.raises(Rejected) as refused:
        templates.submit(graph, waba["waba_id"], waba["access_token"], library_payload(**changes))
    assert refused.value.code == "100"
    assert says in refused.value.message  # error_user_msg, fit to show
    posts = [e for e in sandbox.exchanges if e["method"] == "POST"]
    assert len(posts) == 1  # a refusal is not retried
    assert templates.find(graph, waba["waba_id"], waba["access_token"], "shipping_news",
                          "en_US") is None  # fmt: skip
