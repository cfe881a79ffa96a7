"""Channel health: changes only, history, one alert per degrading transition (e-mails:
tests/test_mail.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from provisioning import health
from provisioning.health import Alert, ChannelHistory, Notification, limit_rank, upsert_channel
from provisioning.partners import Provider
from provisioning.tenancy import Role


@pytest.fixture
def people(make):
    acme, globex = make.company("Acme"), make.company("Globex")
    return {
        "company": acme,
        "owner": make.user(acme, Role.ADMIN),
        "agent": make.user(acme, Role.MEMBER),
        "other": make.user(globex, Role.ADMIN),
        "platform": make.admin(),
    }


@pytest.fixture
def channel(session, people):
    channel = upsert_channel(
        session, people["company"].id, Provider.META, "pn-1",
        phone_number="+15550001", display_name="Acme Support",
        status="CONNECTED", quality_rating="GREEN", messaging_limit="TIER_10K",
    )  # fmt: skip
    session.commit()
    return channel


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_a_new_channel_starts_its_history_without_an_alert(session, channel):
    (first,) = session.scalars(select(ChannelHistory)).all()
    assert (first.status, first.quality_rating, first.messaging_limit) == (
        "CONNECTED", "GREEN", "TIER_10K",
    )  # fmt: skip
    assert first.source == "onboarding" and count(session, Alert) == 0


def test_an_unchanged_observation_writes_nothing(session, channel):
    updated = channel.updated_at
    assert health.observe(session, channel, source="sync", quality_rating="GREEN") is None
    assert health.observe(session, channel, source="sync", status=None) is None
    session.commit()
    assert count(session, ChannelHistory) == 1 and channel.updated_at == updated


def test_a_drop_to_red_alerts_company_admins_and_platform_admins_once(session, channel, people):
    for _ in range(3):  # a duplicate or replayed observation is not a new transition
        health.observe(session, channel, source="webhook", quality_rating="RED")
    session.commit()
    alert = session.scalars(select(Alert)).one()
    assert alert.reasons == ["quality rating dropped to RED"]
    assert "Acme Support" in alert.message
    told = set(session.scalars(select(Notification.user_id)))
    assert told == {people["owner"].id, people["platform"].id}
    assert count(session, ChannelHistory) == 2


def test_what_counts_as_degrading(session, channel):
    steps = [
        ({"quality_rating": "YELLOW"}, ["quality rating dropped to YELLOW"]),
        ({"quality_rating": "GREEN"}, []),  # recovering alerts nobody
        ({"messaging_limit": "TIER_100K"}, []),
        ({"messaging_limit": "TIER_1K"}, ["messaging limit dropped from TIER_100K to TIER_1K"]),
        ({"status": "BANNED"}, ["status is now BANNED"]),
        ({"status": "CONNECTED", "quality_rating": "RED"}, ["quality rating dropped to RED"]),
        ({"quality_rating": "YELLOW"}, []),  # RED -> YELLOW is better
    ]
    for values, reasons in steps:
        before = count(session, Alert)
        health.observe(session, channel, source="sync", **values)
        raised = session.scalars(select(Alert).order_by(Alert.id.desc())).first()
        assert (raised.reasons if count(session, Alert) > before else []) == reasons, values
    assert count(session, ChannelHistory) == 1 + len(steps)


def test_only_health_fields_are_observed(session, channel):
    with pytest.raises(TypeError):
        health.observe(session, channel, source="sync", display_name="x")


@pytest.mark.parametrize(
    ("value", "rank"),
    [
        ("TIER_1K", 1000), ("TIER_250", 250), ("TIER_100K", 100_000), ("10K", 10_000),
        ("2000", 2000), ("TIER_UNLIMITED", float("inf")), ("TIER_NOT_SET", None), ("", None),
    ],
)  # fmt: skip
def test_limits_are_ranked_by_messages_a_day(value, rank):
    assert limit_rank(value) == rank


def test_notifications_are_read_per_user(session, channel, people):
    health.observe(session, channel, source="sync", quality_rating="RED")
    session.commit()
    owner, platform = people["owner"].id, people["platform"].id
    assert health.unread_count(session, owner) == 1
    assert health.mark_read(session, owner) == 1
    assert health.unread_count(session, owner) == 0
    assert health.unread_count(session, platform) == 1
