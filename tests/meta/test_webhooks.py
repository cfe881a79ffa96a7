"""Meta webhooks: the handshake, signatures on the raw bytes, and applied changes."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from sqlalchemy import select

from portal.demo import META_APP, META_VERIFY_TOKEN
from portal.jobs.sync import run_sync
from provisioning.channels import Channel
from provisioning.events import WebhookEvent
from provisioning.health import ChannelHistory, Notification
from provisioning.meta.models import MetaWhatsAppClient, MetaWhatsAppPhoneNumber
from provisioning.partners import Provider
from provisioning.tenancy import Company, Role
from tests.meta.signups import complete_signup


@pytest.fixture
def sandbox(connected_sandbox):
    return connected_sandbox(31, Provider.META, webhooks_to_app=True)


@pytest.fixture
def connected(app, session, sandbox, make):
    """A company with a connected Meta number."""
    return complete_signup(app, session, sandbox, make.company("Acme"))


def sign(body: bytes) -> dict:
    digest = hmac.new(META_APP["app_secret"].encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}


def test_the_handshake_echoes_the_challenge_for_our_token_only(client, sandbox):
    handshake = {"hub.mode": "subscribe", "hub.challenge": "42"}
    ok = client.get(
        "/webhooks/meta", query_string=handshake | {"hub.verify_token": META_VERIFY_TOKEN}
    )
    assert ok.status_code == 200 and ok.data == b"42"
    bad = client.get("/webhooks/meta", query_string=handshake | {"hub.verify_token": "guess"})
    assert bad.status_code == 403


def test_unsigned_or_badly_signed_events_are_refused(client, sandbox, session):
    body = json.dumps({"object": "whatsapp_business_account", "entry": []}).encode()
    assert client.post("/webhooks/meta", data=body).status_code == 403
    wrong = {"X-Hub-Signature-256": "sha256=" + "0" * 64}
    assert client.post("/webhooks/meta", data=body, headers=wrong).status_code == 403
    assert client.post("/webhooks/meta", data=body, headers=sign(body)).status_code == 200
    assert client.post("/webhooks/meta", data=body, headers=sign(body)).status_code == 200
    assert len(session.scalars(select(WebhookEvent)).all()) == 1  # the duplicate is not kept


def test_a_portfolio_limit_reaches_the_channel(app, sandbox, session, connected):
    """Limits belong to the portfolio: business_capability_update carries them."""
    sandbox.meta.control_set_portfolio_limit(business_id=connected["business_id"],
                                             tier="TIER_10K")  # fmt: skip
    app.extensions["job_runner"].drain()
    channel = session.scalars(select(Channel)).one()
    session.refresh(channel)
    assert channel.messaging_limit == "TIER_10K", [
        (e.event_type, e.error) for e in session.scalars(select(WebhookEvent))
    ]
    fields = {e.event_type for e in session.scalars(select(WebhookEvent))}
    assert "business_capability_update" in fields


def test_a_banned_waba_marks_its_client_and_channels(app, sandbox, session, connected):
    sandbox.meta.control_ban_waba(waba_id=connected["waba_id"])
    app.extensions["job_runner"].drain()
    client = session.scalars(select(MetaWhatsAppClient)).one()
    session.refresh(client)
    assert client.status in ("disabled", "disable_scheduled")
    assert session.scalars(select(Channel)).one().status in ("DISABLED", "DISABLE_SCHEDULED")


def test_an_older_delivery_arriving_late_changes_nothing(app, client, session, connected,
                                                          monkeypatch):  # fmt: skip
    # the events alone: no listing of the WABA afterwards
    monkeypatch.setattr("portal.jobs.sync.refresh_wabas_named_in", lambda event: [])

    def limit_event(limit: str, at: int) -> bytes:
        value = {"max_daily_conversations_per_business": limit, "max_phone_numbers_per_waba": 25}
        change = {"field": "business_capability_update", "value": value}
        entry = {"id": connected["waba_id"], "time": at, "changes": [change]}
        return json.dumps({"object": "whatsapp_business_account", "entry": [entry]}).encode()

    newer = limit_event("TIER_100K", 2_000_000_000)
    older = limit_event("TIER_2K", 1_900_000_000)
    for body in (newer, older):  # delivered out of order
        assert client.post("/webhooks/meta", data=body, headers=sign(body)).status_code == 200
    app.extensions["job_runner"].drain()
    number = session.scalars(select(MetaWhatsAppPhoneNumber)).one()
    session.refresh(number)
    assert number.messaging_limit == "TIER_100K"  # the later observation stands
    assert session.scalars(select(Channel)).one().messaging_limit == "TIER_100K"


def test_a_quality_drop_is_read_by_the_sync_and_alerts_once(app, sandbox, session, make,
                                                            connected):  # fmt: skip
    """Meta sends no webhook for a quality change today: the sync reads it (one alert);
    a later portfolio raise is a change but no alert."""
    channel = session.scalars(select(Channel)).one()
    owner = make.user(session.get(Company, channel.company_id), Role.ADMIN)
    phone = connected["phone_number_id"]
    sandbox.meta.control_set_quality(phone_number_id=phone, quality_rating="RED")
    with app.app_context():
        run_sync([Provider.META])
    sandbox.meta.control_set_messaging_limit(phone_number_id=phone, tier="TIER_100K")
    app.extensions["job_runner"].drain()  # a raise: a change, but no alert
    session.refresh(channel)
    assert (channel.quality_rating, channel.messaging_limit) == ("RED", "TIER_100K")
    history = session.scalars(select(ChannelHistory).order_by(ChannelHistory.id)).all()
    assert [h.quality_rating for h in history] == ["GREEN", "RED", "RED"]
    (notification,) = session.scalars(
        select(Notification).where(Notification.user_id == owner.id)
    ).all()
    assert notification.alert.reasons == ["quality rating dropped to RED"]
