"""A2P 10DLC over the wire: TrustHub bundles, brand, campaign, 1 req/s, Event Streams."""

from __future__ import annotations

import json

import pytest
from twilio.request_validator import RequestValidator

API = "/twilio/api/2010-04-01"
MSG = "/twilio/messaging/v1"
TH = "/twilio/trusthub/v1"
EV = "/twilio/events/v1"
SECONDARY_POLICY = "RNdfbf3fae0e1107f8aded0e7cead80bf5"
A2P_POLICY = "RNb0d4771c2c98518d916a3d4cd70a8f8b"
CAMPAIGN = {
    "Description": "Appointment reminders and confirmations for Acme Dental patients.",
    "MessageFlow": "Patients opt in on the form at https://acme.test/book by ticking a box.",
    "MessageSamples": [
        "Acme Dental: your cleaning is tomorrow at 10:00. Reply STOP to opt out.",
        "Acme Dental: reply C to confirm your appointment on Friday.",
    ],
    "UsAppToPersonUsecase": "ACCOUNT_NOTIFICATION",
    "HasEmbeddedLinks": "false",
    "HasEmbeddedPhone": "false",
    "PrivacyPolicyUrl": "https://acme.test/privacy",
    "TermsAndConditionsUrl": "https://acme.test/terms",
}


@pytest.fixture
def sub(sandbox, http):
    master = sandbox.twilio.control_seed_master()
    r = http.post(
        f"{API}/Accounts.json",
        data={"FriendlyName": "Acme"},
        auth=(master["account_sid"], master["auth_token"]),
    )
    account = r.json()
    return {
        "sid": account["sid"],
        "auth": (account["sid"], account["auth_token"]),
        "parent_auth": (master["account_sid"], master["auth_token"]),
        "primary": master["primary_customer_profile_sid"],
    }


def _create(http, auth, path, data, status=201):
    r = http.post(path, data=data, auth=auth)
    assert r.status_code == status, r.text
    return r.json()


def bundles(http, sub):
    """Secondary customer profile + A2P trust product, evaluated and submitted."""
    auth = sub["auth"]
    profile = _create(
        http,
        auth,
        f"{TH}/CustomerProfiles",
        {"FriendlyName": "Acme", "Email": "a2p@isv.test", "PolicySid": SECONDARY_POLICY},
    )
    business = _create(
        http,
        auth,
        f"{TH}/EndUsers",
        {
            "FriendlyName": "biz",
            "Type": "customer_profile_business_information",
            "Attributes": json.dumps({"business_name": "Acme Dental LLC"}),
        },
    )
    rep = _create(
        http,
        auth,
        f"{TH}/EndUsers",
        {"FriendlyName": "rep", "Type": "authorized_representative_1", "Attributes": "{}"},
    )
    address = _create(
        http,
        auth,
        f"{API}/Accounts/{sub['sid']}/Addresses.json",
        {
            "CustomerName": "Acme",
            "Street": "1 Main St",
            "City": "Austin",
            "Region": "TX",
            "PostalCode": "78701",
            "IsoCountry": "US",
        },
    )
    doc = _create(
        http,
        auth,
        f"{TH}/SupportingDocuments",
        {
            "FriendlyName": "addr",
            "Type": "customer_profile_address",
            "Attributes": json.dumps({"address_sids": address["sid"]}),
        },
    )
    for sid in (business["sid"], rep["sid"], doc["sid"], sub["primary"]):
        _create(
            http,
            auth,
            f"{TH}/CustomerProfiles/{profile['sid']}/EntityAssignments",
            {"ObjectSid": sid},
        )
    evaluation = _create(
        http,
        auth,
        f"{TH}/CustomerProfiles/{profile['sid']}/Evaluations",
        {"PolicySid": SECONDARY_POLICY},
    )
    assert evaluation["status"] == "compliant", evaluation["results"]
    _create(
        http, auth, f"{TH}/CustomerProfiles/{profile['sid']}", {"Status": "pending-review"}, 200
    )
    product = _create(
        http,
        auth,
        f"{TH}/TrustProducts",
        {"FriendlyName": "Acme A2P", "Email": "a2p@isv.test", "PolicySid": A2P_POLICY},
    )
    info = _create(
        http,
        auth,
        f"{TH}/EndUsers",
        {
            "FriendlyName": "msg",
            "Type": "us_a2p_messaging_profile_information",
            "Attributes": json.dumps({"company_type": "private"}),
        },
    )
    for sid in (info["sid"], profile["sid"]):
        _create(
            http, auth, f"{TH}/TrustProducts/{product['sid']}/EntityAssignments", {"ObjectSid": sid}
        )
    _create(
        http, auth, f"{TH}/TrustProducts/{product['sid']}/Evaluations", {"PolicySid": A2P_POLICY}
    )
    _create(http, auth, f"{TH}/TrustProducts/{product['sid']}", {"Status": "pending-review"}, 200)
    return profile, product


def brand_for(http, sub):
    profile, product = bundles(http, sub)
    return _create(
        http,
        sub["auth"],
        f"{MSG}/a2p/BrandRegistrations",
        {"CustomerProfileBundleSid": profile["sid"], "A2PProfileBundleSid": product["sid"]},
    )


def test_profile_is_noncompliant_without_the_parents_primary_profile(http, sub):
    auth = sub["auth"]
    profile = _create(
        http,
        auth,
        f"{TH}/CustomerProfiles",
        {"FriendlyName": "Acme", "Email": "a2p@isv.test", "PolicySid": SECONDARY_POLICY},
    )
    evaluation = _create(
        http,
        auth,
        f"{TH}/CustomerProfiles/{profile['sid']}/Evaluations",
        {"PolicySid": SECONDARY_POLICY},
    )
    assert evaluation["status"] == "noncompliant"
    failed = {r["requirement_name"] for r in evaluation["results"] if not r["passed"]}
    assert "primary_customer_profile" in failed
    # Submitting a non-compliant bundle is refused and leaves it in draft.
    r = http.post(
        f"{TH}/CustomerProfiles/{profile['sid']}", data={"Status": "pending-review"}, auth=auth
    )
    assert r.status_code == 400
    assert http.get(f"{TH}/CustomerProfiles/{profile['sid']}", auth=auth).json()["status"] == (
        "draft"
    )


def test_profile_review_states(sandbox, http, sub):
    profile, _ = bundles(http, sub)
    url = f"{TH}/CustomerProfiles/{profile['sid']}"
    assert http.get(url, auth=sub["auth"]).json()["status"] == "pending-review"
    sandbox.tick()
    assert http.get(url, auth=sub["auth"]).json()["status"] == "in-review"
    sandbox.twilio.control_reject_profile(sid=profile["sid"], reason="EIN mismatch")
    body = http.get(url, auth=sub["auth"]).json()
    assert body["status"] == "twilio-rejected"
    assert body["errors"]


def test_brand_then_campaign_with_one_request_per_second(sandbox, http, sub):
    auth = sub["auth"]
    brand = brand_for(http, sub)
    assert brand["sid"].startswith("BN") and brand["status"] == "PENDING"
    service = _create(http, auth, f"{MSG}/Services", {"FriendlyName": "Acme A2P"})
    assert service["sid"].startswith("MG") and service["us_app_to_person_registered"] is False

    # Refused before the brand is APPROVED (§4 Step 5).
    r = http.post(
        f"{MSG}/Services/{service['sid']}/Compliance/Usa2p",
        data=CAMPAIGN | {"BrandRegistrationSid": brand["sid"]},
        auth=auth,
    )
    assert r.status_code == 400
    assert set(r.json()) >= {"code", "message", "more_info", "status"}

    sandbox.twilio.control_approve_brand(brand_sid=brand["sid"])
    usecases = http.get(
        f"{MSG}/Services/{service['sid']}/Compliance/Usa2p/Usecases",
        params={"BrandRegistrationSid": brand["sid"]},
        auth=auth,
    ).json()["us_app_to_person_usecases"]
    assert any(u["code"] == "ACCOUNT_NOTIFICATION" for u in usecases)

    sandbox.advance(1)
    campaign = _create(
        http,
        auth,
        f"{MSG}/Services/{service['sid']}/Compliance/Usa2p",
        CAMPAIGN | {"BrandRegistrationSid": brand["sid"]},
    )
    assert campaign["sid"] == "QE2c6890da8086d771620e9b13fadeba0b"
    assert campaign["campaign_status"] == "IN_PROGRESS"
    assert "privacy_policy_url" not in campaign  # only with X-Twilio-Api-Version: v1.2

    # A second campaign within the same second is throttled: 429 / 20429.
    other = _create(http, auth, f"{MSG}/Services", {"FriendlyName": "Acme 2"})
    r = http.post(
        f"{MSG}/Services/{other['sid']}/Compliance/Usa2p",
        data=CAMPAIGN | {"BrandRegistrationSid": brand["sid"]},
        auth=auth,
    )
    assert r.status_code == 429
    assert r.json()["code"] == 20429
    sandbox.advance(1)
    r = http.post(
        f"{MSG}/Services/{other['sid']}/Compliance/Usa2p",
        data=CAMPAIGN | {"BrandRegistrationSid": brand["sid"]},
        auth=auth,
    )
    assert r.status_code == 201

    sandbox.twilio.control_approve_campaign(messaging_service_sid=service["sid"])
    fetched = http.get(
        f"{MSG}/Services/{service['sid']}/Compliance/Usa2p/{campaign['sid']}",
        headers={"X-Twilio-Api-Version": "v1.2"},
        auth=auth,
    ).json()
    assert fetched["campaign_status"] == "VERIFIED"
    assert fetched["privacy_policy_url"] == "https://acme.test/privacy"
    assert (
        http.get(f"{MSG}/Services/{service['sid']}", auth=auth).json()[
            "us_app_to_person_registered"
        ]
        is True
    )


def test_brand_creation_is_limited_to_one_per_second(sandbox, http, sub):
    profile, product = bundles(http, sub)
    data = {"CustomerProfileBundleSid": profile["sid"], "A2PProfileBundleSid": product["sid"]}
    first = http.post(f"{MSG}/a2p/BrandRegistrations", data=data, auth=sub["auth"])
    second = http.post(f"{MSG}/a2p/BrandRegistrations", data=data, auth=sub["auth"])
    assert (first.status_code, second.status_code) == (201, 429)
    assert second.json()["code"] == 20429
    brands = http.get(f"{MSG}/a2p/BrandRegistrations", auth=sub["auth"]).json()
    assert len(brands["data"]) == 1 and brands["meta"]["key"] == "data"
    sandbox.advance(1.0)
    assert (
        http.post(f"{MSG}/a2p/BrandRegistrations", data=data, auth=sub["auth"]).status_code == 201
    )


def test_brand_failure_and_resubmit(sandbox, http, sub):
    brand = brand_for(http, sub)
    sandbox.twilio.control_fail_brand(brand_sid=brand["sid"], reason="EIN not found")
    body = http.get(f"{MSG}/a2p/BrandRegistrations/{brand['sid']}", auth=sub["auth"]).json()
    assert body["status"] == "FAILED"
    assert body["failure_reason"] == "EIN not found"
    assert body["brand_feedback"] == ["TAX_ID"]
    r = http.post(f"{MSG}/a2p/BrandRegistrations/{brand['sid']}", auth=sub["auth"])
    assert r.status_code == 202 and r.json()["status"] == "PENDING"


def test_parent_credentials_do_not_reach_the_subaccounts_a2p(http, sub):
    brand = brand_for(http, sub)
    r = http.get(f"{MSG}/a2p/BrandRegistrations/{brand['sid']}", auth=sub["parent_auth"])
    assert r.status_code == 404
    assert r.json()["code"] == 20404


def test_a2p_events_reach_the_subaccounts_sink(sandbox, http, sub, captured):
    auth = sub["auth"]
    sink = _create(
        http,
        auth,
        f"{EV}/Sinks",
        {
            "Description": "a2p",
            "SinkType": "webhook",
            "SinkConfiguration": json.dumps(
                {
                    "destination": "https://portal.test/twilio/events",
                    "method": "POST",
                    "batch_events": False,
                }
            ),
        },
    )
    assert sink["sid"].startswith("DG") and sink["status"] == "initialized"
    subscription = _create(
        http,
        auth,
        f"{EV}/Subscriptions",
        {
            "Description": "a2p",
            "SinkSid": sink["sid"],
            "Types": [
                json.dumps({"type": t, "schema_version": 1})
                for t in (
                    "com.twilio.messaging.compliance.brand-registration.brand-registered",
                    "com.twilio.messaging.compliance.brand-registration.brand-failure",
                )
            ],
        },
    )
    assert subscription["sid"].startswith("DF")
    brand = brand_for(http, sub)
    sandbox.twilio.control_approve_brand(brand_sid=brand["sid"])
    deliveries = [r for r in captured.requests if r.url.path == "/twilio/events"]
    assert len(deliveries) == 1
    # signed as Twilio signs a JSON webhook: bodySHA256 in the URL, the sink owner's token
    [delivery] = deliveries
    url, body = str(delivery.url), delivery.content.decode()
    signature = delivery.headers["X-Twilio-Signature"]
    assert "bodySHA256=" in url
    assert RequestValidator(sub["auth"][1]).validate(url, body, signature)
    assert not RequestValidator(sub["parent_auth"][1]).validate(url, body, signature)
    events = [json.loads(r.content) for r in deliveries]
    [event] = events[0]  # a CloudEvents JSON array
    assert event["type"].endswith("brand-registration.brand-registered")
    assert event["specversion"] == "1.0"
    assert event["data"]["brandsid"] == brand["sid"]
    assert event["data"]["accountsid"] == sub["sid"]
    assert event["data"]["brandstatus"] == "APPROVED"


def test_timeline_approves_brands_on_the_clock(sandbox, http, sub):
    sandbox.twilio.control_set_timeline(brand_seconds=3 * 86400)
    brand = brand_for(http, sub)
    sandbox.advance(86400)
    url = f"{MSG}/a2p/BrandRegistrations/{brand['sid']}"
    assert http.get(url, auth=sub["auth"]).json()["status"] == "PENDING"
    sandbox.advance(2 * 86400)
    assert http.get(url, auth=sub["auth"]).json()["status"] == "APPROVED"
