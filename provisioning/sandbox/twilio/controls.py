"""Control actions (``POST /_sandbox/twilio/<action>``, or ``sandbox.twilio.control_*``).

Every action is keyword-only and returns something JSON-able.
"""

from __future__ import annotations

import json
from typing import Any

from .base import TwilioBase
from .messaging import CAMPAIGN_SID
from .webhooks import signed_form, signed_json
from .wire import iso, public


class ControlsMixin(TwilioBase):
    """Seeding, review decisions, sender state, callbacks and knobs."""

    # -- seeding --------------------------------------------------------------------------------
    def control_seed_master(
        self,
        *,
        account_sid: str | None = None,
        auth_token: str | None = None,
        friendly_name: str = "ISV Main Account",
        isv_profile: bool = True,
    ) -> dict[str, Any]:
        """Create the main (ISV) account; with ``isv_profile`` also its approved Primary
        Customer Profile of type "ISV Reseller or Partner" (needed for A2P, §4)."""
        account = self.accounts.get(account_sid or "")
        if account is None:
            account = self.new_account(
                friendly_name=friendly_name, owner=None, sid=account_sid, token=auth_token or ""
            )
        result = {"account_sid": account["sid"], "auth_token": account["auth_token"]}
        if isv_profile:
            primary = next(
                (p for p in self.profiles.values() if p["account_sid"] == account["sid"]), None
            )
            if primary is None:
                primary = self.new_bundle(
                    "CustomerProfiles",
                    account["sid"],
                    "ISV Primary Business Profile",
                    "compliance@isv.example",
                    "RNdfbf3fae0e1107f8aded0e7cead80bf5",
                )
                primary.update(status="twilio-approved", _isv=True)
            result["primary_customer_profile_sid"] = primary["sid"]
        return result

    def control_seed_partner(self, **params: Any) -> dict[str, Any]:
        """Alias of ``seed_master`` (the partner-level identity every simulator seeds)."""
        return self.control_seed_master(**params)

    def control_seed_subaccounts(
        self,
        *,
        parent_sid: str | None = None,
        count: int = 10,
        senders_per_account: int = 1,
        sender_status: str = "ONLINE",
    ) -> list[dict[str, Any]]:
        """Create ``count`` subaccounts with ``senders_per_account`` senders each, directly
        in state (no HTTP), for fleet benchmarks. Returns sids, tokens and sender sids."""
        parent = parent_sid or next(
            (a["sid"] for a in self.accounts.values() if a["owner_account_sid"] == a["sid"]), None
        )
        if parent is None:
            parent = self.control_seed_master(isv_profile=False)["account_sid"]
        out = []
        base = len(self.accounts)
        for i in range(count):
            account = self.new_account(friendly_name=f"Fleet customer {base + i}", owner=parent)
            waba = self.sandbox.ids.digits(15)
            sids = []
            for j in range(senders_per_account):
                sid = self.sandbox.ids.sid("XE")
                phone = f"+1555{(base + i) % 10_000:04d}{j % 1000:03d}"
                self.senders[sid] = {
                    "sid": sid,
                    "status": sender_status,
                    "sender_id": f"whatsapp:{phone}",
                    "configuration": {
                        "waba_id": waba,
                        "verification_method": "sms",
                        "verification_code": None,
                        "voice_application_sid": None,
                        "account_type": "ISVSubAccount",
                    },
                    "webhook": {
                        "callback_url": None,
                        "callback_method": "POST",
                        "fallback_url": None,
                        "fallback_method": "POST",
                        "status_callback_url": None,
                        "status_callback_method": "POST",
                    },
                    "profile": {"name": f"Fleet {base + i}"},
                    "properties": {
                        "quality_rating": "HIGH",
                        "messaging_limit": "1K Customers/24hr",
                    },
                    "offline_reasons": None,
                    "compliance": None,
                    "url": self.sender_url(sid),
                    "_account": account["sid"],
                    "_since": self.clock.time(),
                    "_otp": None,
                    "_needs_otp": False,
                }
                sids.append(sid)
            out.append(
                {
                    "account_sid": account["sid"],
                    "auth_token": account["auth_token"],
                    "senders": sids,
                }
            )
        return out

    # -- knobs ------------------------------------------------------------------------------
    def control_set_subaccount_limit(self, *, limit: int) -> dict[str, Any]:
        """Live subaccounts per parent before 21480 (default 1000)."""
        self.subaccount_limit = int(limit)
        return {"subaccount_limit": self.subaccount_limit}

    def control_set_a2p_rate(self, *, min_interval: float = 1.0) -> dict[str, Any]:
        """Seconds between brand (and between campaign) creations per account; 0 disables."""
        self.a2p_interval = float(min_interval)
        return {"a2p_interval": self.a2p_interval}

    def control_set_timeline(
        self,
        *,
        brand_seconds: float | None = None,
        campaign_seconds: float | None = None,
        profile_seconds: float | None = None,
        sender_seconds: float | None = None,
    ) -> dict[str, Any]:
        """Auto-approve brands/campaigns/bundles that waited this long (None: never);
        ``sender_seconds`` is the delay of each automatic sender step (default 1)."""
        self.timeline.update(
            brand=brand_seconds, campaign=campaign_seconds, profile=profile_seconds
        )
        if sender_seconds is not None:
            self.sender_delay = float(sender_seconds)
        return {"timeline": dict(self.timeline), "sender_delay": self.sender_delay}

    def control_set_account_status(self, *, account_sid: str, status: str) -> dict[str, Any]:
        """Suspend/close/reactivate any account (closing releases its numbers)."""
        account = self.accounts[account_sid]
        self.set_account_status(account, status)
        if account["owner_account_sid"] == account_sid and status == "suspended":
            # Suspending the parent suspends every subaccount (SUB).
            for sub in self.accounts.values():
                if sub["owner_account_sid"] == account_sid and sub["status"] == "active":
                    self.set_account_status(sub, "suspended")
        return {"sid": account_sid, "status": account["status"]}

    # -- A2P review ---------------------------------------------------------------------------
    def control_approve_brand(
        self, *, brand_sid: str, identity_status: str = "VERIFIED", brand_score: int = 80
    ) -> dict[str, Any]:
        """PENDING -> APPROVED (emits brand-registered, brand-verified events)."""
        brand = self.brands[brand_sid]
        self.approve_brand(brand, identity_status, int(brand_score))
        return public(brand)

    def control_fail_brand(
        self,
        *,
        brand_sid: str,
        reason: str = "Tax ID could not be verified",
        feedback: list[str] | None = None,
    ) -> dict[str, Any]:
        """PENDING -> FAILED with ``failure_reason`` and ``brand_feedback`` (brand-failure)."""
        brand = self.brands[brand_sid]
        self.fail_brand(brand, reason, feedback or ["TAX_ID"])
        return public(brand)

    def _campaign(self, messaging_service_sid: str) -> dict[str, Any]:
        campaign = self.campaigns.get(messaging_service_sid)
        if campaign is None:
            raise KeyError(f"no campaign ({CAMPAIGN_SID}) on {messaging_service_sid}")
        return campaign

    def control_approve_campaign(self, *, messaging_service_sid: str) -> dict[str, Any]:
        """IN_PROGRESS -> VERIFIED (campaign-approved event)."""
        campaign = self._campaign(messaging_service_sid)
        self.approve_campaign(campaign)
        return public(campaign)

    def control_fail_campaign(
        self,
        *,
        messaging_service_sid: str,
        reason: str = "Campaign rejected by carriers",
        error_code: int = 30899,
    ) -> dict[str, Any]:
        """IN_PROGRESS -> FAILED with errors (campaign-failure event); ``error_code`` e.g.
        30915 for a sole proprietor that is a registered entity."""
        campaign = self._campaign(messaging_service_sid)
        self.fail_campaign(campaign, reason, int(error_code))
        return public(campaign)

    # -- 10DLC brand types (issue 18) -------------------------------------------------------
    def control_confirm_brand_otp(self, *, brand_sid: str) -> dict[str, Any]:
        """The sole proprietor replies YES to the text: identity VERIFIED (brand-verified)."""
        brand = self.brands[brand_sid]
        self.confirm_brand_otp(brand)
        return public(brand)

    def control_get_brand_otp(self, *, brand_sid: str) -> dict[str, Any]:
        """The code texted to a sole proprietor's mobile, as its owner would read it."""
        otp = self.brands[brand_sid].get("_otp") or {}
        return {"brand_sid": brand_sid, "mobile": otp.get("mobile"), "otp": otp.get("code")}

    def control_suspend_campaign(
        self, *, messaging_service_sid: str, reason: str = "Campaign-to-traffic mismatch"
    ) -> dict[str, Any]:
        """A live campaign suspended by the carriers (30990; campaign-failure event)."""
        campaign = self._campaign(messaging_service_sid)
        self.suspend_campaign(campaign, reason)
        return public(campaign)

    def control_expire_campaign(self, *, messaging_service_sid: str) -> dict[str, Any]:
        """A campaign lapsing at TCR: removed from its service (campaign-deleted event)."""
        campaign = self._campaign(messaging_service_sid)
        self.expire_campaign(campaign)
        return public(campaign)

    def control_approve_profile(self, *, sid: str) -> dict[str, Any]:
        """A submitted customer profile or trust product -> twilio-approved."""
        bundle = self.find_bundle(sid)
        self.set_bundle_status(bundle, "twilio-approved")
        return public(bundle)

    def control_reject_profile(
        self, *, sid: str, reason: str = "Business information could not be verified"
    ) -> dict[str, Any]:
        """A submitted customer profile or trust product -> twilio-rejected with errors."""
        bundle = self.find_bundle(sid)
        self.set_bundle_status(bundle, "twilio-rejected", [{"code": 22215, "message": reason}])
        return public(bundle)

    # -- senders --------------------------------------------------------------------------------
    def control_set_sender_status(
        self, *, sender_sid: str, status: str, offline_reasons: list[dict] | None = None
    ) -> dict[str, Any]:
        """Force a sender's status, e.g. OFFLINE with ``[{"code": 30008, "message": ...}]``."""
        sender = self.senders[sender_sid]
        self.sender_status(sender, status, offline_reasons)
        return public(sender)

    def control_set_sender_quality(self, *, sender_sid: str, quality_rating: str) -> dict:
        """Set ``properties.quality_rating`` (free-form, e.g. HIGH/MEDIUM/LOW)."""
        self.senders[sender_sid]["properties"]["quality_rating"] = quality_rating
        return public(self.senders[sender_sid])

    def control_set_sender_limit(self, *, sender_sid: str, messaging_limit: str) -> dict:
        """Set ``properties.messaging_limit`` (free-form, e.g. "10K Customers/24hr")."""
        self.senders[sender_sid]["properties"]["messaging_limit"] = messaging_limit
        return public(self.senders[sender_sid])

    def control_get_sender_otp(self, *, sender_sid: str) -> dict[str, Any]:
        """The OTP "sent" to a sender's number (what the customer would read out)."""
        sender = self.senders[sender_sid]
        return {"sender_sid": sender_sid, "status": sender["status"], "otp": sender["_otp"]}

    def control_share_waba(self, *, waba_id: str) -> dict[str, Any]:
        """Mark a WABA as shared with Twilio's Partner Solution ID."""
        self.shared_wabas.add(str(waba_id))
        self.unshared_wabas.discard(str(waba_id))
        return {"waba_id": waba_id, "shared": True}

    def control_unshare_waba(self, *, waba_id: str) -> dict[str, Any]:
        """Make a WABA invisible to Twilio (sender create -> 63101)."""
        self.unshared_wabas.add(str(waba_id))
        self.shared_wabas.discard(str(waba_id))
        return {"waba_id": waba_id, "shared": False}

    def control_set_waba_policy(self, *, require_shared: bool) -> dict[str, Any]:
        """When on, only WABAs named by ``share_waba`` are visible."""
        self.require_shared_waba = bool(require_shared)
        return {"require_shared": self.require_shared_waba}

    # -- webhooks ---------------------------------------------------------------------------
    def control_emit_status_callback(
        self,
        *,
        url: str,
        account_sid: str,
        message_status: str = "delivered",
        to: str = "+15558675310",
        from_: str = "+15017122661",
        message_sid: str | None = None,
        error_code: int | None = None,
        as_json: bool = False,
        extra: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Send a message status callback (§5 params) signed with ``account_sid``'s token.

        ``as_json`` sends the same fields as a JSON body with ``bodySHA256`` in the URL.
        """
        token = self.accounts[account_sid]["auth_token"]
        params = {
            "MessageSid": message_sid or self.sandbox.ids.sid("SM"),
            "MessageStatus": message_status,
            "SmsStatus": message_status,
            "AccountSid": account_sid,
            "From": from_,
            "To": to,
            "ApiVersion": "2010-04-01",
        }
        if error_code is not None and message_status in ("failed", "undelivered"):
            params["ErrorCode"] = str(error_code)
        if message_status in ("delivered", "undelivered", "failed"):
            params["RawDlrDoneDate"] = (
                iso(self.clock.time())[2:16].replace("-", "").replace("T", "").replace(":", "")
            )
        params |= extra or {}
        return self._send_signed(token, url, params, as_json)

    def control_emit_inbound_message(
        self,
        *,
        to: str,
        body: str = "Hello",
        from_: str = "+15558675310",
        url: str | None = None,
        profile_name: str | None = None,
    ) -> dict[str, Any]:
        """An inbound message to a number (its ``sms_url``) or a sender (``whatsapp:+…``,
        its ``webhook.callback_url``), signed with the owning account's token."""
        account_sid, target = self._inbound_target(to)
        token = self.accounts[account_sid]["auth_token"]
        sid = self.sandbox.ids.sid("SM")
        params = {
            "MessageSid": sid,
            "SmsSid": sid,
            "SmsMessageSid": sid,
            "AccountSid": account_sid,
            "From": from_,
            "To": to,
            "Body": body,
            "NumMedia": "0",
            "NumSegments": "1",
            "SmsStatus": "received",
            "ApiVersion": "2010-04-01",
        }
        if to.startswith("whatsapp:"):
            if not from_.startswith("whatsapp:"):
                params["From"] = from_ = f"whatsapp:{from_}"
            params["ProfileName"] = profile_name or "Customer"
            params["WaId"] = from_.removeprefix("whatsapp:").lstrip("+")
            params["MessageType"] = "text"
        destination = url or target
        if not destination:
            raise ValueError(f"{to} has no webhook URL; pass url=")
        return self._send_signed(token, destination, params, False)

    def _inbound_target(self, to: str) -> tuple[str, str | None]:
        if to.startswith("whatsapp:"):
            for sender in self.senders.values():
                if sender["sender_id"] == to:
                    return sender["_account"], sender["webhook"]["callback_url"]
        elif to in self.owned:
            number = self.numbers[self.owned[to]]
            return number["account_sid"], number["sms_url"]
        raise KeyError(f"no number or sender {to}")

    def _send_signed(
        self, token: str, url: str, params: dict[str, str], as_json: bool
    ) -> dict[str, Any]:
        if as_json:
            raw = json.dumps(params, separators=(",", ":")).encode()
            target, headers = signed_json(token, url, raw)
        else:
            raw, headers = signed_form(token, url, params)
            target = url
        delivery = self.sandbox.outbound.send(self.name, target, raw, headers)
        return {
            "url": target,
            "status": delivery.status,
            "error": delivery.error,
            "signature": headers["X-Twilio-Signature"],
        }
