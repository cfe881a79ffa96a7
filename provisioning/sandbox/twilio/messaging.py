"""messaging.twilio.com v1: Services, their PhoneNumbers, and A2P 10DLC (fact sheet §4).

Brands go ``PENDING -> APPROVED|FAILED`` and campaigns ``IN_PROGRESS -> VERIFIED|FAILED``
through control actions (or a timeline, see ``control_set_timeline``). Brand and campaign
creation are limited to 1 request/s per account on the sandbox clock (ISV: "throttle
Brand and Campaign calls to 1 req/s"), answered 429/20429.
"""

from __future__ import annotations

from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from ..base import json_response
from .accounts import Principal
from .base import TwilioBase
from .errors import TwilioError, invalid, not_found, too_many_requests
from .paging import page_v1
from .wire import boolean, form, iso, public, required

V1 = "/messaging/v1"
# One campaign per service, and Twilio names it with this constant SID (§4 Step 5).
CAMPAIGN_SID = "QE2c6890da8086d771620e9b13fadeba0b"
MAX_CAMPAIGNS_PER_BRAND = 5
OTP_VALID_SECONDS = 24 * 3600  # error 30752: the verification text is valid 24 hours
MAX_OTP_RETRIES = 3  # the sandbox's cap on SmsOtp per brand (Twilio publishes none)
SOLE_PROP_TRUST_POLICY = "RN670d5d2e282a6130ae063b234b6019c8"

RULES = [
    Rule(f"{V1}/Services", endpoint="services_route", methods=["GET", "POST"]),
    Rule(f"{V1}/Services/<sid>", endpoint="service_item", methods=["GET", "POST", "DELETE"]),
    Rule(
        f"{V1}/Services/<service_sid>/PhoneNumbers",
        endpoint="service_numbers_route",
        methods=["GET", "POST"],
    ),
    Rule(
        f"{V1}/Services/<service_sid>/PhoneNumbers/<sid>",
        endpoint="service_number_item",
        methods=["GET", "DELETE"],
    ),
    Rule(f"{V1}/a2p/BrandRegistrations", endpoint="brands_route", methods=["GET", "POST"]),
    Rule(f"{V1}/a2p/BrandRegistrations/<sid>", endpoint="brand_item", methods=["GET", "POST"]),
    Rule(f"{V1}/a2p/BrandRegistrations/<sid>/SmsOtp", endpoint="brand_otp_route", methods=["POST"]),
    Rule(
        f"{V1}/Services/<service_sid>/Compliance/Usa2p",
        endpoint="campaigns_route",
        methods=["GET", "POST"],
    ),
    Rule(
        f"{V1}/Services/<service_sid>/Compliance/Usa2p/Usecases",
        endpoint="campaign_usecases",
        methods=["GET"],
    ),
    Rule(
        f"{V1}/Services/<service_sid>/Compliance/Usa2p/<sid>",
        endpoint="campaign_item",
        methods=["GET", "DELETE"],
    ),
]

# code -> (name, post_approval_required) (§4 Step 5 "Use cases")
USECASES = {
    "2FA": ("Two-Factor authentication (2FA)", False),
    "ACCOUNT_NOTIFICATION": ("Account Notification", False),
    "AGENTS_FRANCHISES": ("Agents and Franchises", True),
    "CHARITY": ("Charity", False),
    "PROXY": ("Proxy", True),
    "CUSTOMER_CARE": ("Customer Care", False),
    "DELIVERY_NOTIFICATION": ("Delivery Notification", False),
    "EMERGENCY": ("Emergency", True),
    "FRAUD_ALERT": ("Fraud Alert Messaging", False),
    "HIGHER_EDUCATION": ("Higher Education", False),
    "K12_EDUCATION": ("K-12 Education", True),
    "LOW_VOLUME": ("Low Volume Mixed", False),
    "MARKETING": ("Marketing", False),
    "MIXED": ("Mixed", False),
    "POLITICAL": ("Political", False),
    "POLLING_VOTING": ("Polling and voting", False),
    "PUBLIC_SERVICE_ANNOUNCEMENT": ("Public Service Announcement", False),
    "SECURITY_ALERT": ("Security Alert", False),
    "SOCIAL": ("Social", True),
    "SWEEPSTAKE": ("Sweepstake", True),
    "SOLE_PROPRIETOR": ("Sole Proprietor", False),
}

SERVICE_FIELDS = {
    "FriendlyName": "friendly_name",
    "InboundRequestUrl": "inbound_request_url",
    "InboundMethod": "inbound_method",
    "FallbackUrl": "fallback_url",
    "FallbackMethod": "fallback_method",
    "StatusCallback": "status_callback",
    "ScanMessageContent": "scan_message_content",
    "Usecase": "usecase",
}
SERVICE_FLAGS = {
    "StickySender": "sticky_sender",
    "MmsConverter": "mms_converter",
    "SmartEncoding": "smart_encoding",
    "FallbackToLongCode": "fallback_to_long_code",
    "AreaCodeGeomatch": "area_code_geomatch",
    "SynchronousValidation": "synchronous_validation",
    "UseInboundWebhookOnNumber": "use_inbound_webhook_on_number",
}


class MessagingMixin(TwilioBase):
    """Messaging Services, service numbers, Brand registrations and US A2P campaigns."""

    def murl(self, path: str) -> str:
        return f"{self.base_url('messaging')}/v1{path}"

    def throttle_a2p(self, account_sid: str, kind: str) -> None:
        """1 req/s per account for brand and campaign creation, on the sandbox clock."""
        now = self.clock.time()
        last = self.a2p_last.get((account_sid, kind))
        if self.a2p_interval and last is not None and now - last < self.a2p_interval:
            raise too_many_requests(f"Too many {kind} requests: at most 1 per second")
        self.a2p_last[(account_sid, kind)] = now

    # -- services ------------------------------------------------------------------------
    def own_service(self, principal: Principal, sid: str, path: str) -> dict[str, Any]:
        service = self.services.get(sid)
        if service is None or service["account_sid"] != principal.sid:
            raise not_found(path)
        return service

    def services_route(self, request: Request, principal: Principal) -> Response:
        if request.method == "GET":
            items = [s for s in self.services.values() if s["account_sid"] == principal.sid]
            return json_response(page_v1(request, items, "services", self.murl("/Services")))
        params = form(request)
        required(params, "FriendlyName")
        now = iso(self.clock.time())
        sid = self.sandbox.ids.sid("MG")
        url = self.murl(f"/Services/{sid}")
        service = {
            "sid": sid,
            "account_sid": principal.sid,
            "friendly_name": None,
            "date_created": now,
            "date_updated": now,
            "inbound_request_url": None,
            "inbound_method": "POST",
            "fallback_url": None,
            "fallback_method": "POST",
            "status_callback": None,
            "sticky_sender": True,
            "mms_converter": True,
            "smart_encoding": True,
            "scan_message_content": "inherit",
            "fallback_to_long_code": True,
            "area_code_geomatch": True,
            "synchronous_validation": False,
            "validity_period": 14400,
            "url": url,
            "links": {
                name: f"{url}/{path}"
                for name, path in (
                    ("phone_numbers", "PhoneNumbers"),
                    ("short_codes", "ShortCodes"),
                    ("alpha_senders", "AlphaSenders"),
                    ("messages", "Messages"),
                    ("us_app_to_person", "Compliance/Usa2p"),
                    ("us_app_to_person_usecases", "Compliance/Usa2p/Usecases"),
                    ("channel_senders", "ChannelSenders"),
                )
            },
            "usecase": "undeclared",
            "us_app_to_person_registered": False,
            "use_inbound_webhook_on_number": False,
        }
        self._apply_service(service, params)
        self.services[sid] = service
        return json_response(service, 201)

    @staticmethod
    def _apply_service(service: dict[str, Any], params: Any) -> None:
        for param, field in SERVICE_FIELDS.items():
            if param in params:
                service[field] = params[param]
        for param, field in SERVICE_FLAGS.items():
            if param in params:
                service[field] = boolean(params, param)
        if params.get("ValidityPeriod"):
            service["validity_period"] = int(params["ValidityPeriod"])

    def service_item(self, request: Request, principal: Principal, sid: str) -> Response:
        service = self.own_service(principal, sid, request.path.removeprefix("/messaging"))
        if request.method == "DELETE":
            del self.services[sid]
            self.campaigns.pop(sid, None)
            for key in [k for k in self.service_numbers if k[0] == sid]:
                del self.service_numbers[key]
            return Response(status=204)
        if request.method == "POST":
            self._apply_service(service, form(request))
            service["date_updated"] = iso(self.clock.time())
        return json_response(service)

    # -- numbers in a service --------------------------------------------------------------
    def service_numbers_route(
        self, request: Request, principal: Principal, service_sid: str
    ) -> Response:
        path = request.path.removeprefix("/messaging")
        self.own_service(principal, service_sid, path)
        if request.method == "GET":
            items = [n for (mg, _), n in self.service_numbers.items() if mg == service_sid]
            url = self.murl(f"/Services/{service_sid}/PhoneNumbers")
            return json_response(page_v1(request, items, "phone_numbers", url))
        pn = required(form(request), "PhoneNumberSid")
        number = self.numbers.get(pn)
        if number is None or number["account_sid"] != principal.sid:
            # 21421 also covers "an invalid Phone Number SID" for services (E-21421).
            raise TwilioError(400, 21421, "PhoneNumberSid is invalid")
        for (mg, other), _ in self.service_numbers.items():
            if other == pn:
                # Not in the sheet: a number belongs to one service at a time.
                raise TwilioError(
                    409, 21710, f"Phone Number {pn} is already in Messaging Service {mg}"
                )
        now = iso(self.clock.time())
        caps = number["capabilities"]
        record = {
            "sid": pn,
            "account_sid": principal.sid,
            "service_sid": service_sid,
            "date_created": now,
            "date_updated": now,
            "phone_number": number["phone_number"],
            "country_code": "US" if number["phone_number"].startswith("+1") else None,
            "capabilities": [c.upper() if c != "voice" else "Voice" for c in caps if caps[c]],
            "url": self.murl(f"/Services/{service_sid}/PhoneNumbers/{pn}"),
        }
        self.service_numbers[(service_sid, pn)] = record
        return json_response(record, 201)

    def service_number_item(
        self, request: Request, principal: Principal, service_sid: str, sid: str
    ) -> Response:
        path = request.path.removeprefix("/messaging")
        self.own_service(principal, service_sid, path)
        record = self.service_numbers.get((service_sid, sid))
        if record is None:
            raise not_found(path)
        if request.method == "DELETE":
            del self.service_numbers[(service_sid, sid)]
            return Response(status=204)
        return json_response(record)

    def detach_number(self, pn: str) -> None:
        for key in [k for k in self.service_numbers if k[1] == pn]:
            del self.service_numbers[key]

    # -- brands ------------------------------------------------------------------------------
    def brands_route(self, request: Request, principal: Principal) -> Response:
        if request.method == "GET":
            items = [public(b) for b in self.brands.values() if b["account_sid"] == principal.sid]
            return json_response(
                page_v1(request, items, "data", self.murl("/a2p/BrandRegistrations"))
            )
        params = form(request)
        profile_sid = required(params, "CustomerProfileBundleSid")
        a2p_sid = required(params, "A2PProfileBundleSid")
        profile = self.profiles.get(profile_sid)
        if profile is None or profile["account_sid"] != principal.sid:
            raise invalid("CustomerProfileBundleSid", "no such customer profile in this account")
        product = self.trust_products.get(a2p_sid)
        if product is None or product["account_sid"] != principal.sid:
            raise invalid("A2PProfileBundleSid", "no such trust product in this account")
        brand_type = params.get("BrandType") or "STANDARD"
        if brand_type not in ("STANDARD", "SOLE_PROPRIETOR"):
            raise invalid("BrandType", "STANDARD or SOLE_PROPRIETOR")
        if (brand_type == "SOLE_PROPRIETOR") != (product["policy_sid"] == SOLE_PROP_TRUST_POLICY):
            raise invalid("A2PProfileBundleSid", "the trust product's policy and BrandType differ")
        self.throttle_a2p(principal.sid, "brand")
        now = iso(self.clock.time())
        sid = self.sandbox.ids.sid("BN")
        url = self.murl(f"/a2p/BrandRegistrations/{sid}")
        brand: dict[str, Any] = {
            "sid": sid,
            "account_sid": principal.sid,
            "customer_profile_bundle_sid": profile_sid,
            "a2p_profile_bundle_sid": a2p_sid,
            "date_created": now,
            "date_updated": now,
            "brand_type": brand_type,
            "status": "PENDING",
            "tcr_id": None,
            "failure_reason": None,
            "errors": [],
            "url": url,
            "brand_score": None,
            "brand_feedback": None,
            "identity_status": "UNVERIFIED",
            "russell_3000": False,
            "government_entity": False,
            "tax_exempt_status": None,
            "skip_automatic_sec_vet": bool(boolean(params, "SkipAutomaticSecVet", False)),
            "mock": bool(boolean(params, "Mock", False)),
            "links": {
                "brand_vettings": f"{url}/Vettings",
                "brand_registration_otps": f"{url}/SmsOtp",
            },
            "_since": self.clock.time(),
        }
        self.brands[sid] = brand
        return json_response(public(brand), 201)

    def brand_item(self, request: Request, principal: Principal, sid: str) -> Response:
        brand = self.brands.get(sid)
        if brand is None or brand["account_sid"] != principal.sid:
            raise not_found(request.path.removeprefix("/messaging"))
        if request.method == "POST":
            # Resubmit (202): a FAILED brand goes back to review.
            if brand["status"] == "FAILED":
                self._brand_status(brand, "PENDING", failure_reason=None, errors=[])
            return json_response(public(brand), 202)
        return json_response(public(brand))

    def brand_otp_route(self, request: Request, principal: Principal, sid: str) -> Response:
        """Text the sole proprietor's mobile a new code (the old one stops working)."""
        brand = self.brands.get(sid)
        if brand is None or brand["account_sid"] != principal.sid:
            raise not_found(request.path.removeprefix("/messaging"))
        if brand["brand_type"] != "SOLE_PROPRIETOR":
            raise TwilioError(400, 20001, "SmsOtp is for Sole Proprietor brands only")
        otp = brand.get("_otp")
        if otp is None or brand["identity_status"] == "VERIFIED":
            raise TwilioError(400, 20001, "This brand is not waiting for an OTP verification")
        if otp["retries"] >= MAX_OTP_RETRIES:
            raise too_many_requests(f"At most {MAX_OTP_RETRIES} OTP retries per brand")
        self.text_brand_otp(brand, retries=otp["retries"] + 1)
        body = {"account_sid": brand["account_sid"], "brand_registration_sid": sid}
        return json_response(body, 201)

    def sole_prop_mobile(self, brand: dict[str, Any]) -> str | None:
        """The mobile_phone_number of the brand's sole_proprietor_information end user."""
        for object_sid in self.assigned("TrustProducts", brand["a2p_profile_bundle_sid"]):
            user = self.end_users.get(object_sid)
            if user is not None and user["type"] == "sole_proprietor_information":
                return str((user["attributes"] or {}).get("mobile_phone_number") or "") or None
        return None

    def text_brand_otp(self, brand: dict[str, Any], retries: int = 0) -> None:
        """TCR texts the mobile a code to confirm with YES; a sandbox number gets the SMS."""
        mobile = self.sole_prop_mobile(brand) or ""
        code = self.sandbox.ids.digits(6)
        brand["_otp"] = {
            "mobile": mobile, "code": code, "sent_at": self.clock.time(), "retries": retries,
        }  # fmt: skip
        if mobile:
            text = f"Reply YES to confirm your 10DLC brand registration. Code {code}."
            self.sandbox.deliver_text(mobile, text, "SMS")

    def confirm_brand_otp(self, brand: dict[str, Any]) -> None:
        """The owner replied YES in time: the brand's identity is verified."""
        otp = brand.get("_otp")
        if otp is None:
            raise ValueError(f"brand {brand['sid']} has no OTP waiting")
        if self.clock.time() - otp["sent_at"] > OTP_VALID_SECONDS:
            raise ValueError("the OTP expired (30752): ask for a new one with SmsOtp")
        brand["_otp"] = None
        self._brand_status(brand, brand["status"], identity_status="VERIFIED", errors=[])
        self.emit_brand_event(brand, "brand-verified")

    def _brand_status(self, brand: dict[str, Any], status: str, **fields: Any) -> None:
        brand.update(fields, status=status, date_updated=iso(self.clock.time()))
        brand["_since"] = self.clock.time()

    # -- campaigns --------------------------------------------------------------------------
    def render_campaign(self, request: Request | None, campaign: dict[str, Any]) -> dict:
        body = public(campaign)
        # privacy/terms URLs are echoed only with X-Twilio-Api-Version: v1.2 (§4 Step 5).
        if request is not None and request.headers.get("X-Twilio-Api-Version") == "v1.2":
            body["privacy_policy_url"] = campaign["_privacy_policy_url"]
            body["terms_and_conditions_url"] = campaign["_terms_and_conditions_url"]
        return body

    def campaigns_route(self, request: Request, principal: Principal, service_sid: str) -> Response:
        path = request.path.removeprefix("/messaging")
        service = self.own_service(principal, service_sid, path)
        if request.method == "GET":
            found = self.campaigns.get(service_sid)
            items = [self.render_campaign(request, found)] if found else []
            url = self.murl(f"/Services/{service_sid}/Compliance/Usa2p")
            return json_response(page_v1(request, items, "compliance", url))
        params = form(request)
        values = {
            name: required(params, name)
            for name in (
                "BrandRegistrationSid",
                "Description",
                "MessageFlow",
                "UsAppToPersonUsecase",
                "HasEmbeddedLinks",
                "HasEmbeddedPhone",
            )
        }
        samples = params.getlist("MessageSamples")
        if not samples:
            raise TwilioError(400, 20001, "Missing required parameter MessageSamples")
        brand = self.brands.get(values["BrandRegistrationSid"])
        if brand is None or brand["account_sid"] != principal.sid:
            raise invalid("BrandRegistrationSid", "no such brand in this account")
        if brand["status"] != "APPROVED":
            # "Only once the Brand is APPROVED" (§4 Step 5); no specific code documented.
            raise TwilioError(
                400, 20001, f"Brand {brand['sid']} is {brand['status']}, not APPROVED"
            )
        self._validate_campaign(values, samples)
        if service_sid in self.campaigns:
            raise TwilioError(409, 20001, "This Messaging Service already has a campaign")
        per_brand = sum(
            1 for c in self.campaigns.values() if c["brand_registration_sid"] == brand["sid"]
        )
        if per_brand >= MAX_CAMPAIGNS_PER_BRAND:
            raise TwilioError(400, 20001, "At most 5 campaigns per brand")
        self.throttle_a2p(principal.sid, "campaign")
        now = iso(self.clock.time())
        campaign = {
            "sid": CAMPAIGN_SID,
            "account_sid": principal.sid,
            "brand_registration_sid": brand["sid"],
            "messaging_service_sid": service_sid,
            "description": values["Description"],
            "message_samples": samples,
            "us_app_to_person_usecase": values["UsAppToPersonUsecase"],
            "has_embedded_links": boolean(params, "HasEmbeddedLinks"),
            "has_embedded_phone": boolean(params, "HasEmbeddedPhone"),
            "subscriber_opt_in": boolean(params, "SubscriberOptIn", False),
            "age_gated": boolean(params, "AgeGated", False),
            "direct_lending": boolean(params, "DirectLending", False),
            # Spec names IN_PROGRESS|VERIFIED|FAILED; examples show PENDING (§4): open set.
            "campaign_status": "IN_PROGRESS",
            "campaign_id": "C" + self.sandbox.ids.alnum(6).upper(),
            "is_externally_registered": False,
            "rate_limits": None,
            "message_flow": values["MessageFlow"],
            "opt_in_message": params.get("OptInMessage"),
            "opt_out_message": params.get("OptOutMessage"),
            "help_message": params.get("HelpMessage"),
            "opt_in_keywords": params.getlist("OptInKeywords") or None,
            "opt_out_keywords": params.getlist("OptOutKeywords") or None,
            "help_keywords": params.getlist("HelpKeywords") or None,
            "date_created": now,
            "date_updated": now,
            "url": self.murl(f"/Services/{service_sid}/Compliance/Usa2p/{CAMPAIGN_SID}"),
            "mock": brand["mock"],
            "errors": [],
            "_privacy_policy_url": params.get("PrivacyPolicyUrl"),
            "_terms_and_conditions_url": params.get("TermsAndConditionsUrl"),
            "_since": self.clock.time(),
        }
        self.campaigns[service_sid] = campaign
        service["usecase"] = service.get("usecase") or "undeclared"
        self.emit_campaign_event(campaign, "campaign-submitted", "pending")
        return json_response(self.render_campaign(request, campaign), 201)

    @staticmethod
    def _validate_campaign(values: dict[str, str], samples: list[str]) -> None:
        if values["UsAppToPersonUsecase"] not in USECASES:
            raise invalid("UsAppToPersonUsecase", "unknown use case")
        if not 40 <= len(values["Description"]) <= 4096:
            raise invalid("Description", "must be 40-4096 characters")
        if not 40 <= len(values["MessageFlow"]) <= 2048:
            raise invalid("MessageFlow", "must be 40-2048 characters")
        if not 2 <= len(samples) <= 5 or any(not 20 <= len(s) <= 1024 for s in samples):
            raise invalid("MessageSamples", "2-5 samples of 20-1024 characters")

    def campaign_item(
        self, request: Request, principal: Principal, service_sid: str, sid: str
    ) -> Response:
        path = request.path.removeprefix("/messaging")
        service = self.own_service(principal, service_sid, path)
        campaign = self.campaigns.get(service_sid)
        if campaign is None or sid != CAMPAIGN_SID:
            raise not_found(path)
        if request.method == "DELETE":
            del self.campaigns[service_sid]
            service["us_app_to_person_registered"] = False
            return Response(status=204)
        return json_response(self.render_campaign(request, campaign))

    def campaign_usecases(
        self, request: Request, principal: Principal, service_sid: str
    ) -> Response:
        self.own_service(principal, service_sid, request.path.removeprefix("/messaging"))
        brand = self.brands.get(request.args.get("BrandRegistrationSid", ""))
        sole = brand is not None and brand["brand_type"] == "SOLE_PROPRIETOR"
        codes = ["SOLE_PROPRIETOR"] if sole else [c for c in USECASES if c != "SOLE_PROPRIETOR"]
        return json_response(
            {
                "us_app_to_person_usecases": [
                    {
                        "code": code,
                        "name": USECASES[code][0],
                        "description": USECASES[code][0],
                        "post_approval_required": USECASES[code][1],
                    }
                    for code in codes
                ]
            }
        )

    # -- transitions (control actions and the timeline) -----------------------------------
    def approve_brand(
        self, brand: dict[str, Any], identity_status: str = "VERIFIED", brand_score: int = 80
    ) -> None:
        """Approve; a sole proprietor's brand stays UNVERIFIED (no score) until its owner
        confirms the text; a low-volume one (SkipAutomaticSecVet) gets no trust score."""
        sole = brand["brand_type"] == "SOLE_PROPRIETOR"
        if sole:
            identity_status = "UNVERIFIED"
        score: int | None = None if sole or brand["skip_automatic_sec_vet"] else brand_score
        self._brand_status(
            brand,
            "APPROVED",
            tcr_id=brand["tcr_id"] or "B" + self.sandbox.ids.alnum(6).upper(),
            identity_status=identity_status,
            brand_score=score,
            failure_reason=None,
            errors=[],
        )
        self.emit_brand_event(brand, "brand-registered")
        if sole:
            self.emit_brand_event(brand, "brand-unverified")
            self.text_brand_otp(brand)
        if identity_status in ("VERIFIED", "VETTED_VERIFIED"):
            kind = "brand-verified" if identity_status == "VERIFIED" else "brand-vetted-verified"
            self.emit_brand_event(brand, kind)

    def fail_brand(self, brand: dict[str, Any], reason: str, feedback: list[str]) -> None:
        self._brand_status(
            brand,
            "FAILED",
            failure_reason=reason,
            brand_feedback=feedback,
            errors=[{"code": 30795, "description": reason}] if "TAX_ID" in feedback else [],
            identity_status="UNVERIFIED",
        )
        self.emit_brand_event(brand, "brand-failure")

    def rate_limits(self, brand: dict[str, Any] | None) -> dict[str, Any]:
        """AT&T message class and T-Mobile tier by brand type and trust score."""
        if brand is None or brand["brand_score"] is None:
            return {"att": {"mps": 1, "msg_class": "T"}, "tmobile": {"brand_tier": "LOW"}}
        score = brand["brand_score"]
        if score >= 75:
            return {"att": {"mps": 75, "msg_class": "A"}, "tmobile": {"brand_tier": "TOP"}}
        if score >= 50:
            return {"att": {"mps": 40, "msg_class": "C"}, "tmobile": {"brand_tier": "HIGH_MID"}}
        return {"att": {"mps": 4, "msg_class": "E"}, "tmobile": {"brand_tier": "LOW_MID"}}

    def approve_campaign(self, campaign: dict[str, Any]) -> None:
        campaign.update(
            campaign_status="VERIFIED",
            rate_limits=self.rate_limits(self.brands.get(campaign["brand_registration_sid"])),
            date_updated=iso(self.clock.time()),
            errors=[],
        )
        service = self.services.get(campaign["messaging_service_sid"])
        if service is not None:
            service["us_app_to_person_registered"] = True
        self.emit_campaign_event(campaign, "campaign-approved", "success")

    def fail_campaign(self, campaign: dict[str, Any], reason: str, error_code: int = 30899) -> None:
        campaign.update(
            campaign_status="FAILED",
            date_updated=iso(self.clock.time()),
            errors=[{"error_code": error_code, "description": reason}],
        )
        self.emit_campaign_event(campaign, "campaign-failure", "failure", reason)

    def suspend_campaign(self, campaign: dict[str, Any], reason: str) -> None:
        """The carriers suspend a live campaign (30990)."""
        campaign.update(
            campaign_status="SUSPENDED",
            date_updated=iso(self.clock.time()),
            errors=[{"error_code": 30990, "description": reason}],
        )
        self.emit_campaign_event(campaign, "campaign-failure", "failure", reason)

    def expire_campaign(self, campaign: dict[str, Any]) -> None:
        """The campaign lapses at TCR (not renewed): it is gone from the service."""
        campaign.update(campaign_status="EXPIRED", date_updated=iso(self.clock.time()))
        self.campaigns.pop(campaign["messaging_service_sid"], None)
        service = self.services.get(campaign["messaging_service_sid"])
        if service is not None:
            service["us_app_to_person_registered"] = False
        self.emit_campaign_event(campaign, "campaign-deleted", "deleted")

    def tick_a2p(self) -> None:
        # Approving sends events, which lets go of the sandbox lock: iterate snapshots.
        now = self.clock.time()
        if self.timeline["brand"] is not None:
            for brand in list(self.brands.values()):
                if brand["status"] == "PENDING" and now - brand["_since"] >= self.timeline["brand"]:
                    self.approve_brand(brand)
        if self.timeline["campaign"] is not None:
            for campaign in list(self.campaigns.values()):
                due = now - campaign["_since"] >= self.timeline["campaign"]
                if campaign["campaign_status"] == "IN_PROGRESS" and due:
                    self.approve_campaign(campaign)
        self.tick_trusthub(now)
