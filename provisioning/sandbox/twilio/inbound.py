"""Texts another simulator sends to a Twilio number (``Sandbox.deliver_text``).

A number bought in the sandbox (an IncomingPhoneNumber of any account) takes them as
Twilio takes an inbound message or call. ``SMS``
(twilio.com/docs/messaging/guides/webhook-request): the Message goes in the account's
log (direction ``inbound``, status ``received``) and the incoming message webhook goes
out, form-encoded and signed with the owning account's auth token (fact sheet §5), to:

- the number's Messaging Service, when it is in one: the service's
  ``inbound_request_url`` ("send a webhook"), unless ``use_inbound_webhook_on_number``
  ("defer to sender's webhook": the number's own URL); neither means the service drops it;
- otherwise the number's ``SmsUrl`` with ``SmsMethod`` (GET carries the parameters in
  the query string, and the signature covers that URL alone). No URL: logged, not sent.

A failed request (no answer or not 2xx) is made once more to the fallback URL with
``ErrorCode`` 11200 and ``ErrorUrl``; Twilio does not retry either. ``VOICE`` is a call
(:mod:`.voice`). A number cannot take a text when its account is not active (suspended:
"cannot make or receive phone calls or SMS"; closed: its numbers are released) or it
lacks the capability; ``receive_text`` then answers False, as for a number nobody holds.

Who sends them is the simulator's choice, since no public page names WhatsApp's senders:
the short code :data:`CODE_SMS_SENDER` for texts, :data:`CODE_CALLER_ID` for calls.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from .base import TwilioBase
from .webhooks import signature, signed_form

if TYPE_CHECKING:
    from ..outbound import Delivery

CODE_SMS_SENDER = "55123"  # simulator choice: a US short code
CODE_CALLER_ID = "+12015550123"  # simulator choice: a 555-01xx (fictional) number
WEBHOOK_FAILED = "11200"  # "HTTP retrieval failure" (fact sheet §7)
CAPABILITY = {"SMS": "sms", "VOICE": "voice"}


def e164(value: str) -> str:
    """``+`` and digits: spaces, dashes, dots and brackets dropped, a missing ``+`` added."""
    digits = re.sub(r"[\s\-().]", "", value)
    return digits if digits.startswith("+") else f"+{digits}"


class InboundMixin(TwilioBase):
    """``receive_text`` (called by the Sandbox) and inbound SMS."""

    def receive_text(self, to: str, body: str, channel: str) -> bool:
        """Take ``body`` at the number ``to`` over ``channel`` (``SMS`` or ``VOICE``);
        False when no number of this simulator can take it there."""
        pn = self.owned.get(e164(to))
        number = self.numbers.get(pn or "")
        if number is None or channel not in CAPABILITY:
            return False
        if self.accounts[number["account_sid"]]["status"] != "active":
            return False
        if not number["capabilities"].get(CAPABILITY[channel]):
            return False
        if channel == "SMS":
            self.receive_sms(number, body)
        else:
            self.receive_call(number, body)
        return True

    def receive_sms(
        self, number: dict[str, Any], body: str, from_: str = CODE_SMS_SENDER
    ) -> dict[str, Any]:
        """Log the inbound Message and send its webhook; returns the Message."""
        account_sid = number["account_sid"]
        service = self.service_of(number["sid"])
        message = self.record_message(
            account_sid=account_sid,
            from_=from_,
            to=number["phone_number"],
            body=body,
            direction="inbound",
            status="received",
            messaging_service_sid=service["sid"] if service else None,
        )
        params = {
            "SmsMessageSid": message["sid"],
            "NumMedia": "0",
            "SmsSid": message["sid"],
            "SmsStatus": "received",
            "Body": body,
            "To": number["phone_number"],
            "NumSegments": message["num_segments"],
            "MessageSid": message["sid"],
            "AccountSid": account_sid,
            "From": from_,
            "ApiVersion": "2010-04-01",
        }
        if service is not None:
            params["MessagingServiceSid"] = service["sid"]
        target = _sms_target(number, service)
        if target is not None:
            url, method, fallback, fallback_method = target
            delivery = self.send_form(account_sid, url, params, method)
            if not delivery.delivered and fallback:
                failed = params | {"ErrorCode": WEBHOOK_FAILED, "ErrorUrl": url}
                self.send_form(account_sid, fallback, failed, fallback_method)
        return message

    def service_of(self, pn: str) -> dict[str, Any] | None:
        """The Messaging Service the number is in, if any (one at a time)."""
        for service_sid, number_sid in self.service_numbers:
            if number_sid == pn:
                return self.services.get(service_sid)
        return None

    def send_form(
        self, account_sid: str, url: str, params: dict[str, str], method: str = "POST"
    ) -> Delivery:
        """One signed request (§5) to the platform; Twilio makes no second attempt."""
        token = self.accounts[account_sid]["auth_token"]
        if (method or "POST").upper() == "GET":
            target = f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"
            headers = {"X-Twilio-Signature": signature(token, target)}
            return self.sandbox.outbound.send(
                self.name, target, b"", headers, method="GET", retry=False
            )
        raw, headers = signed_form(token, url, params)
        return self.sandbox.outbound.send(self.name, url, raw, headers, retry=False)


def _sms_target(
    number: dict[str, Any], service: dict[str, Any] | None
) -> tuple[str, str, str | None, str] | None:
    """Where an inbound SMS goes: (url, method, fallback url, fallback method) or None."""
    if service is not None and not service.get("use_inbound_webhook_on_number"):
        url = service.get("inbound_request_url")
        if not url:
            return None  # the service drops it
        return (
            url,
            service.get("inbound_method") or "POST",
            service.get("fallback_url"),
            service.get("fallback_method") or "POST",
        )
    if not number.get("sms_url"):
        return None
    return (
        number["sms_url"],
        number.get("sms_method") or "POST",
        number.get("sms_fallback_url"),
        number.get("sms_fallback_method") or "POST",
    )
