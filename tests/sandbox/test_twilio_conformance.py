"""Every response of a full Twilio scenario validates against the Twilio OpenAPI specs."""

from __future__ import annotations

import json

from tests.sandbox.openapi import assert_conforms

API = "/twilio/api/2010-04-01"
MSG = "/twilio/messaging/v1"
TH = "/twilio/trusthub/v1"
EV = "/twilio/events/v1"
SENDERS = "/twilio/messaging/v2/Channels/Senders"
SECONDARY_POLICY = "RNdfbf3fae0e1107f8aded0e7cead80bf5"
A2P_POLICY = "RNb0d4771c2c98518d916a3d4cd70a8f8b"


def ok(response, status=200):
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def test_full_scenario_conforms(sandbox, http):
    run_full_scenario(sandbox, http)
    covered = assert_conforms(sandbox.exchanges)
    assert len(covered) >= 40, sorted(covered)


def run_full_scenario(sandbox, http) -> None:
    """Every Twilio resource the platform uses, through HTTP (responses recorded)."""
    m = sandbox.twilio.control_seed_master()
    parent = (m["account_sid"], m["auth_token"])
    sub = ok(http.post(f"{API}/Accounts.json", data={"FriendlyName": "Acme"}, auth=parent), 201)
    sid, auth = sub["sid"], (sub["sid"], sub["auth_token"])
    acc = f"{API}/Accounts/{sid}"

    # 2010: accounts, keys, addresses, numbers
    ok(http.get(f"{API}/Accounts.json", auth=parent))
    ok(http.get(f"{acc}.json", auth=parent))
    ok(http.post(f"{acc}.json", data={"FriendlyName": "Acme Dental"}, auth=parent))
    key = ok(http.post(f"{acc}/Keys.json", data={"FriendlyName": "k"}, auth=auth), 201)
    ok(http.get(f"{acc}/Keys.json", auth=auth))
    ok(http.get(f"{acc}/Keys/{key['sid']}.json", auth=auth))
    found = ok(
        http.get(
            f"{acc}/AvailablePhoneNumbers/US/Local.json", params={"AreaCode": "415"}, auth=auth
        )
    )
    ok(http.get(f"{acc}/AvailablePhoneNumbers/US/TollFree.json", auth=auth))
    phone = found["available_phone_numbers"][0]["phone_number"]
    number = ok(
        http.post(f"{acc}/IncomingPhoneNumbers.json", data={"PhoneNumber": phone}, auth=auth), 201
    )
    spare = ok(
        http.post(f"{acc}/IncomingPhoneNumbers.json", data={"AreaCode": "512"}, auth=auth), 201
    )
    ok(http.get(f"{acc}/IncomingPhoneNumbers.json", params={"PageSize": 1}, auth=auth))
    ok(http.get(f"{acc}/IncomingPhoneNumbers/{number['sid']}.json", auth=auth))
    ok(
        http.post(
            f"{acc}/IncomingPhoneNumbers/{number['sid']}.json",
            data={"SmsUrl": "https://portal.test/sms"},
            auth=auth,
        )
    )
    ok(http.delete(f"{acc}/IncomingPhoneNumbers/{spare['sid']}.json", auth=auth), 204)
    address = ok(
        http.post(
            f"{acc}/Addresses.json",
            data={
                "CustomerName": "Acme",
                "Street": "1 Main St",
                "City": "Austin",
                "Region": "TX",
                "PostalCode": "78701",
                "IsoCountry": "US",
            },
            auth=auth,
        ),
        201,
    )
    ok(http.get(f"{acc}/Addresses.json", auth=auth))

    # TrustHub
    profile = ok(
        http.post(
            f"{TH}/CustomerProfiles",
            data={"FriendlyName": "Acme", "Email": "a@isv.test", "PolicySid": SECONDARY_POLICY},
            auth=auth,
        ),
        201,
    )
    objects = []
    for kind, attrs in (
        ("customer_profile_business_information", {"business_name": "Acme"}),
        ("authorized_representative_1", {"first_name": "Ann"}),
    ):
        objects.append(
            ok(
                http.post(
                    f"{TH}/EndUsers",
                    data={"FriendlyName": kind, "Type": kind, "Attributes": json.dumps(attrs)},
                    auth=auth,
                ),
                201,
            )
        )
    objects.append(
        ok(
            http.post(
                f"{TH}/SupportingDocuments",
                data={
                    "FriendlyName": "addr",
                    "Type": "customer_profile_address",
                    "Attributes": json.dumps({"address_sids": address["sid"]}),
                },
                auth=auth,
            ),
            201,
        )
    )
    bu = f"{TH}/CustomerProfiles/{profile['sid']}"
    for obj in [*(o["sid"] for o in objects), m["primary_customer_profile_sid"]]:
        ok(http.post(f"{bu}/EntityAssignments", data={"ObjectSid": obj}, auth=auth), 201)
    ok(http.get(f"{bu}/EntityAssignments", auth=auth))
    evaluation = ok(
        http.post(f"{bu}/Evaluations", data={"PolicySid": SECONDARY_POLICY}, auth=auth), 201
    )
    ok(http.get(f"{bu}/Evaluations/{evaluation['sid']}", auth=auth))
    ok(http.post(bu, data={"Status": "pending-review"}, auth=auth))
    ok(http.get(f"{TH}/CustomerProfiles", auth=auth))
    ok(http.get(f"{TH}/EndUsers/{objects[0]['sid']}", auth=auth))
    ok(http.get(f"{TH}/SupportingDocuments", auth=auth))
    product = ok(
        http.post(
            f"{TH}/TrustProducts",
            data={"FriendlyName": "A2P", "Email": "a@isv.test", "PolicySid": A2P_POLICY},
            auth=auth,
        ),
        201,
    )
    info = ok(
        http.post(
            f"{TH}/EndUsers",
            data={
                "FriendlyName": "m",
                "Type": "us_a2p_messaging_profile_information",
                "Attributes": "{}",
            },
            auth=auth,
        ),
        201,
    )
    tp = f"{TH}/TrustProducts/{product['sid']}"
    for obj in (info["sid"], profile["sid"]):
        ok(http.post(f"{tp}/EntityAssignments", data={"ObjectSid": obj}, auth=auth), 201)
    ok(http.post(f"{tp}/Evaluations", data={"PolicySid": A2P_POLICY}, auth=auth), 201)
    ok(http.post(tp, data={"Status": "pending-review"}, auth=auth))
    sandbox.tick()
    sandbox.twilio.control_approve_profile(sid=profile["sid"])
    ok(http.get(bu, auth=auth))

    # Messaging v1: brand, service, campaign
    brand = ok(
        http.post(
            f"{MSG}/a2p/BrandRegistrations",
            data={
                "CustomerProfileBundleSid": profile["sid"],
                "A2PProfileBundleSid": product["sid"],
            },
            auth=auth,
        ),
        201,
    )
    ok(http.get(f"{MSG}/a2p/BrandRegistrations", auth=auth))
    sandbox.twilio.control_approve_brand(brand_sid=brand["sid"])
    ok(http.get(f"{MSG}/a2p/BrandRegistrations/{brand['sid']}", auth=auth))
    service = ok(http.post(f"{MSG}/Services", data={"FriendlyName": "Acme"}, auth=auth), 201)
    svc = f"{MSG}/Services/{service['sid']}"
    ok(http.get(f"{MSG}/Services", auth=auth))
    ok(http.post(f"{svc}/PhoneNumbers", data={"PhoneNumberSid": number["sid"]}, auth=auth), 201)
    ok(http.get(f"{svc}/PhoneNumbers", auth=auth))
    ok(http.get(f"{svc}/PhoneNumbers/{number['sid']}", auth=auth))  # a lost add, looked up
    ok(
        http.get(
            f"{svc}/Compliance/Usa2p/Usecases",
            params={"BrandRegistrationSid": brand["sid"]},
            auth=auth,
        )
    )
    campaign = ok(
        http.post(
            f"{svc}/Compliance/Usa2p",
            data={
                "BrandRegistrationSid": brand["sid"],
                "Description": "Appointment reminders for Acme Dental patients and their families.",
                "MessageFlow": "Patients opt in on the booking form by ticking the SMS box.",
                "MessageSamples": [
                    "Acme: your visit is tomorrow at 10. Reply STOP to stop.",
                    "Acme: reply C to confirm your Friday appointment.",
                ],
                "UsAppToPersonUsecase": "ACCOUNT_NOTIFICATION",
                "HasEmbeddedLinks": "false",
                "HasEmbeddedPhone": "false",
                "PrivacyPolicyUrl": "https://acme.test/p",
                "TermsAndConditionsUrl": "https://acme.test/t",
            },
            auth=auth,
        ),
        201,
    )
    sandbox.twilio.control_approve_campaign(messaging_service_sid=service["sid"])
    ok(http.get(f"{svc}/Compliance/Usa2p", auth=auth))
    ok(
        http.get(
            f"{svc}/Compliance/Usa2p/{campaign['sid']}",
            headers={"X-Twilio-Api-Version": "v1.2"},
            auth=auth,
        )
    )

    # Messaging v2 senders
    sender = ok(
        http.post(
            SENDERS,
            json={
                "sender_id": f"whatsapp:{number['phone_number']}",
                "configuration": {"waba_id": "104233912345678"},
                "profile": {
                    "name": "Acme",
                    "emails": ["a@acme.test"],
                    "websites": ["https://a.test"],
                },
            },
            auth=auth,
        ),
        202,
    )
    sandbox.advance(1)
    ok(http.get(f"{SENDERS}/{sender['sid']}", auth=auth))
    sandbox.twilio.control_set_sender_status(
        sender_sid=sender["sid"],
        status="OFFLINE",
        offline_reasons=[{"code": 30008, "message": "Unknown"}],
    )
    ok(http.get(SENDERS, params={"Channel": "whatsapp"}, auth=auth))
    ok(http.post(f"{SENDERS}/{sender['sid']}", json={"profile": {"about": "Hi"}}, auth=auth), 202)

    # Events
    sink = ok(
        http.post(
            f"{EV}/Sinks",
            data={
                "Description": "a2p",
                "SinkType": "webhook",
                "SinkConfiguration": json.dumps(
                    {
                        "destination": "https://portal.test/ev",
                        "method": "POST",
                        "batch_events": False,
                    }
                ),
            },
            auth=auth,
        ),
        201,
    )
    ok(http.get(f"{EV}/Sinks", auth=auth))
    subscription = ok(
        http.post(
            f"{EV}/Subscriptions",
            data={
                "Description": "a2p",
                "SinkSid": sink["sid"],
                "Types": [
                    json.dumps(
                        {
                            "type": "com.twilio.messaging.compliance.brand-registration"
                            ".brand-registered",
                            "schema_version": 1,
                        }
                    )
                ],
            },
            auth=auth,
        ),
        201,
    )
    ok(http.get(f"{EV}/Subscriptions", auth=auth))
    ok(http.get(f"{EV}/Subscriptions/{subscription['sid']}/SubscribedEvents", auth=auth))
    ok(http.delete(f"{SENDERS}/{sender['sid']}", auth=auth), 204)

    # error envelopes are recorded too (the specs document none, so they are skipped)
    http.get(f"{API}/Accounts/{sid}.json", auth=("AC" + "0" * 32, "x"))
