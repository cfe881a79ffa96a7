"""Calls that read a text out to a Twilio number (``Sandbox.deliver_text`` with ``VOICE``).

Twilio answers an inbound call by requesting the number's ``VoiceUrl`` (``VoiceMethod``)
with the voice request parameters (``CallSid, AccountSid, From, To, Caller, Called,
CallStatus=ringing, Direction=inbound, ApiVersion``), signed like every webhook (§5),
and runs the TwiML it gets back (twilio.com/docs/voice/twiml). A spoken code reaches a
machine only through a transcription, so the simulator runs that one path:

- ``<Record transcribe="true" transcribeCallback="URL">`` (twilio.com/docs/voice/twiml/record):
  the caller (WhatsApp's robot) says the text once and hangs up. Twilio requests the
  ``action`` URL (default: the document's own URL; relative URLs are resolved against
  it) with ``RecordingUrl, RecordingSid, RecordingDuration`` and ``Digits=hangup``, and
  runs nothing it answers (the caller is gone). ``transcription_delay`` seconds later on
  the sandbox clock (``control_set_transcription_delay``), it POSTs ``TranscriptionSid,
  TranscriptionText, TranscriptionStatus=completed, TranscriptionUrl, RecordingSid,
  RecordingUrl`` and the call's parameters to ``transcribeCallback``. The text is the
  one spoken, word for word (a perfect transcriber). Transcription covers recordings of
  at most two minutes (twilio.com/docs/api/voice/recording-transcription): a longer one
  is ``failed`` with no text. ``transcribe="true"`` without a callback transcribes and
  sends nothing; an empty recording requests no ``action`` and is not transcribed.
- ``<Hangup/>``, ``<Reject/>``, TwiML without ``<Record>``, no ``VoiceUrl`` (a TwiML App's
  ``VoiceApplicationSid`` is not modelled) or no usable answer (no answer, not 2xx, not
  TwiML; ``VoiceFallbackUrl`` is asked once first, with ``ErrorCode`` 11200): the call
  ends and nothing is transcribed. ``<Redirect>`` is not followed (simulator limit); the
  other verbs before ``<Record>`` (``<Say>``, ``<Play>``, ``<Pause>``...) just play.

``RecordingUrl`` and ``TranscriptionUrl`` name api.twilio.com resources the simulator does
not serve. Calls are kept for tests and the demo (``control_calls``).
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import urljoin

from .base import TwilioBase
from .inbound import CODE_CALLER_ID, WEBHOOK_FAILED
from .wire import public, rfc2822

MAX_TWIML_BYTES = 64 * 1024  # TwiML documents above 64 KB are refused (simulator bound)
MAX_TRANSCRIBED_SECONDS = 120
WORDS_PER_SECOND = 2.0  # a code read digit by digit, at a steady pace


def spoken_seconds(text: str) -> int:
    """How long saying ``text`` takes: each digit and each word counts once."""
    tokens = re.findall(r"\d|[^\W\d_]+", text)
    return math.ceil(len(tokens) / WORDS_PER_SECOND)


def twiml_verbs(raw: bytes) -> list[ET.Element] | None:
    """The verbs of a ``<Response>`` document, or None when ``raw`` is not TwiML."""
    if not raw or len(raw) > MAX_TWIML_BYTES:
        return None
    try:
        # The platform's own answer; expat resolves no external entities.
        root = ET.fromstring(raw)  # noqa: S314
    except ET.ParseError:
        return None
    return list(root) if root.tag == "Response" else None


def _true(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


class VoiceMixin(TwilioBase):
    """Inbound calls, ``<Record>`` and the transcriptions that come after."""

    def receive_call(self, number: dict[str, Any], body: str) -> None:
        account_sid, now = number["account_sid"], self.clock.time()
        call = {
            "sid": self.sandbox.ids.sid("CA"),
            "account_sid": account_sid,
            "from": CODE_CALLER_ID,
            "to": number["phone_number"],
            "direction": "inbound",
            "status": "ringing",
            "date_created": rfc2822(now),
            "recording_sid": None,
            "transcription_sid": None,
            "ended_by": None,
            "_spoken": body,
        }
        self.calls[call["sid"]] = call
        params = {
            "CallSid": call["sid"],
            "AccountSid": account_sid,
            "From": call["from"],
            "To": call["to"],
            "Caller": call["from"],
            "Called": call["to"],
            "CallStatus": "ringing",
            "Direction": "inbound",
            "ApiVersion": "2010-04-01",
        }
        answered = self._answer(number, params)
        if answered is None:
            self._end(call, "failed", "no TwiML")
            return
        document_url, verbs = answered
        call["status"] = "in-progress"
        for verb in verbs:
            if verb.tag in ("Hangup", "Reject"):
                self._end(call, "completed", verb.tag)
                return
            if verb.tag == "Record":
                self._record(call, params, document_url, verb)
                return
        self._end(call, "completed", "end of TwiML")

    def _answer(
        self, number: dict[str, Any], params: dict[str, str]
    ) -> tuple[str, list[ET.Element]] | None:
        """The document URL and verbs that answered the call (VoiceUrl, then fallback)."""
        url = number.get("voice_url")
        if not url:
            return None
        delivery = self.send_form(
            number["account_sid"], url, params, number.get("voice_method") or "POST"
        )
        verbs = twiml_verbs(delivery.response_body) if delivery.delivered else None
        if verbs is not None:
            return url, verbs
        fallback = number.get("voice_fallback_url")
        if not fallback:
            return None
        failed = params | {"ErrorCode": WEBHOOK_FAILED, "ErrorUrl": url}
        method = number.get("voice_fallback_method") or "POST"
        delivery = self.send_form(number["account_sid"], fallback, failed, method)
        verbs = twiml_verbs(delivery.response_body) if delivery.delivered else None
        return (fallback, verbs) if verbs is not None else None

    def _record(
        self, call: dict[str, Any], params: dict[str, str], document_url: str, verb: ET.Element
    ) -> None:
        """The caller says the text and hangs up: the action request, then (maybe) the
        transcription, queued for later."""
        account_sid = call["account_sid"]
        max_length = int(verb.get("maxLength") or 3600)
        duration = min(spoken_seconds(call["_spoken"]), max_length)
        self._end(call, "completed", "caller hung up during <Record>")
        if duration == 0:
            return  # an empty recording: no action request, no transcription
        api = f"{self.base_url('api')}/2010-04-01/Accounts/{account_sid}"
        recording_sid = self.sandbox.ids.sid("RE")
        recording_url = f"{api}/Recordings/{recording_sid}"
        call["recording_sid"] = recording_sid
        finished = params | {"CallStatus": "completed"}
        action = urljoin(document_url, verb.get("action") or document_url)
        self.send_form(
            account_sid,
            action,
            finished
            | {
                "RecordingUrl": recording_url,
                "RecordingSid": recording_sid,
                "RecordingDuration": str(duration),
                "Digits": "hangup",
            },
            verb.get("method") or "POST",
        )
        if not _true(verb.get("transcribe")):
            return
        transcription_sid = self.sandbox.ids.sid("TR")
        call["transcription_sid"] = transcription_sid
        callback = verb.get("transcribeCallback")
        if not callback:
            return
        complete = duration <= MAX_TRANSCRIBED_SECONDS
        self.transcriptions.append(
            {
                "due": self.clock.time() + self.transcription_delay,
                "account_sid": account_sid,
                "url": urljoin(document_url, callback),
                "params": finished
                | {
                    "TranscriptionSid": transcription_sid,
                    "TranscriptionText": call["_spoken"] if complete else "",
                    "TranscriptionStatus": "completed" if complete else "failed",
                    "TranscriptionUrl": f"{api}/Transcriptions/{transcription_sid}",
                    "RecordingSid": recording_sid,
                    "RecordingUrl": recording_url,
                },
            }
        )

    def _end(self, call: dict[str, Any], status: str, why: str) -> None:
        call["status"], call["ended_by"] = status, why

    def tick_voice(self) -> None:
        """POST the transcriptions that became due (a POST lets go of the sandbox lock:
        the due ones are taken out of the queue first)."""
        now = self.clock.time()
        due = [t for t in self.transcriptions if t["due"] <= now]
        self.transcriptions = [t for t in self.transcriptions if t["due"] > now]
        for item in sorted(due, key=lambda t: t["due"]):
            self.send_form(item["account_sid"], item["url"], item["params"])

    # -- controls ------------------------------------------------------------------------
    def control_set_transcription_delay(self, *, seconds: float) -> dict[str, Any]:
        """Seconds between a recorded call and its transcribeCallback (default 30)."""
        self.transcription_delay = float(seconds)
        return {"transcription_delay": self.transcription_delay}

    def control_calls(self, *, account_sid: str | None = None) -> list[dict[str, Any]]:
        """The calls the numbers took (newest last), with how each ended."""
        return [public(c) for c in self.calls.values() if account_sid in (None, c["account_sid"])]
