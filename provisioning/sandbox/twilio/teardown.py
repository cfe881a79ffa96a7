"""What in Twilio still points at a host: the check after an offboarding.

Twilio's teardown calls are served where their resources live: release a number
(``DELETE IncomingPhoneNumbers/{PN}``, :mod:`.numbers`), delete a WhatsApp sender
(``DELETE /v2/Channels/Senders/{XE}``, :mod:`.senders`), delete a Messaging Service or an
Event Streams sink, close a subaccount (``POST Accounts/{AC}`` ``Status=closed`` with the
parent's credentials, :mod:`.accounts`: its numbers are released at once, and its own
credentials are refused with 20005 from then on).

:meth:`TeardownMixin.webhook_routes` lists, per account, every URL Twilio would call:
numbers (``SmsUrl``, ``SmsFallbackUrl``, ``VoiceUrl``, ``VoiceFallbackUrl``,
``StatusCallback``), senders (``webhook.callback_url``, ``fallback_url``,
``status_callback_url``), Messaging Services (``InboundRequestUrl``, ``FallbackUrl``,
``StatusCallback``), Event Streams sinks (the webhook destination) and TrustHub bundles
(``StatusCallback``). A closed account routes nothing any more (Twilio keeps its
configuration until it deletes the account's data, 30 days later), so it is left out
unless ``include_closed``: then a test sees what was never cleaned up before closing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from ..outbound import url_on_host
from .base import TwilioBase

NUMBER_FIELDS = ("sms_url", "sms_fallback_url", "voice_url", "voice_fallback_url")
SENDER_FIELDS = ("callback_url", "fallback_url", "status_callback_url")
SERVICE_FIELDS = ("inbound_request_url", "fallback_url", "status_callback")


class TeardownMixin(TwilioBase):
    """``webhook_routes`` and its control action."""

    def _configured_urls(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """(account sid, route) for every URL set anywhere in the simulator."""
        for pn in self.numbers.values():
            for field in (*NUMBER_FIELDS, "status_callback"):
                yield (
                    pn["account_sid"],
                    _route("incoming_phone_number", pn["sid"], field, pn[field]),
                )
        for sender in self.senders.values():
            for field in SENDER_FIELDS:
                url = sender["webhook"].get(field)
                yield sender["_account"], _route("whatsapp_sender", sender["sid"], field, url)
        for service in self.services.values():
            for field in SERVICE_FIELDS:
                url = service.get(field)
                yield (
                    service["account_sid"],
                    _route("messaging_service", service["sid"], field, url),
                )
        for sink in self.sinks.values():
            url = (sink["sink_configuration"] or {}).get("destination")
            yield sink["_account"], _route("event_sink", sink["sid"], "destination", url)
        for bundle in (*self.profiles.values(), *self.trust_products.values()):
            url = bundle.get("status_callback")
            yield (
                bundle["account_sid"],
                _route("trusthub_bundle", bundle["sid"], "status_callback", url),
            )

    def webhook_routes(
        self, host: str | None = None, *, include_closed: bool = False
    ) -> dict[str, dict[str, Any]]:
        """Per account with at least one: its status, name and the routes to ``host``."""
        found: dict[str, dict[str, Any]] = {}
        for account_sid, route in self._configured_urls():
            account = self.accounts.get(account_sid)
            if account is None or not url_on_host(route["url"], host):
                continue
            if account["status"] == "closed" and not include_closed:
                continue
            entry = found.setdefault(
                account_sid,
                {
                    "status": account["status"],
                    "friendly_name": account["friendly_name"],
                    "parent": account["owner_account_sid"],
                    "routes": [],
                },
            )
            entry["routes"].append(route)
        return found

    def routes_by_host(self) -> dict[str, int]:
        """How many live routes point at each host (the demo's sandbox page)."""
        counts: dict[str, int] = {}
        for entry in self.webhook_routes().values():
            for route in entry["routes"]:
                host = urlsplit(route["url"]).netloc.rpartition("@")[2].lower()
                counts[host] = counts.get(host, 0) + 1
        return counts

    def control_routes_to(
        self, *, host: str | None = None, include_closed: bool = False
    ) -> dict[str, Any]:
        """Everything that still sends to ``host``, per account (``{}``: nothing does)."""
        accounts = self.webhook_routes(host, include_closed=include_closed)
        total = sum(len(entry["routes"]) for entry in accounts.values())
        return {"host": host, "routes": total, "accounts": accounts}


def _route(kind: str, sid: str, field: str, url: Any) -> dict[str, Any]:
    return {"kind": kind, "sid": sid, "field": field, "url": url}
