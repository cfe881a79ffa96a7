"""A whole onboarding driven by the platform API alone (issue 15, "Done when"): a company
created, a hosted link completed in a browser, ``channel.connected`` received signed at
the platform's endpoint, the send credentials fetched, an inbound message relayed."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session
from standardwebhooks.webhooks import Webhook

from provisioning import api_keys, audit
from tests.e2e.conftest import free_port
from tests.e2e.test_connect_meta import complete_popup

pytestmark = pytest.mark.browser


class Receiver(BaseHTTPRequestHandler):
    """The platform's events endpoint: keeps every delivery's headers and body."""

    received: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((dict(self.headers.items()), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def platform_key(database_url: str) -> str:
    """A platform admin's key with every scope, as made on the API keys page."""
    engine = create_engine(database_url)
    with Session(engine) as session:
        _, token = api_keys.create_key(
            session, audit.SYSTEM, "platform", ("read", "write", "credentials")
        )
        session.commit()
    engine.dispose()
    return token


def wait_for_event(secret: str, type_: str, seconds: float = 30) -> dict:
    """The first delivery of ``type_``, its signature checked (Standard Webhooks)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for headers, body in list(Receiver.received):
            event = Webhook(secret).verify(body, headers)
            if event["type"] == type_:
                return event
        time.sleep(0.3)
    raise AssertionError(f"no {type_} event arrived in {seconds} s")


def test_a_platform_onboards_a_company_through_the_api_only(
    browser, live_demo, scratch_database_url
):
    Receiver.received = []
    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    api = httpx.Client(
        base_url=f"{live_demo['portal']}/api/v1",
        headers={"Authorization": f"Bearer {platform_key(scratch_database_url)}"},
    )
    try:
        company = api.post("/companies", json={"name": "Initech"},
                           headers={"Idempotency-Key": "signup-1"})  # fmt: skip
        assert company.status_code == 201, company.text
        company_id = company.json()["id"]
        endpoint = api.post(
            "/event-endpoints",
            json={"url": f"http://127.0.0.1:{port}/events", "company": company_id,
                  "event_types": ["channel.connected", "message.received"]},
        )  # fmt: skip
        assert endpoint.status_code == 201, endpoint.text
        secret = endpoint.json()["secret"]
        link = api.post(f"/companies/{company_id}/onboarding-links",
                        json={"options": ["meta"], "platform_name": "Chatly"},
                        headers={"Idempotency-Key": "link-1"})  # fmt: skip
        assert link.status_code == 201, link.text

        # someone with no portal account completes the link in a browser
        page = browser.new_context().new_page()
        page.goto(link.json()["url"])
        page.wait_for_selector("#connect-meta:not([disabled])")
        with page.expect_popup() as popup_info:
            page.click("#connect-meta")
        complete_popup(popup_info.value, "+1 555 010 7171")

        connected = wait_for_event(secret, "channel.connected", seconds=60)
        channel_id = connected["data"]["channel"]["id"]
        link_state = api.get(f"/onboarding-links/{link.json()['id']}").json()
        assert link_state["state"] == "completed" and channel_id in link_state["channels"]

        credentials = api.get(f"/channels/{channel_id}/credentials")
        assert credentials.status_code == 200 and credentials.json()["provider"] == "meta"
        assert credentials.headers["Cache-Control"] == "no-store"
        phone_number_id = credentials.json()["phone_number_id"]

        live_demo["sandbox_obj"].meta.control_inbound_message(
            phone_number_id=phone_number_id, text="Is my order on its way?"
        )
        message = wait_for_event(secret, "message.received")
        assert message["data"]["channel"]["id"] == channel_id
        assert json.dumps(message["data"]["provider_payload"]).count("Is my order") == 1
    finally:
        api.close()
        server.shutdown()
