"""Toll-free verification in the domain, against the Twilio sandbox: checks, submit once,
review, fix and resubmit, events and polling, and whether a number can send."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from provisioning.audit import SYSTEM
from provisioning.errors import DomainError, ProviderError
from provisioning.events import WebhookEvent
from provisioning.health import Alert
from provisioning.partners import Provider, ValidationFailed
from provisioning.tenancy import Company
from provisioning.twilio import a2p, numbers, sending, tollfree
from provisioning.twilio import tollfree_fields as fields
from provisioning.twilio.api import TwilioApi
from provisioning.twilio.models import SmsPhoneNumber
from provisioning.twilio.tollfree_models import TollfreeVerification
from provisioning.twilio.webhooks import apply_event
from tests.twilio.test_a2p import PROFILE

DETAILS = {
    "business_name": "Acme Dental LLC", "doing_business_as": "Acme Dental",
    "business_type": "PRIVATE_PROFIT", "business_website": "https://acme-dental.example.com",
    "business_street_address": "1 Main St", "business_city": "Austin",
    "business_state_province_region": "TX", "business_postal_code": "78701",
    "business_country": "us", "business_registration_number": "12-3456789",
    "business_registration_authority": "EIN", "business_registration_country": "US",
    "business_contact_first_name": "Ann", "business_contact_last_name": "Lee",
    "business_contact_email": "ann@acme-dental.example.com",
    "business_contact_phone": "+15125550100", "notification_email": "ops@acme-dental.example.com",
    "use_case_categories": ["ACCOUNT_NOTIFICATIONS"],
    "use_case_summary": "Appointment reminders for patients who booked online.",
    "opt_in_type": "WEB_FORM",
    "opt_in_image_urls": "https://acme-dental.example.com/optin.png\n",
    "production_message_sample": "Acme Dental: your visit is tomorrow at 10:00. Reply STOP.",
    "message_volume": "1,000",
}  # fmt: skip


@dataclass
class World:
    company: Company
    number: SmsPhoneNumber
    client: TwilioApi
    sandbox: Any


@pytest.fixture
def world(connected_sandbox, session, make) -> World:
    sandbox = connected_sandbox(61, Provider.TWILIO)
    config = sandbox.configs[Provider.TWILIO]
    company = make.company("Acme Dental")
    sub = numbers.ensure_subaccount(session, SYSTEM, company, config, sandbox.transport(),
                                    commit=session.commit)  # fmt: skip
    client = numbers.subaccount_client(sub, config, sandbox.transport())
    offered = numbers.search_numbers(client, "US", "toll_free")
    number = numbers.buy_number(session, SYSTEM, company, sub, client,
                                offered[0]["phone_number"], session.commit)  # fmt: skip
    session.commit()
    return World(company, number, client, sandbox)


def submit(session, world: World, **changes: Any) -> TollfreeVerification:
    row = tollfree.submit(session, SYSTEM, world.company, world.number, world.client,
                          {**DETAILS, **changes}, session.commit)  # fmt: skip
    session.commit()
    return row


def at_twilio(world: World) -> list[dict[str, Any]]:
    return [v for v in world.sandbox.twilio.tollfree.values()
            if v["tollfree_phone_number_sid"] == world.number.provider_phone_id]  # fmt: skip


def test_every_field_is_checked_with_its_own_message():
    errors = fields.validate(fields.clean({**DETAILS, "business_website": "acme",
        "business_registration_number": "12", "business_contact_phone": "555",
        "notification_email": "nobody", "opt_in_type": "SMOKE", "use_case_summary": "short",
        "use_case_categories": ["MARKETING", "SPAM"], "opt_in_image_urls": "not a url",
        "business_country": "USA", "message_volume": "lots"}))  # fmt: skip
    assert errors == {
        "business_website": "Enter a full http(s) URL.",
        "business_registration_number": "An EIN has 9 digits, like 12-3456789.",
        "business_contact_phone": "Give the number in E.164 form, like +14155550123.",
        "notification_email": "Enter a valid e-mail address.",
        "opt_in_type": "Choose one of the options.",
        "use_case_summary": "Between 20 and 2000 characters.",
        "use_case_categories": "Unknown category: SPAM.",
        "opt_in_image_urls": "Each line must be a full public http(s) URL.",
        "business_country": "Two letters, like US or CA.",
        "message_volume": "Choose one of the options.",
    }
    missing = fields.validate(fields.clean({}))
    assert missing["business_registration_number"] == "This field is required."
    assert "doing_business_as" not in missing
    # Sole proprietors are exempt from the registration fields (Twilio, 2026).
    sole = fields.clean({**DETAILS, "business_type": "SOLE_PROPRIETOR",
                         "business_registration_number": "", "business_registration_country": "",
                         "business_registration_authority": ""})  # fmt: skip
    assert fields.validate(sole) == {}


def test_the_form_starts_from_the_business_profile(session, make):
    company = make.company("Acme")
    info = a2p.save_business_info(session, SYSTEM, company, PROFILE)
    values = fields.prefill(info)
    assert values["business_name"] == "Acme Dental LLC"
    assert values["business_type"] == "PRIVATE_PROFIT"
    assert values["business_registration_number"] == "12-3456789"
    assert values["business_registration_authority"] == "EIN"
    assert (values["business_contact_first_name"], values["business_contact_last_name"]) == (
        "Ann", "Lee",
    )  # fmt: skip
    assert fields.prefill(None)["business_registration_country"] == "US"


def test_submit_review_reject_fix_resubmit_approve(session, world):
    readiness = sending.can_send(session, world.number)
    assert not readiness.can_send and "30032" in readiness.reason and "submit" in readiness.reason
    with pytest.raises(ValidationFailed) as bad:
        submit(session, world, business_website="nope")
    assert bad.value.errors == {"business_website": "Enter a full http(s) URL."}
    row = submit(session, world)
    assert row.status == "PENDING_REVIEW" and row.verification_sid.startswith("HH")
    assert row.details["business_country"] == "US"
    assert row.details["opt_in_image_urls"] == ["https://acme-dental.example.com/optin.png"]
    assert at_twilio(world)[0]["external_reference_id"] == row.external_reference_id
    with pytest.raises(DomainError, match="already in review"):
        submit(session, world)

    world.sandbox.twilio.control_reject_tollfree(sid=row.verification_sid, reason="Blank image.")
    assert tollfree.needs_refresh(row)
    assert tollfree.refresh(session, row, world.client) is True
    rejected = ("TWILIO_REJECTED", "Blank image.", 30513)
    assert (row.status, row.rejection_reason, row.error_code) == rejected
    assert row.edit_allowed and row.edit_expiration is not None and tollfree.editable(row)
    readiness = sending.can_send(session, world.number)
    assert "Blank image." in readiness.reason and "fix and resubmit" in readiness.reason
    [alert] = session.scalars(select(Alert).where(Alert.company_id == world.company.id)).all()
    assert world.number.phone_number in alert.message and "rejected" in alert.message

    fixed = submit(session, world, opt_in_image_urls="https://acme-dental.example.com/v2.png")
    assert fixed.id == row.id and fixed.status == "PENDING_REVIEW"  # the same request, edited
    [remote] = at_twilio(world)
    assert remote["opt_in_image_urls"] == ["https://acme-dental.example.com/v2.png"]
    assert fixed.rejection_reason is None

    world.sandbox.twilio.control_approve_tollfree(sid=row.verification_sid)
    tollfree.refresh(session, row, world.client)
    assert row.status == "TWILIO_APPROVED" and row.decided_at is not None
    assert sending.can_send(session, world.number).can_send
    with pytest.raises(DomainError, match="verified already"):
        submit(session, world)


def test_a_rejection_that_cannot_be_edited_means_a_new_request(session, world):
    row = submit(session, world)
    world.sandbox.twilio.control_reject_tollfree(sid=row.verification_sid, edit_allowed=False)
    tollfree.refresh(session, row, world.client)
    assert not tollfree.editable(row)
    assert "submit a new verification" in sending.can_send(session, world.number).reason
    new = submit(session, world)
    assert new.id != row.id and new.verification_sid != row.verification_sid
    session.refresh(row)
    assert not row.is_active and new.is_active
    assert len(at_twilio(world)) == 2


def test_only_an_active_toll_free_number_of_the_company_is_verified(session, world, make):
    local = SmsPhoneNumber(phone_number="+15125550199", company_id=world.company.id,
                           status="active", provider_phone_id="PN" + "1" * 32)  # fmt: skip
    session.add(local)
    session.flush()
    with pytest.raises(DomainError, match="Only a US or Canadian toll-free"):
        tollfree.submit(session, SYSTEM, world.company, local, world.client, DETAILS,
                        session.commit)  # fmt: skip
    other = make.company("Other")
    with pytest.raises(DomainError, match="another company"):
        tollfree.submit(session, SYSTEM, other, world.number, world.client, DETAILS,
                        session.commit)  # fmt: skip
    assert "30034" in sending.can_send(session, local).reason  # a 10DLC number: its campaign


def test_a_refusal_is_recorded_and_the_next_submission_starts_afresh(session, world):
    world.sandbox.faults.add("server_error", provider="twilio", method="POST",
                             path=r"/Tollfree/Verifications$", times=1)  # fmt: skip
    with pytest.raises(ProviderError):
        submit(session, world)
    row = session.scalars(select(TollfreeVerification)).one()
    assert row.status == "UNCONFIRMED" and row.is_active  # 5xx: looked up next time
    assert submit(session, world).id == row.id
    assert len(at_twilio(world)) == 1


def test_status_events_apply_to_the_sinks_company_only(session, world, make):
    row = submit(session, world)

    def event(company_id: int, status: str) -> WebhookEvent:
        body = [
            {
                "type": tollfree.EVENT_PREFIX + "twilio-approved",
                "data": {
                    "tollfreeverificationsid": row.verification_sid,
                    "verificationstatus": status,
                },
            }
        ]
        key = f"events:{status}{company_id}"
        return WebhookEvent(provider=Provider.TWILIO, dedupe_key=key, event_type="tf",
                            payload=json.dumps(body), company_id=company_id)  # fmt: skip

    other = make.company("Other")
    apply_event(session, event(other.id, "twilio_approved"))
    assert row.status == "PENDING_REVIEW"
    apply_event(session, event(world.company.id, "twilio_approved"))
    assert row.status == "TWILIO_APPROVED" and row.last_synced_at is None
    assert tollfree.needs_refresh(row)  # the details come with the next fetch


def test_the_poll_fetches_what_is_in_review(session, world):
    row = submit(session, world)
    world.sandbox.advance(10)
    changed = tollfree.poll(session, lambda company_id: world.client, session.commit)
    assert changed == 1 and row.status == "IN_REVIEW"
    assert tollfree.poll(session, lambda company_id: None, session.commit) == 0


def test_an_edit_after_the_window_becomes_a_new_request(session, world):
    row = submit(session, world)
    world.sandbox.twilio.control_reject_tollfree(sid=row.verification_sid)
    tollfree.refresh(session, row, world.client)
    world.sandbox.advance(8 * 24 * 3600)  # Twilio's seven days are over: 30437
    new = submit(session, world)
    assert new.id != row.id and new.status == "PENDING_REVIEW"
    assert not row.is_active and not row.edit_allowed


def test_a_refusal_closes_the_request_with_twilios_words(session, world):
    gone = world.sandbox.twilio.numbers.pop(world.number.provider_phone_id)
    with pytest.raises(ProviderError) as refused:
        submit(session, world)
    assert refused.value.http_status == 400
    row = tollfree.latest(session, world.company.id, world.number.id)
    assert row.status == "REFUSED" and not row.is_active and row.error_code == 20001
    assert "no such phone number" in row.rejection_reason
    world.sandbox.twilio.numbers[gone["sid"]] = gone
    again = submit(session, world)
    assert again.id != row.id and again.status == "PENDING_REVIEW"
