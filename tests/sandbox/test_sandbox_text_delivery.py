"""``Sandbox.deliver_text``: a text for a number bought in the Twilio sandbox arrives as
Twilio delivers it, an inbound SMS webhook or a call whose recording is transcribed.

Meta-independent: the tests call ``deliver_text`` themselves. Signatures are checked with
the twilio SDK's RequestValidator, TwiML is built with the SDK's VoiceResponse, and the
Messages log is read through the SDK and checked against the vendored 2010 spec.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

import httpx
import pytest
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import VoiceResponse

from provisioning.sandbox import Sandbox, SimClock
from provisioning.sandbox.twilio.inbound import CODE_CALLER_ID, CODE_SMS_SENDER
from provisioning.twilio.api import make_client
from tests.sandbox.openapi import assert_conforms

API = "/twilio/api/2010-04-01"
MSG = "/twilio/messaging/v1"
CODE = "Your WhatsApp code is 123-456"


class Platform:
    """The platform's side: records every request; answers per path (default 200, no body)."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.answers: dict[str, tuple[int, str]] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        status, text = self.answers.get(request.url.path, (200, ""))
        return httpx.Response(status, text=text, headers={"Content-Type": "text/xml"})

    def params(self, index: int = -1) -> dict[str, str]:
        return dict(parse_qsl(self.requests[index].content.decode(), keep_blank_values=True))

    def paths(self) -> list[str]:
        return [r.url.path for r in self.requests]


@pytest.fixture
def platform() -> Platform:
    return Platform()


@pytest.fixture
def sandbox(clock: SimClock, platform: Platform) -> Sandbox:
    return Sandbox(
        seed=4321, clock=clock, record=True, outbound_transport=httpx.MockTransport(platform)
    )


@pytest.fixture
def customer(sandbox, http):
    """A subaccount (its sid, token, Basic auth) and the parent's credentials."""
    master = sandbox.twilio.control_seed_master()
    parent = (master["account_sid"], master["auth_token"])
    sub = http.post(f"{API}/Accounts.json", data={"FriendlyName": "Acme"}, auth=parent).json()
    return {
        "sid": sub["sid"],
        "token": sub["auth_token"],
        "auth": (sub["sid"], sub["auth_token"]),
        "parent": parent,
    }


def buy(http, customer, **settings) -> dict:
    response = http.post(
        f"{API}/Accounts/{customer['sid']}/IncomingPhoneNumbers.json",
        data={"AreaCode": "415", **settings},
        auth=customer["auth"],
    )
    assert response.status_code == 201, response.text
    return response.json()


def signed_by(token: str, request: httpx.Request, params: dict[str, str]) -> bool:
    return RequestValidator(token).validate(
        str(request.url), params, request.headers["X-Twilio-Signature"]
    )


# -- SMS ------------------------------------------------------------------------------------
def test_an_sms_reaches_the_numbers_sms_url_signed_and_is_in_the_messages_log(
    sandbox, http, platform, customer
):
    number = buy(http, customer, SmsUrl="https://platform.test/twilio/sms?tenant=7")

    assert sandbox.deliver_text(number["phone_number"], CODE, "SMS") is True

    [request] = platform.requests
    assert str(request.url) == "https://platform.test/twilio/sms?tenant=7"
    params = platform.params()
    assert params["Body"] == CODE
    assert params["To"] == number["phone_number"]
    assert params["From"] == CODE_SMS_SENDER
    assert params["AccountSid"] == customer["sid"]
    assert params["SmsStatus"] == "received" and params["NumMedia"] == "0"
    assert params["MessageSid"].startswith("SM") and params["SmsSid"] == params["MessageSid"]
    assert "MessagingServiceSid" not in params
    assert signed_by(customer["token"], request, params)
    assert not signed_by(customer["parent"][1], request, params)

    # The SDK reads the log: one inbound, received Message.
    client = make_client(
        *customer["auth"], base_url=f"{sandbox.base_url}/twilio", transport=sandbox.transport()
    )
    [message] = client.api.v2010.account.messages.list()
    assert message.sid == params["MessageSid"]
    assert (message.direction, message.status) == ("inbound", "received")
    assert (message.from_, message.to, message.body) == (
        CODE_SMS_SENDER,
        number["phone_number"],
        CODE,
    )
    assert message.num_segments == "1"
    assert client.api.v2010.account.messages(message.sid).fetch().body == CODE
    assert client.api.v2010.account.messages.list(to="+15005550006") == []
    # The parent's auth token reads the subaccount's log too (v2010, §1).
    listed = http.get(f"{API}/Accounts/{customer['sid']}/Messages.json", auth=customer["parent"])
    assert [m["sid"] for m in listed.json()["messages"]] == [message.sid]
    covered = assert_conforms(sandbox.exchanges)
    assert {
        "GET /2010-04-01/Accounts/{AccountSid}/Messages.json",
        "GET /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json",
    } <= set(covered)


def test_a_number_written_without_plus_or_with_spaces_still_gets_its_sms(
    sandbox, http, platform, customer
):
    number = buy(http, customer, SmsUrl="https://platform.test/twilio/sms")
    digits = number["phone_number"][1:]
    spaced = f"+{digits[0]} {digits[1:4]} {digits[4:7]} {digits[7:]}"
    assert sandbox.deliver_text(digits, CODE, "sms") is True
    assert sandbox.deliver_text(spaced, CODE, "SMS") is True
    assert len(platform.requests) == 2


def test_sms_get_method_carries_the_parameters_in_the_signed_url(sandbox, http, platform, customer):
    number = buy(http, customer, SmsUrl="https://platform.test/twilio/sms", SmsMethod="GET")
    sandbox.deliver_text(number["phone_number"], CODE, "SMS")
    [request] = platform.requests
    assert request.method == "GET" and request.content == b""
    assert request.url.params["Body"] == CODE
    assert signed_by(customer["token"], request, {})


def test_a_messaging_service_routes_the_sms_unless_it_defers_to_the_number(
    sandbox, http, platform, customer
):
    number = buy(http, customer, SmsUrl="https://platform.test/twilio/number")
    service = http.post(
        f"{MSG}/Services",
        data={"FriendlyName": "Acme", "InboundRequestUrl": "https://platform.test/twilio/service"},
        auth=customer["auth"],
    ).json()
    http.post(
        f"{MSG}/Services/{service['sid']}/PhoneNumbers",
        data={"PhoneNumberSid": number["sid"]},
        auth=customer["auth"],
    )
    sandbox.deliver_text(number["phone_number"], CODE, "SMS")
    assert platform.paths() == ["/twilio/service"]
    assert platform.params()["MessagingServiceSid"] == service["sid"]

    http.post(
        f"{MSG}/Services/{service['sid']}",
        data={"UseInboundWebhookOnNumber": "true"},
        auth=customer["auth"],
    )
    sandbox.deliver_text(number["phone_number"], CODE, "SMS")
    assert platform.paths()[-1] == "/twilio/number"

    # Neither (no service URL, no deferral): the service drops it; the log still has it.
    http.post(
        f"{MSG}/Services/{service['sid']}",
        data={"UseInboundWebhookOnNumber": "false", "InboundRequestUrl": ""},
        auth=customer["auth"],
    )
    assert sandbox.deliver_text(number["phone_number"], CODE, "SMS") is True
    assert len(platform.requests) == 2
    log = http.get(f"{API}/Accounts/{customer['sid']}/Messages.json", auth=customer["auth"])
    assert len(log.json()["messages"]) == 3
    assert {m["messaging_service_sid"] for m in log.json()["messages"]} == {service["sid"]}


def test_a_failed_sms_webhook_goes_once_to_the_fallback_and_is_never_retried(
    sandbox, http, platform, customer
):
    number = buy(
        http,
        customer,
        SmsUrl="https://platform.test/twilio/sms",
        SmsFallbackUrl="https://platform.test/twilio/fallback",
    )
    platform.answers["/twilio/sms"] = (503, "")
    platform.answers["/twilio/fallback"] = (500, "")
    sandbox.deliver_text(number["phone_number"], CODE, "SMS")
    assert platform.paths() == ["/twilio/sms", "/twilio/fallback"]
    fallback = platform.params()
    assert fallback["ErrorCode"] == "11200"
    assert fallback["ErrorUrl"] == "https://platform.test/twilio/sms"
    assert signed_by(customer["token"], platform.requests[-1], fallback)
    sandbox.advance(3600)
    assert len(platform.requests) == 2


def test_numbers_that_cannot_take_the_text_answer_false(sandbox, http, platform, customer):
    assert sandbox.deliver_text("+15005550000", CODE, "SMS") is False  # nobody holds it
    number = buy(http, customer, SmsUrl="https://platform.test/twilio/sms")
    phone, url = number["phone_number"], f"{API}/Accounts/{customer['sid']}.json"

    sandbox.twilio.numbers[number["sid"]]["capabilities"]["voice"] = False
    assert sandbox.deliver_text(phone, CODE, "VOICE") is False

    http.post(url, data={"Status": "suspended"}, auth=customer["parent"])
    assert sandbox.deliver_text(phone, CODE, "SMS") is False
    http.post(url, data={"Status": "active"}, auth=customer["parent"])
    assert sandbox.deliver_text(phone, CODE, "SMS") is True

    http.post(url, data={"Status": "closed"}, auth=customer["parent"])  # releases it
    assert sandbox.deliver_text(phone, CODE, "SMS") is False
    assert len(platform.requests) == 1
    with pytest.raises(ValueError, match="SMS or VOICE"):
        sandbox.deliver_text(phone, CODE, "WHATSAPP")


def test_a_number_without_sms_url_takes_the_sms_into_its_log_only(
    sandbox, http, platform, customer
):
    number = buy(http, customer)
    assert sandbox.deliver_text(number["phone_number"], CODE, "SMS") is True
    assert platform.requests == []
    log = http.get(f"{API}/Accounts/{customer['sid']}/Messages.json", auth=customer["auth"])
    assert [m["body"] for m in log.json()["messages"]] == [CODE]


# -- voice ------------------------------------------------------------------------------------
def record_twiml(**record) -> str:
    response = VoiceResponse()
    response.say("Please say the code after the tone.")
    response.record(**record)
    return str(response)


def test_a_call_is_recorded_and_its_transcription_posted_later(sandbox, http, platform, customer):
    number = buy(http, customer, VoiceUrl="https://platform.test/twilio/voice")
    platform.answers["/twilio/voice"] = (
        200,
        record_twiml(
            transcribe=True,
            transcribe_callback="/twilio/transcription",
            action="recorded",
            max_length=30,
        ),
    )
    spoken = "Your WhatsApp code is 1 2 3 4 5 6"

    assert sandbox.deliver_text(number["phone_number"], spoken, "VOICE") is True

    # The call, then the action URL (resolved against the document's URL) on hang-up.
    assert platform.paths() == ["/twilio/voice", "/twilio/recorded"]
    ringing, recorded = platform.params(0), platform.params(1)
    assert ringing["CallStatus"] == "ringing" and ringing["Direction"] == "inbound"
    assert ringing["From"] == CODE_CALLER_ID and ringing["To"] == number["phone_number"]
    assert ringing["CallSid"].startswith("CA") and ringing["AccountSid"] == customer["sid"]
    assert signed_by(customer["token"], platform.requests[0], ringing)
    assert recorded["CallSid"] == ringing["CallSid"] and recorded["Digits"] == "hangup"
    assert recorded["RecordingSid"].startswith("RE")
    assert int(recorded["RecordingDuration"]) > 0
    assert signed_by(customer["token"], platform.requests[1], recorded)

    # The transcription comes later, on the sandbox clock.
    sandbox.advance(29)
    assert len(platform.requests) == 2
    sandbox.advance(1)
    assert platform.paths()[-1] == "/twilio/transcription"
    transcription = platform.params()
    assert transcription["TranscriptionText"] == spoken
    assert transcription["TranscriptionStatus"] == "completed"
    assert transcription["TranscriptionSid"].startswith("TR")
    assert transcription["RecordingSid"] == recorded["RecordingSid"]
    assert transcription["CallSid"] == ringing["CallSid"]
    assert signed_by(customer["token"], platform.requests[-1], transcription)
    sandbox.advance(600)
    assert len(platform.requests) == 3  # sent once

    [call] = sandbox.twilio.control_calls(account_sid=customer["sid"])
    assert call["status"] == "completed" and call["transcription_sid"].startswith("TR")


def test_a_call_answered_without_record_ends_and_nothing_is_transcribed(
    sandbox, http, platform, customer
):
    number = buy(http, customer, VoiceUrl="https://platform.test/twilio/voice")
    hangup = VoiceResponse()
    hangup.say("Goodbye")
    hangup.hangup()
    platform.answers["/twilio/voice"] = (200, str(hangup))
    assert sandbox.deliver_text(number["phone_number"], CODE, "VOICE") is True
    sandbox.advance(3600)
    assert platform.paths() == ["/twilio/voice"]
    [call] = sandbox.twilio.control_calls()
    assert (call["status"], call["ended_by"]) == ("completed", "Hangup")


def test_a_call_without_voice_url_or_twiml_ends_at_once(sandbox, http, platform, customer):
    silent = buy(http, customer)
    assert sandbox.deliver_text(silent["phone_number"], CODE, "VOICE") is True
    assert platform.requests == []
    noisy = buy(http, customer, VoiceUrl="https://platform.test/twilio/voice")
    platform.answers["/twilio/voice"] = (200, "not TwiML")
    sandbox.deliver_text(noisy["phone_number"], CODE, "VOICE")
    sandbox.advance(3600)
    assert platform.paths() == ["/twilio/voice"]
    assert [c["status"] for c in sandbox.twilio.control_calls()] == ["failed", "failed"]


def test_the_voice_fallback_answers_when_the_voice_url_fails(sandbox, http, platform, customer):
    number = buy(
        http,
        customer,
        VoiceUrl="https://platform.test/twilio/voice",
        VoiceFallbackUrl="https://platform.test/twilio/voice-fallback",
    )
    platform.answers["/twilio/voice"] = (500, "")
    platform.answers["/twilio/voice-fallback"] = (
        200,
        record_twiml(
            transcribe=True, transcribe_callback="https://platform.test/twilio/transcription"
        ),
    )
    sandbox.twilio.control_set_transcription_delay(seconds=5)
    sandbox.deliver_text(number["phone_number"], CODE, "VOICE")
    sandbox.advance(5)
    # No action attribute: the recording goes back to the document's own URL.
    assert platform.paths() == [
        "/twilio/voice",
        "/twilio/voice-fallback",
        "/twilio/voice-fallback",
        "/twilio/transcription",
    ]
    assert platform.params(1)["ErrorCode"] == "11200"
    assert platform.params()["TranscriptionText"] == CODE


def test_a_recording_over_two_minutes_is_not_transcribed(sandbox, http, platform, customer):
    number = buy(http, customer, VoiceUrl="https://platform.test/twilio/voice")
    platform.answers["/twilio/voice"] = (
        200,
        record_twiml(transcribe=True, transcribe_callback="/twilio/transcription"),
    )
    sandbox.deliver_text(number["phone_number"], " ".join(["code"] * 400), "VOICE")
    sandbox.advance(60)
    transcription = platform.params()
    assert transcription["TranscriptionStatus"] == "failed"
    assert transcription["TranscriptionText"] == ""
