"""The events endpoint down on a simulated clock: for an hour nothing is lost and every
event arrives once, in order per channel; for over a day the endpoint is disabled with
one alert to its admins, and enabling it delivers everything, in order."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select, update

from provisioning import platform_events
from provisioning.audit import SYSTEM
from provisioning.mail import OutgoingMail
from provisioning.platform_events import (
    GIVE_UP_AFTER,
    DeliveryStatus,
    EventDelivery,
    EventEndpoint,
    Outcome,
    PlatformEvent,
    deliver_due,
)
from provisioning.tenancy import Role
from tests.test_platform_events import Receiver, allow, change, connect

START = dt.datetime(2027, 3, 1, 8, 0, tzinfo=dt.UTC)
RATINGS = ("YELLOW", "RED", "GREEN")


class Clock:
    """The simulated time: the outbox stamps its events with it, the delivery job reads it."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


class Endpoint(Receiver):
    """A receiver that also keeps each delivery's webhook-id, to count arrivals."""

    def __init__(self, secret: str) -> None:
        super().__init__(secret)
        self.ids: list[str] = []

    def __call__(self, url: str, body: bytes, headers: dict[str, str]) -> Outcome:
        outcome = super().__call__(url, body, headers)
        if outcome.delivered:
            self.ids.append(headers["webhook-id"])
        return outcome


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(platform_events, "utcnow", clock)
    return clock


@pytest.fixture
def acme(make):
    return make.company("Acme")


def deliver(session, receiver, clock, disabled: list[int]) -> None:
    disabled += deliver_due(session, receiver, now=clock)["disabled"]


def by_channel(received: list[dict]) -> dict[int, list[str]]:
    """What arrived, as each channel's quality ratings in arrival order."""
    seen: dict[int, list[str]] = {}
    for body in received:
        channel = body["data"]["channel"]
        seen.setdefault(channel["id"], []).append(channel["quality_rating"])
    return seen


def produced(session) -> dict[int, list[str]]:
    """The events written, as each channel's quality ratings in the order of the changes."""
    events = session.scalars(select(PlatformEvent).order_by(PlatformEvent.id)).all()
    return by_channel([json.loads(e.payload) for e in events])


def test_an_hour_down_loses_nothing_and_each_event_arrives_once_in_order(session, acme, clock):
    endpoint = platform_events.add_endpoint(session, SYSTEM, "https://p.example/e", check_url=allow)
    session.commit()
    receiver = Endpoint(endpoint.secret)
    receiver.up = False
    channels = [connect(session, acme, f"pn-{n}") for n in range(3)]
    disabled: list[int] = []
    for minute in range(60):  # the outage: a change of some channel every minute, a pass too
        channel = channels[minute % 3]
        change(session, channel, quality_rating=RATINGS[(minute // 3) % 3])
        deliver(session, receiver, clock, disabled)
        clock.advance(minutes=1)
    assert receiver.received == [] and disabled == []
    receiver.up = True
    for _ in range(70):  # the retries wait an hour at most: everything within 70 minutes
        deliver(session, receiver, clock, disabled)
        clock.advance(minutes=1)
    events = session.scalars(select(PlatformEvent.public_id)).all()
    assert len(events) == 63  # three connected, sixty updates
    assert sorted(receiver.ids) == sorted(events)  # every one arrived, and only once
    assert by_channel(receiver.received) == produced(session)  # in order per channel
    assert session.scalars(select(EventDelivery.status)).all() == [DeliveryStatus.DELIVERED] * 63
    session.refresh(endpoint)
    assert endpoint.disabled_at is None and disabled == []


def test_a_day_down_disables_once_alerts_its_admins_and_enabling_delivers_all_in_order(
    session, make, acme, clock
):
    platform_admin, company_admin = make.admin(), make.user(acme, Role.ADMIN)
    member, other = make.user(acme), make.user(make.company("Globex"), Role.ADMIN)
    endpoint = platform_events.add_endpoint(
        session, SYSTEM, "https://acme.example/e", check_url=allow, company=acme
    )
    session.commit()
    receiver = Endpoint(endpoint.secret)
    receiver.up = False
    one, two = connect(session, acme, "pn-1"), connect(session, acme, "pn-2")
    disabled: list[int] = []
    elapsed = dt.timedelta()
    while elapsed < GIVE_UP_AFTER + dt.timedelta(hours=1):  # a pass every 5 minutes
        if elapsed.total_seconds() % 3600 == 0:  # a change of each channel every hour
            hour = int(elapsed.total_seconds() // 3600)
            change(session, one, quality_rating=RATINGS[hour % 3])
            change(session, two, quality_rating=RATINGS[(hour + 1) % 3])
        deliver(session, receiver, clock, disabled)
        clock.advance(minutes=5)
        elapsed += dt.timedelta(minutes=5)
    session.refresh(endpoint)
    assert disabled == [endpoint.id] and "26 hours" in endpoint.disabled_reason
    alerts = session.scalars(
        select(OutgoingMail).where(OutgoingMail.kind == "event_endpoint_disabled")
    ).all()
    recipients = sorted(m.recipient for m in alerts)  # not the member, not another company
    assert recipients == sorted([platform_admin.email, company_admin.email])
    assert member.email not in recipients and other.email not in recipients
    assert "acme.example" in alerts[0].subject and "enable" in (alerts[0].body or "")

    receiver.up = True  # it answers again, but stays disabled until someone enables it
    change(session, one, status="FLAGGED")  # what happens meanwhile is kept too
    for _ in range(3):
        deliver(session, receiver, clock, disabled)
        clock.advance(minutes=5)
    assert receiver.received == []

    assert platform_events.enable(session, SYSTEM, endpoint) == 1
    session.commit()
    receiver.up = False  # one more failure right after: a new day of retries, not disabled
    deliver(session, receiver, clock, disabled)
    clock.advance(minutes=1)
    receiver.up = True
    for _ in range(70):
        deliver(session, receiver, clock, disabled)
        clock.advance(minutes=1)
    events = session.scalars(select(PlatformEvent.public_id)).all()
    assert sorted(receiver.ids) == sorted(events)
    assert by_channel(receiver.received) == produced(session)
    assert disabled == [endpoint.id]  # still the one disabling
    assert len(session.scalars(select(OutgoingMail)).all()) == len(alerts)  # one alert each


def test_two_workers_giving_up_at_once_disable_and_alert_once(session, make, acme, clock):
    make.admin()
    endpoint = platform_events.add_endpoint(session, SYSTEM, "https://p.example/e", check_url=allow)
    session.commit()
    connect(session, acme, "pn-1")
    delivery = session.scalars(select(EventDelivery)).one()
    delivery.first_failed_at = START - GIVE_UP_AFTER
    session.commit()
    # another worker disabled it a moment ago: this session's endpoint does not know yet
    session.execute(
        update(EventEndpoint)
        .where(EventEndpoint.id == endpoint.id)
        .values(disabled_at=START, disabled_reason="by the other worker")
        .execution_options(synchronize_session=False)
    )
    assert platform_events.record_attempt(session, delivery, Outcome(503), START) is False
    assert session.scalars(select(OutgoingMail)).all() == []
    assert delivery.status is DeliveryStatus.FAILED  # enabling sends it again


def test_a_platform_endpoint_disabled_alerts_the_platform_admins_only(session, make, acme, clock):
    admin = make.admin()
    make.user(acme, Role.ADMIN)  # a company admin: not told of a platform endpoint
    endpoint = platform_events.add_endpoint(session, SYSTEM, "https://p.example/e", check_url=allow)
    session.commit()
    receiver = Endpoint(endpoint.secret)
    receiver.up = False
    connect(session, acme, "pn-1")
    disabled: list[int] = []
    for _ in range(28):  # an attempt an hour (the backoff's longest wait) for 28 hours
        deliver(session, receiver, clock, disabled)
        clock.advance(hours=1)
    assert disabled == [endpoint.id]
    alerts = session.scalars(select(OutgoingMail)).all()
    assert [m.recipient for m in alerts] == [admin.email]  # not the company admin
