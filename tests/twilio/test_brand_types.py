"""10DLC brand types: validation per type, the sole proprietor's run with its OTP step,
low-volume standard without secondary vetting, campaign suspension and expiry."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from provisioning import platform_events
from provisioning.audit import SYSTEM
from provisioning.errors import DomainError, Unreachable
from provisioning.events import WebhookEvent, store_event
from provisioning.health import Alert
from provisioning.partners import Provider
from provisioning.runs import RunStatus
from provisioning.tenancy import Company
from provisioning.twilio import brand_types, campaign_numbers, numbers, onboarding, sending
from provisioning.twilio.a2p import save_business_info, submit_brand, validate
from provisioning.twilio.numbers import subaccount_client, subaccount_of
from provisioning.twilio.webhooks import apply_event
from tests.twilio.test_a2p import (
    PROFILE,
    config,
    execute,
    register_campaign,
    run_until_brand_review,
    sandbox,
)

__all__ = ["config", "sandbox"]  # fixtures

SOLE = PROFILE | {
    "brand_type": "SOLE_PROPRIETOR",
    "legal_business_name": "Ann Lee Tutoring",
    "dba_name": "",
    "business_type": "Sole Proprietorship",
    "business_registration_number": "",
    "owner_phone": "+15125550177",
}


def test_each_type_checks_what_it_needs():
    assert validate(SOLE) == {}
    assert "business_registration_number" in validate(
        SOLE | {"business_registration_number": "12-3456789"}
    )
    assert "legal_business_name" in validate(SOLE | {"legal_business_name": "Ann Lee LLC"})
    assert "owner_phone" in validate(SOLE | {"owner_phone": "+447700900123"})
    low = PROFILE | {"brand_type": "LOW_VOLUME_STANDARD", "business_registration_number": ""}
    assert "EIN" in validate(low)["business_registration_number"]
    assert validate(PROFILE | {"brand_type": "NOPE"})["brand_type"] == "Choose a brand type."


def test_the_type_is_recommended_from_the_profile(session, make):
    assert brand_types.recommend(SOLE) == "SOLE_PROPRIETOR"
    assert brand_types.recommend(PROFILE | {"use_case": "LOW_VOLUME"}) == "LOW_VOLUME_STANDARD"
    assert brand_types.recommend(PROFILE) == "STANDARD"
    company = make.company()
    info = save_business_info(session, SYSTEM, company, SOLE | {"brand_type": ""})
    assert info.brand_type == "SOLE_PROPRIETOR"


def test_failures_and_throughput_in_plain_words():
    assert "LLC" in brand_types.explain(30915)
    assert "24 hours" in brand_types.explain(reason="Brand failed: error 30752 (OTP)")
    assert brand_types.explain(reason="no code here") is None
    assert "75 per major carrier" in brand_types.throughput("STANDARD", 80)
    assert "4 per major carrier" in brand_types.throughput("STANDARD", 30)
    assert "1 message segment" in brand_types.throughput("SOLE_PROPRIETOR", None)


def sole_brand(session, sandbox, config, make):
    company = make.company("Ann Lee Tutoring")
    save_business_info(session, SYSTEM, company, SOLE)
    brand = submit_brand(session, SYSTEM, company, config)
    session.commit()
    assert run_until_brand_review(session, brand, sandbox) is RunStatus.WAITING
    return brand


def client_of(session, brand, config, sandbox):
    from provisioning.twilio.models import TwilioSubaccount

    sub = session.scalars(
        select(TwilioSubaccount).where(TwilioSubaccount.company_id == brand.company_id)
    ).one()
    return subaccount_client(sub, config, sandbox.transport())


def test_a_sole_proprietor_registers_with_its_otp_step(session, sandbox, config, make):
    brand = sole_brand(session, sandbox, config, make)
    remote = sandbox.twilio.brands[brand.provider_brand_id]
    product = sandbox.twilio.trust_products[remote["a2p_profile_bundle_sid"]]
    profile = sandbox.twilio.profiles[remote["customer_profile_bundle_sid"]]
    assert remote["brand_type"] == "SOLE_PROPRIETOR"
    assert product["policy_sid"] == onboarding.SOLE_PROP_TRUST_PRODUCT_POLICY
    assert profile["policy_sid"] == onboarding.STARTER_PROFILE_POLICY
    sandbox.twilio.control_approve_brand(brand_sid=brand.provider_brand_id)
    assert execute(session, brand.run_id, sandbox) is RunStatus.WAITING  # the owner's YES
    assert brand.provider_status == "APPROVED" and brand.identity_status == "UNVERIFIED"
    assert onboarding.awaiting_otp(brand) and brand.otp_sent_at is not None
    assert "+15125550177" in onboarding.otp_message(brand)
    assert sandbox.twilio.control_get_brand_otp(brand_sid=brand.provider_brand_id)["mobile"] == (
        "+15125550177"
    )
    onboarding.resend_otp(
        session, brand, client_of(session, brand, config, sandbox), session.commit
    )
    assert brand.otp_resends == 1 and remote["_otp"]["retries"] == 1
    sandbox.twilio.control_confirm_brand_otp(brand_sid=brand.provider_brand_id)
    assert execute(session, brand.run_id, sandbox) is RunStatus.COMPLETED
    assert brand.identity_status == "VERIFIED" and not onboarding.awaiting_otp(brand)
    [campaign] = [c for c in sandbox.twilio.campaigns.values()
                  if c["brand_registration_sid"] == brand.provider_brand_id]  # fmt: skip
    assert campaign["us_app_to_person_usecase"] == "SOLE_PROPRIETOR"


def test_an_expired_code_is_explained_and_resends_are_capped(session, sandbox, config, make):
    brand = sole_brand(session, sandbox, config, make)
    sandbox.twilio.control_approve_brand(brand_sid=brand.provider_brand_id)
    execute(session, brand.run_id, sandbox)
    brand.otp_sent_at = brand.otp_sent_at.replace(year=brand.otp_sent_at.year - 1)
    assert "expired" in onboarding.otp_message(brand)
    client = client_of(session, brand, config, sandbox)
    for _ in range(brand_types.MAX_OTP_RESENDS):
        onboarding.resend_otp(session, brand, client, session.commit)
    assert "expired" not in onboarding.otp_message(brand)
    with pytest.raises(DomainError, match="contact support"):
        onboarding.resend_otp(session, brand, client, session.commit)


def test_a_resend_whose_answer_is_lost_is_counted_and_not_repeated(session, sandbox, config, make):
    brand = sole_brand(session, sandbox, config, make)
    sandbox.twilio.control_approve_brand(brand_sid=brand.provider_brand_id)
    execute(session, brand.run_id, sandbox)
    client = client_of(session, brand, config, sandbox)
    sandbox.faults.add("drop", provider="twilio", method="POST", path=r"/SmsOtp$", times=1)
    with pytest.raises(Unreachable):
        onboarding.resend_otp(session, brand, client, session.commit)
    session.rollback()
    session.refresh(brand)
    remote = sandbox.twilio.brands[brand.provider_brand_id]
    assert brand.otp_resends == 1 and remote["_otp"]["retries"] == 1  # sent once, on record


def test_a_low_volume_brand_skips_secondary_vetting(session, sandbox, config, make):
    company = make.company("Acme Dental")
    save_business_info(session, SYSTEM, company, PROFILE | {"brand_type": "LOW_VOLUME_STANDARD"})
    brand = submit_brand(session, SYSTEM, company, config)
    session.commit()
    run_until_brand_review(session, brand, sandbox)
    remote = sandbox.twilio.brands[brand.provider_brand_id]
    assert remote["brand_type"] == "STANDARD" and remote["skip_automatic_sec_vet"] is True
    sandbox.twilio.control_approve_brand(brand_sid=brand.provider_brand_id)
    assert execute(session, brand.run_id, sandbox) is RunStatus.COMPLETED
    assert brand.brand_score is None and brand.identity_status == "VERIFIED"
    brand.brand_type = "STANDARD"  # the type is part of the approved snapshot
    with pytest.raises(DBAPIError, match="immutable"):
        session.commit()
    session.rollback()


def received_events(session, sandbox, brand) -> list[WebhookEvent]:
    """The campaign events the sandbox sent to the company's sink, stored as received."""
    ids = [
        store_event(
            session, Provider.TWILIO, f"a2p-{n}", "a2p", d.body, company_id=brand.company_id
        )
        for n, d in enumerate(sandbox.outbound.for_provider("twilio"))
        if b"campaign-registration" in d.body
    ]
    session.commit()
    return [session.get(WebhookEvent, i) for i in ids if i is not None]


@pytest.mark.parametrize("action,status", [("suspend", "SUSPENDED"), ("expire", "EXPIRED")])
def test_campaign_suspension_and_expiry_are_applied(
    session, sandbox, config, make, monkeypatch, action, status
):
    company = make.company("Acme Dental")
    brand = register_campaign(session, sandbox, config, company)
    service = brand.provider_config_json["messaging_service_sid"]
    sandbox.twilio.control_approve_campaign(messaging_service_sid=service)
    emitted = []
    monkeypatch.setattr(platform_events, "emit", lambda s_, kind, c, k, data, *a: emitted.append(
        (kind, data.get("changes", {}).get("status", {}).get("to"))))  # fmt: skip
    getattr(sandbox.twilio, f"control_{action}_campaign")(messaging_service_sid=service)
    events = received_events(session, sandbox, brand)
    for event in events:
        apply_event(session, event)
    session.commit()
    session.refresh(brand)
    assert brand.campaign_status == status
    alert = session.scalars(select(Alert).where(Alert.company_id == company.id)).all()[-1]
    assert "campaign" in alert.message
    assert ("campaign.updated", status) in emitted


def test_a_sole_proprietors_campaign_sends_from_one_number(session, sandbox, config, make):
    brand = sole_brand(session, sandbox, config, make)
    client = client_of(session, brand, config, sandbox)
    company = session.get(Company, brand.company_id)
    sub = subaccount_of(session, company.id)
    found = numbers.search_numbers(client, "US", "local", area_code="512")[:2]
    first, second = (
        numbers.buy_number(session, SYSTEM, company, sub, client, n["phone_number"], session.commit)
        for n in found
    )
    sandbox.twilio.control_approve_brand(brand_sid=brand.provider_brand_id)
    execute(session, brand.run_id, sandbox)
    sandbox.twilio.control_confirm_brand_otp(brand_sid=brand.provider_brand_id)
    assert execute(session, brand.run_id, sandbox) is RunStatus.COMPLETED
    service = brand.provider_config_json["messaging_service_sid"]
    assert (first.messaging_service_sid, second.messaging_service_sid) == (service, None)
    reason = sending.can_send(session, second).reason
    assert "sends from one number" in reason and first.phone_number in reason
    with pytest.raises(DomainError, match="one number"):
        campaign_numbers.attach(session, SYSTEM, second, client, service)
