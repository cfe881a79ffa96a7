"""Twilio webhooks: signatures by the (sub)account's token, and A2P events that move runs."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from provisioning.audit import SYSTEM
from provisioning.events import WebhookEvent, store_event
from provisioning.partners import Provider
from provisioning.runs import ProvisioningRun, RunStatus
from provisioning.tenancy import Company
from provisioning.twilio.a2p import save_business_info, submit_brand
from provisioning.twilio.models import Tenant10DLCBrand
from provisioning.twilio.numbers import ensure_subaccount
from provisioning.twilio.webhooks import apply_event
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
                            sandbox.transport(), commit=session.commit)  # fmt: skip
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


def approval(brand_sid: str, kind: str) -> bytes:
    event = {
        "type": f"com.twilio.messaging.compliance.brand-registration.{kind}",
        "data": {"brandsid": brand_sid, "brandstatus": "APPROVED"},
    }
    return json.dumps([event]).encode()


def test_two_approvals_applied_at_once_end_in_one_clean_outcome(session, make):
    """The second worker read the brand before the first committed its approval."""
    brand = Tenant10DLCBrand(company_id=make.company().id, legal_business_name="Acme LLC",
                             provider_brand_id="BN" + "7" * 32)  # fmt: skip
    session.add(brand)
    session.commit()
    ids = [
        store_event(session, Provider.TWILIO, kind, "a2p", approval(brand.provider_brand_id, kind),
                    company_id=brand.company_id)  # received on the company's own sink
        for kind in ("brand-registered", "brand-verified")
    ]  # fmt: skip
    session.commit()
    first, late = (Session(bind=session.connection(), join_transaction_mode="create_savepoint")
                   for _ in range(2))  # fmt: skip
    read_early = late.get(Tenant10DLCBrand, brand.id)  # held: the late worker's copy
    assert read_early.provider_approved_at is None
    apply_event(first, first.get(WebhookEvent, ids[0]))
    first.commit()
    apply_event(late, late.get(WebhookEvent, ids[1]))
    late.commit()  # no "immutable" error: the second approval changes nothing
    first.close()
    late.close()
    session.refresh(brand)
    assert brand.provider_status == "APPROVED" and brand.provider_approved_at is not None


@pytest.mark.parametrize("signed_url", [
    "https://portal.example/webhooks/twilio/status",
    "https://portal.example:443/webhooks/twilio/status",
])  # fmt: skip
@pytest.mark.parametrize("called_url", [
    "https://portal.example/webhooks/twilio/status",
    "https://portal.example:443/webhooks/twilio/status",
])  # fmt: skip
def test_a_form_signature_holds_with_or_without_the_default_port(signed_url, called_url):
    """Twilio signs the URL with or without the port; either verifies, on the URL the
    portal was called on, as the SDK's validator says (it checks the URL once first)."""
    from provisioning.twilio.webhooks import signature_valid

    form = {"AccountSid": "AC1", "MessageSid": "SM1", "MessageStatus": "sent"}
    signature = RequestValidator("token").compute_signature(signed_url, form)
    assert signature_valid("token", called_url, form, signature)
    assert not signature_valid("other", called_url, form, signature)
    assert not signature_valid("token", called_url, {**form, "MessageStatus": "failed"}, signature)
    assert not signature_valid("token", called_url, form, None)


def test_a_json_body_is_signed_through_its_url_hash_only():
    from hashlib import sha256

    from provisioning.twilio.webhooks import signature_valid

    body = json.dumps({"AccountSid": "AC1"})
    url = f"https://portal.example/webhooks/twilio/status?bodySHA256={sha256(body.encode()).hexdigest()}"
    signature = RequestValidator("token").compute_signature(url, {})
    assert signature_valid("token", url, body, signature)
    assert not signature_valid("token", url, body.replace("AC1", "AC2"), signature)  # hash
    bare = "https://portal.example/webhooks/twilio/status"
    assert not signature_valid(
        "token", bare, body, RequestValidator("token").compute_signature(bare, {})
    )
