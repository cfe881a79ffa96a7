"""Regulatory compliance bundles (numbers v2) through the official SDK and the platform's
``TwilioApi``, every exchange validated against the vendored spec (twilio_numbers_v2)."""

from __future__ import annotations

import pytest
from twilio.base.exceptions import TwilioRestException

from provisioning.errors import Rejected
from provisioning.twilio.api import TwilioApi, make_client
from tests.sandbox.openapi import assert_conforms

PDF = b"%PDF-1.4 a registry excerpt"


@pytest.fixture
def account(sandbox):
    master = sandbox.twilio.control_seed_master()
    where = {"base_url": f"{sandbox.base_url}/twilio", "transport": sandbox.transport()}
    parent = make_client(master["account_sid"], master["auth_token"], **where)
    sub = parent.api.v2010.accounts.create(friendly_name="Acme GmbH")
    client = make_client(sub.sid, sub.auth_token, **where)
    return TwilioApi(client)


def de_business(api: TwilioApi):
    return api.regulations("DE", "local", "business")[0]


def build_bundle(api: TwilioApi, *, address_country: str = "DE", with_file: bool = True):
    """End user, address, documents (one uploaded), bundle, items: what the run does."""
    regulation = de_business(api)
    user = api.regulatory_end_user("acme end user", "business", {"business_name": "Acme GmbH"})
    address = api.address(
        "acme address", customer_name="Acme GmbH", street="Unter den Linden 1", city="Berlin",
        region="BE", postal_code="10117", iso_country=address_country,
    ).run()  # fmt: skip
    file = ("excerpt.pdf", PDF, "application/pdf") if with_file else None
    registration = api.regulatory_document(
        "acme registration", "business_registration",
        {"business_name": "Acme GmbH", "business_registration_number": "HRB 12345"}, file,
    ).run()  # fmt: skip
    proof = api.regulatory_document(
        "acme address proof", "address", {"address_sids": [address.sid]}
    ).run()
    bundle = api.regulatory_bundle(
        "acme DE local", "compliance@acme.test", regulation.sid,
        iso_country="DE", number_type="local", end_user_type="business",
    ).run()  # fmt: skip
    for sid in (user.run().sid, registration.sid, proof.sid):
        api.regulatory_item(bundle.sid, sid).run()
    return bundle, address


def test_regulations_describe_what_a_bundle_needs(sandbox, account):
    regulation = de_business(account)
    assert regulation.sid.startswith("RN") and regulation.iso_country == "DE"
    requirements = regulation.requirements
    assert requirements["end_user"][0]["fields"] == ["business_name"]
    accepted = [g[0]["accepted_documents"][0]["type"] for g in requirements["supporting_document"]]
    assert accepted == ["business_registration", "address"]
    assert account.regulations("US", "local", "business") == []
    assert_conforms(sandbox.exchanges)


def test_a_bundle_is_built_evaluated_submitted_reviewed_and_buys_a_number(sandbox, account):
    bundle, address = build_bundle(account)
    uploads = [e for e in sandbox.exchanges if e["path"].startswith("/numbers-upload/")]
    assert len(uploads) == 1 and uploads[0]["status"] == 201
    assert len(account.regulatory_items(bundle.sid)) == 3
    evaluation = account.evaluate_regulatory_bundle(bundle.sid)
    assert evaluation.status == "compliant", evaluation.results
    assert account.submit_regulatory_bundle(bundle.sid).status == "pending-review"
    sandbox.advance(1)
    assert account.fetch_regulatory_bundle(bundle.sid).status == "in-review"

    catalogue = account.client.api.v2010.account.available_phone_numbers("DE").local
    number = catalogue.list(limit=1)[0].phone_number
    incoming = account.client.api.v2010.account.incoming_phone_numbers
    with pytest.raises(TwilioRestException) as refused:
        incoming.create(phone_number=number, bundle_sid=bundle.sid, address_sid=address.sid)
    assert refused.value.code == 21649  # not approved yet

    sandbox.twilio.control_approve_regulatory_bundle(sid=bundle.sid)
    other = account.address(
        "elsewhere", customer_name="Acme", street="Rue 1", city="Paris", region="IDF",
        postal_code="75001", iso_country="DE",
    ).run()  # fmt: skip
    with pytest.raises(TwilioRestException) as refused:
        incoming.create(phone_number=number, bundle_sid=bundle.sid, address_sid=other.sid)
    assert refused.value.code == 21651  # an address the bundle does not prove
    bought = incoming.create(phone_number=number, bundle_sid=bundle.sid, address_sid=address.sid)
    assert bought.bundle_sid == bundle.sid
    assert_conforms(sandbox.exchanges)


def test_a_noncompliant_evaluation_names_what_is_missing(sandbox, account):
    bundle, _ = build_bundle(account, address_country="FR", with_file=False)
    evaluation = account.evaluate_regulatory_bundle(bundle.sid)
    assert evaluation.status == "noncompliant"
    reasons = {
        (r["requirement_name"], i["object_field"]): i["failure_reason"]
        for r in evaluation.results
        for i in r["invalid"]
    }
    assert reasons[("address_info", "address_sids")] == "The address must be in DE."
    assert reasons[("business_registration_info", "file")] == "The document's file is missing."
    with pytest.raises(Rejected):
        account.submit_regulatory_bundle(bundle.sid)
    assert_conforms(sandbox.exchanges)


def test_a_rejection_shows_the_reviewers_reason(sandbox, account):
    bundle, _ = build_bundle(account)
    account.evaluate_regulatory_bundle(bundle.sid)
    account.submit_regulatory_bundle(bundle.sid)
    sandbox.twilio.control_reject_regulatory_bundle(sid=bundle.sid, reason="Excerpt too old")
    assert account.fetch_regulatory_bundle(bundle.sid).status == "twilio-rejected"
    latest = account.regulatory_evaluations(bundle.sid)[0]
    assert latest.results[0]["failure_reason"] == "Excerpt too old"
    assert_conforms(sandbox.exchanges)


def test_a_copy_approved_after_a_regulation_change_replaces_the_items(sandbox, account):
    bundle, _ = build_bundle(account)
    account.evaluate_regulatory_bundle(bundle.sid)
    account.submit_regulatory_bundle(bundle.sid)
    sandbox.twilio.control_approve_regulatory_bundle(sid=bundle.sid)
    sandbox.twilio.control_regulation_changed(sid=bundle.sid, days=30)
    assert account.fetch_regulatory_bundle(bundle.sid).valid_until is not None

    copy = account.regulatory_bundle_copy(bundle.sid, "acme DE local copy").run()
    assert copy.status == "draft" and copy.sid != bundle.sid
    assert account.regulatory_items(copy.sid) == account.regulatory_items(bundle.sid)
    assert account.regulation(copy.regulation_sid).iso_country == "DE"
    # the copy's end user is replaced by a new one (what changed with the regulation)
    items = account.regulatory_assignments(copy.sid)
    old_user = next(o for o in items if o.startswith("IT"))
    account.remove_regulatory_item(copy.sid, items[old_user])
    account.remove_regulatory_item(copy.sid, items[old_user])  # already gone: fine
    new_user = account.regulatory_end_user("acme new", "business", {"business_name": "Acme"})
    account.regulatory_item(copy.sid, new_user.run().sid).run()
    assert old_user not in account.regulatory_items(copy.sid)
    with pytest.raises(Rejected) as refused:
        account.replace_regulatory_items(bundle.sid, copy.sid)
    assert refused.value.code == "22228"  # the copy is not approved yet
    account.evaluate_regulatory_bundle(copy.sid)
    account.submit_regulatory_bundle(copy.sid)
    sandbox.twilio.control_approve_regulatory_bundle(sid=copy.sid)
    replaced = account.replace_regulatory_items(bundle.sid, copy.sid)
    assert replaced.sid == bundle.sid and replaced.valid_until is None
    assert account.regulatory_bundle_copy(bundle.sid, "acme DE local copy").looked_up().sid == (
        copy.sid
    )
    assert_conforms(sandbox.exchanges)
