"""10DLC brand types through the official SDK against the simulator, every exchange
validated against the vendored Twilio specs: a sole proprietor (starter profile, sole-prop
trust product, SOLE_PROPRIETOR brand, its OTP and SmsOtp, its one campaign), a
low-volume standard brand (SkipAutomaticSecVet), campaign suspension and expiry."""

from __future__ import annotations

import pytest
from twilio.base.exceptions import TwilioRestException

from provisioning.twilio.api import make_client
from tests.sandbox.openapi import assert_conforms

STARTER = "RN806dd6cd175f314e1f96a9727ee271f4"
SOLE_TRUST = "RN670d5d2e282a6130ae063b234b6019c8"
MOBILE = "+15125550177"


@pytest.fixture
def customer(sandbox):
    master = sandbox.twilio.control_seed_master()
    sandbox.twilio.control_set_a2p_rate(min_interval=0)

    def client(sid, token):
        url = f"{sandbox.base_url}/twilio"
        return make_client(sid, token, base_url=url, transport=sandbox.transport())

    parent = client(master["account_sid"], master["auth_token"])
    sub = parent.api.v2010.accounts.create(friendly_name="Ann Lee Tutoring")
    return client(sub.sid, sub.auth_token), master["primary_customer_profile_sid"]


def sole_bundles(client, primary):
    hub = client.trusthub.v1
    profile = hub.customer_profiles.create(
        friendly_name="Ann starter", email="a2p@isv.test", policy_sid=STARTER
    )
    person = hub.end_users.create(
        friendly_name="Ann", type="starter_customer_profile_information",
        attributes={"first_name": "Ann", "last_name": "Lee", "email": "ann@example.com",
                    "phone_number": MOBILE},
    )  # fmt: skip
    address = client.api.v2010.account.addresses.create(
        customer_name="Ann Lee", street="1 Main St", city="Austin", region="TX",
        postal_code="78701", iso_country="US",
    )  # fmt: skip
    document = hub.supporting_documents.create(
        friendly_name="addr", type="customer_profile_address",
        attributes={"address_sids": address.sid},
    )  # fmt: skip
    assignments = hub.customer_profiles(profile.sid).customer_profiles_entity_assignments
    for sid in (person.sid, document.sid, primary):
        assignments.create(object_sid=sid)
    evaluation = hub.customer_profiles(profile.sid).customer_profiles_evaluations.create(
        policy_sid=STARTER
    )
    assert evaluation.status == "compliant", evaluation.results
    hub.customer_profiles(profile.sid).update(status="pending-review")
    product = hub.trust_products.create(
        friendly_name="Ann sole prop", email="a2p@isv.test", policy_sid=SOLE_TRUST
    )
    sole = hub.end_users.create(
        friendly_name="Ann A2P", type="sole_proprietor_information",
        attributes={"brand_name": "Ann Lee Tutoring", "vertical": "EDUCATION",
                    "mobile_phone_number": MOBILE},
    )  # fmt: skip
    for sid in (sole.sid, profile.sid):
        hub.trust_products(product.sid).trust_products_entity_assignments.create(object_sid=sid)
    evaluation = hub.trust_products(product.sid).trust_products_evaluations.create(
        policy_sid=SOLE_TRUST
    )
    assert evaluation.status == "compliant", evaluation.results
    hub.trust_products(product.sid).update(status="pending-review")
    return profile.sid, product.sid


def test_a_sole_proprietor_through_the_sdk_conforms(sandbox, customer):
    client, primary = customer
    profile, product = sole_bundles(client, primary)
    brands = client.messaging.v1.brand_registrations
    with pytest.raises(TwilioRestException):  # a sole-prop trust product needs its type
        brands.create(customer_profile_bundle_sid=profile, a2p_profile_bundle_sid=product)
    brand = brands.create(
        customer_profile_bundle_sid=profile, a2p_profile_bundle_sid=product,
        brand_type="SOLE_PROPRIETOR",
    )  # fmt: skip
    assert brand.brand_type == "SOLE_PROPRIETOR" and brand.status == "PENDING"
    otps = brands(brand.sid).brand_registration_otps
    with pytest.raises(TwilioRestException):  # nothing was texted before approval
        otps.create()
    sandbox.twilio.control_approve_brand(brand_sid=brand.sid)
    fetched = brands(brand.sid).fetch()
    assert fetched.status == "APPROVED" and fetched.identity_status == "UNVERIFIED"
    assert fetched.brand_score is None
    first = sandbox.twilio.control_get_brand_otp(brand_sid=brand.sid)
    assert first["mobile"] == MOBILE and len(first["otp"]) == 6
    again = otps.create()
    assert again.brand_registration_sid == brand.sid and again.account_sid == brand.account_sid
    for _ in range(2):
        otps.create()
    with pytest.raises(TwilioRestException) as capped:  # the sandbox's cap: 3 retries
        otps.create()
    assert capped.value.status == 429
    sandbox.twilio.control_confirm_brand_otp(brand_sid=brand.sid)
    assert brands(brand.sid).fetch().identity_status == "VERIFIED"
    service = client.messaging.v1.services.create(friendly_name="Ann", usecase="notifications")
    usecases = client.messaging.v1.services(service.sid).us_app_to_person_usecases.fetch(
        brand_registration_sid=brand.sid
    )
    assert [u["code"] for u in usecases.us_app_to_person_usecases] == ["SOLE_PROPRIETOR"]
    campaign = client.messaging.v1.services(service.sid).us_app_to_person.create(
        brand_registration_sid=brand.sid,
        description="Lesson reminders for Ann Lee Tutoring students and their parents.",
        message_flow="Students opt in when booking a lesson at https://ann.example.com/book.",
        message_samples=["Ann Lee Tutoring: your lesson is tomorrow at 4pm. Reply STOP to stop.",
                         "Ann Lee Tutoring: reply C to confirm Friday's lesson."],
        us_app_to_person_usecase="SOLE_PROPRIETOR", has_embedded_links=True,
        has_embedded_phone=False,
    )  # fmt: skip
    sandbox.twilio.control_approve_campaign(messaging_service_sid=service.sid)
    approved = client.messaging.v1.services(service.sid).us_app_to_person(campaign.sid).fetch()
    assert approved.campaign_status == "VERIFIED"
    assert approved.rate_limits["tmobile"]["brand_tier"] == "LOW"
    sandbox.twilio.control_suspend_campaign(messaging_service_sid=service.sid)
    suspended = client.messaging.v1.services(service.sid).us_app_to_person(campaign.sid).fetch()
    assert suspended.campaign_status == "SUSPENDED"
    assert suspended.errors[0]["error_code"] == 30990
    sandbox.twilio.control_expire_campaign(messaging_service_sid=service.sid)
    assert list(client.messaging.v1.services(service.sid).us_app_to_person.list()) == []
    covered = assert_conforms(sandbox.exchanges)
    assert any("SmsOtp" in key for key in covered), sorted(covered)


def test_a_low_volume_brand_has_no_trust_score(sandbox, customer):
    client, primary = customer
    profile, product = sole_bundles(client, primary)  # bundles reused: only the brand matters
    sandbox.twilio.trust_products[product]["policy_sid"] = "RNb0d4771c2c98518d916a3d4cd70a8f8b"
    brand = client.messaging.v1.brand_registrations.create(
        customer_profile_bundle_sid=profile, a2p_profile_bundle_sid=product,
        brand_type="STANDARD", skip_automatic_sec_vet=True,
    )  # fmt: skip
    assert brand.skip_automatic_sec_vet is True
    with pytest.raises(TwilioRestException):  # SmsOtp is for sole proprietors only
        client.messaging.v1.brand_registrations(brand.sid).brand_registration_otps.create()
    sandbox.twilio.control_approve_brand(brand_sid=brand.sid, brand_score=90)
    fetched = client.messaging.v1.brand_registrations(brand.sid).fetch()
    assert fetched.status == "APPROVED" and fetched.brand_score is None
    assert_conforms(sandbox.exchanges)
