"""A number's verification and registration after onboarding, through the portal against
Meta's sandbox: a number added to an account connected without one (FINISH_ONLY_WABA), the
code typed by a person, a wrong code, a new code, a lost answer, and the PIN."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from provisioning import runs
from provisioning.channels import Channel
from provisioning.meta.models import MetaWhatsAppClient, MetaWhatsAppPhoneNumber
from provisioning.partners import Provider
from provisioning.runs import ProvisioningRun, RunStatus
from provisioning.tenancy import Role
from tests.meta.signups import complete_signup

NUMBER = {"cc": "1", "phone_number": "5550142077", "verified_name": "Acme Shop"}


@pytest.fixture
def sandbox(connected_sandbox):
    return connected_sandbox(44, Provider.META, webhooks_to_app=True)


@pytest.fixture
def owner(app, session, sandbox, make):
    """A company admin whose WhatsApp account was connected without a number."""
    company = make.company("Acme")
    complete_signup(app, session, sandbox, company, flow="FINISH_ONLY_WABA")
    user = make.user(company, Role.ADMIN, email="owner@numbers.example")
    return user, company


def drain(app):
    app.extensions["job_runner"].drain()


def add_number(auth, session, company, **changes):
    account = session.scalars(select(MetaWhatsAppClient)).one()
    url = f"/c/{company.slug}/whatsapp-numbers"
    form = {"account": account.id, "code_method": "SMS", **NUMBER, **changes}
    return auth.post(url + "/add", form, form_page=url + "/")


def registration(session) -> ProvisioningRun:
    run = session.scalars(
        select(ProvisioningRun).where(ProvisioningRun.flow == "meta_number_registration")
    ).one()
    session.refresh(run)
    return run


def phone_id(run: ProvisioningRun) -> str:
    return run.context["phone_number_ids"][0]


def test_a_number_added_to_an_account_is_verified_with_the_code_and_registered(
    app, client, auth, session, sandbox, owner
):
    user, company = owner
    auth.login(user)
    answer = add_number(auth, session, company)
    assert answer.status_code == 303, answer.get_data(as_text=True)
    drain(app)
    run = registration(session)
    assert run.status is RunStatus.WAITING and run.step("verify_code").status.value == "waiting"
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert 'id="code-form"' in page and "+15550142077" in page

    code = sandbox.meta.control_last_code(phone_number_id=phone_id(run))
    assert code["code_method"] == "SMS"
    url = answer.headers["Location"]
    done = auth.post(url + "/code", {"code": code["code"][:3] + "-" + code["code"][3:]},
                     form_page=url)  # fmt: skip
    assert done.status_code == 303
    drain(app)
    run = registration(session)
    assert run.status is RunStatus.COMPLETED, [(s.name, s.error_message) for s in run.steps]
    number = session.scalars(select(MetaWhatsAppPhoneNumber)).one()
    assert number.registered_at and number.pin and number.status == "CONNECTED"
    assert len(number.register_calls) == 1
    channel = session.scalars(select(Channel)).one()
    assert channel.phone_number == "+15550142077"
    assert run.secret_input is None  # the code is not kept

    page = client.get(f"/c/{company.slug}/whatsapp-numbers/{number.id}").get_data(as_text=True)
    assert "9 of 10 in 72 hours" in page and "A PIN is kept" in page


def test_a_wrong_code_asks_again_and_a_new_code_can_be_sent(
    app, client, auth, session, sandbox, owner
):
    user, company = owner
    auth.login(user)
    url = add_number(auth, session, company).headers["Location"]
    drain(app)
    auth.post(url + "/code", {"code": "000000"}, form_page=url)
    drain(app)
    run = registration(session)
    assert run.status is RunStatus.WAITING
    assert "not accepted" in run.step("verify_code").error_message
    first = sandbox.meta.control_last_code(phone_number_id=phone_id(run))["code"]

    sandbox.advance(61)  # Meta sends at most one code a minute
    auth.post(url + "/resend", {"code_method": "VOICE"}, form_page=url)
    drain(app)
    second = sandbox.meta.control_last_code(phone_number_id=phone_id(run))
    assert second["code_method"] == "VOICE"
    auth.post(url + "/code", {"code": second["code"]}, form_page=url)
    drain(app)
    assert registration(session).status is RunStatus.COMPLETED
    assert first  # the first code was sent once, the second only on request


def test_a_lost_answer_to_the_number_creation_finds_it_instead_of_adding_it_twice(
    app, client, auth, session, sandbox, owner
):
    user, company = owner
    auth.login(user)
    sandbox.faults.add("drop", provider="meta", path="/phone_numbers$", method="POST", times=1)
    add_number(auth, session, company)
    drain(app)
    run = registration(session)
    assert run.status is RunStatus.WAITING and run.step("add_number").error_message
    services = {"transport": sandbox.transport()}
    runs.execute(session, run.id, session.commit, services)  # the backoff is over
    run = registration(session)
    assert run.step("verify_code").status.value == "waiting"
    waba = session.scalars(select(MetaWhatsAppClient)).one().waba_id
    numbers = [p for p in sandbox.meta.phones.values() if p.waba_id == waba]
    assert len(numbers) == 1 and phone_id(run) == numbers[0].id


def test_two_adds_of_one_number_make_one_registration(app, client, auth, session, sandbox, owner):
    user, company = owner
    auth.login(user)
    first = add_number(auth, session, company).headers["Location"]
    second = add_number(auth, session, company).headers["Location"]
    assert first == second
    drain(app)
    assert registration(session).id


def registered(app, auth, session, sandbox, company):
    """Add, verify and register the number; its row."""
    url = add_number(auth, session, company).headers["Location"]
    drain(app)
    code = sandbox.meta.control_last_code(phone_number_id=phone_id(registration(session)))
    auth.post(url + "/code", {"code": code["code"]}, form_page=url)
    drain(app)
    number = session.scalars(select(MetaWhatsAppPhoneNumber)).one()
    session.refresh(number)
    return number


def test_a_pin_changed_elsewhere_is_flagged_then_set_again_from_the_portal(
    app, client, auth, session, sandbox, owner
):
    user, company = owner
    auth.login(user)
    number = registered(app, auth, session, sandbox, company)
    sandbox.meta.control_pin_changed_elsewhere(phone_number_id=number.phone_number_id, pin="424242")
    drain(app)
    session.refresh(number)
    assert number.pin_stale_at is not None and number.pin != "424242"
    page_url = f"/c/{company.slug}/whatsapp-numbers/{number.id}"
    assert 'id="pin-stale"' in client.get(page_url).get_data(as_text=True)

    answer = auth.post(page_url + "/pin", {"pin": "135790"}, form_page=page_url)
    assert answer.status_code == 303
    session.refresh(number)
    assert (number.pin, number.pin_pending, number.pin_stale_at) == ("135790", None, None)
    assert sandbox.meta.phones[number.phone_number_id].pin == "135790"
    html = client.get(page_url).get_data(as_text=True)
    assert "135790" not in html and 'id="pin-kept"' in html


def test_a_pin_whose_answer_is_lost_stays_pending_and_is_sent_again(
    app, client, auth, session, sandbox, owner
):
    user, company = owner
    auth.login(user)
    number = registered(app, auth, session, sandbox, company)
    page_url = f"/c/{company.slug}/whatsapp-numbers/{number.id}"
    sandbox.faults.add(
        "drop", provider="meta", path=number.phone_number_id + "$", method="POST", times=3
    )  # the client's three tries of a harmless repeat, each answer lost
    answer = auth.post(page_url + "/pin", {"pin": "246810"}, form_page=page_url)
    assert answer.status_code == 303
    assert "did not confirm" in client.get(answer.headers["Location"]).get_data(as_text=True)
    session.refresh(number)
    assert number.pin_pending == "246810" and number.pin != "246810"
    auth.post(page_url + "/pin", {"pin": "246810"}, form_page=page_url)
    session.refresh(number)
    assert (number.pin, number.pin_pending) == ("246810", None)


def test_a_bad_pin_is_refused_before_meta_is_asked(app, client, auth, session, sandbox, owner):
    user, company = owner
    auth.login(user)
    number = registered(app, auth, session, sandbox, company)
    page_url = f"/c/{company.slug}/whatsapp-numbers/{number.id}"
    answer = auth.post(page_url + "/pin", {"pin": "12ab"}, form_page=page_url)
    assert answer.status_code == 303
    assert "six digits" in client.get(answer.headers["Location"]).get_data(as_text=True)
    session.refresh(number)
    assert number.pin_pending is None


def test_deregister_then_register_again_counts_meta_calls(
    app, client, auth, session, sandbox, owner
):
    user, company = owner
    auth.login(user)
    number = registered(app, auth, session, sandbox, company)
    page_url = f"/c/{company.slug}/whatsapp-numbers/{number.id}"
    answer = auth.post(page_url + "/deregister", {}, form_page=page_url)
    assert answer.status_code == 303
    session.refresh(number)
    assert number.status == "DISCONNECTED" and number.registered_at is None
    assert sandbox.meta.phones[number.phone_number_id].status == "DISCONNECTED"
    assert "8 of 10 in 72 hours" in client.get(page_url).get_data(as_text=True)

    again = auth.post(page_url + "/register", {"code_method": "SMS"}, form_page=page_url)
    assert again.status_code == 303
    drain(app)
    runs_ = session.scalars(
        select(ProvisioningRun).where(ProvisioningRun.flow == "meta_number_registration")
    ).all()
    latest = runs_[-1]
    session.refresh(latest)
    assert latest.status is RunStatus.COMPLETED  # verified already: no code, registered
    session.refresh(number)
    assert number.status == "CONNECTED" and len(number.register_calls) == 3


def test_a_number_moved_in_is_refused_with_the_reason_then_retried_and_registered(
    app, client, auth, session, sandbox, owner
):
    user, company = owner
    auth.login(user)
    elsewhere = sandbox.meta.control_seed_number_elsewhere(number="15550163636", two_step=True)
    answer = add_number(auth, session, company, phone_number="5550163636", migrate="y")
    url = answer.headers["Location"]
    drain(app)
    run = registration(session)
    assert run.status is RunStatus.FAILED
    assert "Two-step verification is still on" in run.error_message
    assert "Two-step verification is still on" in client.get(url).get_data(as_text=True)

    sandbox.meta.control_set_old_provider(number=elsewhere["number"], two_step=False)
    retried = auth.post(url + "/retry", {}, form_page=url)
    assert retried.status_code in (302, 303)
    drain(app)
    code = sandbox.meta.control_last_code(phone_number_id=phone_id(registration(session)))
    auth.post(url + "/code", {"code": code["code"]}, form_page=url)
    drain(app)
    run = registration(session)
    assert run.status is RunStatus.COMPLETED, [(s.name, s.error_message) for s in run.steps]
    assert sandbox.meta.phones[elsewhere["phone_number_id"]].status == "MIGRATED"
