"""A2P 10DLC: the business profile, its submission, and the ISV registration run."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from portal.demo import partner_values
from portal.sandbox_seed import seed_sandbox
from provisioning import partners, runs
from provisioning.audit import SYSTEM
from provisioning.errors import DomainError
from provisioning.partners import Environment, PartnerConfiguration, Provider, ValidationFailed
from provisioning.runs import RunStatus
from provisioning.sandbox import Sandbox, SimClock
from provisioning.tenancy import Company
from provisioning.twilio import a2p
from provisioning.twilio.a2p import save_business_info, submit_brand, validate
from provisioning.twilio.models import Tenant10DLCBrand

PROFILE = {
    "legal_business_name": "Acme Dental LLC",
    "dba_name": "Acme Dental",
    "business_website": "https://acme-dental.example.com",
    "business_type": "Limited Liability Corporation",
    "industry_vertical": "HEALTHCARE",
    "business_registration_number": "12-3456789",
    "country": "US",
    "business_address": "1 Main St",
    "business_city": "Austin",
    "business_state": "TX",
    "business_zip": "78701",
    "owner_name": "Ann Lee",
    "owner_title": "Owner",
    "owner_email": "ann@acme-dental.example.com",
    "owner_phone": "+15125550100",
    "company_type": "private",
    "use_case": "ACCOUNT_NOTIFICATION",
    "campaign_description": "Appointment reminders and account notices for Acme Dental patients.",
    "message_flow": "Patients opt in on the booking form at https://acme-dental.example.com/book.",
    "sample_message_1": "Acme Dental: your appointment is tomorrow at 10:00. Reply STOP to stop.",
    "sample_message_2": "Acme Dental: your invoice is ready in your account. Reply STOP to stop.",
    "opt_in_keywords": "START",
    "opt_out_keywords": "STOP, UNSUBSCRIBE",
    "privacy_policy_url": "https://acme-dental.example.com/privacy",
    "terms_url": "https://acme-dental.example.com/terms",
}


@pytest.fixture
def sandbox():
    sandbox = Sandbox(seed=25, clock=SimClock(start=1_767_225_600))
    seed_sandbox(sandbox, "http://portal.test")
    return sandbox


@pytest.fixture
def config(session, sandbox):
    values = partner_values(sandbox.base_url, "http://portal.test")[Provider.TWILIO]
    config = partners.create_configuration(
        session, SYSTEM, Provider.TWILIO, Environment.SANDBOX, "", values
    )
    session.commit()
    return config


def execute(session, run_id, sandbox):
    return runs.execute(session, run_id, session.commit, {"transport": sandbox.transport()})


def register_campaign(session, sandbox, config, company) -> Tenant10DLCBrand:
    """Submit the standard profile and run it through an approved brand to its campaign."""
    save_business_info(session, SYSTEM, company, PROFILE)
    brand = submit_brand(session, SYSTEM, company, config)
    session.commit()
    run_until_brand_review(session, brand, sandbox)
    sandbox.twilio.control_approve_brand(brand_sid=brand.provider_brand_id)
    execute(session, brand.run_id, sandbox)
    return brand


def run_until_brand_review(session, brand, sandbox) -> RunStatus:
    """Run the registration until it waits for the carriers' review of the brand."""
    for _ in range(8):
        status = execute(session, brand.run_id, sandbox)
        if brand.provider_brand_id or status is RunStatus.FAILED:
            return status
        sandbox.advance(120)  # bundles move through review on the sandbox clock
    return status


def test_validation_names_every_problem():
    bad = {
        "business_registration_number": "12345",
        "owner_phone": "555",
        "business_website": "acme",
        "campaign_description": "short",
        "use_case": "SPAM",
        "business_state": "Texas",
        "legal_business_name": "",
    }
    errors = validate(PROFILE | bad)
    assert set(errors) == {
        "business_registration_number", "owner_phone", "business_website",
        "campaign_description", "use_case", "business_state", "legal_business_name",
    }  # fmt: skip
    assert validate(PROFILE) == {}


def test_a_brand_is_registered_and_frozen_once_approved(session, sandbox, config, make):
    company = make.company("Acme Dental")
    save_business_info(session, SYSTEM, company, PROFILE)
    brand = submit_brand(session, SYSTEM, company, config)
    session.commit()
    assert run_until_brand_review(session, brand, sandbox) is RunStatus.WAITING
    assert brand.provider_brand_id.startswith("BN") and brand.provider_status == "PENDING"
    assert {"customer_profile_sid", "trust_product_sid"} <= set(brand.provider_config_json)
    sandbox.twilio.control_approve_brand(brand_sid=brand.provider_brand_id)
    assert execute(session, brand.run_id, sandbox) is RunStatus.COMPLETED
    assert brand.provider_approved_at is not None and brand.provider_status == "APPROVED"
    assert brand.provider_config_json["campaign_sid"].startswith("QE")
    brand.legal_business_name = "Renamed LLC"
    with pytest.raises(DBAPIError, match="immutable"):
        session.commit()
    session.rollback()


def test_changed_details_mean_a_new_submission(session, sandbox, config, make):
    company = make.company("Acme Dental")
    save_business_info(session, SYSTEM, company, PROFILE)
    first = submit_brand(session, SYSTEM, company, config)
    session.commit()
    with pytest.raises(DomainError, match="already in progress"):
        submit_brand(session, SYSTEM, company, config)
    run_until_brand_review(session, first, sandbox)
    sandbox.twilio.control_approve_brand(brand_sid=first.provider_brand_id)
    execute(session, first.run_id, sandbox)
    with pytest.raises(DomainError, match="Nothing changed"):
        submit_brand(session, SYSTEM, company, config)
    save_business_info(session, SYSTEM, company, PROFILE | {"business_address": "2 Oak St"})
    second = submit_brand(session, SYSTEM, company, config)
    session.commit()
    session.refresh(first)
    assert first.is_active is False and "Replaced" in first.deprecation_reason
    assert first.business_address == "1 Main St" and second.business_address == "2 Oak St"
    rows = session.scalars(select(Tenant10DLCBrand)).all()
    assert len(rows) == 2 and [r.is_active for r in rows].count(True) == 1


def test_a_failed_brand_fails_the_run_with_the_reason(session, sandbox, config, make):
    company = make.company("Acme Dental")
    save_business_info(session, SYSTEM, company, PROFILE)
    brand = submit_brand(session, SYSTEM, company, config)
    session.commit()
    run_until_brand_review(session, brand, sandbox)
    sandbox.twilio.control_fail_brand(brand_sid=brand.provider_brand_id, reason="TAX_ID mismatch")
    assert execute(session, brand.run_id, sandbox) is RunStatus.FAILED
    assert brand.provider_status == "FAILED" and "TAX_ID" in (brand.provider_status_reason or "")


def test_bad_profiles_are_refused_and_nothing_is_saved(session, make):
    company = make.company()
    with pytest.raises(ValidationFailed) as failed:
        save_business_info(session, SYSTEM, company, PROFILE | {"owner_email": "not-an-email"})
    assert "owner_email" in failed.value.errors


def test_two_submissions_at_once_start_one_registration(session, config, make, monkeypatch):
    """The other click's submission is committed between this one's check and its insert."""
    company = make.company("Acme Dental")
    save_business_info(session, SYSTEM, company, PROFILE)
    session.commit()
    check = a2p.active_brand

    def other_click_lands_after_the_check(session_, company_id):
        found = check(session_, company_id)
        monkeypatch.setattr(a2p, "active_brand", check)
        with Session(bind=session.connection(), join_transaction_mode="create_savepoint") as other:
            submit_brand(other, SYSTEM, other.get(Company, company.id), other.get(
                PartnerConfiguration, config.id))  # fmt: skip
            other.commit()
        return found

    monkeypatch.setattr(a2p, "active_brand", other_click_lands_after_the_check)
    with pytest.raises(DomainError, match="already in progress"):
        submit_brand(session, SYSTEM, company, config)
    active = session.scalars(select(Tenant10DLCBrand).where(Tenant10DLCBrand.is_active)).all()
    assert len(active) == 1
    assert session.scalars(select(runs.ProvisioningRun)).all() == [
        session.get(runs.ProvisioningRun, active[0].run_id)
    ]
