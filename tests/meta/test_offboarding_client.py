"""The Graph calls of Meta's offboarding, shaped as a client we did not write (pywa) shapes
them: clearing a number's alternate callback, and reading a WABA's subscribed apps."""

from __future__ import annotations

import json

import httpx
from pywa.api import GraphAPI

from provisioning.meta.api import GraphClient
from provisioning.meta.offboarding import clear_number_callback, subscribed_app_ids

# pywa's own example of GET /{WABA}/subscribed_apps (GraphAPI.get_waba_subscribed_apps)
PYWA_SUBSCRIBED_APPS = {
    "data": [
        {
            "whatsapp_business_api_data": {
                "link": "https://www.facebook.com/games/?app_id=12345",
                "name": "My App",
                "id": "12345",
            },
            "override_callback_uri": "https://example.com/wa_webhook",
        },
        {
            "whatsapp_business_api_data": {
                "link": "https://www.facebook.com/games/?app_id=67890",
                "name": "My second app",
                "id": "67890",
            }
        },
    ]
}


class Recorder:
    def __init__(self, answer: dict) -> None:
        self.requests: list[httpx.Request] = []
        self.answer = answer

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(200, json=self.answer)


def sent(request: httpx.Request) -> tuple[str, str, dict | None]:
    path = request.url.path.split("/", 2)[2].rstrip("/")  # without /vNN.N/
    body = json.loads(request.content) if request.content else None
    return request.method, path, body


def test_clearing_a_number_s_callback_is_pywa_s_request():
    ours, theirs = Recorder({"success": True}), Recorder({"success": True})
    with GraphClient("https://graph.test", "v25.0", transport=httpx.MockTransport(ours)) as graph:
        clear_number_callback(graph, "106540352242922", "EAAtoken")
    pywa = GraphAPI("EAAtoken", httpx.Client(transport=httpx.MockTransport(theirs)), 25.0)
    pywa.delete_phone_alternate_callback_url(phone_id="106540352242922")
    assert sent(ours.requests[0]) == sent(theirs.requests[0]) == (
        "POST", "106540352242922", {"webhook_configuration": {"override_callback_uri": ""}}
    )  # fmt: skip
    assert ours.requests[0].headers["Authorization"] == "Bearer EAAtoken"


def test_subscribed_apps_are_read_as_pywa_documents_them():
    ours, theirs = Recorder(PYWA_SUBSCRIBED_APPS), Recorder(PYWA_SUBSCRIBED_APPS)
    with GraphClient("https://graph.test", "v25.0", transport=httpx.MockTransport(ours)) as graph:
        assert subscribed_app_ids(graph, "102290129340398", "EAAtoken") == ["12345", "67890"]
    pywa = GraphAPI("EAAtoken", httpx.Client(transport=httpx.MockTransport(theirs)), 25.0)
    pywa.get_waba_subscribed_apps(waba_id="102290129340398")
    assert sent(ours.requests[0]) == sent(theirs.requests[0])
