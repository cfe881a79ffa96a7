"""The 10DLC pages: the profile form, submission, and the read-only approved snapshot."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from provisioning.partners import Provider
from provisioning.runs import RunStatus
from provisioning.tenancy import Role
from provisioning.twilio.models import Tenant10DLCBrand, TenantBusinessInfo
from tests.twilio.test_a2p import PROFILE
from tests.twilio.test_brand_types import SOLE


@pytest.fixture
def sandbox(connected_sandbox):
    return connected_sandbox(26, Provider.TWILIO)


@pytest.fixture
def acme(make):
    company = make.company("Acme Dental")
    return company, make.user(company, Role.ADMIN), make.user(company, Role.MEMBER)


def test_bad_profiles_show_field_errors_with_400(client, auth, sandbox, acme, session):
    company, admin, _ = acme
    auth.login(admin)
    url = f"/c/{company.slug}/a2p/"
    response = auth.post(url, PROFILE | {"business_registration_number": "1"}, form_page=url)
    assert response.status_code == 400 and b"An EIN has 9 digits" in response.data
    assert session.scalars(select(TenantBusinessInfo)).all() == []


def test_submit_run_approve_and_the_snapshot_is_locked(app, client, auth, sandbox, acme, session):
    company, admin, member = acme
    auth.login(admin)
    url = f"/c/{company.slug}/a2p/"
    assert auth.post(url, PROFILE, form_page=url).status_code == 302
    response = auth.post(f"{url}submit", form_page=url)
    assert "/runs/" in response.headers["Location"]
    brand = session.scalars(select(Tenant10DLCBrand)).one()
    runner = app.extensions["job_runner"]
    for _ in range(8):
        runner.drain()
        session.refresh(brand)
        if brand.provider_brand_id:
            break
        sandbox.advance(120)
        runner.enqueue("provisioning.execute_run", brand.run_id)
    sandbox.twilio.control_approve_brand(brand_sid=brand.provider_brand_id)
    runner.enqueue("provisioning.execute_run", brand.run_id)
    runner.drain()
    session.refresh(brand)
    assert brand.provider_status == "APPROVED"
    run = client.get(f"/c/{company.slug}/runs/{brand.run_id}").get_data(as_text=True)
    assert RunStatus.COMPLETED.value in run
    page = client.get(url).get_data(as_text=True)
    assert "locked" in page and "APPROVED" in page
    auth.logout()
    auth.login(member)
    assert auth.post(url, PROFILE, form_page=url).status_code == 403
    assert auth.post(f"{url}submit", form_page=url).status_code == 403


def drive(app, sandbox, session, brand, until):
    """Run the registration job until ``until()`` (bundles move on the sandbox clock)."""
    runner = app.extensions["job_runner"]
    for _ in range(8):
        runner.enqueue("provisioning.execute_run", brand.run_id)
        runner.drain()
        session.refresh(brand)
        if until():
            return
        sandbox.advance(120)


def test_a_sole_proprietor_sees_fees_then_the_otp_step(app, client, auth, sandbox, acme, make,
                                                        session):  # fmt: skip
    company, admin, _ = acme
    auth.login(admin)
    url = f"/c/{company.slug}/a2p/"
    assert auth.post(url, SOLE, form_page=url).status_code == 302
    page = client.get(url).get_data(as_text=True)
    assert 'id="brand-types"' in page and "$2 a month" in page and "1,000 a day" in page
    assert 'id="chosen">Sole proprietor' in page
    assert "Register as a sole proprietor brand? Fees: brand $4 once" in page  # the confirm
    auth.post(f"{url}submit", form_page=url)
    brand = session.scalars(select(Tenant10DLCBrand)).one()
    assert brand.brand_type == "SOLE_PROPRIETOR"
    drive(app, sandbox, session, brand, lambda: brand.provider_brand_id)
    sandbox.twilio.control_approve_brand(brand_sid=brand.provider_brand_id)
    drive(app, sandbox, session, brand, lambda: brand.otp_sent_at)
    page = client.get(url).get_data(as_text=True)
    assert "Verify the mobile number" in page and SOLE["owner_phone"] in page
    assert "Send the code again" in page and "(3 left)" in page
    resend = f"{url}brands/{brand.id}/otp"
    response = auth.post(resend, form_page=url)
    assert response.status_code in (302, 303)
    assert "(2 left)" in client.get(url).get_data(as_text=True)
    other = make.company("Beta")
    auth.logout()
    auth.login(make.user(other, Role.ADMIN))
    assert auth.post(f"/c/{other.slug}/a2p/brands/{brand.id}/otp",
                     form_page=f"/c/{other.slug}/a2p/").status_code in (302, 303, 404)  # fmt: skip
    session.refresh(brand)
    assert brand.otp_resends == 1  # the other company's click changed nothing
    sandbox.twilio.control_confirm_brand_otp(brand_sid=brand.provider_brand_id)
    drive(app, sandbox, session, brand, lambda: brand.campaign_status)
    service = brand.provider_config_json["messaging_service_sid"]
    sandbox.twilio.control_approve_campaign(messaging_service_sid=service)
    auth.logout()
    auth.login(admin)
    # the campaign's approval arrives as an event (not delivered here): applied directly
    from provisioning.twilio.onboarding import apply_campaign_status

    apply_campaign_status(session, brand, "VERIFIED")
    session.commit()
    page = client.get(url).get_data(as_text=True)
    assert "Registration complete" in page and "1 message segment per second" in page


def test_a_bad_brand_type_is_a_400_with_the_reason(client, auth, sandbox, acme):
    company, admin, _ = acme
    auth.login(admin)
    url = f"/c/{company.slug}/a2p/"
    response = auth.post(url, SOLE | {"business_registration_number": "12-3456789"}, form_page=url)
    assert response.status_code == 400 and b"A sole proprietor has no EIN" in response.data
    response = auth.post(url, SOLE | {"brand_type": "GOLD"}, form_page=url)
    assert response.status_code == 400 and b"Not a valid choice" in response.data


def test_a_misclassified_sole_proprietor_is_explained(app, client, auth, sandbox, acme, session):
    """30915 on the campaign: the page says what it means and what to do."""
    from tests.twilio.test_brand_types import received_events

    company, admin, _ = acme
    auth.login(admin)
    url = f"/c/{company.slug}/a2p/"
    auth.post(url, SOLE, form_page=url)
    auth.post(f"{url}submit", form_page=url)
    brand = session.scalars(select(Tenant10DLCBrand)).one()
    drive(app, sandbox, session, brand, lambda: brand.provider_brand_id)
    sandbox.twilio.control_approve_brand(brand_sid=brand.provider_brand_id)
    sandbox.twilio.control_confirm_brand_otp(brand_sid=brand.provider_brand_id)
    drive(app, sandbox, session, brand, lambda: brand.campaign_status)
    sandbox.twilio.control_fail_campaign(
        messaging_service_sid=brand.provider_config_json["messaging_service_sid"],
        reason="Invalid Sole Proprietor classification", error_code=30915,
    )  # fmt: skip
    from provisioning.twilio.webhooks import apply_event

    for event in received_events(session, sandbox, brand):
        apply_event(session, event)
    session.commit()
    page = client.get(url).get_data(as_text=True)
    assert "Invalid Sole Proprietor classification" in page
    assert "low-volume standard or standard brand with its EIN" in page
