"""The Twilio API (/api/v1/companies/{id}/twilio and /a2p) against the Twilio sandbox:
numbers, WhatsApp senders, 10DLC, their events, tenancy, scopes and provider errors."""

from __future__ import annotations

import json
from types import SimpleNamespace

import httpx
import pytest
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook

from provisioning import api_keys, platform_events, runs
from provisioning.audit import SYSTEM
from provisioning.db import utcnow
from provisioning.events import WebhookEvent
from provisioning.partners import Provider
from provisioning.platform_events import EventDelivery, PlatformEvent
from provisioning.runs import ProvisioningRun, RunStatus
from provisioning.templates import core as template_core
from provisioning.templates.models import MessageTemplate
from provisioning.tenancy import Company
from provisioning.twilio.models import (
    SmsPhoneNumber,
    Tenant10DLCBrand,
    TwilioSubaccount,
    TwilioWhatsAppSender,
)
from provisioning.twilio.onboarding import A2P_REGISTRATION
from provisioning.twilio.sync import update_sender
from provisioning.twilio.webhooks import apply_event
from tests.twilio.test_a2p import PROFILE

PROBLEM = "application/problem+json"
GOOD = "+15005550006"  # the sandbox's always-purchasable number
REFUSED = "+15005550001"  # the sandbox refuses it (21421)
WABA = "104000000000001"
TYPES = ["number.purchased", "number.released", "sender.updated", "brand.updated",
         "campaign.updated", "run.completed", "run.failed"]  # fmt: skip


def token(session, scopes, company=None) -> dict[str, str]:
    _, secret = api_keys.create_key(session, SYSTEM, "crm", scopes, company)
    session.commit()
    return {"Authorization": f"Bearer {secret}"}


def events(session, event_type: str) -> list[dict]:
    """The bodies of the events of ``event_type``, oldest first."""
    rows = session.scalars(
        select(PlatformEvent).where(PlatformEvent.type == event_type).order_by(PlatformEvent.id)
    )
    return [json.loads(row.payload) | {"ordering_key": row.ordering_key} for row in rows]


def purchases(sandbox) -> int:
    """Numbers the sandbox sold (a refused or failed purchase sells nothing)."""
    return sum(
        1
        for e in sandbox.exchanges
        if e["method"] == "POST"
        and e["path"].endswith("/IncomingPhoneNumbers.json")
        and e["status"] < 300
    )


@pytest.fixture
def sandbox(connected_sandbox):
    sandbox = connected_sandbox(41, Provider.TWILIO, webhooks_to_app=True)
    sandbox.record = True
    return sandbox


@pytest.fixture
def world(app, session, make, sandbox, monkeypatch):
    received = []  # what the platform's endpoint got (the delivery job runs in drains)
    receiver = httpx.MockTransport(lambda r: received.append(r) or httpx.Response(204))
    monkeypatch.setitem(app.config, "EVENTS_TRANSPORT", receiver)
    acme, globex = make.company("Acme"), make.company("Globex")
    endpoint = platform_events.add_endpoint(
        session, SYSTEM, "https://platform.example/events", check_url=lambda url: None,
        event_types=TYPES,
    )  # fmt: skip
    session.commit()
    return SimpleNamespace(
        acme=acme, globex=globex, url=f"/api/v1/companies/{acme.public_id}", received=received,
        secret=endpoint.secret,
        write=token(session, ("read", "write"), acme), read=token(session, ("read",), acme),
    )  # fmt: skip


def foreign_rows(session, company: Company) -> dict[str, int]:
    """A row of ``company`` behind every id a Twilio, 10DLC or run route takes."""
    sub = TwilioSubaccount(company_id=company.id, friendly_name=company.name,
                           account_sid="AC" + "f" * 32, auth_token="secret")  # fmt: skip
    session.add(sub)
    session.flush()
    number = SmsPhoneNumber(phone_number="+15550009999", company_id=company.id, status="active",
                            provider_phone_id="PN" + "f" * 32)  # fmt: skip
    sender = TwilioWhatsAppSender(company_id=company.id, subaccount_id=sub.id, waba_id=WABA,
                                  sender_id="whatsapp:+15550009999", profile_name=company.name,
                                  sender_sid="XE" + "f" * 32)  # fmt: skip
    run = runs.start_run(session, SYSTEM, A2P_REGISTRATION, company.id)
    run.status = RunStatus.FAILED
    session.add_all([number, sender])
    session.flush()
    brand = Tenant10DLCBrand(company_id=company.id, legal_business_name=company.name,
                             run_id=run.id, campaign_status="VERIFIED")  # fmt: skip
    session.add(brand)
    template = a_template(session, company.id, sub.account_sid or "")
    session.commit()
    return {"number_id": number.id, "sender_id": sender.id, "brand_id": brand.id,
            "run_id": run.id, "template_id": template.id}  # fmt: skip


def a_template(session, company_id: int, account_key: str) -> MessageTemplate:
    """A template of the company (in its Twilio subaccount's Content API)."""
    account = template_core.ensure_account(session, company_id, "twilio", account_key)
    template = MessageTemplate(company_id=company_id, account_id=account.id, name="hello",
                               language="en", category="UTILITY", status="APPROVED")  # fmt: skip
    session.add(template)
    session.flush()
    return template


# --- numbers --------------------------------------------------------------------------------


def test_a_search_creates_nothing_and_bad_search_input_is_a_422(client, session, world):
    found = client.get(f"{world.url}/twilio/available-numbers?area_code=415&sms=true&limit=3",
                       headers=world.read)  # fmt: skip
    assert found.status_code == 200, found.json
    assert 0 < len(found.json["data"]) <= 3
    assert all(n["phone_number"].startswith("+1") for n in found.json["data"])
    assert session.scalar(select(func.count()).select_from(TwilioSubaccount)) == 0
    bad = client.get(f"{world.url}/twilio/available-numbers?country=USA&area_code=4&type=x",
                     headers=world.read)  # fmt: skip
    assert bad.status_code == 422 and bad.content_type == PROBLEM
    assert {"country", "area_code", "type"} <= set(bad.json["errors"]["query"])


def test_a_number_is_bought_once_whatever_the_keys_and_announced_once(
    client, session, sandbox, world
):
    headers = world.write | {"Idempotency-Key": "buy-1"}
    first = client.post(f"{world.url}/twilio/numbers", json={"phone_number": GOOD},
                        headers=headers)  # fmt: skip
    assert first.status_code == 201, first.json
    assert first.json["status"] == "active" and first.json["sid"].startswith("PN")
    again = client.post(f"{world.url}/twilio/numbers", json={"phone_number": GOOD},
                        headers=headers)  # fmt: skip
    assert again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    other_key = client.post(f"{world.url}/twilio/numbers", json={"phone_number": GOOD},
                            headers=world.write | {"Idempotency-Key": "buy-2"})  # fmt: skip
    assert other_key.status_code == 201 and other_key.json["id"] == first.json["id"]
    assert purchases(sandbox) == 1
    [event] = events(session, "number.purchased")
    assert event["type"] == "number.purchased" and event["timestamp"].endswith("Z")
    assert event["data"]["company"] == world.acme.public_id
    assert event["data"]["number"] | {"capabilities": {}} == {
        "id": first.json["id"], "phone_number": GOOD, "sid": first.json["sid"],
        "status": "active", "capabilities": {},
    }  # fmt: skip
    assert event["ordering_key"] == f"number:{first.json['id']}"
    assert session.scalar(select(func.count()).select_from(EventDelivery)) == 1
    listed = client.get(f"{world.url}/twilio/numbers?status=active", headers=world.read).json
    assert [n["phone_number"] for n in listed["data"]] == [GOOD] and listed["next_cursor"] is None
    one = client.get(f"{world.url}/twilio/numbers/{first.json['id']}", headers=world.read)
    assert one.json == first.json


def test_a_released_number_is_announced_and_cannot_be_released_again(client, session, world):
    bought = client.post(f"{world.url}/twilio/numbers", json={"phone_number": GOOD},
                         headers=world.write).json  # fmt: skip
    url = f"{world.url}/twilio/numbers/{bought['id']}"
    assert client.delete(url, headers=world.read).status_code == 403
    released = client.delete(url, headers=world.write)
    assert released.status_code == 200 and released.json["status"] == "retired"
    [event] = events(session, "number.released")
    assert event["data"]["number"]["id"] == bought["id"]
    assert event["data"]["number"]["status"] == "retired"
    again = client.delete(url, headers=world.write)
    assert again.status_code == 400 and again.content_type == PROBLEM
    assert "Only an active number" in again.json["detail"]
    assert len(events(session, "number.released")) == 1


def test_a_read_key_cannot_buy(client, session, sandbox, world):
    refused = client.post(f"{world.url}/twilio/numbers", json={"phone_number": GOOD},
                          headers=world.read)  # fmt: skip
    assert refused.status_code == 403 and "'write'" in refused.json["detail"]
    assert purchases(sandbox) == 0 and session.scalars(select(SmsPhoneNumber)).all() == []


def test_provider_errors_are_plain_problems_and_a_failed_buy_is_retried_once(
    client, session, sandbox, world
):
    refused = client.post(f"{world.url}/twilio/numbers", json={"phone_number": REFUSED},
                          headers=world.write)  # fmt: skip
    assert refused.status_code == 400 and refused.content_type == PROBLEM
    assert "Twilio refused the request" in refused.json["detail"]
    assert "(code 21421)" in refused.json["detail"]
    sandbox.faults.add("server_error", provider="twilio", path="IncomingPhoneNumbers.json$",
                       times=1)  # fmt: skip
    headers = world.write | {"Idempotency-Key": "buy-after-error"}
    failed = client.post(f"{world.url}/twilio/numbers", json={"phone_number": GOOD},
                         headers=headers)  # fmt: skip
    assert failed.status_code == 429 and failed.content_type == PROBLEM
    assert "try again" in failed.json["detail"]
    assert session.scalars(select(SmsPhoneNumber).where(
        SmsPhoneNumber.phone_number == GOOD)).one().status == "failed"  # fmt: skip
    retried = client.post(f"{world.url}/twilio/numbers", json={"phone_number": GOOD},
                          headers=headers)  # fmt: skip
    assert retried.status_code == 201 and "Idempotent-Replayed" not in retried.headers
    assert purchases(sandbox) == 1 and len(events(session, "number.purchased")) == 1
    bad = client.post(f"{world.url}/twilio/numbers", json={"phone_number": "call me"},
                      headers=world.write)  # fmt: skip
    assert bad.status_code == 400 and bad.content_type == PROBLEM


def test_without_twilio_set_up_the_routes_answer_409(client, session, make):
    company = make.company("Solo")
    headers = token(session, ("read", "write"), company)
    url = f"/api/v1/companies/{company.public_id}"
    for method, path, body in (("GET", "/twilio/available-numbers", None),
                               ("POST", "/twilio/numbers", {"phone_number": GOOD}),
                               ("POST", "/a2p/brands", None)):  # fmt: skip
        answer = client.open(url + path, method=method, json=body, headers=headers)
        assert answer.status_code == 409 and answer.content_type == PROBLEM, path
        assert "Twilio" in answer.json["detail"]


def test_a_deactivated_company_gets_nothing_provisioned(client, session, sandbox, world):
    world.acme.is_active = False
    session.commit()
    answer = client.post(f"{world.url}/twilio/numbers", json={"phone_number": GOOD},
                         headers=world.write)  # fmt: skip
    assert answer.status_code == 400 and "deactivated" in answer.json["detail"]
    assert purchases(sandbox) == 0


# --- senders --------------------------------------------------------------------------------


def test_a_sender_is_created_verified_and_each_status_announced_once(
    client, session, sandbox, world
):
    sandbox.twilio.control_share_waba(waba_id=WABA)
    body = {"phone_number": "+14155550300", "waba_id": WABA, "profile_name": "Acme Retail"}
    headers = world.write | {"Idempotency-Key": "sender-1"}
    created = client.post(f"{world.url}/twilio/senders", json=body, headers=headers)
    assert created.status_code == 201, created.json
    assert created.json["sid"].startswith("XE")
    assert created.json["phone_number"] == body["phone_number"]
    replay = client.post(f"{world.url}/twilio/senders", json=body, headers=headers)
    assert replay.json == created.json and replay.headers["Idempotent-Replayed"] == "true"
    url = f"{world.url}/twilio/senders/{created.json['id']}"
    sandbox.advance(5)
    followed = client.get(url, headers=world.read).json  # a changing status is followed
    assert followed["status"] == "PENDING_VERIFICATION"
    otp = sandbox.twilio.control_get_sender_otp(sender_sid=created.json["sid"])["otp"]
    assert client.post(f"{url}/verification", json={"code": "12"},
                       headers=world.write).status_code == 422  # fmt: skip
    verified = client.post(f"{url}/verification", json={"code": otp}, headers=world.write)
    assert verified.status_code == 200, verified.json
    sandbox.advance(5)
    assert client.get(url, headers=world.read).json["status"] == "ONLINE"
    assert client.get(url, headers=world.read).json["status"] == "ONLINE"
    changes = [e["data"]["changes"]["status"] for e in events(session, "sender.updated")]
    statuses = [c["to"] for c in changes]
    assert changes[0]["from"] == "REQUESTED" and statuses[-1] == "ONLINE"
    assert len(statuses) == len(set(statuses)) and "PENDING_VERIFICATION" in statuses
    last = events(session, "sender.updated")[-1]
    assert last["data"]["sender"]["sid"] == created.json["sid"]
    assert last["ordering_key"] == f"sender:{created.json['id']}"
    listed = client.get(f"{world.url}/twilio/senders", headers=world.read).json["data"]
    assert [s["id"] for s in listed] == [created.json["id"]]


def test_a_sender_twilio_cannot_see_is_a_plain_400(client, session, sandbox, world):
    sandbox.twilio.control_set_waba_policy(require_shared=True)
    sandbox.twilio.control_unshare_waba(waba_id=WABA)
    body = {"phone_number": "+14155550301", "waba_id": WABA, "profile_name": "Acme"}
    refused = client.post(f"{world.url}/twilio/senders", json=body, headers=world.write)
    assert refused.status_code == 400 and refused.content_type == PROBLEM
    assert "finish Meta's signup" in refused.json["detail"]
    assert events(session, "sender.updated") == []
    bad = client.post(f"{world.url}/twilio/senders", json=body | {"phone_number": "415-555"},
                      headers=world.write)  # fmt: skip
    assert bad.status_code == 400 and bad.content_type == PROBLEM


def test_the_sync_announces_a_sender_status_change_once(session, world):
    rows = foreign_rows(session, world.acme)
    row = session.get(TwilioWhatsAppSender, rows["sender_id"])
    remote = SimpleNamespace(sid=row.sender_sid, status="OFFLINE", properties={},
                             offline_reasons=[{"code": "30008", "message": "banned"}])  # fmt: skip
    assert update_sender(session, row, remote, utcnow())
    assert not update_sender(session, row, remote, utcnow())
    session.commit()
    [event] = events(session, "sender.updated")
    assert event["data"]["changes"] == {"status": {"from": "REQUESTED", "to": "OFFLINE"}}
    assert event["data"]["source"] == "sync"


# --- 10DLC ----------------------------------------------------------------------------------


def drain_until_brand(app, session, sandbox, brand_id: int) -> Tenant10DLCBrand:
    """Run the registration until the brand is registered and waits for review."""
    runner = app.extensions["job_runner"]
    brand = session.get(Tenant10DLCBrand, brand_id)
    for _ in range(8):
        runner.drain()
        session.refresh(brand)
        if brand.provider_brand_id:
            break
        sandbox.advance(120)
        runner.enqueue("provisioning.execute_run", brand.run_id)
    return brand


def test_the_profile_is_checked_as_on_the_page(client, session, world):
    url = f"{world.url}/a2p/profile"
    blank = client.get(url, headers=world.read)
    assert blank.status_code == 200 and blank.json["saved"] is False
    bad = client.put(url, json=PROFILE | {"business_registration_number": "1", "use_case": "X"},
                     headers=world.write)  # fmt: skip
    assert bad.status_code == 422 and bad.content_type == PROBLEM
    assert bad.json["errors"]["json"]["business_registration_number"] == [
        "An EIN has 9 digits, like 12-3456789."
    ]
    assert "use_case" in bad.json["errors"]["json"]
    assert client.put(url, json={"nope": 1}, headers=world.write).status_code == 422
    assert client.put(url, json=PROFILE, headers=world.read).status_code == 403
    saved = client.put(url, json=PROFILE, headers=world.write)
    assert saved.status_code == 200 and saved.json["saved"] is True
    assert client.get(url, headers=world.read).json["owner_email"] == PROFILE["owner_email"]


def test_a_brand_is_submitted_approved_and_its_campaign_follows_with_events(
    app, client, session, sandbox, world
):
    early = client.post(f"{world.url}/a2p/brands", headers=world.write)
    assert early.status_code == 400 and "Complete and save" in early.json["detail"]
    client.put(f"{world.url}/a2p/profile", json=PROFILE, headers=world.write)
    headers = world.write | {"Idempotency-Key": "brand-1"}
    submitted = client.post(f"{world.url}/a2p/brands", headers=headers)
    assert submitted.status_code == 201 and submitted.json["status"] == "SUBMITTED"
    assert client.post(f"{world.url}/a2p/brands", headers=headers).json == submitted.json
    twice = client.post(f"{world.url}/a2p/brands", headers=world.write)
    assert twice.status_code == 400 and "already in progress" in twice.json["detail"]
    brand = drain_until_brand(app, session, sandbox, submitted.json["id"])
    assert brand.provider_status == "PENDING"
    sandbox.twilio.control_approve_brand(brand_sid=brand.provider_brand_id)  # events to the app
    app.extensions["job_runner"].drain()  # applies them, then finishes the run
    session.refresh(brand)
    assert brand.provider_status == "APPROVED" and brand.campaign_status
    got = client.get(f"{world.url}/a2p/brands/{brand.id}", headers=world.read).json
    assert (
        got["status"] == "APPROVED"
        and got["approved_at"]
        and got["profile"] == PROFILE | {"brand_type": "STANDARD"}
    )
    brand_changes = [e["data"]["changes"]["status"] for e in events(session, "brand.updated")]
    assert brand_changes == [
        {"from": None, "to": "SUBMITTED"}, {"from": "SUBMITTED", "to": "PENDING"},
        {"from": "PENDING", "to": "APPROVED"},
    ]  # fmt: skip
    keys = {e["ordering_key"] for e in events(session, "brand.updated")}
    assert keys == {f"a2p:{world.acme.id}"}
    [campaign_event] = events(session, "campaign.updated")
    assert campaign_event["data"]["campaign"]["sid"].startswith("QE")
    assert campaign_event["data"]["campaign"]["brand_id"] == brand.id
    [completed] = events(session, "run.completed")
    assert completed["data"]["run"]["id"] == brand.run_id
    campaigns = client.get(f"{world.url}/a2p/campaigns", headers=world.read).json["data"]
    assert [(c["brand_id"], c["sid"]) for c in campaigns] == [
        (brand.id, campaign_event["data"]["campaign"]["sid"])
    ]
    service = brand.provider_config_json["messaging_service_sid"]
    sandbox.twilio.control_approve_campaign(messaging_service_sid=service)
    app.extensions["job_runner"].drain()
    session.refresh(brand)
    campaign_changes = [e["data"]["changes"]["status"] for e in events(session, "campaign.updated")]
    assert campaign_changes == [{"from": None, "to": "IN_PROGRESS"},
                                {"from": "IN_PROGRESS", "to": "VERIFIED"}]  # fmt: skip
    assert brand.campaign_status == "VERIFIED"
    listed = client.get(f"{world.url}/a2p/brands", headers=world.read).json["data"]
    assert [b["id"] for b in listed] == [brand.id]
    delivered = [Webhook(world.secret).verify(r.content, dict(r.headers)) for r in world.received]
    assert [d["type"] for d in delivered if d["type"] == "brand.updated"] == ["brand.updated"] * 3


def test_a_status_event_applied_twice_is_announced_once(session, world):
    rows = foreign_rows(session, world.acme)
    brand = session.get(Tenant10DLCBrand, rows["brand_id"])
    brand.provider_brand_id = "BN" + "1" * 32
    session.commit()
    body = json.dumps([{
        "type": "com.twilio.messaging.compliance.brand-registration.brand-registered",
        "data": {"brandsid": brand.provider_brand_id, "brandstatus": "APPROVED"},
    }])  # fmt: skip
    for _ in range(2):
        event = WebhookEvent(provider=Provider.TWILIO, dedupe_key="a2p", event_type="a2p",
                             payload=body, company_id=world.acme.id)  # fmt: skip
        apply_event(session, event)
    session.commit()
    assert [e["data"]["changes"]["status"]["to"] for e in events(session, "brand.updated")] == [
        "APPROVED"
    ]


# --- tenancy --------------------------------------------------------------------------------


def test_a_key_of_another_company_gets_404_on_every_route_and_changes_nothing(
    app, client, session, sandbox, world
):
    ids = foreign_rows(session, world.globex)
    client.put(f"/api/v1/companies/{world.globex.public_id}/a2p/profile", json=PROFILE,
               headers=token(session, ("write",), world.globex))  # fmt: skip
    seen = 0
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(("/api/v1/companies/<string:company_id>/twilio",
                                     "/api/v1/companies/<string:company_id>/a2p",
                                     "/api/v1/companies/<string:company_id>/runs",
                                     "/api/v1/runs/<")):  # fmt: skip
            continue
        url = rule.rule.replace("<string:company_id>", world.globex.public_id)
        for name, value in ids.items():
            url = url.replace(f"<int:{name}>", str(value))
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            body = {"phone_number": GOOD, "code": "123456", "flow": "twilio_a2p_10dlc"}
            answer = client.open(url, method=method, json=body, headers=world.write)
            assert answer.status_code == 404 and answer.content_type == PROBLEM, (method, url)
            seen += 1
    assert seen >= 14
    assert purchases(sandbox) == 0
    assert session.get(SmsPhoneNumber, ids["number_id"]).status == "active"
    assert session.scalar(select(func.count()).select_from(Tenant10DLCBrand)) == 1
    assert session.get(ProvisioningRun, ids["run_id"]).status is RunStatus.FAILED
    assert session.scalar(select(func.count()).select_from(PlatformEvent)) == 0
