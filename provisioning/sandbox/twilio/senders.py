"""messaging.twilio.com v2 ``Channels/Senders``: WhatsApp senders (fact sheet §3).

Lifecycle (per-state meanings are undocumented, §9; this is the sheet's checklist):
create -> 202 ``CREATING``; on the next clock tick after ``sender_delay`` seconds it is
``ONLINE`` when the number is a Twilio number of the same account (Twilio can verify it
itself), else ``PENDING_VERIFICATION`` with an OTP "sent" to the number (read it with
``control_get_sender_otp``). An update carrying ``configuration.verification_code``
moves it to ``VERIFYING``, then ``ONLINE``. ``control_set_sender_status`` forces any
status of the spec's enum, e.g. ``OFFLINE`` with ``offline_reasons``, ``TWILIO_REVIEW`` (back
to ``ONLINE`` after ``sender_delay``), ``DRAFT`` or ``STUBBED`` (they stay until moved).
``configuration.account_type`` is never null: ``ISVSubAccount`` in a subaccount, ``ISV`` in
a main account, unless the request set it.

WABA access: a WABA must have been shared with Twilio through the Partner Solution ID.
The simulator treats every WABA as shared unless ``control_unshare_waba`` named it, its
id starts with ``999`` (magic), or ``control_set_waba_policy(require_shared=True)`` is on
and ``control_share_waba`` did not name it -> 63101. One WABA per account -> 63102.
"""

from __future__ import annotations

import copy
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from ..base import json_response
from .accounts import Principal
from .base import TwilioBase
from .errors import TwilioError, not_found
from .paging import page_v1
from .wire import E164, json_body, public

V2 = "/messaging/v2/Channels/Senders"
RULES = [
    Rule(V2, endpoint="senders_list", methods=["GET"]),
    Rule(V2, endpoint="sender_create", methods=["POST"]),
    Rule(f"{V2}/<sid>", endpoint="sender_item", methods=["GET", "POST", "DELETE"]),
]
MAGIC_UNSHARED_WABA_PREFIX = "999"
LIST_FIELDS = {"emails": "email", "websites": "website", "phone_numbers": "phone_number"}


def _profile(raw: dict[str, Any] | None, into: dict[str, Any] | None = None) -> dict[str, Any]:
    """Merge a request profile into the stored one; lists of strings become objects."""
    profile = dict(into or {})
    for key, value in (raw or {}).items():
        if key in LIST_FIELDS and isinstance(value, list):
            value = [{LIST_FIELDS[key]: v} if isinstance(v, str) else v for v in value]
        profile[key] = value
    return profile


class SendersMixin(TwilioBase):
    """WhatsApp senders: create/fetch/update/list/delete, OTP and status transitions."""

    def sender_url(self, sid: str) -> str:
        return f"{self.base_url('messaging')}/v2/Channels/Senders/{sid}"

    def waba_visible(self, waba_id: str) -> bool:
        if waba_id in self.unshared_wabas or waba_id.startswith(MAGIC_UNSHARED_WABA_PREFIX):
            return False
        return not self.require_shared_waba or waba_id in self.shared_wabas

    def own_sender(self, principal: Principal, sid: str, path: str) -> dict[str, Any]:
        sender = self.senders.get(sid)
        # Another account's sender (even a subaccount's, with parent credentials) is 404:
        # product APIs act only on the calling account (§1, twilio-csharp #790).
        if sender is None or sender["_account"] != principal.sid:
            raise not_found(path)
        return sender

    # -- routes ------------------------------------------------------------------------------
    def sender_create(self, request: Request, principal: Principal) -> Response:
        body = json_body(request)
        sender_id = body.get("sender_id")
        if not isinstance(sender_id, str) or not sender_id:
            raise TwilioError(400, 63100, "Invalid request body: sender_id is required")
        channel, _, phone = sender_id.partition(":")
        if channel != "whatsapp" or not E164.match(phone):
            raise TwilioError(400, 63107, f"Invalid sender_id {sender_id}: use whatsapp:+E164")
        profile = body.get("profile") or {}
        if not profile.get("name"):
            raise TwilioError(400, 63100, "Invalid request body: profile.name is required")
        config = dict(body.get("configuration") or {})
        waba_id = str(config.get("waba_id") or "")
        if not waba_id:
            raise TwilioError(400, 63100, "Invalid request body: configuration.waba_id is required")
        if not self.waba_visible(waba_id):
            raise TwilioError(
                400, 63101, f"Twilio cannot access WhatsApp Business Account {waba_id}"
            )
        mine = [s for s in self.senders.values() if s["_account"] == principal.sid]
        if any(s["configuration"]["waba_id"] != waba_id for s in mine):
            raise TwilioError(
                400,
                63102,
                "This Twilio account is already linked to another WhatsApp Business Account",
            )
        if any(s["sender_id"] == sender_id for s in mine):
            # Not in the sheet: refuse a duplicate rather than create a second sender.
            raise TwilioError(400, 63100, f"Sender {sender_id} already exists in this account")
        sid = self.sandbox.ids.sid("XE")
        webhook = body.get("webhook") or {}
        sender = {
            "sid": sid,
            "status": "CREATING",
            "sender_id": sender_id,
            "configuration": {
                "waba_id": waba_id,
                "verification_method": config.get("verification_method") or "sms",
                "verification_code": None,
                "voice_application_sid": config.get("voice_application_sid"),
                "account_type": config.get("account_type") or self._account_type(principal.sid),
            },
            "webhook": {
                "callback_url": webhook.get("callback_url"),
                "callback_method": webhook.get("callback_method") or "POST",
                "fallback_url": webhook.get("fallback_url"),
                "fallback_method": webhook.get("fallback_method") or "POST",
                "status_callback_url": webhook.get("status_callback_url"),
                "status_callback_method": webhook.get("status_callback_method") or "POST",
            },
            "profile": _profile(profile),
            "properties": {"quality_rating": None, "messaging_limit": None},
            "offline_reasons": None,
            # "For WhatsApp senders, the Compliance property is set to null" (Senders API page)
            "compliance": None,
            "url": self.sender_url(sid),
            "_account": principal.sid,
            "_since": self.clock.time(),
            "_otp": None,
            "_needs_otp": not self._owns_number(principal.sid, phone),
        }
        self.senders[sid] = sender
        return json_response(public(sender), 202)

    def _account_type(self, account_sid: str) -> str:
        """``configuration.account_type`` when the request names none: the spec's enum is
        ISV | ISVSubAccount (nullable, but an ISV's sender always has one): a subaccount's
        sender is ``ISVSubAccount``, a main account's ``ISV``."""
        account = self.accounts[account_sid]
        return "ISV" if account["owner_account_sid"] == account["sid"] else "ISVSubAccount"

    def _owns_number(self, account_sid: str, phone: str) -> bool:
        pn = self.owned.get(phone)
        return pn is not None and self.numbers[pn]["account_sid"] == account_sid

    def senders_list(self, request: Request, principal: Principal) -> Response:
        channel = request.args.get("Channel")
        if not channel:
            raise TwilioError(400, 20001, "Missing required parameter Channel")
        items = [
            public(s)
            for s in self.senders.values()
            if s["_account"] == principal.sid and s["sender_id"].startswith(f"{channel}:")
        ]
        url = f"{self.base_url('messaging')}/v2/Channels/Senders"
        # WhatsApp pages default to 20 items (§3).
        return json_response(page_v1(request, items, "senders", url, default_size=20))

    def sender_item(self, request: Request, principal: Principal, sid: str) -> Response:
        sender = self.own_sender(principal, sid, request.path.removeprefix("/messaging"))
        if request.method == "DELETE":
            del self.senders[sid]
            return Response(status=204)
        if request.method == "POST":
            self._update_sender(sender, json_body(request))
            return json_response(public(sender), 202)
        return json_response(public(sender))

    def _update_sender(self, sender: dict[str, Any], body: dict[str, Any]) -> None:
        config = dict(body.get("configuration") or {})
        code = config.pop("verification_code", None)
        # OTP as an update (§3). A wrong code leaves it waiting for the right one.
        waiting = sender["status"] == "PENDING_VERIFICATION"
        if code is not None and waiting and str(code) == sender["_otp"]:
            self.sender_status(sender, "VERIFYING")
        for key in ("verification_method", "voice_application_sid"):
            if key in config:
                sender["configuration"][key] = config[key]
        if "account_type" in config:  # "" clears it back to the account's own type
            account_type = config["account_type"] or self._account_type(sender["_account"])
            sender["configuration"]["account_type"] = account_type
        if body.get("webhook"):
            sender["webhook"].update(body["webhook"])
        if body.get("profile"):
            sender["profile"] = _profile(body["profile"], sender["profile"])
            if sender["status"] == "ONLINE":
                self.sender_status(sender, "ONLINE:UPDATING")

    # -- transitions ----------------------------------------------------------------------------
    def sender_status(
        self, sender: dict[str, Any], status: str, offline_reasons: list[dict] | None = None
    ) -> None:
        sender["status"] = status
        sender["_since"] = self.clock.time()
        sender["offline_reasons"] = (
            [
                {
                    "code": str(r.get("code", "")),
                    "message": r.get("message"),
                    "more_info": r.get("more_info")
                    or f"https://www.twilio.com/docs/errors/{r.get('code', '')}",
                }
                for r in offline_reasons
            ]
            if offline_reasons
            else None
        )
        if status == "PENDING_VERIFICATION" and sender["_otp"] is None:
            sender["_otp"] = self.sandbox.ids.digits(6)
        if status == "ONLINE":
            props = sender["properties"]
            props["quality_rating"] = props["quality_rating"] or "HIGH"
            props["messaging_limit"] = props["messaging_limit"] or "1K Customers/24hr"

    def tick_senders(self) -> None:
        now = self.clock.time()
        for sender in self.senders.values():
            if now - sender["_since"] < self.sender_delay:
                continue
            status = sender["status"]
            if status == "CREATING":
                nxt = "PENDING_VERIFICATION" if sender["_needs_otp"] else "ONLINE"
                self.sender_status(sender, nxt)
            elif status in ("VERIFYING", "ONLINE:UPDATING", "TWILIO_REVIEW"):
                self.sender_status(sender, "ONLINE")

    def sender_snapshot(self, sender: dict[str, Any]) -> dict[str, Any]:
        return copy.deepcopy(public(sender))
