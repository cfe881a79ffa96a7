"""Twilio webhooks: signatures by the (sub)account's token, and A2P events that move runs."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from provisioning.audit import SYSTEM
from provisioning.events import WebhookEvent
from provisioning.partners import Provider
from provisioning.runs import ProvisioningRun, RunStatus
from provisioning.tenancy import Company
from provisioning.twilio.a2p import save_business_info, submit_brand
from provisioning.twilio.numbers import ensure_subaccount
from tests.twilio.test_a2p import PROFILE

PUBLIC = "http://portal.test"


@pytest.fixture
def sandbox(connected_sandbox):
    sandbox = connected_sandbox(27, Provider.TWILIO, webhooks_to_app=True)
    sandbox.config = sandbox.configs[Provider.TWILIO]
    return sandbox


@pytest.fixture
def sub(session, sandbox, make):
    sub = ensure_subaccount(session, SYSTEM, make.company("Acme"), sandbox.config,
                            sandbox.transport())  # fmt: skip
    session.commit()
    return sub


@pytest.mark.parametrize("as_json", [False, True])
def test_a_callback_signed_with_the_subaccount_token_is_accepted(session, sandbox, sub, as_json):
    sent = sandbox.twilio.control_emit_status_callback(
        url=f"{PUBLIC}/webhooks/twilio/status", account_sid=sub.account_sid, as_json=as_json
    )
    delivery = sandbox.outbound.deliveries[-1]
    assert delivery.status == 204, (sent, delivery.status)
    assert session.scalars(select(WebhookEvent)).one().event_type == "status"


def test_bad_or_foreign_signatures_are_refused(client, sandbox, sub):
    form = {"AccountSid": sub.account_sid, "MessageSid": "SM1", "MessageStatus": "sent"}
    assert client.post("/webhooks/twilio/status", data=form).status_code == 403
    bad = {"X-Twilio-Signature": "bm9wZQ=="}
    assert client.post("/webhooks/twilio/status", data=form, headers=bad).status_code == 403
    # signed with the parent's token for a subaccount's AccountSid: refused
    parent = RequestValidator(sandbox.config.value("auth_token"))
    signed = {"X-Twilio-Signature": parent.compute_signature(
        f"{PUBLIC}/webhooks/twilio/status", form)}  # fmt: skip
    assert client.post("/webhooks/twilio/status", data=form, headers=signed).status_code == 403
    own = RequestValidator(sub.auth_token)
    signed = {"X-Twilio-Signature": own.compute_signature(
        f"{PUBLIC}/webhooks/twilio/status", form)}  # fmt: skip
    assert client.post("/webhooks/twilio/status", data=form, headers=signed).status_code == 204
    again = client.post("/webhooks/twilio/status", data=form, headers=signed)
    assert again.status_code == 204  # a duplicate is accepted and stored once


def test_brand_approval_arrives_as_an_event_and_resumes_the_run(app, session, sandbox, sub, make):
    company = session.get(Company, sub.company_id)
    save_business_info(session, SYSTEM, company, PROFILE)
    brand = submit_brand(session, SYSTEM, company, sandbox.config)
    session.commit()
    runner = app.extensions["job_runner"]
    runner.enqueue("provisioning.execute_run", brand.run_id)
    for _ in range(8):
        runner.drain()
        session.refresh(brand)
        if brand.provider_brand_id:
            break
        sandbox.advance(120)
        runner.enqueue("provisioning.execute_run", brand.run_id)
    run = session.get(ProvisioningRun, brand.run_id)
    assert run.status is RunStatus.WAITING
    sandbox.twilio.control_approve_brand(brand_sid=brand.provider_brand_id)  # sends the event
    assert any("/webhooks/twilio/events/" in d.url and d.delivered
               for d in sandbox.outbound.deliveries)  # fmt: skip
    runner.drain()  # applies the event, then runs the resumed registration
    session.refresh(brand)
    session.refresh(run)
    assert brand.provider_status == "APPROVED" and run.status is RunStatus.COMPLETED


def test_an_unknown_events_token_is_refused(client):
    assert client.post("/webhooks/twilio/events/guess", data=b"[]").status_code == 403
