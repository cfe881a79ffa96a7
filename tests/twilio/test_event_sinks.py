"""Event Streams sinks: a delivery is signed by the sink's subaccount, found by one indexed
lookup, and changes the rows of the sink's company only."""

from __future__ import annotations

import hashlib
import json

import pytest
from flask_migrate import upgrade
from sqlalchemy import inspect, select, text
from twilio.request_validator import RequestValidator

from portal.extensions import db
from provisioning.audit import SYSTEM, AuditEntry
from provisioning.crypto import active_keyring
from provisioning.events import WebhookEvent
from provisioning.partners import Provider
from provisioning.tenancy import Company
from provisioning.twilio.models import (
    Tenant10DLCBrand,
    TwilioSubaccount,
    events_token_hash,
    events_token_of,
)
from provisioning.twilio.numbers import ensure_subaccount

PUBLIC = "http://portal.test"
BRAND_FAILURE = "com.twilio.messaging.compliance.brand-registration.brand-failure"


@pytest.fixture
def sandbox(connected_sandbox):
    sandbox = connected_sandbox(31, Provider.TWILIO)
    sandbox.config = sandbox.configs[Provider.TWILIO]
    return sandbox


def subaccount(session, sandbox, company: Company) -> TwilioSubaccount:
    sub = ensure_subaccount(session, SYSTEM, company, sandbox.config, sandbox.transport(),
                            commit=session.commit)  # fmt: skip
    session.commit()
    return sub


def brand_of(session, company: Company, sid: str) -> Tenant10DLCBrand:
    brand = Tenant10DLCBrand(company_id=company.id, legal_business_name=company.name,
                             provider_brand_id=sid, provider_status="PENDING")  # fmt: skip
    session.add(brand)
    session.commit()
    return brand


def failure_of(brand_sid: str) -> bytes:
    event = {"id": f"EZ{brand_sid[2:]}", "type": BRAND_FAILURE, "specversion": "1.0",
             "data": {"brandsid": brand_sid, "brandstatus": "FAILED",
                      "failurereason": "EIN does not match"}}  # fmt: skip
    return json.dumps([event]).encode()


def deliver(client, sink: TwilioSubaccount, body: bytes, signer: str | None = None):
    """POST to ``sink``'s URL as Event Streams does, signed with ``signer``'s token."""
    path = f"/webhooks/twilio/events/{sink.events_token()}"
    query = f"bodySHA256={hashlib.sha256(body).hexdigest()}"
    headers = {"Content-Type": "application/json"}
    if signer is not None:
        signature = RequestValidator(signer).compute_signature(f"{PUBLIC}{path}?{query}", {})
        headers["X-Twilio-Signature"] = signature
    return client.post(f"{path}?{query}", data=body, headers=headers)


def test_an_event_on_one_company_sink_never_changes_another_company_brand(
    app, client, session, sandbox, make
):
    acme, globex = make.company("Acme"), make.company("Globex")
    sink = subaccount(session, sandbox, acme)
    subaccount(session, sandbox, globex)
    theirs = brand_of(session, globex, "BN" + "b" * 32)
    ours = brand_of(session, acme, "BN" + "a" * 32)
    # a genuine, signed delivery to Acme's sink that names Globex's brand
    assert (
        deliver(client, sink, failure_of(theirs.provider_brand_id), sink.auth_token).status_code
        == 200
    )
    assert (
        deliver(client, sink, failure_of(ours.provider_brand_id), sink.auth_token).status_code
        == 200
    )
    app.extensions["job_runner"].drain()
    session.expire_all()
    assert theirs.provider_status == "PENDING" and theirs.provider_status_reason is None
    assert ours.provider_status == "FAILED" and "EIN" in ours.provider_status_reason
    events = session.scalars(select(WebhookEvent)).all()
    assert {e.company_id for e in events} == {acme.id}
    assert all(e.processed_at is not None for e in events)


def test_unsigned_or_wrongly_signed_sink_deliveries_are_refused(client, session, sandbox, make):
    acme, globex = make.company("Acme"), make.company("Globex")
    sink, other = subaccount(session, sandbox, acme), subaccount(session, sandbox, globex)
    body = failure_of("BN" + "a" * 32)
    assert deliver(client, sink, body).status_code == 403  # no signature
    assert deliver(client, sink, body, other.auth_token).status_code == 403  # another's
    assert deliver(client, sink, body, sandbox.config.value("auth_token")).status_code == 403
    bare = client.post(f"/webhooks/twilio/events/{sink.events_token()}", data=body,
                       headers={"X-Twilio-Signature": "bm9wZQ=="})  # fmt: skip
    assert bare.status_code == 403  # no bodySHA256: nothing signs the body
    assert session.scalars(select(WebhookEvent)).all() == []
    assert deliver(client, sink, body, sink.auth_token).status_code == 200


def test_an_unknown_sink_token_is_refused_without_decrypting_any_subaccount(client, session, make):
    """One indexed lookup by the token's hash: undecryptable tokens are never touched."""
    for n in range(3):
        sub = TwilioSubaccount(company_id=make.company().id, account_sid=f"AC{n:032x}")
        sub.friendly_name, sub.auth_token = f"sub {n}", f"token-{n}"
        session.add(sub)
    session.commit()
    session.execute(text("UPDATE twilio_subaccounts SET auth_token = 'enc:v1:gone:AAAA'"))
    session.commit()
    body = failure_of("BN" + "c" * 32)
    response = client.post(f"/webhooks/twilio/events/{'f' * 40}?bodySHA256=x", data=body)
    assert response.status_code == 403
    columns = inspect(session.connection()).get_unique_constraints("twilio_subaccounts")
    assert ["events_token_hash"] in [c["column_names"] for c in columns]


def test_the_sink_token_hash_follows_the_auth_token(session, make):
    sub = TwilioSubaccount(company_id=make.company().id, friendly_name="pending")
    assert sub.events_token_hash is None  # a claim has no token yet
    sub.auth_token = "first-token"
    assert sub.events_token_hash == events_token_hash(events_token_of("first-token"))
    sub.auth_token = "second-token"
    assert sub.events_token_hash == events_token_hash(sub.events_token())


def test_the_upgrade_hashes_the_tokens_of_existing_subaccounts(scratch_app):
    upgrade(revision="11a0b1c2d3e1")
    stored = active_keyring().encrypt("old-token", "twilio_subaccounts.auth_token")
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO companies (id, name, slug, is_active, is_demo, public_id)"
                          " VALUES (1, 'Old', 'old', 1=1, 1=0, 'co_old')"))  # fmt: skip
        conn.execute(
            text("INSERT INTO twilio_subaccounts (company_id, account_sid, auth_token,"
                 " friendly_name, status, created_at, updated_at) VALUES (1, :sid, :token,"
                 " 'old', 'active', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
            {"sid": "AC" + "1" * 32, "token": stored},
        )  # fmt: skip
    upgrade()
    with db.engine.connect() as conn:
        hashed = conn.execute(text("SELECT events_token_hash FROM twilio_subaccounts")).scalar()
    assert hashed == events_token_hash(events_token_of("old-token"))


def test_a_replayed_event_is_audited(app, client, auth, session, sandbox, make):
    acme = make.company("Acme")
    sink = subaccount(session, sandbox, acme)
    deliver(client, sink, failure_of("BN" + "d" * 32), sink.auth_token)
    app.extensions["job_runner"].drain()
    event = session.scalars(select(WebhookEvent)).one()
    admin = make.admin()
    auth.login(admin)
    auth.post(f"/admin/events/{event.id}/replay", form_page=f"/admin/events/{event.id}")
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "webhook_event.replay")
    ).one()
    assert entry.actor_id == admin.id and entry.target_id == str(event.id)
    assert entry.company_id == acme.id and entry.details["dedupe_key"] == event.dedupe_key
    assert sink.auth_token not in str(entry.details)
