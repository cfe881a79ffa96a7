"""The message relay (issue 15 item 6): each provider's messaging webhook is verified,
stored, answered, applied, and becomes one signed ``message.*`` event at the platform's
endpoint; the sandbox page's inbound control shows the whole loop (item 7).

Everything runs in process: the sandbox posts its webhooks to the app, and the delivery
job posts events through ``EVENTS_TRANSPORT``.
"""

from __future__ import annotations

import json

import httpx
import pytest
from pywa import WhatsApp
from pywa.handlers import MessageHandler, MessageStatusHandler
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook

from portal.demo import META_APP
from portal.demo_events import receiver_url
from provisioning import events, platform_events, runs
from provisioning.audit import SYSTEM
from provisioning.channels import Channel
from provisioning.dialog360.models import Dialog360Channel
from provisioning.events import WebhookEvent
from provisioning.meta.onboarding import EMBEDDED_SIGNUP
from provisioning.partners import Provider
from provisioning.platform_events import DeliveryStatus, EventDelivery, PlatformEvent
from provisioning.runs import ProvisioningRun, RunStatus
from provisioning.tenancy import Role
from provisioning.twilio.numbers import ensure_subaccount, subaccount_client
from provisioning.twilio.senders import create_sender
from tests.conftest import PUBLIC
from tests.dialog360.test_connect import go_through_hub, launch, settle
from tests.sandbox.openapi import validate_request_body

MESSAGES = ["message.received", "message.status", "message.error"]
URL = "https://platform.example/messages"


@pytest.fixture
def sandbox(connected_sandbox):
    return connected_sandbox(61, webhooks_to_app=True)


@pytest.fixture
def acme(make):
    return make.company("Acme")


class Platform:
    """The platform's messages endpoint: what the delivery job sent it, each verified with
    the Standard Webhooks library; ``answer`` is its HTTP status (or an exception)."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.answer: int | Exception = 204

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if isinstance(self.answer, Exception):
            raise self.answer
        return httpx.Response(self.answer)

    def events(self, endpoint) -> list[dict]:
        webhook = Webhook(endpoint.secret)
        return [webhook.verify(r.content, dict(r.headers)) for r in self.requests]


@pytest.fixture
def platform(app, monkeypatch) -> Platform:
    receiver = Platform()
    monkeypatch.setitem(app.config, "EVENTS_TRANSPORT", httpx.MockTransport(receiver))
    return receiver


@pytest.fixture
def endpoint(session):
    added = platform_events.add_endpoint(
        session, SYSTEM, URL, check_url=lambda _: None, event_types=MESSAGES
    )
    session.commit()
    return added


def drain(app) -> None:
    """Run the jobs: the appliers, then the delivery they wake."""
    app.extensions["job_runner"].drain()


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


# --- connecting a number of each provider ------------------------------------------------


@pytest.fixture
def meta_number(app, session, sandbox, acme) -> dict:
    """A number connected through Embedded Signup, as the job runs it; its WABA is
    subscribed to the app, so Meta sends its messages to the portal."""
    signup = sandbox.meta.control_complete_signup(app_id=META_APP["app_id"])
    drain(app)
    run = runs.start_run(
        session, SYSTEM, EMBEDDED_SIGNUP, acme.id,
        partner_configuration_id=sandbox.configs[Provider.META].id,
        context={"event": signup["event"]}, secret_input={"code": signup["code"]},
    )  # fmt: skip
    session.commit()
    status = runs.execute(session, run.id, session.commit, {"transport": sandbox.transport()})
    assert status is RunStatus.COMPLETED
    drain(app)
    channel = session.scalars(
        select(Channel).where(Channel.provider_ref == signup["phone_number_id"])
    ).one()
    return {**signup, "channel": channel}


@pytest.fixture
def twilio_sender(session, sandbox, acme):
    """A WhatsApp sender in Acme's subaccount, its callbacks pointed at the portal."""
    config = sandbox.configs[Provider.TWILIO]
    sub = ensure_subaccount(session, SYSTEM, acme, config, sandbox.transport(),
                            commit=session.commit)  # fmt: skip
    client = subaccount_client(sub, config, sandbox.transport())
    row = create_sender(
        session, SYSTEM, acme, sub, client, phone_number="+15005550006",
        waba_id="123456789012345", profile_name="Acme Retail",
        callback_url=f"{PUBLIC}/webhooks/twilio/messages",
        status_callback_url=f"{PUBLIC}/webhooks/twilio/status", commit=session.commit,
    )  # fmt: skip
    session.commit()
    assert row.channel_id
    return sub, row


@pytest.fixture
def dialog360_channel(app, client, auth, sandbox, acme, make, session):
    """A number connected through the 360dialog hub; its channel webhook carries a secret."""
    auth.login(make.user(acme, Role.ADMIN))
    client.get(go_through_hub(sandbox, launch(client, acme), ["+4915100000601"]))
    run = session.scalars(select(ProvisioningRun)).one()
    settle(app, sandbox, session, run)
    assert run.status is RunStatus.COMPLETED
    return session.scalars(select(Dialog360Channel)).one()


# --- per provider: verified, stored, applied, one signed event each ----------------------


def pywa_reads(provider_payload: dict) -> list[object]:
    """pywa's typed updates for a relayed Cloud API payload (a parser we did not write)."""
    updates: list[object] = []
    wa = WhatsApp(token="unused", app_secret="unused", filter_updates=False,
                  skip_duplicate_updates=False)  # fmt: skip
    wa.add_handlers(
        MessageHandler(lambda _, update: updates.append(update)),
        MessageStatusHandler(lambda _, update: updates.append(update)),
    )
    assert wa.webhook_update_handler(json.dumps(provider_payload).encode()) == ("ok", 200)
    return updates


def test_meta_messages_and_statuses_become_one_signed_event_each(
    app, session, sandbox, meta_number, endpoint, platform, acme
):
    meta, phone = sandbox.meta, meta_number["phone_number_id"]
    channel = meta_number["channel"]
    inbound = meta.control_inbound_message(phone_number_id=phone, text="Olá", wa_id="15550009999")
    username = meta.control_inbound_message(phone_number_id=phone, wa_id=None, username="ana")
    status = meta.control_message_status(phone_number_id=phone, status="read")
    meta.control_message_status(phone_number_id=phone, status="failed", recipient=None)
    assert all(d.status == 200 for d in sandbox.outbound.deliveries[-4:])
    assert platform.requests == []  # nothing is sent while the provider waits for its answer
    drain(app)
    received = platform.events(endpoint)
    assert [e["type"] for e in received] == ["message.received"] * 2 + ["message.status"] * 2
    first, second, read, fail = (e["data"] for e in received)
    assert first["company"] == acme.public_id
    assert first["channel"] == {"id": channel.id, "provider": "meta",
                                "phone_number": channel.phone_number}  # fmt: skip
    assert first["message_id"] == inbound["message_id"] and first["direction"] == "inbound"
    assert first["from"] == "+15550009999" and first["to"] == channel.phone_number
    assert first["user_id"] == inbound["user_id"] and first["message_type"] == "text"
    assert first["occurred_at"].endswith("Z") and first["received_at"].endswith("Z")
    # a user with a username: no phone number, the business-scoped user id only
    assert second["from"] is None and second["user_id"] == username["user_id"]
    assert read["status"] == "read" and read["direction"] == "outbound"
    assert read["message_id"] == status["message_id"] and read["to"] == "+15550009999"
    assert read["from"] == channel.phone_number and read["user_id"].startswith("US.")
    assert fail["status"] == "failed" and fail["to"] is None
    assert fail["errors"] == [{"code": 131026, "title": "Message undeliverable",
                               "details": "Message failed to send."}]  # fmt: skip
    # the provider's payload is a Meta webhook of this one message, as pywa reads it
    (message,) = pywa_reads(first["provider_payload"])
    assert message.id == inbound["message_id"] and message.text == "Olá"
    assert message.from_user.bsuid == inbound["user_id"]
    (read_status,) = pywa_reads(read["provider_payload"])
    assert read_status.id == status["message_id"] and read_status.status.value == "read"
    assert {r.headers["webhook-id"] for r in platform.requests} == set(
        session.scalars(select(PlatformEvent.public_id))
    )


def test_the_sandboxs_meta_status_webhook_is_what_meta_documents(sandbox, meta_number):
    """The simulator's statuses (2026: recipient_user_id, contacts) against the Meta spec's
    webhook schema, as the conformance tests check inbound messages."""
    phone = meta_number["phone_number_id"]
    for status in ("sent", "delivered", "read", "failed"):
        sandbox.meta.control_message_status(phone_number_id=phone, status=status)
        validate_request_body(
            "meta", "POST /whatsapp/webhooks", sandbox.outbound.deliveries[-1].body
        )


def test_twilio_incoming_messages_and_statuses_are_relayed(
    app, session, sandbox, twilio_sender, endpoint, platform
):
    sub, sender = twilio_sender
    twilio = sandbox.twilio
    sent = twilio.control_emit_inbound_message(to=sender.sender_id, body="Hola",
                                               profile_name="Ana")  # fmt: skip
    assert sent["status"] == 204
    status = twilio.control_emit_status_callback(
        url=f"{PUBLIC}/webhooks/twilio/status", account_sid=sub.account_sid,
        from_=sender.sender_id, to="whatsapp:+15558675310", message_status="undelivered",
        error_code=63016, as_json=True,
    )  # fmt: skip
    assert status["status"] == 204
    assert app.extensions["job_runner"].queue == [("webhooks.apply_pending", ())] * 2
    drain(app)
    inbound, outbound = (e["data"] for e in platform.events(endpoint))
    assert inbound["channel"]["id"] == sender.channel_id
    assert inbound["channel"]["provider"] == "twilio"
    assert inbound["from"] == "+15558675310" and inbound["to"] == "+15005550006"
    assert inbound["direction"] == "inbound" and inbound["message_type"] == "text"
    assert inbound["message_id"].startswith("SM") and inbound["status"] is None
    assert inbound["provider_payload"]["Body"] == "Hola"
    assert inbound["provider_payload"]["ProfileName"] == "Ana"
    assert outbound["status"] == "undelivered" and outbound["direction"] == "outbound"
    assert outbound["from"] == "+15005550006" and outbound["to"] == "+15558675310"
    assert outbound["errors"] == [{"code": 63016, "title": "", "details": None}]
    stored = session.scalars(select(WebhookEvent).where(WebhookEvent.provider == Provider.TWILIO))
    assert all(e.processed_at and e.error is None for e in stored)


def test_360dialog_channel_messages_are_relayed_from_the_store(
    app, session, sandbox, dialog360_channel, endpoint, platform
):
    row, sim = dialog360_channel, sandbox.dialog360
    inbound = sim.control_inbound_message(channel_id=row.dialog_channel_id, text="Hallo")
    assert inbound["deliveries"] == [200]
    with httpx.Client(transport=sandbox.transport(), base_url=sandbox.base_url) as waba:
        sent = waba.post(
            "/dialog360/waba/messages",
            json={"messaging_product": "whatsapp", "to": "15550002222", "type": "text",
                  "text": {"body": "Hello"}},
            headers={"D360-API-KEY": row.api_key},
        ).json()  # fmt: skip
    wamid = sent["messages"][0]["id"]
    assert sim.control_message_status(message_id=wamid, status="delivered")["deliveries"] == [200]
    # written with the stored delivery, in its transaction; sent by the job it wakes
    assert count(session, PlatformEvent) == 2 and platform.requests == []
    assert ("events.deliver", ()) in app.extensions["job_runner"].queue
    drain(app)
    received, delivered = (e["data"] for e in platform.events(endpoint))
    assert received["channel"]["provider"] == "dialog360"
    assert received["channel"]["id"] == row.channel_id
    assert received["message_id"] == inbound["message_id"]
    assert received["from"] == "+15550001111" and received["user_id"] == inbound["user_id"]
    (message,) = pywa_reads(received["provider_payload"])
    assert message.text == "Hallo"
    assert delivered["status"] == "delivered" and delivered["message_id"] == wamid
    assert delivered["to"] == "+15550002222"


# --- once, and only to whom it belongs ---------------------------------------------------


def test_a_repeated_delivery_or_a_second_application_relays_nothing_again(
    app, client, session, sandbox, meta_number, endpoint, platform
):
    sandbox.meta.control_inbound_message(phone_number_id=meta_number["phone_number_id"])
    again = sandbox.outbound.deliveries[-1]
    assert client.post("/webhooks/meta", data=again.body, headers=again.headers).status_code == 200
    drain(app)
    assert count(session, PlatformEvent) == 1 and len(platform.requests) == 1
    # an admin replays the stored event: applied again, nothing written again
    stored = session.scalars(select(WebhookEvent).where(WebhookEvent.event_type == "messages"))
    event = stored.one()
    events.replay(session, SYSTEM, event)
    session.commit()
    from portal.jobs.webhooks import apply_meta_event

    with app.app_context():
        apply_meta_event(event.id)
    drain(app)
    session.refresh(event)
    assert event.processed_at and event.error is None
    assert count(session, PlatformEvent) == 1 and len(platform.requests) == 1
    # the same message in another delivery (Meta resends with another envelope time)
    body = json.loads(again.body)
    body["entry"][0]["time"] += 60
    resent = json.dumps(body).encode()
    from provisioning.sandbox.meta.webhooks import sign

    headers = {"X-Hub-Signature-256": sign(META_APP["app_secret"], resent),
               "Content-Type": "application/json"}  # fmt: skip
    assert client.post("/webhooks/meta", data=resent, headers=headers).status_code == 200
    drain(app)
    assert count(session, WebhookEvent.__table__) >= 2
    assert count(session, PlatformEvent) == 1 and len(platform.requests) == 1


@pytest.mark.parametrize("answer", [500, httpx.ReadTimeout("slow")])
def test_a_failing_or_slow_endpoint_never_reaches_the_provider(
    app, session, sandbox, meta_number, endpoint, platform, answer
):
    platform.answer = answer
    sandbox.meta.control_inbound_message(phone_number_id=meta_number["phone_number_id"])
    assert sandbox.outbound.deliveries[-1].status == 200  # Meta got its answer at once
    drain(app)
    event = session.scalars(select(WebhookEvent).where(WebhookEvent.event_type == "messages"))
    assert event.one().error is None  # applied; the endpoint's trouble is the outbox's
    delivery = session.scalars(select(EventDelivery)).one()
    assert delivery.status is DeliveryStatus.PENDING and delivery.attempts == 1
    assert delivery.next_attempt_at > delivery.last_attempt_at  # retried with backoff


def test_two_delivery_passes_never_send_one_event_twice(session, acme, endpoint):
    """Relayed messages wake the delivery job in whichever process applied them: a
    delivery is claimed (committed) before it is sent, and a pass finding it claimed
    skips it."""
    for n in range(2):
        platform_events.emit(session, "message.received", acme.id, "channel:1", {"n": n},
                             public_id=f"msg_claim{n}")  # fmt: skip
    session.commit()
    first = session.scalars(select(EventDelivery).order_by(EventDelivery.id)).first()
    at = platform_events.utcnow()
    assert platform_events.claim(session, first.id, at)
    assert not platform_events.claim(session, first.id, at)  # the other pass lost the race
    first.next_attempt_at = at  # give it back
    session.commit()
    sent: list[str] = []

    def send(url, body, headers):
        sent.append(headers["webhook-id"])
        if len(sent) == 1:  # another pass runs while the first attempt is in flight
            assert platform_events.deliver_due(session, send) == {
                "delivered": 0, "failed": 0, "disabled": []}  # fmt: skip
        return platform_events.Outcome(204)

    platform_events.deliver_due(session, send)
    assert sent == ["msg_claim0", "msg_claim1"]  # once each, in order


def test_numbers_not_connected_here_are_stored_not_relayed(
    app, session, sandbox, meta_number, twilio_sender, endpoint, platform
):
    meta = sandbox.meta
    other = meta.control_seed_waba(app_id=META_APP["app_id"], subscribe=True)
    meta.control_inbound_message(phone_number_id=other["phone_number_ids"][0])
    value = {"messaging_product": "whatsapp",
             "metadata": {"display_phone_number": "15550000000", "phone_number_id": "999"},
             "messages": [{"from": "15550009999", "id": "wamid.X", "timestamp": "1767225600",
                           "type": "text", "text": {"body": "?"}}]}  # fmt: skip
    meta.control_emit(waba_id=meta_number["waba_id"], field="messages", value=value)
    sub, _ = twilio_sender
    sandbox.twilio.control_emit_status_callback(  # a status of another sender of the account
        url=f"{PUBLIC}/webhooks/twilio/status", account_sid=sub.account_sid,
        from_="whatsapp:+15005550009",
    )  # fmt: skip
    drain(app)
    stored = session.scalars(select(WebhookEvent).where(
        WebhookEvent.event_type.in_(["messages", "status"]))).all()  # fmt: skip
    assert len(stored) == 3 and all(e.processed_at and e.error is None for e in stored)
    assert count(session, PlatformEvent) == 0 and platform.requests == []


def test_another_companys_endpoint_gets_nothing(
    app, session, sandbox, meta_number, make, platform, acme
):
    globex = make.company("Globex")
    theirs = platform_events.add_endpoint(
        session, SYSTEM, "https://globex.example/m", check_url=lambda _: None, company=globex,
        event_types=MESSAGES,
    )  # fmt: skip
    ours = platform_events.add_endpoint(
        session, SYSTEM, "https://acme.example/m", check_url=lambda _: None, company=acme,
        event_types=["message.received"],
    )  # fmt: skip
    session.commit()
    sandbox.meta.control_inbound_message(phone_number_id=meta_number["phone_number_id"])
    drain(app)
    assert [r.url for r in platform.requests] == ["https://acme.example/m"]
    assert platform.events(ours)[0]["data"]["company"] == acme.public_id
    assert session.scalars(select(EventDelivery.endpoint_id)).all() == [ours.id]
    assert theirs.id not in {d.endpoint_id for d in session.scalars(select(EventDelivery))}


def test_message_events_go_only_to_endpoints_that_name_them(
    app, session, sandbox, meta_number, platform
):
    """High volume: an endpoint of every type (no event_types) gets the channel events,
    not the messages; naming a message type opts in."""
    every = platform_events.add_endpoint(session, SYSTEM, "https://crm.example/e",
                                         check_url=lambda _: None)  # fmt: skip
    named = platform_events.add_endpoint(
        session, SYSTEM, URL, check_url=lambda _: None, event_types=["message.received"]
    )
    session.commit()
    assert every.wants("channel.updated", None) and not every.wants("message.received", None)
    assert named.wants("message.received", None) and not named.wants("message.status", None)
    sandbox.meta.control_inbound_message(phone_number_id=meta_number["phone_number_id"])
    sandbox.meta.control_message_status(phone_number_id=meta_number["phone_number_id"])
    drain(app)
    assert [(r.url, json.loads(r.content)["type"]) for r in platform.requests] == [
        (URL, "message.received")
    ]


# --- the sandbox page: the whole loop, as the demo shows it -------------------------------


@pytest.fixture
def demo_receiver(app, monkeypatch):
    """The demo's receiver (/demo/events), reached in process; what it keeps is the app's,
    so it is emptied before and after."""
    monkeypatch.setitem(app.config, "EVENTS_TRANSPORT", httpx.WSGITransport(app=app))
    kept = app.extensions["demo_events"]
    kept.clear()
    yield kept
    kept.clear()


def test_the_sandbox_pages_inbound_control_ends_at_the_demo_receiver(
    app, client, auth, session, sandbox, meta_number, twilio_sender, make, demo_receiver
):
    platform_events.add_endpoint(session, SYSTEM, receiver_url(PUBLIC), check_url=lambda _: None,
                                 event_types=sorted(platform_events.CATALOG))  # fmt: skip
    session.commit()
    auth.login(make.admin())
    page = client.get("/admin/sandbox/").get_data(as_text=True)
    phone, sender = meta_number["phone_number_id"], twilio_sender[1].sender_id
    assert f'name="target" value="{phone}"' in page
    assert f'name="target" value="{sender}"' in page
    for provider, target, text in (("meta", phone, "Hi from Meta"),
                                   ("twilio", sender, "Hi from Twilio")):  # fmt: skip
        response = auth.post("/admin/sandbox/inbound",
                             {"provider": provider, "target": target, "text": text},
                             form_page="/admin/sandbox/", follow_redirects=True)  # fmt: skip
        assert f"A customer wrote to {target}" in response.get_data(as_text=True)
    drain(app)
    shown = client.get("/demo/events").get_data(as_text=True)
    assert "Hi from Meta" in shown and "Hi from Twilio" in shown
    kept = [e for e in demo_receiver if e["type"] == "message.received"]
    assert len(kept) == 2 and all(e["verified"] for e in kept)
    # a number the sandbox does not know: the sandbox's refusal, on the page
    response = auth.post("/admin/sandbox/inbound",
                         {"provider": "meta", "target": "nope", "text": "x"},
                         form_page="/admin/sandbox/", follow_redirects=True)  # fmt: skip
    assert b"The sandbox refused" in response.data
    bad = auth.post("/admin/sandbox/inbound", {"provider": "meta", "target": "", "text": ""},
                    form_page="/admin/sandbox/", follow_redirects=True)  # fmt: skip
    assert bad.status_code == 200 and b"This field is required" in bad.data


def test_the_inbound_control_is_for_platform_admins(client, auth, make, sandbox, acme):
    auth.login(make.user(acme, Role.ADMIN))
    response = auth.post("/admin/sandbox/inbound",
                         {"provider": "meta", "target": "1", "text": "x"},
                         form_page=f"/c/{acme.slug}/")  # fmt: skip
    assert response.status_code in (403, 404)
