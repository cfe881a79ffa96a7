"""The official twilio SDK (unchanged but for its base URLs) against the simulator."""

from __future__ import annotations

import logging

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest.messaging.v2.channels_sender import ChannelsSenderList as Senders

from provisioning.twilio.api import HttpxHttpClient, make_client

SECONDARY_POLICY = "RNdfbf3fae0e1107f8aded0e7cead80bf5"
A2P_POLICY = "RNb0d4771c2c98518d916a3d4cd70a8f8b"


@pytest.fixture
def master(sandbox):
    return sandbox.twilio.control_seed_master()


@pytest.fixture
def client_for(sandbox):
    def build(username, password, **kwargs):
        return make_client(
            username,
            password,
            base_url=f"{sandbox.base_url}/twilio",
            transport=sandbox.transport(),
            **kwargs,
        )

    return build


@pytest.fixture
def parent(master, client_for):
    return client_for(master["account_sid"], master["auth_token"])


@pytest.fixture
def customer(parent, client_for):
    sub = parent.api.v2010.accounts.create(friendly_name="Acme Dental")
    return sub, client_for(sub.sid, sub.auth_token)


def test_make_client_retargets_every_domain_by_base_url(parent):
    assert parent.api.base_url == "http://sandbox.test/twilio/api"
    assert parent.messaging.base_url == "http://sandbox.test/twilio/messaging"
    assert parent.trusthub.base_url == "http://sandbox.test/twilio/trusthub"
    assert parent.events.base_url == "http://sandbox.test/twilio/events"
    assert isinstance(parent.http_client, HttpxHttpClient)


def test_subaccount_number_and_sender_through_the_sdk(master, parent, customer):
    sub, client = customer
    assert sub.sid.startswith("AC") and sub.auth_token
    assert sub.owner_account_sid == master["account_sid"]
    assert sub.status == "active"

    found = client.api.v2010.account.available_phone_numbers("US").local.list(
        area_code=415, sms_enabled=True, limit=5
    )
    assert len(found) == 5
    assert all(n.phone_number.startswith("+1415") for n in found)

    bought = client.api.v2010.account.incoming_phone_numbers.create(
        phone_number=found[0].phone_number, sms_url="https://portal.test/sms"
    )
    assert bought.sid.startswith("PN")
    assert bought.account_sid == sub.sid
    assert bought.sms_url == "https://portal.test/sms"
    # The parent's auth token reaches the subaccount's v2010 resources (§1).
    listed = parent.api.v2010.accounts(sub.sid).incoming_phone_numbers.list()
    assert [n.sid for n in listed] == [bought.sid]

    sender = client.messaging.v2.channels_senders.create(
        Senders.MessagingV2ChannelsSenderRequestsCreate(
            {
                "sender_id": f"whatsapp:{bought.phone_number}",
                "configuration": {"waba_id": "104233912345678"},
                "profile": {"name": "Acme Dental"},
            }
        )
    )
    assert sender.sid.startswith("XE")
    assert sender.status == "CREATING"
    fetched = client.messaging.v2.channels_senders(sender.sid).fetch()
    assert fetched.sender_id == f"whatsapp:{bought.phone_number}"
    assert fetched.configuration["waba_id"] == "104233912345678"


def test_error_envelope_becomes_twilio_rest_exception(customer):
    _, client = customer
    with pytest.raises(TwilioRestException) as info:
        client.api.v2010.account.incoming_phone_numbers.create(phone_number="+15005550000")
    assert info.value.status == 400
    assert info.value.code == 21422


def test_bad_credentials_are_20003(sandbox, master, client_for):
    client = client_for(master["account_sid"], "wrong-token")
    with pytest.raises(TwilioRestException) as info:
        client.api.v2010.accounts(master["account_sid"]).fetch()
    assert (info.value.status, info.value.code) == (401, 20003)


def test_http_client_logs_no_credentials(customer, caplog):
    sub, client = customer
    with caplog.at_level(logging.INFO, logger="provisioning.twilio.api"):
        client.api.v2010.accounts(sub.sid).fetch()
    text = caplog.text
    assert "GET" in text and "200" in text
    assert sub.auth_token not in text


def register_brand(sandbox, master, client, address_client):
    """Steps 1-3 of the ISV A2P sequence (§4) with the SDK; returns (profile, product, brand)."""
    th = client.trusthub.v1
    profile = th.customer_profiles.create(
        friendly_name="Acme Dental secondary", email="a2p@isv.test", policy_sid=SECONDARY_POLICY
    )
    assert profile.sid.startswith("BU") and profile.status == "draft"
    business = th.end_users.create(
        friendly_name="Acme business info",
        type="customer_profile_business_information",
        attributes={
            "business_name": "Acme Dental LLC",
            "business_identity": "direct_customer",
            "business_type": "Limited Liability Corporation",
            "business_industry": "HEALTHCARE",
            "business_registration_identifier": "EIN",
            "business_registration_number": "123456789",
            "business_regions_of_operation": "USA_AND_CANADA",
            "website_url": "https://acme.test",
        },
    )
    assert business.sid.startswith("IT")
    rep = th.end_users.create(
        friendly_name="Rep",
        type="authorized_representative_1",
        attributes={"first_name": "Ann", "last_name": "Lee", "email": "ann@acme.test"},
    )
    address = address_client.api.v2010.account.addresses.create(
        customer_name="Acme Dental LLC",
        street="1 Main St",
        city="Austin",
        region="TX",
        postal_code="78701",
        iso_country="US",
    )
    assert address.sid.startswith("AD")
    document = th.supporting_documents.create(
        friendly_name="Acme address",
        type="customer_profile_address",
        attributes={"address_sids": address.sid},
    )
    assert document.sid.startswith("RD")
    assignments = th.customer_profiles(profile.sid).customer_profiles_entity_assignments
    first = assignments.create(object_sid=business.sid)
    assert first.sid.startswith("BV")
    evaluations = th.customer_profiles(profile.sid).customer_profiles_evaluations
    early = evaluations.create(policy_sid=SECONDARY_POLICY)
    assert early.status == "noncompliant"
    for sid in (rep.sid, document.sid, master["primary_customer_profile_sid"]):
        assignments.create(object_sid=sid)
    assert evaluations.create(policy_sid=SECONDARY_POLICY).status == "compliant"
    assert th.customer_profiles(profile.sid).update(status="pending-review").status == (
        "pending-review"
    )

    product = th.trust_products.create(
        friendly_name="Acme A2P", email="a2p@isv.test", policy_sid=A2P_POLICY
    )
    messaging_info = th.end_users.create(
        friendly_name="Acme messaging profile",
        type="us_a2p_messaging_profile_information",
        attributes={"company_type": "private"},
    )
    tp_assign = th.trust_products(product.sid).trust_products_entity_assignments
    tp_assign.create(object_sid=messaging_info.sid)
    tp_assign.create(object_sid=profile.sid)
    tp_eval = th.trust_products(product.sid).trust_products_evaluations.create(
        policy_sid=A2P_POLICY
    )
    assert tp_eval.status == "compliant"
    th.trust_products(product.sid).update(status="pending-review")

    brand = client.messaging.v1.brand_registrations.create(
        customer_profile_bundle_sid=profile.sid, a2p_profile_bundle_sid=product.sid
    )
    return profile, product, brand


def test_isv_a2p_sequence_registers_a_brand(sandbox, master, customer):
    _, client = customer
    profile, product, brand = register_brand(sandbox, master, client, client)
    assert brand.sid.startswith("BN")
    assert brand.status == "PENDING"
    assert brand.customer_profile_bundle_sid == profile.sid
    assert brand.a2p_profile_bundle_sid == product.sid
    sandbox.twilio.control_approve_brand(brand_sid=brand.sid)
    fetched = client.messaging.v1.brand_registrations(brand.sid).fetch()
    assert fetched.status == "APPROVED"
    assert fetched.tcr_id and fetched.identity_status == "VERIFIED"
