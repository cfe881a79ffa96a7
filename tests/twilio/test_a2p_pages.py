"""The 10DLC pages: the profile form, submission, and the read-only approved snapshot."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from provisioning.partners import Provider
from provisioning.runs import RunStatus
from provisioning.tenancy import Role
from provisioning.twilio.models import Tenant10DLCBrand, TenantBusinessInfo
from tests.twilio.test_a2p import PROFILE


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
