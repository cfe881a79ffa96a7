"""Every Twilio and 360dialog response and webhook of the simulators, judged by code we did
not write: the twilio SDK, openapi-core with the vendored specs, Twilio's RequestValidator,
HMAC-SHA256 as 360dialog documents it, and Meta's webhook schema (tests/sandbox/independent.py).
"""

from __future__ import annotations

import copy
import json

import pytest

from tests.sandbox import independent
from tests.sandbox.test_twilio_conformance import SENDERS, run_full_scenario

API = "/twilio/api/2010-04-01"
PID = "indepPA"
HUB = "/dialog360/hub/api/v2"
WABA = "/dialog360/waba"


def test_twilio_responses_pass_the_sdk_and_openapi_core(sandbox, http):
    run_full_scenario(sandbox, http)
    covered = independent.check_twilio_exchanges(sandbox.exchanges)
    assert len(covered) >= 40, sorted(covered)


def test_every_sender_status_and_its_offline_reasons_pass(sandbox, http):
    m = sandbox.twilio.control_seed_master()
    sub = http.post(f"{API}/Accounts.json", auth=(m["account_sid"], m["auth_token"])).json()
    auth = (sub["sid"], sub["auth_token"])
    body = {"sender_id": "whatsapp:+15557650001", "configuration": {"waba_id": "104233912345678"},
            "profile": {"name": "Acme"}}  # fmt: skip
    sid = http.post(SENDERS, json=body, auth=auth).json()["sid"]
    reasons = [{"code": 63062, "message": "ToS"}]
    for status in ("OFFLINE", "TWILIO_REVIEW", "DRAFT", "STUBBED", "ONLINE:UPDATING", "ONLINE"):
        sandbox.twilio.control_set_sender_status(
            sender_sid=sid, status=status, offline_reasons=reasons if status == "OFFLINE" else None
        )
        http.get(f"{SENDERS}/{sid}", auth=auth)
        http.get(SENDERS, params={"Channel": "whatsapp"}, auth=auth)
    covered = independent.check_twilio_exchanges(sandbox.exchanges)
    assert "twilio_messaging_v2 GET /v2/Channels/Senders/{Sid}" in covered


def _sender_exchange(sandbox, http) -> dict:
    m = sandbox.twilio.control_seed_master()
    sub = http.post(f"{API}/Accounts.json", auth=(m["account_sid"], m["auth_token"])).json()
    body = {"sender_id": "whatsapp:+15557650002", "configuration": {"waba_id": "104233912345678"},
            "profile": {"name": "Acme"}}  # fmt: skip
    http.post(SENDERS, json=body, auth=(sub["sid"], sub["auth_token"]))
    return copy.deepcopy(sandbox.exchanges[-1])


@pytest.mark.parametrize(
    ("change", "found"),
    [
        (lambda s: s.update(state=s.pop("status")), "the SDK has no field 'state'"),
        (lambda s: s.update(status="ENABLED"), "'ENABLED' is not one of"),
        (lambda s: s["configuration"].update(account_type="Reseller"), "'Reseller' is not one of"),
        (lambda s: s.update(offline_reasons="30008"), "is not of type"),
    ],
)
def test_a_wrong_field_enum_or_type_fails(sandbox, http, change, found):
    exchange = _sender_exchange(sandbox, http)
    sender = json.loads(exchange["body"])
    change(sender)
    exchange["body"] = json.dumps(sender).encode()
    with pytest.raises(AssertionError, match="broke an independent check") as failure:
        independent.check_twilio_exchanges([exchange])
    assert found in str(failure.value)


def test_a_date_the_sdk_cannot_read_fails(sandbox, http):
    m = sandbox.twilio.control_seed_master()
    http.post(f"{API}/Accounts.json", auth=(m["account_sid"], m["auth_token"]))
    exchange = copy.deepcopy(sandbox.exchanges[-1])
    account = json.loads(exchange["body"])
    account["date_created"] = "2026-01-01 00:00"
    exchange["body"] = json.dumps(account).encode()
    with pytest.raises(AssertionError, match="the SDK cannot read '2026-01-01 00:00'"):
        independent.check_twilio_exchanges([exchange])


def test_twilio_webhooks_validate_with_the_sdks_request_validator(sandbox, http):
    run_full_scenario(sandbox, http)  # the brand approval reaches the Event Streams sink
    sub = next(a for a in sandbox.twilio.accounts.values() if a["sid"] != a["owner_account_sid"])
    twilio = sandbox.twilio
    twilio.control_emit_status_callback(url="https://portal.test/st", account_sid=sub["sid"])
    twilio.control_emit_status_callback(
        url="https://portal.test/st?x=1", account_sid=sub["sid"], as_json=True
    )
    numbers = http.get(
        f"{API}/Accounts/{sub['sid']}/IncomingPhoneNumbers.json",
        auth=(sub["sid"], sub["auth_token"]),
    ).json()["incoming_phone_numbers"]
    http.post(
        f"{API}/Accounts/{sub['sid']}/IncomingPhoneNumbers/{numbers[0]['sid']}.json",
        data={"SmsUrl": "https://portal.test/in"},
        auth=(sub["sid"], sub["auth_token"]),
    )
    twilio.control_emit_inbound_message(to=numbers[0]["phone_number"], body="Hi")
    twilio.emit_brand_event(next(iter(twilio.brands.values())), "brand-registered")
    counts = independent.check_webhooks(sandbox)
    assert counts["twilio_signed"] == 3 and counts["twilio_event_streams"] >= 1
    forged = next(d for d in sandbox.outbound.deliveries if "X-Twilio-Signature" in d.headers)
    forged.headers["X-Twilio-Signature"] = "AAAA" + forged.headers["X-Twilio-Signature"][4:]
    with pytest.raises(AssertionError, match="X-Twilio-Signature does not validate"):
        independent.check_webhooks(sandbox)


def test_360dialog_webhooks_and_waba_answers_pass_meta_and_hmac(sandbox, http):
    sim = sandbox.dialog360
    sim.control_seed_partner(partner_id=PID, api_key="pk", webhook_url="https://p.example/d",
                             webhook_secret="s3cret")  # fmt: skip
    seeded = sim.control_seed_channels(partner_id=PID, emit_webhooks=True)
    chid = seeded["channel_ids"][0]
    key = http.post(f"{HUB}/partners/{PID}/channels/{chid}/api_keys",
                    headers={"X-API-Key": "pk"}).json()["api_key"]  # fmt: skip
    d360 = {"D360-API-KEY": key}
    hook = {"url": "https://p.example/wa", "headers": {"Authorization": "Bearer t"}}
    http.post(f"{WABA}/v1/configs/webhook", headers=d360, json=hook)
    sent = http.post(f"{WABA}/messages", headers=d360, json={
        "messaging_product": "whatsapp", "to": "15550003434", "type": "text",
        "text": {"body": "hi"}}).json()  # fmt: skip
    http.post(f"{WABA}/messages", headers=d360, json={"to": "1"})  # Meta's error 100
    sim.control_inbound_message(channel_id=chid, text="Hello")
    for status in ("sent", "delivered", "read"):
        sim.control_message_status(message_id=sent["messages"][0]["id"], status=status)
    sim.control_template_messaging(channel_id=chid, enabled=False)
    counts = independent.check_webhooks(sandbox, d360_secret="s3cret")
    assert counts["d360_messaging"] == 4 and counts["d360_partner"] >= 4
    assert independent.check_waba_exchanges(sandbox.exchanges) == 2
    with pytest.raises(AssertionError, match="x-360dialog-signature does not validate"):
        independent.check_webhooks(sandbox, d360_secret="another")
