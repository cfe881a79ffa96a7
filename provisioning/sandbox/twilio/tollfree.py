"""messaging.twilio.com v1 Tollfree/Verifications: toll-free verification requests.

Shapes and enums follow the vendored spec (``messaging.v1.tollfree_verification``).
A request starts ``PENDING_REVIEW``, moves to ``IN_REVIEW`` on the sandbox clock
(``tollfree_in_review_seconds``), and is decided by a person on the sandbox page (or by
``control_set_tollfree_timeline``): ``TWILIO_APPROVED``, or ``TWILIO_REJECTED`` with
``rejection_reason(s)``, ``error_code``, ``edit_allowed`` and a seven-day
``edit_expiration`` (Twilio's error 30437: the edit window is seven days). A rejected
request that may be edited is updated with ``POST .../Verifications/{sid}`` and goes back
to review. Each change is an Event Streams event
(``com.twilio.messaging.compliance.toll-free-verification.*``) to the account's sinks.

Refused as Twilio refuses them: a missing required parameter, the 2026 business
registration fields missing for anything but a sole proprietor, a number that is not the
account's or not toll-free, and a second request for a number that has one not rejected.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from ..base import json_response
from .accounts import Principal
from .base import TwilioBase
from .errors import TwilioError, invalid, missing, not_found
from .paging import page_v1
from .wire import boolean, form, iso, public

if TYPE_CHECKING:
    from ..core import Sandbox

V1 = "/messaging/v1"
RULES = [
    Rule(f"{V1}/Tollfree/Verifications", endpoint="tollfree_route", methods=["GET", "POST"]),
    Rule(
        f"{V1}/Tollfree/Verifications/<sid>",
        endpoint="tollfree_item",
        methods=["GET", "POST", "DELETE"],
    ),
]
EVENT = "com.twilio.messaging.compliance.toll-free-verification."
TOLL_FREE_AREAS = ("800", "833", "844", "855", "866", "877", "888")
EDIT_WINDOW = 7 * 24 * 3600.0
REQUIRED = (
    "BusinessName", "BusinessWebsite", "NotificationEmail", "UseCaseCategories",
    "UseCaseSummary", "ProductionMessageSample", "OptInImageUrls", "OptInType", "MessageVolume",
    "TollfreePhoneNumberSid",
)  # fmt: skip
REGISTRATION = ("BusinessRegistrationNumber", "BusinessRegistrationAuthority",
                "BusinessRegistrationCountry")  # fmt: skip
ENUMS = {
    "OptInType": ("VERBAL", "WEB_FORM", "PAPER_FORM", "VIA_TEXT", "MOBILE_QR_CODE", "IMPORT",
                  "IMPORT_PLEASE_REPLACE"),
    "BusinessType": ("PRIVATE_PROFIT", "PUBLIC_PROFIT", "SOLE_PROPRIETOR", "NON_PROFIT",
                     "GOVERNMENT"),
    "BusinessRegistrationAuthority": (
        "EIN", "CBN", "CRN", "PROVINCIAL_NUMBER", "VAT", "ACN", "ABN", "BRN", "SIREN", "SIRET",
        "NZBN", "USt-IdNr", "CIF", "NIF", "CNPJ", "UID", "NEQ", "OTHER"),
    "VettingProvider": ("CAMPAIGN_VERIFY",),
}  # fmt: skip
CATEGORIES = (
    "TWO_FACTOR_AUTHENTICATION", "ACCOUNT_NOTIFICATIONS", "CUSTOMER_CARE", "CHARITY_NONPROFIT",
    "DELIVERY_NOTIFICATIONS", "FRAUD_ALERT_MESSAGING", "EVENTS", "HIGHER_EDUCATION", "K12",
    "MARKETING", "POLLING_AND_VOTING_NON_POLITICAL", "POLITICAL_ELECTION_CAMPAIGNS",
    "PUBLIC_SERVICE_ANNOUNCEMENT", "SECURITY_ALERT",
)  # fmt: skip
# form param -> field, for create and update (lists and booleans apart)
TEXT = {
    "BusinessName": "business_name", "BusinessWebsite": "business_website",
    "NotificationEmail": "notification_email", "UseCaseSummary": "use_case_summary",
    "ProductionMessageSample": "production_message_sample", "OptInType": "opt_in_type",
    "MessageVolume": "message_volume", "BusinessStreetAddress": "business_street_address",
    "BusinessStreetAddress2": "business_street_address2", "BusinessCity": "business_city",
    "BusinessStateProvinceRegion": "business_state_province_region",
    "BusinessPostalCode": "business_postal_code", "BusinessCountry": "business_country",
    "AdditionalInformation": "additional_information",
    "BusinessContactFirstName": "business_contact_first_name",
    "BusinessContactLastName": "business_contact_last_name",
    "BusinessContactEmail": "business_contact_email",
    "BusinessContactPhone": "business_contact_phone",
    "BusinessRegistrationNumber": "business_registration_number",
    "BusinessRegistrationAuthority": "business_registration_authority",
    "BusinessRegistrationCountry": "business_registration_country",
    "BusinessType": "business_type",
    "BusinessRegistrationPhoneNumber": "business_registration_phone_number",
    "DoingBusinessAs": "doing_business_as",
    "OptInConfirmationMessage": "opt_in_confirmation_message",
    "HelpMessageSample": "help_message_sample", "PrivacyPolicyUrl": "privacy_policy_url",
    "TermsAndConditionsUrl": "terms_and_conditions_url", "VettingProvider": "vetting_provider",
    "VettingId": "vetting_id",
}  # fmt: skip
LISTS = {
    "UseCaseCategories": "use_case_categories",
    "OptInImageUrls": "opt_in_image_urls",
    "OptInKeywords": "opt_in_keywords",
}
DEFAULT_REJECTION = (30513, "Opt-in not sufficient: the opt-in language is unclear.")


class TollfreeMixin(TwilioBase):
    """Toll-free verification requests, their review and their events."""

    tollfree_in_review_seconds: float = 5.0
    tollfree_approve_seconds: float | None = None  # decided by a person unless set

    def tollfree_url(self, path: str = "") -> str:
        return f"{self.base_url('messaging')}/v1/Tollfree/Verifications{path}"

    if TYPE_CHECKING:  # events.EventsMixin

        def emit_event(
            self, account_sid: str, type_: str, source: str, data: dict[str, Any]
        ) -> int: ...

    def __init__(self, sandbox: Sandbox) -> None:
        super().__init__(sandbox)
        self.tollfree: dict[str, dict[str, Any]] = {}  # HH sid -> request

    # -- routes -------------------------------------------------------------------------------
    def tollfree_route(self, request: Request, principal: Principal) -> Response:
        if request.method == "GET":
            args = request.args
            wanted = {
                "tollfree_phone_number_sid": args.get("TollfreePhoneNumberSid"),
                "status": args.get("Status"),
                "external_reference_id": args.get("ExternalReferenceId"),
            }
            items = [
                public(v)
                for v in self.tollfree.values()
                if v["account_sid"] == principal.sid
                and all(value in (None, v[key]) for key, value in wanted.items())
            ]
            return json_response(page_v1(request, items, "verifications", self.tollfree_url()))
        params = form(request)
        for name in REQUIRED:
            if not (params.getlist(name) if name in LISTS else params.get(name)):
                raise missing(name)
        if params.get("BusinessType") != "SOLE_PROPRIETOR":
            # Required for new submissions since 2026, except for sole proprietors.
            for name in REGISTRATION:
                if not params.get(name):
                    raise missing(name)
        self._check_values(params)
        number = self._toll_free_number(principal, params["TollfreePhoneNumberSid"])
        for other in self.tollfree.values():
            if other["tollfree_phone_number_sid"] == number["sid"] and other["status"] != (
                "TWILIO_REJECTED"
            ):
                raise TwilioError(
                    409, 20001, f"A verification {other['sid']} already exists for this number"
                )
        now = self.clock.time()
        sid = self.sandbox.ids.sid("HH")
        record: dict[str, Any] = {
            "sid": sid, "account_sid": principal.sid, "customer_profile_sid":
            params.get("CustomerProfileSid"), "trust_product_sid": self.sandbox.ids.sid("BU"),
            "date_created": iso(now), "date_updated": iso(now),
            "regulated_item_sid": self.sandbox.ids.sid("RA"),
            "tollfree_phone_number_sid": number["sid"],
            "tollfree_phone_number": number["phone_number"], "status": "PENDING_REVIEW",
            "url": self.tollfree_url(f"/{sid}"), "rejection_reason": None,
            "rejection_reasons": None,
            "error_code": None, "edit_expiration": None, "edit_allowed": None,
            "resource_links": None, "external_reference_id": params.get("ExternalReferenceId"),
            "age_gated_content": False, "vetting_id_expiration": None,
            "_since": now,
        }  # fmt: skip
        for field in (*TEXT.values(), *LISTS.values()):
            record.setdefault(field, None)
        self._apply_fields(record, params)
        self.tollfree[sid] = record
        self._tollfree_event(record, "pending-review")
        return json_response(public(record), 201)

    def tollfree_item(self, request: Request, principal: Principal, sid: str) -> Response:
        record = self.tollfree.get(sid)
        if record is None or record["account_sid"] != principal.sid:
            raise not_found(request.path.removeprefix("/messaging"))
        if request.method == "DELETE":
            del self.tollfree[sid]
            return Response(status=204)
        if request.method == "POST":
            return self._edit(record, form(request))
        return json_response(public(record))

    def _edit(self, record: dict[str, Any], params: Any) -> Response:
        """An edit of a rejected request: back to review; otherwise refused."""
        if record["status"] != "TWILIO_REJECTED" or not record["edit_allowed"]:
            raise TwilioError(
                400, 20001, "Only a rejected verification that allows edits can be edited"
            )
        if self.clock.time() > record["_edit_until"]:
            raise TwilioError(400, 30437, "Toll Free verification rejection - Edit time expired")
        self._check_values(params)
        self._apply_fields(record, params)
        self._tollfree_status(
            record, "PENDING_REVIEW", rejection_reason=None, rejection_reasons=None,
            error_code=None, edit_allowed=None, edit_expiration=None,
        )  # fmt: skip
        self._tollfree_event(record, "edit")
        return json_response(public(record), 202)

    # -- checks -------------------------------------------------------------------------------
    @staticmethod
    def _check_values(params: Any) -> None:
        for name, allowed in ENUMS.items():
            if params.get(name) and params[name] not in allowed:
                raise invalid(name, f"{params[name]!r} is not one of {', '.join(allowed)}")
        unknown = [c for c in params.getlist("UseCaseCategories") if c not in CATEGORIES]
        if unknown:
            raise invalid("UseCaseCategories", f"unknown {', '.join(unknown)}")
        boolean(params, "AgeGatedContent")

    def _toll_free_number(self, principal: Principal, pn: str) -> dict[str, Any]:
        number = self.numbers.get(pn)
        if number is None or number["account_sid"] != principal.sid:
            raise invalid("TollfreePhoneNumberSid", "no such phone number in this account")
        phone = number["phone_number"]
        if not (phone.startswith("+1") and phone[2:5] in TOLL_FREE_AREAS):
            raise invalid("TollfreePhoneNumberSid", f"{phone} is not a toll-free number")
        return number

    @staticmethod
    def _apply_fields(record: dict[str, Any], params: Any) -> None:
        for param, field in TEXT.items():
            if params.get(param):
                record[field] = params[param]
        for param, field in LISTS.items():
            if params.getlist(param):
                record[field] = params.getlist(param)
        if params.get("AgeGatedContent"):
            record["age_gated_content"] = bool(boolean(params, "AgeGatedContent"))

    # -- review --------------------------------------------------------------------------------
    def _tollfree_status(self, record: dict[str, Any], status: str, **fields: Any) -> None:
        now = self.clock.time()
        record.update(fields, status=status, date_updated=iso(now), _since=now)

    def approve_tollfree(self, record: dict[str, Any]) -> None:
        self._tollfree_status(record, "TWILIO_APPROVED", rejection_reason=None,
                              rejection_reasons=None, error_code=None)  # fmt: skip
        self._tollfree_event(record, "twilio-approved")

    def reject_tollfree(
        self, record: dict[str, Any], reason: str, code: int, edit_allowed: bool = True
    ) -> None:
        until = self.clock.time() + EDIT_WINDOW
        self._tollfree_status(
            record, "TWILIO_REJECTED", rejection_reason=reason, error_code=code,
            rejection_reasons=[{"code": code, "description": reason}],
            edit_allowed=edit_allowed, edit_expiration=iso(until) if edit_allowed else None,
            _edit_until=until if edit_allowed else 0.0,
        )  # fmt: skip
        self._tollfree_event(record, "twilio-rejected")

    def tick_tollfree(self) -> None:
        # Events let go of the sandbox lock: iterate a snapshot.
        now = self.clock.time()
        for record in list(self.tollfree.values()):
            waited = now - record["_since"]
            if record["status"] == "PENDING_REVIEW" and waited >= self.tollfree_in_review_seconds:
                self._tollfree_status(record, "IN_REVIEW")
                self._tollfree_event(record, "in-review")
            elif (
                record["status"] == "IN_REVIEW"
                and self.tollfree_approve_seconds is not None
                and waited >= self.tollfree_approve_seconds
            ):
                self.approve_tollfree(record)

    def _tollfree_event(self, record: dict[str, Any], kind: str) -> None:
        """The documented event data (Twilio's toll-free Event Streams types)."""
        account = self.accounts.get(record["account_sid"]) or {}
        self.emit_event(
            record["account_sid"],
            EVENT + kind,
            f"/v1/Tollfree/Verifications/{record['sid']}",
            {
                "accountsid": record["account_sid"],
                "parentaccountsid": account.get("owner_account_sid", record["account_sid"]),
                "tollfreeverificationsid": record["sid"],
                "phonenumbersid": record["tollfree_phone_number_sid"],
                "phonenumber": record["tollfree_phone_number"],
                "customerprofilesid": record["customer_profile_sid"],
                "regulateditemsid": record["regulated_item_sid"],
                "trustproductsid": record["trust_product_sid"],
                "processeddate": int(self.clock.time() * 1000),
                "verificationstatus": record["status"].lower(),
            },
        )

    def tollfree_reviews(self) -> list[dict[str, Any]]:
        """Requests a person decides on the sandbox page."""
        return [
            {"sid": v["sid"], "account_sid": v["account_sid"],
             "phone_number": v["tollfree_phone_number"], "status": v["status"]}
            for v in self.tollfree.values()
            if v["status"] in ("PENDING_REVIEW", "IN_REVIEW")
        ][:50]  # fmt: skip

    # -- control actions --------------------------------------------------------------------------
    def control_approve_tollfree(self, *, sid: str) -> dict[str, Any]:
        """Approve a toll-free verification request now (twilio-approved event)."""
        record = self.tollfree[sid]
        self.approve_tollfree(record)
        return public(record)

    def control_reject_tollfree(
        self,
        *,
        sid: str,
        reason: str = DEFAULT_REJECTION[1],
        error_code: int = DEFAULT_REJECTION[0],
        edit_allowed: bool = True,
    ) -> dict[str, Any]:
        """Reject a request with a reason (twilio-rejected event); editable for 7 days
        unless ``edit_allowed`` is false."""
        record = self.tollfree[sid]
        self.reject_tollfree(record, str(reason)[:500], int(error_code), bool(edit_allowed))
        return public(record)

    def control_set_tollfree_timeline(
        self, *, in_review_seconds: float = 5.0, approve_seconds: float | None = None
    ) -> dict[str, Any]:
        """Seconds before a request is in review, and before one in review is approved
        (None: a person decides)."""
        self.tollfree_in_review_seconds = float(in_review_seconds)
        self.tollfree_approve_seconds = None if approve_seconds is None else float(approve_seconds)
        return {"in_review_seconds": self.tollfree_in_review_seconds,
                "approve_seconds": self.tollfree_approve_seconds}  # fmt: skip
