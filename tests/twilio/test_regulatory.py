"""Regulatory bundles end to end against the Twilio sandbox: requirements read from the
Regulations API, the bundle run (uploads, evaluation, review), buying with the bundle,
refusals in plain words, lost answers, and the copy made when a regulation changes."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from provisioning import runs
from provisioning.audit import SYSTEM
from provisioning.errors import DomainError, ProviderError
from provisioning.health import Alert
from provisioning.partners import Provider, ValidationFailed
from provisioning.runs import RunStatus
from provisioning.twilio import regulatory
from provisioning.twilio import regulatory_documents as documents
from provisioning.twilio.models import RegulatoryDocument
from provisioning.twilio.numbers import buy_number, ensure_subaccount, subaccount_client

PDF = b"%PDF-1.7\n" + b"x" * 2000
FORM = {
    "email": "compliance@acme.test",
    "end_user-business_name": "Acme GmbH",
    "doc-business_registration_info-type": "business_registration",
    "doc-business_registration_info-business_name": "Acme GmbH",
    "doc-business_registration_info-business_registration_number": "HRB 12345",
    "address-customer_name": "Acme GmbH",
    "address-street": "Unter den Linden 1",
    "address-city": "Berlin",
    "address-region": "BE",
    "address-postal_code": "10117",
}
FILES = {"doc-business_registration_info-file": ("excerpt.pdf", PDF)}
CREATES = {
    r"/RegulatoryCompliance/EndUsers$": 1,
    r"/Addresses\.json$": 1,
    r"/numbers-upload/v2/RegulatoryCompliance/SupportingDocuments$": 1,
    r"/numbers/v2/RegulatoryCompliance/SupportingDocuments$": 1,
    r"/RegulatoryCompliance/Bundles$": 1,
    r"/ItemAssignments$": 3,
}


@pytest.fixture
def sandbox(connected_sandbox):
    sandbox = connected_sandbox(46, Provider.TWILIO)
    sandbox.config = sandbox.configs[Provider.TWILIO]
    return sandbox


@pytest.fixture
def world(session, sandbox, make):
    company = make.company("Acme GmbH")
    sub = ensure_subaccount(session, SYSTEM, company, sandbox.config, sandbox.transport(),
                            commit=session.commit)  # fmt: skip
    session.commit()
    return company, sub, subaccount_client(sub, sandbox.config, sandbox.transport())


def requirements(client):
    found = regulatory.read_requirements(client, "de", "local", "business")
    assert found is not None
    return found


def start(session, sandbox, world, values=FORM, files=FILES):
    company, _, client = world
    needed = requirements(client)
    submission = regulatory.check_submission(needed, values, files)
    bundle = regulatory.start_bundle(session, SYSTEM, company, sandbox.config, needed, submission)
    session.commit()
    return bundle


def run(session, sandbox, bundle, steps: int = 3) -> RunStatus:
    services = {"transport": sandbox.transport(), "public_base_url": "http://portal.test"}
    status = RunStatus.STARTED
    for _ in range(steps):
        status = runs.execute(session, bundle.run_id, session.commit, services)
        session.refresh(bundle)
        if status in (RunStatus.FAILED, RunStatus.COMPLETED):
            break
        sandbox.advance(120)
    return status


def number_in(sandbox, client, country="DE") -> str:
    return client.available_numbers(country, "local", limit=1)[0].phone_number


def test_requirements_are_read_from_the_regulations_api(world):
    _, _, client = world
    needed = requirements(client)
    assert needed.regulation_sid.startswith("RN") and needed.iso_country == "DE"
    assert [f.name for f in needed.end_user_fields] == ["business_name"]
    assert [d.requirement_name for d in needed.documents] == [
        "business_registration_info", "address_info",
    ]  # fmt: skip
    registration, address = needed.documents
    assert registration.accepted[0].needs_file and address.proves_address
    assert needed.needs_address
    assert regulatory.read_requirements(client, "US", "local", "business") is None
    assert regulatory.needs_bundle(client, "DE", "local")
    assert not regulatory.needs_bundle(client, "US", "local")
    with pytest.raises(DomainError):
        regulatory.read_requirements(client, "Germany", "local", "business")


def test_each_wrong_field_is_named(world):
    needed = requirements(world[2])
    bad = {**FORM, "end_user-business_name": "", "email": "nope", "address-city": "x" * 300}
    files = {"doc-business_registration_info-file": ("excerpt.exe", b"MZ\x90\x00")}
    with pytest.raises(ValidationFailed) as failed:
        regulatory.check_submission(needed, bad, files)
    errors = failed.value.errors
    assert errors["end_user-business_name"] == "Business name is required."
    assert "e-mail" in errors["email"]
    assert "too long" in errors["address-city"]
    assert "PDF, JPEG or PNG" in errors["doc-business_registration_info-file"]
    big = {"doc-business_registration_info-file": ("big.pdf", b"%PDF-" + b"0" * (950 << 10))}
    with pytest.raises(ValidationFailed) as failed:
        regulatory.check_submission(needed, FORM, big)
    assert "at most 900 KB" in failed.value.errors["doc-business_registration_info-file"]


def test_a_bundle_is_submitted_reviewed_and_buys_the_number(session, sandbox, world):
    company, sub, client = world
    number = number_in(sandbox, client)
    with pytest.raises(DomainError, match="none yet"):  # refused before any paid call
        buy_number(session, SYSTEM, company, sub, client, number, session.commit)
    bundle = start(session, sandbox, world)
    assert run(session, sandbox, bundle) is RunStatus.WAITING
    assert bundle.status == "in-review" and bundle.bundle_sid.startswith("BU")
    assert len(bundle.item_sids) == 3 and bundle.address_sid.startswith("AD")
    with pytest.raises(DomainError, match="in-review"):
        buy_number(session, SYSTEM, company, sub, client, number, session.commit)
    sandbox.twilio.control_approve_regulatory_bundle(sid=bundle.bundle_sid)
    assert run(session, sandbox, bundle) is RunStatus.COMPLETED
    assert bundle.status == "twilio-approved" and bundle.approved_at is not None
    row = buy_number(session, SYSTEM, company, sub, client, number, session.commit)
    assert row.status == "active"
    bought = sandbox.twilio.numbers[row.provider_phone_id]
    assert (bought["bundle_sid"], bought["address_sid"]) == (bundle.bundle_sid, bundle.address_sid)


def test_the_document_and_personal_data_are_encrypted_at_rest(session, sandbox, world):
    bundle = start(session, sandbox, world)
    [doc] = [d for d in session.query(RegulatoryDocument).filter_by(bundle_id=bundle.id)
             if d.content_b64]  # fmt: skip
    assert documents.file_of(doc) == ("excerpt.pdf", PDF, "application/pdf")
    raw = session.execute(
        text("SELECT content_b64, attributes FROM twilio_regulatory_documents WHERE id = :id"),
        {"id": doc.id},
    ).one()
    assert b"PDF" not in (raw[0] or "").encode() and "HRB" not in (raw[1] or "")
    stored = session.execute(
        text("SELECT end_user_attributes, address FROM twilio_regulatory_bundles WHERE id = :i"),
        {"i": bundle.id},
    ).one()
    assert "Acme" not in stored[0] and "Linden" not in stored[1]


def test_a_noncompliant_bundle_fails_with_what_twilio_found(session, sandbox, world):
    company, _, client = world
    needed = requirements(client)
    submission = regulatory.check_submission(needed, FORM, FILES)
    submission.address["iso_country"] = "FR"  # the regulation wants an address in DE
    bundle = regulatory.start_bundle(session, SYSTEM, company, sandbox.config, needed, submission)
    session.commit()
    assert run(session, sandbox, bundle) is RunStatus.FAILED
    assert bundle.failure_reasons == [
        {"requirement": "Address", "field": "Address", "reason": "The address must be in DE."}
    ]
    failed = session.get(runs.ProvisioningRun, bundle.run_id)
    assert "The address must be in DE." in failed.error_message


def test_a_rejection_shows_the_reviewers_reason(session, sandbox, world):
    bundle = start(session, sandbox, world)
    run(session, sandbox, bundle)
    sandbox.twilio.control_reject_regulatory_bundle(sid=bundle.bundle_sid, reason="Too old")
    assert run(session, sandbox, bundle) is RunStatus.FAILED
    assert bundle.status == "twilio-rejected"
    assert bundle.failure_reasons[0]["reason"] == "Too old"
    [alert] = session.scalars(select(Alert).where(Alert.company_id == world[0].id)).all()
    assert "was rejected by Twilio" in alert.message


def test_twilios_refusals_are_explained(session, sandbox, world):
    company, sub, client = world
    bundle = start(session, sandbox, world)
    run(session, sandbox, bundle)
    sandbox.twilio.control_approve_regulatory_bundle(sid=bundle.bundle_sid)
    run(session, sandbox, bundle)
    bundle.address_sid = client.address(
        "another", customer_name="Acme", street="Strasse 2", city="Berlin", region="BE",
        postal_code="10115", iso_country="DE",
    ).run().sid  # fmt: skip
    session.commit()
    number = number_in(sandbox, client)
    with pytest.raises(ProviderError) as refused:
        buy_number(session, SYSTEM, company, sub, client, number, session.commit)
    assert refused.value.code == "21651"
    assert "address given is not the one the bundle proves" in refused.value.message
    assert "21649" in regulatory.REFUSALS and "21631" in regulatory.REFUSALS


@pytest.mark.parametrize("lookups_fail", [False, True], ids=["found-at-once", "found-next-time"])
def test_every_create_with_a_lost_answer_leaves_one_object(session, sandbox, world, lookups_fail):
    bundle = start(session, sandbox, world)
    for path, times in CREATES.items():
        sandbox.faults.add("drop", provider="twilio", method="POST", path=path, times=times)
    if lookups_fail:
        for path in CREATES:
            sandbox.faults.add("server_error", provider="twilio", method="GET", path=path, times=1)
    assert run(session, sandbox, bundle, steps=30) is RunStatus.WAITING
    assert all(f.hits == f.times for f in sandbox.faults.list() if f.method == "POST")
    twilio, account = sandbox.twilio, world[1].account_sid

    def count(store) -> int:
        return sum(1 for r in store.values() if r["account_sid"] == account)

    stores = (twilio.rc_user_store, twilio.rc_doc_store, twilio.rc_bundle_store,
              twilio.rc_assignment_store, twilio.addresses_store)  # fmt: skip
    assert [count(s) for s in stores] == [1, 2, 1, 3, 1]
    assert bundle.status == "in-review"


def test_a_copy_replaces_the_items_after_a_regulation_change(session, sandbox, world):
    company, _, client = world
    bundle = start(session, sandbox, world)
    run(session, sandbox, bundle)
    sandbox.twilio.control_approve_regulatory_bundle(sid=bundle.bundle_sid)
    run(session, sandbox, bundle)
    sandbox.twilio.control_regulation_changed(sid=bundle.bundle_sid, days=30)
    regulatory.refresh_bundle(session, bundle, client)
    assert bundle.valid_until is not None
    regulatory.refresh_bundle(session, bundle, client)  # told once
    [alert] = session.scalars(select(Alert).where(Alert.company_id == company.id)).all()
    assert f"must be updated before {bundle.valid_until:%Y-%m-%d}" in alert.message
    copy = regulatory.copy_bundle(session, SYSTEM, company, sandbox.config, bundle)
    session.commit()
    with pytest.raises(DomainError, match="already"):
        regulatory.copy_bundle(session, SYSTEM, company, sandbox.config, bundle)
    assert run(session, sandbox, copy) is RunStatus.WAITING
    assert copy.bundle_sid != bundle.bundle_sid and copy.status == "in-review"
    sandbox.twilio.control_approve_regulatory_bundle(sid=copy.bundle_sid)
    assert run(session, sandbox, copy) is RunStatus.COMPLETED
    session.refresh(bundle)
    assert bundle.valid_until is None and bundle.status == "twilio-approved"
    # the original keeps serving purchases
    assert regulatory.approved_bundle(session, company.id, "DE", "local").id == bundle.id


def test_a_copy_with_new_information_replaces_the_original_items(session, sandbox, world):
    company, _, client = world
    bundle = start(session, sandbox, world)
    run(session, sandbox, bundle)
    sandbox.twilio.control_approve_regulatory_bundle(sid=bundle.bundle_sid)
    run(session, sandbox, bundle)
    before = set(bundle.item_sids)
    needed = regulatory.current_requirements(client, bundle)
    values = regulatory.copy_values(bundle, needed)
    assert values["end_user-business_name"] == "Acme GmbH"
    assert values["address-street"] == "Unter den Linden 1"
    values |= {k: v for k, v in FORM.items() if k.startswith("doc-")}
    values["end_user-business_name"] = "Acme Deutschland GmbH"
    submission = regulatory.check_submission(needed, values, FILES)
    copy = regulatory.copy_bundle(session, SYSTEM, company, sandbox.config, bundle, needed,
                                  submission)  # fmt: skip
    session.commit()
    assert run(session, sandbox, copy) is RunStatus.WAITING
    assert copy.address_sid == bundle.address_sid  # Twilio keeps the address (22229)
    assert len(copy.item_sids) == 3 and not set(copy.item_sids) & before
    sandbox.twilio.control_approve_regulatory_bundle(sid=copy.bundle_sid)
    assert run(session, sandbox, copy) is RunStatus.COMPLETED
    session.refresh(bundle)
    assert set(bundle.item_sids) == set(copy.item_sids)
    [user] = [sandbox.twilio.rc_user_store[s] for s in bundle.item_sids
              if s in sandbox.twilio.rc_user_store]  # fmt: skip
    assert user["attributes"]["business_name"] == "Acme Deutschland GmbH"


def test_the_same_submission_twice_starts_one_bundle(session, sandbox, world):
    first = start(session, sandbox, world)
    again = start(session, sandbox, world)
    assert again.id == first.id and again.run_id == first.run_id
    other = start(session, sandbox, world, files={
        "doc-business_registration_info-file": ("newer.pdf", PDF + b"2"),
    })  # fmt: skip
    assert other.id != first.id


def test_a_copy_whose_answer_was_lost_is_made_once(session, sandbox, world):
    company, _, _ = world
    bundle = start(session, sandbox, world)
    run(session, sandbox, bundle)
    sandbox.twilio.control_approve_regulatory_bundle(sid=bundle.bundle_sid)
    run(session, sandbox, bundle)
    for method, path in (("POST", r"/Copies$"), ("POST", r"/ReplaceItems$")):
        sandbox.faults.add("drop", provider="twilio", method=method, path=path, times=1)
    sandbox.faults.add("server_error", provider="twilio", method="GET", path=r"/Copies$", times=1)
    copy = regulatory.copy_bundle(session, SYSTEM, company, sandbox.config, bundle)
    session.commit()
    assert run(session, sandbox, copy, steps=10) is RunStatus.WAITING
    copies = [b for b in sandbox.twilio.rc_bundle_store.values() if b["_copy_of"]]
    assert [c["sid"] for c in copies] == [copy.bundle_sid]
    sandbox.twilio.control_approve_regulatory_bundle(sid=copy.bundle_sid)
    assert run(session, sandbox, copy, steps=10) is RunStatus.COMPLETED  # replace: resent
    assert all(f.hits == f.times for f in sandbox.faults.list())
    session.refresh(bundle)
    assert set(bundle.item_sids) == set(copy.item_sids)
