"""Every failure of a Twilio SDK call becomes one of the platform's typed errors.

The SDK raises ``TwilioRestException`` for a failed create/fetch/update/delete, but a
bare ``TwilioException`` (carrying the response) when a list page answers non-2xx, and
httpx raises its own errors when no answer comes: all of them are mapped in one place.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from provisioning import runs
from provisioning.audit import SYSTEM
from provisioning.clients import twilio_master
from provisioning.errors import AuthError, Rejected, Retryable, Unreachable
from provisioning.partners import Provider
from provisioning.runs import RunStatus, StepStatus
from provisioning.tenancy import Role
from provisioning.twilio.a2p import save_business_info, submit_brand
from provisioning.twilio.api import connect
from provisioning.twilio.models import TwilioSubaccount
from provisioning.twilio.numbers import search_numbers
from tests.twilio.test_a2p import PROFILE

SEARCH = r"/AvailablePhoneNumbers/US/Local\.json$"
ACCOUNTS = r"/Accounts\.json$"


@pytest.fixture
def sandbox(connected_sandbox):
    sandbox = connected_sandbox(41, Provider.TWILIO)
    sandbox.config = sandbox.configs[Provider.TWILIO]
    return sandbox


@pytest.fixture
def master(sandbox):
    return twilio_master(sandbox.config, sandbox.transport())


@pytest.mark.parametrize(
    ("fault", "error", "status"),
    [
        ("throttle", Retryable, 429),
        ("server_error", Retryable, 500),
        ("timeout", Unreachable, None),
        ("drop", Unreachable, None),
    ],
)
def test_a_failed_list_page_is_a_typed_error(sandbox, master, fault, error, status):
    sandbox.faults.add(fault, provider="twilio", path=SEARCH, times=1)
    with pytest.raises(error) as raised:
        search_numbers(master, "US", area_code="415")
    assert type(raised.value) is error and raised.value.http_status == status
    if fault == "throttle":
        assert raised.value.code == "20429" and raised.value.retry_after == 1.0
    assert search_numbers(master, "US", area_code="415")  # the fault is spent


def test_refusals_and_bad_credentials_keep_their_kind(sandbox, master):
    with pytest.raises(Rejected) as refused:
        search_numbers(master, "ZZ")
    assert refused.value.http_status == 404
    wrong = connect(
        sandbox.config.value("account_sid"), "wrong-token",
        base_url=sandbox.config.value("api_base_url"), transport=sandbox.transport(),
    )  # fmt: skip
    with pytest.raises(AuthError) as refused:
        search_numbers(wrong, "US")
    assert (refused.value.http_status, refused.value.code) == (401, "20003")


@pytest.fixture
def acme(make):
    company = make.company("Acme")
    return company, make.user(company, Role.ADMIN)


@pytest.mark.parametrize("fault", ["throttle", "server_error"])
def test_a_busy_twilio_during_a_search_is_a_clear_4xx(client, auth, sandbox, acme, fault):
    company, admin = acme
    auth.login(admin)
    sandbox.faults.add(fault, provider="twilio", path=SEARCH, times=1)
    page = client.get(f"/c/{company.slug}/numbers/?country=US&number_type=local")
    assert page.status_code == 429
    assert b"try again in a moment" in page.data


def test_a_busy_twilio_while_buying_is_a_flash_not_a_500(client, auth, sandbox, acme, session):
    company, admin = acme
    auth.login(admin)
    sandbox.faults.add("throttle", provider="twilio", method="GET", path=ACCOUNTS, times=1)
    url = f"/c/{company.slug}/numbers/"
    response = auth.post(f"{url}buy", {"phone_number": "+15005550006"}, form_page=url)
    assert response.status_code == 303
    page = client.get(url).get_data(as_text=True)
    assert "try again in a moment" in page
    claim = session.scalars(select(TwilioSubaccount)).one()
    assert claim.status == "failed" and claim.account_sid is None  # nothing was created
    again = auth.post(f"{url}buy", {"phone_number": "+15005550006"}, form_page=url)
    assert again.status_code == 302  # the fault is spent: bought


def test_a_throttled_list_makes_a_run_wait_not_fail(session, sandbox, make):
    company = make.company("Acme Dental")
    save_business_info(session, SYSTEM, company, PROFILE)
    brand = submit_brand(session, SYSTEM, company, sandbox.config)
    session.commit()
    sandbox.faults.add("throttle", provider="twilio", method="GET", path=ACCOUNTS, times=1)
    services = {"transport": sandbox.transport()}
    status = runs.execute(session, brand.run_id, session.commit, services)
    run = session.get(runs.ProvisioningRun, brand.run_id)
    step = run.step("customer_profile")
    assert status is RunStatus.WAITING and step.status is StepStatus.WAITING
    assert step.error_http_status == 429 and run.resume_at is not None
    runs.execute(session, brand.run_id, session.commit, services)
    assert step.status is StepStatus.DONE
