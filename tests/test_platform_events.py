"""Platform events: written with the change they announce, signed per Standard Webhooks,
in order per channel, nothing lost while an endpoint is down, disabled after a day."""

from __future__ import annotations

import datetime as dt
import json

import httpx
import pytest
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook

from portal.jobs.events import deliver_events
from provisioning import health, platform_events
from provisioning.audit import SYSTEM, AuditEntry
from provisioning.db import utcnow
from provisioning.errors import DomainError
from provisioning.partners import Provider
from provisioning.platform_events import (
    DeliveryStatus,
    EventDelivery,
    Outcome,
    PlatformEvent,
    deliver_due,
)
from provisioning.tenancy import Role

URL = "https://platform.example/events"


def allow(url: str) -> None:
    if not url.startswith("https://"):
        raise DomainError("An events endpoint must use https.")


@pytest.fixture
def acme(make):
    return make.company("Acme")


@pytest.fixture
def endpoint(session):
    added = platform_events.add_endpoint(session, SYSTEM, URL, check_url=allow)
    session.commit()
    return added


def connect(session, company, ref="pn-1", **values):
    channel = health.upsert_channel(
        session, company.id, Provider.META, ref, phone_number="+15550001111",
        status="CONNECTED", quality_rating="GREEN", messaging_limit="TIER_1K", **values,
    )  # fmt: skip
    session.commit()
    return channel


def change(session, channel, **values):
    health.observe(session, channel, source="webhook", **values)
    session.commit()


class Receiver:
    """An endpoint that is up or down, and what it received."""

    def __init__(self, secret: str) -> None:
        self.webhook = Webhook(secret)
        self.up = True
        self.received: list[dict] = []

    def __call__(self, url: str, body: bytes, headers: dict[str, str]) -> Outcome:
        if not self.up:
            return Outcome(503, "maintenance")
        # the library's signature, at the simulated time (verify() checks the real clock)
        at = dt.datetime.fromtimestamp(int(headers["webhook-timestamp"]), dt.UTC)
        expected = self.webhook.sign(headers["webhook-id"], at, body)
        assert expected in headers["webhook-signature"].split(" ")
        self.received.append(json.loads(body))
        return Outcome(204)


def test_a_channel_change_and_its_event_are_stored_together(session, acme, endpoint):
    channel = connect(session, acme)
    change(session, channel, quality_rating="RED")
    events = session.scalars(select(PlatformEvent).order_by(PlatformEvent.id)).all()
    assert [e.type for e in events] == ["channel.connected", "channel.updated"]
    body = json.loads(events[1].payload)
    assert body["data"]["company"] == acme.public_id
    assert body["data"]["changes"] == {"quality_rating": {"from": "GREEN", "to": "RED"}}
    assert body["data"]["channel"]["quality_rating"] == "RED"
    change(session, channel, status="DISCONNECTED")
    assert session.scalars(
        select(PlatformEvent.type).order_by(PlatformEvent.id.desc())
    ).first() == ("channel.disconnected")


def test_without_an_endpoint_nothing_is_written(session, acme):
    connect(session, acme)
    assert session.scalar(select(func.count()).select_from(PlatformEvent)) == 0


def test_a_company_endpoint_gets_its_company_only_and_types_filter(session, make, acme):
    globex = make.company("Globex")
    platform_events.add_endpoint(session, SYSTEM, URL, check_url=allow, company=globex,
                                 event_types=["channel.updated"])  # fmt: skip
    session.commit()
    connect(session, acme)
    globex_channel = connect(session, globex, "pn-2")
    change(session, globex_channel, messaging_limit="TIER_10K")
    assert session.scalars(select(PlatformEvent.type)).all() == ["channel.updated"]
    with pytest.raises(DomainError, match="Unknown event types"):
        platform_events.add_endpoint(session, SYSTEM, URL, check_url=allow, event_types=["x"])
    with pytest.raises(DomainError, match="https"):
        platform_events.add_endpoint(session, SYSTEM, "http://platform.example", check_url=allow)


def test_the_job_sends_signed_events_that_standard_webhooks_verifies(
    app, session, acme, endpoint, monkeypatch
):
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    monkeypatch.setitem(app.config, "EVENTS_TRANSPORT", httpx.MockTransport(handler))
    connect(session, acme)
    with app.app_context():
        counts = deliver_events()
    assert counts["delivered"] == 1 and len(seen) == 1
    request = seen[0]
    payload = Webhook(endpoint.secret).verify(request.content, dict(request.headers))
    assert payload["type"] == "channel.connected" and request.url == URL
    assert request.headers["webhook-id"].startswith("msg_")
    with pytest.raises(Exception, match=r"(?i)signature"):
        Webhook(platform_events.new_secret()).verify(request.content, dict(request.headers))
    delivery = session.scalars(select(EventDelivery)).one()
    assert delivery.status is DeliveryStatus.DELIVERED and delivery.attempts == 1


def test_an_hour_down_loses_nothing_and_keeps_each_channels_order(session, acme, endpoint):
    receiver = Receiver(endpoint.secret)
    clock = [utcnow()]  # the events are written now
    receiver.up = False
    one, two = connect(session, acme, "pn-1"), connect(session, acme, "pn-2")
    for rating in ("YELLOW", "RED", "GREEN"):
        change(session, one, quality_rating=rating)
        change(session, two, quality_rating=rating)
    for _ in range(60):  # an hour, a pass a minute
        deliver_due(session, receiver, now=lambda: clock[0])
        clock[0] += dt.timedelta(minutes=1)
    assert receiver.received == []
    receiver.up = True
    for _ in range(90):  # backoff is capped at an hour: within 90 minutes all is sent
        deliver_due(session, receiver, now=lambda: clock[0])
        clock[0] += dt.timedelta(minutes=1)
    by_channel: dict[int, list[str]] = {}
    for event in receiver.received:
        channel = event["data"]["channel"]
        by_channel.setdefault(channel["id"], []).append(channel["quality_rating"])
    assert by_channel == {one.id: ["GREEN", "YELLOW", "RED", "GREEN"],
                          two.id: ["GREEN", "YELLOW", "RED", "GREEN"]}  # fmt: skip
    pending = select(func.count()).where(EventDelivery.status != DeliveryStatus.DELIVERED)
    assert session.scalar(pending) == 0


def test_an_endpoint_failing_for_a_day_is_disabled_and_enabling_it_replays(session, acme, endpoint):
    receiver = Receiver(endpoint.secret)
    receiver.up = False
    clock = [utcnow()]  # the events are written now
    connect(session, acme)
    disabled = []
    for _ in range(30 * 28):  # a pass every 2 minutes for 28 hours
        disabled += deliver_due(session, receiver, now=lambda: clock[0])["disabled"]
        clock[0] += dt.timedelta(minutes=2)
    session.refresh(endpoint)
    assert disabled == [endpoint.id] and endpoint.disabled_at is not None
    assert "26 hours" in endpoint.disabled_reason
    delivery = session.scalars(select(EventDelivery)).one()
    assert delivery.status is DeliveryStatus.FAILED and delivery.attempts < 60  # backoff
    receiver.up = True
    assert platform_events.enable(session, SYSTEM, endpoint) == 1
    session.commit()
    deliver_due(session, receiver, now=lambda: clock[0])
    assert [e["type"] for e in receiver.received] == ["channel.connected"]
    assert session.scalar(select(func.count()).where(AuditEntry.action == "event_endpoint.enable"))


def test_platform_admins_follow_an_endpoint_replay_and_enable_it(
    client, auth, session, make, acme, endpoint
):
    receiver = Receiver(endpoint.secret)
    receiver.up = False
    connect(session, acme)
    clock = [utcnow()]  # the events are written now
    for _ in range(30 * 28):
        deliver_due(session, receiver, now=lambda: clock[0])
        clock[0] += dt.timedelta(minutes=2)
    admin = make.user(acme, Role.ADMIN)
    auth.login(admin)
    assert client.get("/admin/event-endpoints/").status_code == 404
    auth.logout()
    auth.login(make.admin())
    listed = client.get("/admin/event-endpoints/").get_data(as_text=True)
    assert URL in listed and "disabled: Every attempt failed for 26 hours" in listed
    page = f"/admin/event-endpoints/{endpoint.id}"
    detail = client.get(page).get_data(as_text=True)
    assert "channel.connected" in detail and "failed" in detail
    answer = auth.post(f"{page}/enable", form_page=page, follow_redirects=True)
    assert "1 failed deliveries go again" in answer.get_data(as_text=True)
    session.refresh(endpoint)
    assert endpoint.disabled_at is None
    delivery = session.scalars(select(EventDelivery)).one()
    assert delivery.status is DeliveryStatus.PENDING
    deliver_due(session, Receiver(endpoint.secret), now=lambda: clock[0])
    answer = auth.post(f"{page}/deliveries/{delivery.id}/replay", form_page=page,
                       follow_redirects=True)  # fmt: skip
    assert "goes again" in answer.get_data(as_text=True)


def test_the_demo_receiver_checks_and_shows_what_arrives(
    app, client, auth, session, make, acme, monkeypatch
):
    receiver = platform_events.add_endpoint(
        session, SYSTEM, "http://portal.test/demo/events", check_url=allow_any
    )
    session.commit()
    monkeypatch.setitem(app.config, "EVENTS_TRANSPORT", httpx.WSGITransport(app=app))
    channel = connect(session, acme)
    change(session, channel, quality_rating="RED")
    with app.app_context():
        assert deliver_events()["delivered"] == 2
    forged = client.post("/demo/events", data=b'{"type": "channel.updated"}',
                         headers={"webhook-id": "msg_x", "webhook-timestamp": "1",
                                  "webhook-signature": "v1,AAAA"})  # fmt: skip
    assert forged.status_code == 401
    auth.login(make.admin())
    page = client.get("/demo/events").get_data(as_text=True)
    assert page.count(">valid<") == 2 and "NOT valid" in page
    assert "channel.connected" in page and "channel.updated" in page
    assert receiver.secret not in page


def allow_any(url: str) -> None:
    return None
