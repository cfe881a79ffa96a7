"""A number's life after onboarding: adding a number to a WABA, verification codes, display
name changes and their review, the Official Business Account badge, and numbers moved in
from another WABA (issue 17). The two-step PIN itself is ``POST /{PN}`` with ``pin``
(:meth:`~.handlers.HandlersMixin.post_node`); its controls are in :mod:`.number_controls`.

What Meta documents (developers.facebook.com), and what is followed here:

- Verification (docs/graph-api/reference/whats-app-business-account-to-number-current-status/
  request_code/; documentation/business-messaging/whatsapp/solution-providers/
  registering-phone-numbers/): create the number with ``cc, phone_number, verified_name``
  (``{"id"}``), ``request_code`` with ``code_method`` SMS or VOICE and a ``language``
  locale (``{"success": true}``, error 136024 "Request code error"), ``verify_code`` with
  the 6-digit ``code``, then register. The vendored OpenAPI description says codes are
  "typically" valid 10 minutes: that is the lifetime here.
- Display names (documentation/business-messaging/whatsapp/display-names/, .../webhooks/
  reference/phone_number_name_update, .../business-phone-numbers/registration/): a change is
  requested with ``new_display_name`` and read back as ``new_display_name`` and
  ``new_name_status``; the review ends with ``phone_number_name_update`` (``display_phone_
  number, decision, requested_verified_name, rejection_reason``); a rejected name leaves
  ``name_status`` DECLINED; an approved change takes effect when the number registers again
  ("re-registering before approval has no effect").
- Official Business Account (documentation/business-messaging/whatsapp/official-business-
  accounts): the display name must be approved; a refused request may be made again after
  30 days; no OBA for WhatsApp Business app numbers. ``GET|POST /{PN}/official_business_
  account`` answer ``oba_status`` and ``status_message`` (the reference and the vendored
  spec). The request carries the guide's fields (``business_website_url``, ``primary_
  country_of_operation``, ``primary_language``, ``parent_business_or_brand``, ``supporting_
  links``, ``additional_supporting_information``); the spec's ``action`` form (SUBMIT_,
  WITHDRAW_, RESUBMIT_APPLICATION with ``application_data``) is accepted too.
- Migration (documentation/business-messaging/whatsapp/solution-providers/support/
  migrating-phone-numbers-among-solution-partners-programmatically; docs/whatsapp/business-
  management-api/error-codes, "phone migration errors"): ``POST /{waba}/phone_numbers`` with
  ``migrate_phone_number=true``, then request_code, verify_code and register on the new id.
  Refused while two-step verification is on at the old provider, without an approved
  display name, with a name change pending, or without webhooks on the destination WABA
  (2388103 "Cannot migrate phone number"), for a number already in the WABA (2388012), and
  for a number nobody holds ("eligible to be added directly"). The codes are pywa's
  catalogue of that page; they travel as ``error_subcode`` under code 100, as the
  display-name error 2388001 was seen live (chatwoot CW-5692).

Simulator choices, not Meta's numbers: a new code at most once a minute (136024 sooner);
five wrong codes void the code (136025, "Verify code error", for every refused code);
reviews take ``display_name_review_seconds`` (60) and ``oba_review_seconds`` (120) on the
clock; a code is six digits derived from the sandbox seed, the number id and the time.
"""

from __future__ import annotations

import hashlib
import math
import re
from typing import Any

from .base import MetaBase
from .errors import GraphError, invalid_parameter, permission_error, register_error
from .fields import select
from .graph import Call
from .state import NameReview, ObaRequest, PhoneNumber, VerificationCode, Waba

CODE_METHODS = ("SMS", "VOICE")
CODE_TTL = 600.0
CODE_COOLDOWN = 60.0
MAX_WRONG_CODES = 5
LOCALE_RE = re.compile(r"^[a-z]{2,3}(_[A-Z]{2})?$")
CODE_RE = re.compile(r"^\d{6}$")
NAME_LENGTH = (2, 75)  # the vendored spec's verified_name and new_display_name
NAME_REJECTIONS = ("NAME_EMPLOYEE_ISSUE", "NAME_ENDCLIENT_NOTRELATED", "NAME_FORMAT_UNACCEPTABLE",
                   "NAME_INDIVIDUAL_ISSUE", "NAME_NOT_CONSISTENT", "UNKNOWN")  # fmt: skip
NAME_DECISIONS = ("APPROVED", "REJECTED", "DEFERRED")
APPROVED_NAMES = ("APPROVED", "AVAILABLE_WITHOUT_REVIEW")
OBA_RETRY_AFTER = 30 * 86400.0
OBA_FIELDS = ("oba_status", "status_message")
OBA_MESSAGES = {
    "PENDING": "The request is being reviewed.",
    "APPROVED": "The phone number is an Official Business Account.",
    "REJECTED": "The request was not approved; a new one can be made 30 days after the decision.",
    "CANCELLED": "The request was withdrawn.",
}
OBA_ACTIONS = ("SUBMIT_APPLICATION", "RESUBMIT_APPLICATION", "WITHDRAW_APPLICATION")
ALREADY_PRESENT, CANNOT_MIGRATE = 2388012, 2388103
GONE = ("MIGRATED", "DELETED")


def refused(title: str, detail: str, subcode: int | None = None) -> GraphError:
    """Meta's answer to a business rule: code 100 with a title and a message for people."""
    return GraphError("Invalid parameter", 100, subcode=subcode, is_transient=False,
                      user_title=title, user_msg=detail)  # fmt: skip


def cannot_migrate(detail: str) -> GraphError:
    return refused("Cannot migrate phone number", detail, CANNOT_MIGRATE)


def code_error(detail: str) -> GraphError:
    return register_error(136025, "Verify code error", detail)


def full_number(cc: str, number: str, known: set[str]) -> str:
    """E.164 digits from ``cc`` and ``phone_number``, which Meta's examples give both with
    the country code (the spec's) and without (the registration guide's): a number the
    sandbox knows wins, then an 11-digit or longer one that starts with ``cc`` is taken as
    already international (a simulator's guess for numbers it does not know)."""
    if cc + number in known:
        return cc + number
    if number.startswith(cc) and (number in known or len(number) >= 11):
        return number
    return cc + number


class NumbersMixin(MetaBase):
    """Numbers added, verified, renamed, badged and migrated, with their timelines."""

    # -- adding a number (and migrating one in) -----------------------------------------------
    def add_phone_number(self, call: Call, waba_id: str) -> dict[str, Any]:
        """``POST /{waba}/phone_numbers``: a new unverified number, or a migration."""
        token = self.authenticate(call)
        waba = self.waba_for(call, waba_id, token)
        if token.kind == "APP":
            raise permission_error()
        cc = "".join(ch for ch in str(call.params.get("cc") or "") if ch.isdigit())
        number = "".join(ch for ch in str(call.params.get("phone_number") or "") if ch.isdigit())
        if not cc or not number:
            raise invalid_parameter(
                f"The parameter {'cc' if not cc else 'phone_number'} is required"
            )
        digits = full_number(cc, number, self.numbers_in_use)
        held = [p for p in self.phones.values() if p.number == digits and p.status not in GONE]
        if any(p.waba_id == waba.id for p in held):
            raise refused("Phone number already exists", "This phone number already exists in "
                          "your list of phone numbers.", ALREADY_PRESENT)  # fmt: skip
        if str(call.params.get("migrate_phone_number", "")).lower() in ("true", "1"):
            return {"id": self._migrate(waba, digits, held).id}
        if held:
            raise refused("Phone number in use", "This phone number is registered on another "
                          "WhatsApp Business account: migrate it instead.")  # fmt: skip
        name = str(call.params.get("verified_name") or "").strip()
        if not NAME_LENGTH[0] <= len(name) <= NAME_LENGTH[1]:
            raise invalid_parameter("Param verified_name must be 2 to 75 characters long")
        return {"id": self.new_phone(waba, number=digits, verified_name=name, verified=False).id}

    def _migrate(self, waba: Waba, digits: str, held: list[PhoneNumber]) -> PhoneNumber:
        """The migrating number on the destination WABA, after the documented checks."""
        if not held:
            raise cannot_migrate("This phone number is eligible to be added directly, and does "
                                 "not need to use phone migration APIs.")  # fmt: skip
        source = held[0]
        if not waba.subscribed_apps:
            raise cannot_migrate("Webhooks have not been set up for the destination WhatsApp "
                                 "Business account.")  # fmt: skip
        if source.name_status not in APPROVED_NAMES:
            raise cannot_migrate("The business phone number must have an approved display name.")
        if source.new_name_status == "PENDING_REVIEW" or source.id in self.name_reviews:
            raise cannot_migrate("The business phone number has a display name change under "
                                 "review: wait for its decision.")  # fmt: skip
        if source.pin is not None:
            raise cannot_migrate("Two-step authentication must be disabled for this phone number.")
        phone = self.new_phone(waba, number=digits, verified_name=source.verified_name,
                               verified=False)  # fmt: skip
        self.name_reviews.pop(phone.id, None)  # the display name moves with the number
        phone.name_ready_at = None
        phone.name_status, phone.quality_rating = source.name_status, source.quality_rating
        phone.throughput_level = source.throughput_level
        phone.is_official_business_account = source.is_official_business_account
        self.migrations[phone.id] = source.id
        return phone

    def after_register(self, phone: PhoneNumber) -> None:
        """A migration ends at the destination's registration; an approved name change
        takes effect at the registration after its approval (and the badge goes with the
        old name)."""
        source = self.phones.get(self.migrations.pop(phone.id, ""))
        if source is not None:
            source.status = "MIGRATED"
        if phone.new_name_status == "APPROVED" and phone.new_display_name:
            self._apply_name(phone, phone.new_display_name)

    def _apply_name(self, phone: PhoneNumber, name: str) -> None:
        if phone.is_official_business_account and name != phone.verified_name:
            phone.is_official_business_account = False
            self.oba_requests.pop(phone.id, None)
        phone.verified_name, phone.name_status = name, "APPROVED"
        phone.new_display_name = phone.new_name_status = None

    # -- verification codes -------------------------------------------------------------------
    def verification(self, call: Call, phone_id: str, step: str) -> dict[str, Any]:
        """``POST /{PN}/request_code`` and ``POST /{PN}/verify_code``."""
        token = self.authenticate(call)
        phone = self.phone_for(call, phone_id, token)
        if step == "request_code":
            return self._request_code(call, phone)
        return self._verify_code(call, phone)

    def _request_code(self, call: Call, phone: PhoneNumber) -> dict[str, Any]:
        method = str(call.params.get("code_method") or "").upper()
        if method not in CODE_METHODS:
            raise invalid_parameter("Param code_method must be one of {SMS, VOICE}")
        language = str(call.params.get("language") or "")
        if not LOCALE_RE.match(language):
            raise invalid_parameter("Param language must be a locale, e.g. en_US")
        now = self.clock.time()
        last = self.verification_codes.get(phone.id)
        if last is not None and now - last.sent_at < CODE_COOLDOWN:
            wait = max(1, math.ceil(CODE_COOLDOWN - (now - last.sent_at)))
            detail = f"Wait {wait} seconds before requesting another code."
            raise register_error(136024, "Request code error", detail)
        seed = f"{self.sandbox.seed}:{phone.id}:{now!r}".encode()
        code = f"{int(hashlib.sha256(seed).hexdigest(), 16) % 1_000_000:06d}"
        self.verification_codes[phone.id] = VerificationCode(code, method, language, now)
        deliver = getattr(self.sandbox, "deliver_text", None)
        if deliver is not None:  # to the phone, wherever it is simulated (a Twilio number)
            deliver("+" + phone.number, f"Your WhatsApp Business code is {code[:3]}-{code[3:]}",
                    method)  # fmt: skip
        return {"success": True}

    def _verify_code(self, call: Call, phone: PhoneNumber) -> dict[str, Any]:
        given = str(call.params.get("code") or "")
        if not CODE_RE.match(given):
            raise invalid_parameter("Param code must be the 6 digits of the code received")
        sent = self.verification_codes.get(phone.id)
        if sent is None:
            raise code_error("No code was requested for this phone number: request one first.")
        if self.clock.time() - sent.sent_at > CODE_TTL:
            del self.verification_codes[phone.id]
            raise code_error("The code has expired: request a new code.")
        if given != sent.code:
            sent.wrong_attempts += 1
            if sent.wrong_attempts >= MAX_WRONG_CODES:
                del self.verification_codes[phone.id]
                raise code_error("Too many wrong codes: request a new code.")
            raise code_error("The code you entered is incorrect.")
        del self.verification_codes[phone.id]
        phone.code_verification_status = "VERIFIED"
        return {"success": True}

    # -- display names ------------------------------------------------------------------------
    def request_display_name(self, call: Call, phone: PhoneNumber) -> dict[str, Any]:
        """``POST /{PN}`` with ``new_display_name``: reviewed on the clock, one at a time."""
        name = str(call.params.get("new_display_name") or "").strip()
        if not NAME_LENGTH[0] <= len(name) <= NAME_LENGTH[1]:
            raise invalid_parameter("Param new_display_name must be 2 to 75 characters long")
        if phone.id in self.name_reviews:
            raise refused("Display name under review", "A display name for this phone number "
                          "is being reviewed: wait for its decision.")  # fmt: skip
        phone.new_display_name, phone.new_name_status = name, "PENDING_REVIEW"
        review = NameReview(name, self.clock.time() + self.display_name_review_seconds)
        self.name_reviews[phone.id] = review
        if self.display_name_review_seconds <= 0:
            self.decide_name(phone, "APPROVED")
        return {"success": True}

    def decide_name(
        self, phone: PhoneNumber, decision: str, reason: str | None = None
    ) -> list[dict[str, Any]]:
        """End (or defer) the number's review and send ``phone_number_name_update``. With no
        review pending, ``decision`` is about the current name (the verification Meta runs
        when a number reaches a higher messaging limit)."""
        if decision not in NAME_DECISIONS:
            raise ValueError(f"decision must be one of {', '.join(NAME_DECISIONS)}")
        review = self.name_reviews.pop(phone.id, None) or NameReview(
            phone.verified_name, self.clock.time(), initial=True
        )
        if decision == "DEFERRED":
            review.decide_at = self.clock.time() + self.display_name_review_seconds
            self.name_reviews[phone.id] = review
        elif review.initial:
            phone.name_ready_at = None
            phone.name_status = "APPROVED" if decision == "APPROVED" else "DECLINED"
        elif decision == "REJECTED":
            phone.new_name_status = "DECLINED"
        elif phone.registered:
            phone.new_name_status = "APPROVED"  # in effect once the number registers again
        else:
            self._apply_name(phone, review.requested_name)
        value = {
            "display_phone_number": phone.number,
            "decision": decision,
            "requested_verified_name": review.requested_name,
            "rejection_reason": (reason or "UNKNOWN") if decision == "REJECTED" else None,
        }
        return self.emit_webhook(phone.waba_id, "phone_number_name_update", value)

    # -- Official Business Account ------------------------------------------------------------
    def official_business_account(self, call: Call, phone_id: str) -> dict[str, Any]:
        """``GET`` reads the latest request's status; ``POST`` asks for the badge (or
        withdraws a pending request)."""
        token = self.authenticate(call)
        phone = self.phone_for(call, phone_id, token)
        request = self.oba_requests.get(phone.id)
        if call.method == "POST":
            request = self._request_oba(call, phone, request)
            status = {"id": phone.id, "oba_status": request.status,
                      "status_message": self.oba_message(request)}  # fmt: skip
            message = f"Official Business Account request {request.status.lower()}"
            return {"success": True, "message": message, "updated_status": status}
        node = {
            "id": phone.id,
            "oba_status": request.status if request else None,  # never asked: no value
            "status_message": self.oba_message(request) if request else None,
        }
        fields = call.params.get("fields")
        return select(node, fields, "OfficialBusinessAccount", OBA_FIELDS, call.version)

    def _request_oba(self, call: Call, phone: PhoneNumber, last: ObaRequest | None) -> ObaRequest:
        params, now = call.params, self.clock.time()
        action = str(params.get("action") or "SUBMIT_APPLICATION").upper()
        if action not in OBA_ACTIONS:
            raise invalid_parameter(f"Param action must be one of {{{', '.join(OBA_ACTIONS)}}}")
        if action == "WITHDRAW_APPLICATION":
            if last is None or last.status != "PENDING":
                raise refused("No request to withdraw", "No Official Business Account request "
                              "is being reviewed for this phone number.")  # fmt: skip
            last.status, last.decided_at = "CANCELLED", now
            return last
        data = params.get("application_data")
        details = dict(data) if isinstance(data, dict) else {}
        details.update({k: v for k, v in params.items() if k not in ("action", "application_data")})
        if not (details.get("business_website_url") or details.get("website_url")):
            raise invalid_parameter("The parameter business_website_url is required")
        self._check_oba(phone, last, now)
        request = ObaRequest("PENDING", now, now + self.oba_review_seconds, details)
        self.oba_requests[phone.id] = request
        return request

    def _check_oba(self, phone: PhoneNumber, last: ObaRequest | None, now: float) -> None:
        title = "Not eligible for Official Business Account"
        if phone.is_on_biz_app:
            raise refused(title, "WhatsApp Business app phone numbers cannot be Official "
                          "Business Accounts.")  # fmt: skip
        if phone.name_status not in APPROVED_NAMES or phone.name_ready_at is not None:
            raise refused(title, "The phone number's display name must be approved first.")
        if phone.pin is None:
            raise refused(title, "Two-step verification must be enabled on the phone number.")
        if last is not None and last.status in ("PENDING", "APPROVED"):
            raise refused("Request already made", f"This phone number's request is "
                          f"{last.status.lower()}.")  # fmt: skip
        refused_at = last.decided_at if last is not None and last.status == "REJECTED" else None
        if refused_at is not None and now - refused_at < OBA_RETRY_AFTER:
            raise refused(title, "A new request can be made 30 days after a refusal.")

    def decide_oba(self, phone: PhoneNumber, decision: str, reason: str | None = None) -> None:
        """APPROVED gives the number its badge; REJECTED keeps ``reason`` as the message."""
        request = self.oba_requests.get(phone.id)
        if request is None or request.status != "PENDING":
            raise LookupError(f"no Official Business Account request pending for {phone.id}")
        if decision not in ("APPROVED", "REJECTED"):
            raise ValueError("decision must be APPROVED or REJECTED")
        request.status, request.decided_at = decision, self.clock.time()
        request.rejection = reason if decision == "REJECTED" else None
        phone.is_official_business_account = decision == "APPROVED"

    @staticmethod
    def oba_message(request: ObaRequest) -> str:
        if request.status == "REJECTED" and request.rejection:
            return request.rejection
        return OBA_MESSAGES.get(request.status, request.status)

    # -- the clock ----------------------------------------------------------------------------
    def tick_numbers(self) -> None:
        """Decide the display names and OBA requests whose review time has come."""
        now = self.clock.time()
        for phone_id, review in list(self.name_reviews.items()):
            if review.decide_at > now:
                continue
            if phone_id not in self.phones:
                del self.name_reviews[phone_id]
                continue
            decision = "REJECTED" if review.rejection else "APPROVED"
            self.decide_name(self.phones[phone_id], decision, review.rejection)
        for phone_id, request in list(self.oba_requests.items()):
            if request.status == "PENDING" and request.decide_at <= now:
                decision = "REJECTED" if request.rejection else "APPROVED"
                self.decide_oba(self.phones[phone_id], decision, request.rejection)
