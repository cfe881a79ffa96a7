"""WhatsApp senders in a company's subaccount, against the Twilio sandbox."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.demo import partner_values
from portal.sandbox_seed import seed_sandbox
from provisioning import partners
from provisioning.audit import SYSTEM
from provisioning.channels import Channel
from provisioning.errors import Rejected, Retryable
from provisioning.health import Alert, Notification
from provisioning.partners import Environment, Provider
from provisioning.sandbox import Sandbox, SimClock
from provisioning.tenancy import Company, Role
from provisioning.twilio.api import connect
from provisioning.twilio.models import TwilioSubaccount, TwilioWhatsAppSender
from provisioning.twilio.numbers import buy_number, ensure_subaccount, subaccount_client
from provisioning.twilio.senders import (
    create_sender,
    explain,
    refresh_sender,
    state,
    submit_verification_code,
)
from tests.twilio.interleave import Interleave

HOOKS = {"callback_url": "https://p.example/in", "status_callback_url": "https://p.example/st"}


@pytest.fixture
def sandbox():
    sandbox = Sandbox(seed=23, clock=SimClock(start=1_767_225_600), record=True)
    seed_sandbox(sandbox, "http://portal.test")
    return sandbox


@pytest.fixture
def world(session, sandbox, make):
    values = partner_values(sandbox.base_url, "http://portal.test")[Provider.TWILIO]
    config = partners.create_configuration(
        session, SYSTEM, Provider.TWILIO, Environment.SANDBOX, "", values
    )
    company = make.company("Acme")
    sub = ensure_subaccount(
        session, SYSTEM, company, config, sandbox.transport(), commit=session.commit
    )
    session.commit()
    return company, sub, subaccount_client(sub, config, sandbox.transport())


def create(session, world, phone, waba="123456789012345", name="Acme Retail"):
    company, sub, client = world
    return create_sender(
        session, SYSTEM, company, sub, client, phone_number=phone, waba_id=waba,
        profile_name=name, commit=session.commit, **HOOKS,
    )  # fmt: skip


def test_an_outside_number_verifies_with_the_code_and_goes_online(session, sandbox, world):
    _, _, client = world
    row = create(session, world, "+14155550100")
    assert row.status == "CREATING" and row.sender_sid.startswith("XE")
    sandbox.advance(5)
    refresh_sender(session, row, client)
    assert row.status == "PENDING_VERIFICATION"
    with pytest.raises(Exception, match="digits"):
        submit_verification_code(session, SYSTEM, row, client, "12ab")
    otp = sandbox.twilio.control_get_sender_otp(sender_sid=row.sender_sid)["otp"]
    submit_verification_code(session, SYSTEM, row, client, otp)
    sandbox.advance(5)
    refresh_sender(session, row, client)
    assert row.status == "ONLINE"
    sandbox.twilio.control_set_sender_quality(sender_sid=row.sender_sid, quality_rating="LOW")
    refresh_sender(session, row, client)
    channel = session.get(Channel, row.channel_id)
    assert channel.provider is Provider.TWILIO and channel.quality_rating == "RED"
    assert channel.phone_number == "+14155550100"


def test_a_twilio_number_needs_no_code(session, sandbox, world):
    company, sub, client = world
    buy_number(session, SYSTEM, company, sub, client, "+15005550006", session.commit)
    row = create(session, world, "+15005550006")
    sandbox.advance(5)
    refresh_sender(session, row, client)
    assert row.status == "ONLINE" and row.messaging_limit


def test_offline_reasons_are_kept(session, sandbox, world):
    _, _, client = world
    row = create(session, world, "+14155550101")
    reasons = [{"code": 30008, "message": "Unknown error"}]
    sandbox.twilio.control_set_sender_status(
        sender_sid=row.sender_sid, status="OFFLINE", offline_reasons=reasons
    )
    refresh_sender(session, row, client)
    assert row.status == "OFFLINE" and str(row.offline_reasons[0]["code"]) == "30008"


def test_going_offline_raises_one_alert_with_twilios_reasons(session, sandbox, world, make):
    company, _, client = world
    make.user(company, Role.ADMIN)
    row = create(session, world, "+14155550106")
    sandbox.twilio.control_set_sender_status(sender_sid=row.sender_sid, status="ONLINE")
    refresh_sender(session, row, client)
    assert session.scalars(select(Alert)).all() == []
    reasons = [{"code": 63062, "message": "MM API ToS not accepted"}, {"code": 30008}]
    sandbox.twilio.control_set_sender_status(
        sender_sid=row.sender_sid, status="OFFLINE", offline_reasons=reasons
    )
    refresh_sender(session, row, client)
    refresh_sender(session, row, client)  # the same state again alerts nobody twice
    (alert,) = session.scalars(select(Alert)).all()
    assert alert.reasons[0] == "status is now OFFLINE"
    assert "Marketing Messages API" in alert.reasons[1] and alert.reasons[1].startswith("63062")
    assert alert.reasons[2] == "30008: no reason given"
    assert "OFFLINE" in alert.message and session.scalars(select(Notification)).all()


@pytest.mark.parametrize("status", ["TWILIO_REVIEW", "DRAFT", "STUBBED", "ONLINE:UPDATING"])
def test_every_sender_status_of_the_spec_is_kept_and_explained(session, sandbox, world, status):
    _, _, client = world
    row = create(session, world, "+14155550107")
    sandbox.twilio.control_set_sender_status(sender_sid=row.sender_sid, status=status)
    refresh_sender(session, row, client)
    assert row.status == status and session.get(Channel, row.channel_id).status == status
    tone, words = state(status)
    assert tone in ("ok", "warn") and not words.startswith("Twilio reports")
    assert session.scalars(select(Alert)).all() == []
    assert state("SOMETHING_NEW") == ("warn", "Twilio reports SOMETHING_NEW.")


def test_a_sender_under_twilio_review_comes_online(session, sandbox, world):
    _, _, client = world
    row = create(session, world, "+14155550108")
    sandbox.twilio.control_set_sender_status(sender_sid=row.sender_sid, status="TWILIO_REVIEW")
    sandbox.advance(5)
    refresh_sender(session, row, client)
    assert row.status == "ONLINE"


@pytest.mark.parametrize(
    ("code", "words"),
    [("63062", "Marketing Messages API"), ("63059", "63059"), ("30915", "30915")],
)
def test_2026_sender_error_codes_are_explained(code, words):
    error = explain(Rejected("twilio", "Twilio's own words", 400, code))
    assert error.code == code and words in error.message
    assert "Twilio's own words" not in error.message


def test_sender_errors_are_explained(session, sandbox, world):
    with pytest.raises(Rejected, match="cannot see this WhatsApp Business Account") as exc:
        create(session, world, "+14155550102", waba="999000111")
    assert exc.value.code == "63101"
    create(session, world, "+14155550103")
    with pytest.raises(Rejected, match="already linked") as exc:
        create(session, world, "+14155550104", waba="555000111222333")
    assert exc.value.code == "63102"


def test_a_lost_create_answer_is_found_not_repeated(session, sandbox, world):
    sandbox.faults.add("drop", provider="twilio", method="POST", path="Channels/Senders$", times=1)
    row = create(session, world, "+14155550105")
    assert row.sender_sid and row.status == "CREATING"
    assert len(session.scalars(select(TwilioWhatsAppSender)).all()) == 1
    _, _, client = world
    senders = client.whatsapp_senders()
    assert [s.sender_id for s in senders] == ["whatsapp:+14155550105"]


def test_a_second_creation_while_the_first_is_in_flight_is_told_to_wait(session, sandbox, world):
    company, sub, _ = world
    told: list[Exception] = []

    def second_click():
        with Session(bind=session.connection(), join_transaction_mode="create_savepoint") as other:
            with pytest.raises(Retryable) as waiting:
                create(other, (other.get(Company, company.id), other.get(TwilioSubaccount, sub.id),
                               client), "+14155550106")  # fmt: skip
            told.append(waiting.value)

    transport = Interleave(sandbox.transport(), "POST", "Channels/Senders$", second_click)
    client = connect(sub.account_sid, sub.auth_token, transport=transport,
                         base_url=f"{sandbox.base_url}/twilio")  # fmt: skip
    row = create(session, (company, sub, client), "+14155550106")
    assert row.sender_sid and "try again in a moment" in told[0].message
    assert [s["sender_id"] for s in sandbox.twilio.senders.values()] == ["whatsapp:+14155550106"]
