"""Zero-touch registration: a number bought through Twilio is registered on WhatsApp with
the code Meta sends it, read from the number's own inbound SMS, with no code typed."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from provisioning import runs
from provisioning.audit import SYSTEM
from provisioning.meta.models import MetaWhatsAppPhoneNumber
from provisioning.partners import Provider
from provisioning.runs import ProvisioningRun, RunStatus
from provisioning.tenancy import Role
from provisioning.twilio.models import SmsPhoneNumber
from tests.meta.signups import complete_signup


@pytest.fixture
def sandbox(connected_sandbox):
    return connected_sandbox(45, Provider.META, Provider.TWILIO, webhooks_to_app=True)


@pytest.fixture
def acme(app, session, sandbox, make):
    company = make.company("Acme")
    complete_signup(app, session, sandbox, company, flow="FINISH_ONLY_WABA")
    return company, make.user(company, Role.ADMIN)


def drain(app):
    app.extensions["job_runner"].drain()


def buy(auth, company, number: str) -> None:
    url = f"/c/{company.slug}/numbers/"
    assert auth.post(f"{url}buy", {"phone_number": number}, form_page=url).status_code in (302, 303)


def add_to_whatsapp(auth, session, company, digits: str):
    from provisioning.meta.models import MetaWhatsAppClient

    account = session.scalars(select(MetaWhatsAppClient)).one()
    url = f"/c/{company.slug}/whatsapp-numbers"
    form = {"account": account.id, "cc": "1", "phone_number": digits, "verified_name": "Acme",
            "code_method": "SMS"}  # fmt: skip
    return auth.post(url + "/add", form, form_page=url + "/")


def test_a_bought_number_is_registered_with_the_code_read_from_its_own_sms(
    app, client, auth, session, sandbox, acme
):
    company, admin = acme
    auth.login(admin)
    buy(auth, company, "+15005550006")
    bought = session.scalars(select(SmsPhoneNumber)).one()
    assert bought.sms_url and bought.sms_url.endswith("/webhooks/twilio/messages")

    answer = add_to_whatsapp(auth, session, company, "5005550006")
    assert answer.status_code == 303
    drain(app)  # the code goes out by SMS, arrives at the number, reaches the portal
    drain(app)
    run = session.scalars(select(ProvisioningRun).where(
        ProvisioningRun.flow == "meta_number_registration")).one()  # fmt: skip
    session.refresh(run)
    assert run.status is RunStatus.COMPLETED, [(s.name, s.error_message) for s in run.steps]
    number = session.scalars(select(MetaWhatsAppPhoneNumber)).one()
    assert number.status == "CONNECTED" and number.display_phone_number == "+1 500-555-0006"
    steps = {s.name: s for s in run.steps}
    assert steps["verify_code"].attempts >= 1


def test_a_code_to_a_number_of_another_company_is_not_taken(
    app, client, auth, session, sandbox, acme, make
):
    company, admin = acme
    other = make.company("Other")
    auth.login(make.user(other, Role.ADMIN))
    buy(auth, other, "+15005550006")  # the number is the other company's
    auth.logout()
    auth.login(admin)
    add_to_whatsapp(auth, session, company, "5005550006")
    drain(app)
    drain(app)
    run = session.scalars(select(ProvisioningRun).where(
        ProvisioningRun.flow == "meta_number_registration")).one()  # fmt: skip
    session.refresh(run)
    assert run.status is RunStatus.WAITING and run.step("verify_code").status.value == "waiting"


def test_a_code_arriving_while_the_run_still_asks_for_it_is_kept_for_the_next_step(session, make):
    """Meta's SMS may reach the platform before Meta answers request_code: the run is
    still running, and the code waits in it for verify_code."""
    from provisioning import zero_touch
    from provisioning.events import store_event
    from provisioning.meta import registration
    from provisioning.twilio.models import SmsPhoneNumber

    company = make.company("Early")
    run = runs.start_run(
        session, SYSTEM, registration.FLOW, company.id,
        context={"number_key": "15005550006", "number_e164": "15005550006",
                 "phone_number_ids": ["pn-1"]},
    )  # fmt: skip
    run.status = RunStatus.RUNNING
    session.add(SmsPhoneNumber(phone_number="+15005550006", company_id=company.id, status="active"))
    body = b"From=55123&To=%2B15005550006&Body=Your+WhatsApp+Business+code+is+482-913"
    event_id = store_event(session, Provider.TWILIO, "messages:SMx::received", "messages", body)
    session.flush()
    from provisioning.events import WebhookEvent

    assert zero_touch.capture_code(session, session.get(WebhookEvent, event_id)) == [run.id]
    assert run.secret_input == {"code": "482913"} and run.status is RunStatus.RUNNING
