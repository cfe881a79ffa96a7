"""Toll-free verifications over the wire: every answer validated against the vendored spec,
and the same calls through the official SDK (the platform's ``TwilioApi``)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from provisioning.errors import Rejected
from provisioning.twilio.api import connect
from tests.sandbox.openapi import assert_conforms

API = "/twilio/api/2010-04-01"
TFV = "/twilio/messaging/v1/Tollfree/Verifications"
EV = "/twilio/events/v1"
REQUEST = {
    "BusinessName": "Acme Dental LLC",
    "BusinessWebsite": "https://acme.test",
    "NotificationEmail": "ops@acme.test",
    "UseCaseCategories": ["ACCOUNT_NOTIFICATIONS", "CUSTOMER_CARE"],
    "UseCaseSummary": "Appointment reminders for patients who booked online.",
    "ProductionMessageSample": "Acme Dental: your cleaning is tomorrow at 10:00. Reply STOP.",
    "OptInImageUrls": ["https://acme.test/optin.png"],
    "OptInType": "WEB_FORM",
    "MessageVolume": "1,000",
    "BusinessType": "PRIVATE_PROFIT",
    "BusinessRegistrationNumber": "12-3456789",
    "BusinessRegistrationAuthority": "EIN",
    "BusinessRegistrationCountry": "US",
    "BusinessStreetAddress": "1 Main St",
    "BusinessCity": "Austin",
    "BusinessStateProvinceRegion": "TX",
    "BusinessPostalCode": "78701",
    "BusinessCountry": "US",
    "BusinessContactFirstName": "Ada",
    "BusinessContactLastName": "Lovelace",
    "BusinessContactEmail": "ada@acme.test",
    "BusinessContactPhone": "+15125550100",
}


def ok(response, status=200):
    assert response.status_code == status, response.text
    return response.json() if response.content else None


@pytest.fixture
def account(sandbox, http):
    """A subaccount with a toll-free number and a local one."""
    master = sandbox.twilio.control_seed_master()
    parent = (master["account_sid"], master["auth_token"])
    sub = ok(http.post(f"{API}/Accounts.json", data={"FriendlyName": "Acme"}, auth=parent), 201)
    auth = (sub["sid"], sub["auth_token"])
    acc = f"{API}/Accounts/{sub['sid']}"
    offered = ok(http.get(f"{acc}/AvailablePhoneNumbers/US/TollFree.json", auth=auth))
    phone = offered["available_phone_numbers"][0]["phone_number"]
    toll_free = ok(
        http.post(f"{acc}/IncomingPhoneNumbers.json", data={"PhoneNumber": phone}, auth=auth), 201
    )
    local = ok(
        http.post(f"{acc}/IncomingPhoneNumbers.json", data={"AreaCode": "512"}, auth=auth), 201
    )
    return {"sub": sub, "auth": auth, "toll_free": toll_free, "local": local, "parent": parent}


def create(http, account, status=201, **changes):
    data = {**REQUEST, "TollfreePhoneNumberSid": account["toll_free"]["sid"], **changes}
    return ok(http.post(TFV, data={k: v for k, v in data.items() if v is not None},
                        auth=account["auth"]), status)  # fmt: skip


def test_the_review_round_trip_conforms_to_the_spec(sandbox, http, account):
    auth = account["auth"]
    created = create(http, account, ExternalReferenceId="tfv_ref_1")
    assert created["sid"].startswith("HH")
    assert created["status"] == "PENDING_REVIEW"
    assert created["tollfree_phone_number"] == account["toll_free"]["phone_number"]
    assert created["business_registration_number"] == "12-3456789"
    assert created["use_case_categories"] == ["ACCOUNT_NOTIFICATIONS", "CUSTOMER_CARE"]

    listed = ok(http.get(TFV, params={"ExternalReferenceId": "tfv_ref_1"}, auth=auth))
    assert [v["sid"] for v in listed["verifications"]] == [created["sid"]]
    by_number = {"TollfreePhoneNumberSid": account["toll_free"]["sid"]}
    assert len(ok(http.get(TFV, params=by_number, auth=auth))["verifications"]) == 1
    assert ok(http.get(TFV, params={"Status": "TWILIO_APPROVED"}, auth=auth))["verifications"] == []

    sandbox.advance(10)  # on the clock: in review
    assert ok(http.get(f"{TFV}/{created['sid']}", auth=auth))["status"] == "IN_REVIEW"

    sandbox.twilio.control_reject_tollfree(sid=created["sid"], reason="Opt-in image is blank.")
    rejected = ok(http.get(f"{TFV}/{created['sid']}", auth=auth))
    assert rejected["status"] == "TWILIO_REJECTED"
    assert rejected["rejection_reason"] == "Opt-in image is blank."
    assert rejected["error_code"] == 30513
    assert rejected["edit_allowed"] is True
    assert rejected["edit_expiration"] == "2026-01-08T00:00:10Z"  # seven days
    assert rejected["rejection_reasons"] == [
        {"code": 30513, "description": "Opt-in image is blank."}
    ]

    edited = ok(
        http.post(
            f"{TFV}/{created['sid']}",
            data={"OptInImageUrls": "https://acme.test/optin-v2.png", "EditReason": "New image"},
            auth=auth,
        ),
        202,
    )
    assert edited["status"] == "PENDING_REVIEW"
    assert edited["opt_in_image_urls"] == ["https://acme.test/optin-v2.png"]
    assert edited["rejection_reason"] is None and edited["edit_allowed"] is None

    sandbox.twilio.control_approve_tollfree(sid=created["sid"])
    assert ok(http.get(f"{TFV}/{created['sid']}", auth=auth))["status"] == "TWILIO_APPROVED"
    ok(http.delete(f"{TFV}/{created['sid']}", auth=auth), 204)
    ok(http.get(f"{TFV}/{created['sid']}", auth=auth), 404)

    covered = assert_conforms(sandbox.exchanges)
    assert {
        "POST /v1/Tollfree/Verifications",
        "GET /v1/Tollfree/Verifications",
        "GET /v1/Tollfree/Verifications/{Sid}",
        "POST /v1/Tollfree/Verifications/{Sid}",
        "DELETE /v1/Tollfree/Verifications/{Sid}",
    } <= covered


def test_what_twilio_refuses_is_refused(sandbox, http, account):
    # The 2026 registration fields, except for a sole proprietor.
    missing = create(http, account, 400, BusinessRegistrationNumber=None)
    assert missing["code"] == 20001 and "BusinessRegistrationNumber" in missing["message"]
    assert "OptInType" in create(http, account, 400, OptInType=None)["message"]
    assert "OptInType" in create(http, account, 400, OptInType="SMOKE_SIGNAL")["message"]
    assert "UseCaseCategories" in create(http, account, 400, UseCaseCategories=["X"])["message"]
    local = create(http, account, 400, TollfreePhoneNumberSid=account["local"]["sid"])
    assert "not a toll-free number" in local["message"]
    other = create(http, account, 400, TollfreePhoneNumberSid="PN" + "0" * 32)
    assert "no such phone number" in other["message"]

    sole = create(http, account, BusinessType="SOLE_PROPRIETOR", BusinessRegistrationNumber=None,
                  BusinessRegistrationAuthority=None, BusinessRegistrationCountry=None)  # fmt: skip
    assert sole["business_registration_number"] is None
    again = create(http, account, 409)  # one request at a time per number
    assert sole["sid"] in again["message"]
    # Only a rejected request that allows edits can be edited; the window is seven days.
    refused = ok(http.post(f"{TFV}/{sole['sid']}", data={"BusinessName": "X"},
                           auth=account["auth"]), 400)  # fmt: skip
    assert "rejected" in refused["message"]
    sandbox.twilio.control_reject_tollfree(sid=sole["sid"])
    sandbox.advance(8 * 24 * 3600)
    expired = ok(http.post(f"{TFV}/{sole['sid']}", data={"BusinessName": "X"},
                           auth=account["auth"]), 400)  # fmt: skip
    assert expired["code"] == 30437
    # Another account sees nothing of it.
    ok(http.get(f"{TFV}/{sole['sid']}", auth=account["parent"]), 404)
    assert_conforms(sandbox.exchanges)


def test_status_changes_reach_the_accounts_sinks(sandbox, http, account, captured):
    auth = account["auth"]
    destination = {"destination": "https://portal.test/ev", "method": "POST"}
    sink = ok(http.post(f"{EV}/Sinks", auth=auth, data={
        "Description": "tf", "SinkType": "webhook", "SinkConfiguration": json.dumps(destination),
    }), 201)  # fmt: skip
    types = [f"com.twilio.messaging.compliance.toll-free-verification.{k}"
             for k in ("pending-review", "in-review", "twilio-rejected", "edit")]  # fmt: skip
    ok(http.post(f"{EV}/Subscriptions", auth=auth, data={
        "Description": "tf", "SinkSid": sink["sid"],
        "Types": [json.dumps({"type": t}) for t in types],
    }), 201)  # fmt: skip
    created = create(http, account)
    sandbox.advance(10)
    sandbox.twilio.control_reject_tollfree(sid=created["sid"], reason="Website unreachable.")
    ok(http.post(f"{TFV}/{created['sid']}", data={"BusinessWebsite": "https://acme.test/a"},
                 auth=auth), 202)  # fmt: skip
    events = [json.loads(r.content)[0] for r in captured.requests]
    assert [e["type"].rsplit(".", 1)[1] for e in events] == [
        "pending-review", "in-review", "twilio-rejected", "edit",
    ]  # fmt: skip
    assert all(r.headers.get("X-Twilio-Signature") for r in captured.requests)
    data = events[2]["data"]
    assert data["tollfreeverificationsid"] == created["sid"]
    assert data["phonenumbersid"] == account["toll_free"]["sid"]
    assert data["verificationstatus"] == "twilio_rejected"


def test_the_platforms_operations_through_the_official_sdk(sandbox, account):
    sub = account["sub"]
    api = connect(sub["sid"], sub["auth_token"], base_url=f"{sandbox.base_url}/twilio",
                  transport=sandbox.transport())  # fmt: skip
    number_sid = account["toll_free"]["sid"]
    values = {
        "business_name": "Acme Dental LLC", "business_website": "https://acme.test",
        "notification_email": "ops@acme.test", "use_case_categories": ["CUSTOMER_CARE"],
        "use_case_summary": "Appointment reminders for patients.",
        "production_message_sample": "Acme Dental: see you tomorrow at 10. Reply STOP.",
        "opt_in_image_urls": ["https://acme.test/optin.png"], "opt_in_type": "WEB_FORM",
        "message_volume": "1,000", "business_type": "PRIVATE_PROFIT",
        "business_registration_number": "123456789", "business_registration_authority": "EIN",
        "business_registration_country": "US", "opt_in_keywords": ["START"],
        "age_gated_content": False,
    }  # fmt: skip
    creation = api.tollfree_verification(number_sid, "tfv_sdk", **values)
    assert creation.looked_up() is None
    created = creation.run()
    assert created.sid.startswith("HH") and created.status == "PENDING_REVIEW"
    assert created.external_reference_id == "tfv_sdk"
    assert created.opt_in_keywords == ["START"]
    assert creation.looked_up().sid == created.sid  # what a lost answer finds
    assert [v.sid for v in api.tollfree_verifications(number_sid=number_sid)] == [created.sid]

    sandbox.twilio.control_reject_tollfree(sid=created.sid, reason="Blank image.")
    fetched = api.fetch_tollfree_verification(created.sid)
    assert fetched.status == "TWILIO_REJECTED" and fetched.edit_allowed is True
    assert isinstance(fetched.edit_expiration, dt.datetime)
    assert fetched.rejection_reasons == [{"code": 30513, "description": "Blank image."}]
    updated = api.update_tollfree_verification(
        created.sid, edit_reason="New image", opt_in_image_urls=["https://acme.test/v2.png"]
    )
    assert updated.status == "PENDING_REVIEW"
    with pytest.raises(Rejected) as refused:  # a second request for the number
        api.tollfree_verification(number_sid, "tfv_other", **values).run()
    assert refused.value.http_status == 409
    api.delete_tollfree_verification(created.sid)
    api.delete_tollfree_verification(created.sid)  # gone already: deleted
    assert api.tollfree_verifications(number_sid=number_sid) == []
    assert_conforms(sandbox.exchanges)
