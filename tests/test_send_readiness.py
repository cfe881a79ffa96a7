"""Send readiness: whether a channel can send now and why not, from the channel and its
provider rows; in the channel API and in the channel events."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from provisioning import api_keys, health, platform_events, send_readiness
from provisioning.audit import SYSTEM
from provisioning.dialog360.models import Dialog360Channel, Dialog360Client
from provisioning.dialog360.webhooks import template_messaging
from provisioning.meta.models import MetaWhatsAppClient, MetaWhatsAppPhoneNumber
from provisioning.partners import Provider
from provisioning.platform_events import PlatformEvent
from provisioning.twilio.models import TwilioSubaccount, TwilioWhatsAppSender

BLOCKED = {
    "can_send_message": "BLOCKED",
    "entities": [{"entity_type": "PHONE_NUMBER", "errors": [
        {"error_code": 141006, "error_description": "The payment method failed",
         "possible_solution": "Add a valid payment method"}]}],
}  # fmt: skip


@pytest.fixture
def acme(make):
    return make.company("Acme")


def meta_channel(session, company, ref="pn-1", **number):
    client = MetaWhatsAppClient(company_id=company.id, waba_id=f"waba-{ref}", access_token="t")
    row = MetaWhatsAppPhoneNumber(
        company_id=company.id, client=client, phone_number_id=ref, display_phone_number="1555",
        **{"status": "CONNECTED", "platform_type": "CLOUD_API", "name_status": "APPROVED",
           "health_status": {"can_send_message": "AVAILABLE"}, **number},
    )  # fmt: skip
    session.add(row)
    channel = health.upsert_channel(
        session, company.id, Provider.META, ref, phone_number="+15550001111",
        status=row.status, quality_rating="GREEN",
    )  # fmt: skip
    row.channel_id = channel.id
    session.commit()
    return channel, row


def dialog_channel(session, company, status="running", **values):
    ref = f"ch-{company.id}"
    client = Dialog360Client(company_id=company.id, client_id=f"cl-{company.id}")
    row = Dialog360Channel(company_id=company.id, client=client, dialog_channel_id=ref,
                           status=status, api_key="d360-key", **values)  # fmt: skip
    session.add(row)
    channel = health.upsert_channel(session, company.id, Provider.DIALOG360, ref,
                                    phone_number="+4930000", status=status.upper())  # fmt: skip
    row.channel_id = channel.id
    session.commit()
    return channel, row


def twilio_channel(session, company, status="ONLINE", reasons=(), subaccount_status="active"):
    subaccount = TwilioSubaccount(
        company_id=company.id, friendly_name="acme", auth_token="tok", account_sid="AC" + "1" * 32,
        status=subaccount_status,
    )  # fmt: skip
    session.add(subaccount)
    session.flush()
    sender = TwilioWhatsAppSender(
        company_id=company.id, subaccount_id=subaccount.id, sender_id="whatsapp:+15550002222",
        sender_sid="XE" + "2" * 32, waba_id="w", profile_name="Acme", status=status,
        offline_reasons=list(reasons),
    )  # fmt: skip
    session.add(sender)
    channel = health.upsert_channel(session, company.id, Provider.TWILIO, sender.sender_sid,
                                    phone_number="+15550002222", status=status)  # fmt: skip
    session.commit()
    return channel, sender


def readiness(session, channel):
    return send_readiness.of_channels(session, [channel])[channel.id]


def test_a_connected_registered_approved_meta_number_is_ready(session, acme):
    channel, _ = meta_channel(session, acme)
    assert readiness(session, channel) == send_readiness.Readiness(True)


def test_a_meta_number_says_each_reason_it_cannot_send(session, acme):
    channel, row = meta_channel(session, acme, status="PENDING", platform_type="NOT_APPLICABLE",
                                name_status="PENDING_REVIEW", health_status=BLOCKED)  # fmt: skip
    channel.needs_reauthorization = True
    found = readiness(session, channel)
    assert not found.ready
    text = " | ".join(found.reasons)
    for words in (
        "its status is PENDING (it sends when CONNECTED)",
        "connect again",
        "not registered for the Cloud API",
        "display name is PENDING_REVIEW",
        "cannot send messages: The payment method failed (Add a valid payment",
    ):
        assert words in text, words  # fmt: skip
    row.client.access_token = None
    assert "no access token" in " ".join(readiness(session, channel).reasons)


def test_a_number_of_the_whatsapp_business_app_needs_no_registration(session, acme):
    channel, _ = meta_channel(session, acme, status=None, platform_type=None, is_on_biz_app=True)
    channel.status = "CONNECTED"
    assert readiness(session, channel).ready


def test_360dialog_running_is_ready_until_template_messaging_is_disabled(session, make, acme):
    channel, row = dialog_channel(session, acme)
    assert readiness(session, channel).ready
    row.template_messaging = False
    assert readiness(session, channel).reasons == (
        "360dialog disabled template messaging: business-initiated messages fail",
    )
    pending, _ = dialog_channel(session, make.company("Initech"), status="ready")
    reasons = readiness(session, pending).reasons
    assert reasons == ("its status is READY (it sends when RUNNING or LIVE)",)


def test_twilio_offline_sender_and_closed_subaccount(session, acme):
    channel, sender = twilio_channel(
        session, acme, status="OFFLINE", reasons=[{"code": "63112", "message": "Meta disabled"}]
    )
    reasons = readiness(session, channel).reasons
    assert reasons[0].startswith("its status is OFFLINE") and "63112" in reasons[1]
    sender.status, channel.status = "ONLINE", "ONLINE"
    assert readiness(session, channel).ready
    subaccount = session.get(TwilioSubaccount, sender.subaccount_id)
    subaccount.status = "closed"
    assert readiness(session, channel).reasons == ("its Twilio subaccount is closed",)


def test_a_channel_without_its_provider_rows_is_not_ready(session, acme):
    channel = health.upsert_channel(session, acme.id, Provider.META, "pn-x",
                                    phone_number="+1555", status="CONNECTED")  # fmt: skip
    assert "not on record yet" in readiness(session, channel).reasons[0]


def test_another_companys_rows_never_make_a_channel_ready(session, make, acme):
    meta_channel(session, make.company("Globex"), "pn-shared")
    # a channel of Acme naming Globex's number (it cannot exist; the loader refuses it)
    channel = health.Channel(id=10**6, company_id=acme.id, provider=Provider.META,
                             provider_ref="pn-shared", status="CONNECTED")  # fmt: skip
    assert send_readiness.details_of(session, [channel])[channel.id].meta_number is None
    assert not readiness(session, channel).ready


def test_the_channel_api_answers_send_readiness(client, session, acme):
    channel, _ = meta_channel(session, acme)
    dialog_channel(session, acme, template_messaging=False)
    _, token = api_keys.create_key(session, SYSTEM, "crm", ["read"])
    session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    one = client.get(f"/api/v1/channels/{channel.id}", headers=headers).json
    assert one["send_readiness"] == {"ready": True, "reasons": []}
    listed = client.get("/api/v1/channels", headers=headers).json["data"]
    by_provider = {c["provider"]: c["send_readiness"] for c in listed}
    assert by_provider["meta"]["ready"] and not by_provider["dialog360"]["ready"]
    assert "template messaging" in by_provider["dialog360"]["reasons"][0]


def last_event(session):
    event = session.scalars(select(PlatformEvent).order_by(PlatformEvent.id.desc())).first()
    return event.type, json.loads(event.payload)["data"]


def test_channel_events_carry_send_readiness_and_its_changes(session, acme):
    platform_events.add_endpoint(session, SYSTEM, "https://p.example/e", check_url=lambda u: None)
    session.commit()
    channel, _ = meta_channel(session, acme)
    kind, data = last_event(session)
    assert kind == "channel.connected"
    assert data["channel"]["send_readiness"] == {"ready": True, "reasons": []}
    health.observe(session, channel, source="webhook", status="FLAGGED")
    session.commit()
    kind, data = last_event(session)
    assert kind == "channel.updated" and data["changes"]["status"]["to"] == "FLAGGED"
    assert data["changes"]["send_readiness"]["from"] == {"ready": True, "reasons": []}
    assert data["changes"]["send_readiness"]["to"]["ready"] is False
    health.observe(session, channel, source="webhook", quality_rating="YELLOW")
    session.commit()
    _, data = last_event(session)  # still not ready: no readiness change to report
    assert (
        "send_readiness" not in data["changes"] and not data["channel"]["send_readiness"]["ready"]
    )


def test_a_provider_stopping_the_number_is_a_channel_update(session, acme):
    platform_events.add_endpoint(session, SYSTEM, "https://p.example/e", check_url=lambda u: None)
    session.commit()
    _, row = dialog_channel(session, acme, template_messaging=True)
    count = len(session.scalars(select(PlatformEvent)).all())
    template_messaging(session, row, False)  # the 360dialog partner event
    session.commit()
    kind, data = last_event(session)
    assert len(session.scalars(select(PlatformEvent)).all()) == count + 1
    assert kind == "channel.updated" and data["changes"] == {}
    assert data["channel"]["send_readiness"]["reasons"] == [
        "360dialog disabled template messaging: business-initiated messages fail"
    ]


def test_without_an_endpoint_no_readiness_is_read(session, acme, monkeypatch):
    read = []
    monkeypatch.setattr(platform_events, "_readiness", [lambda *a: read.append(a) or ({}, {})])
    meta_channel(session, acme)
    assert read == []
