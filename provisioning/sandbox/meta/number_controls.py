"""Control actions for a number's life after onboarding (``POST /_sandbox/meta/<action>`` or
``sandbox.meta.control_<action>``): the code a number received, a PIN changed elsewhere,
the display name and OBA reviews, and numbers held at another provider for a migration.
The Graph side is :mod:`.numbers`."""

from __future__ import annotations

import hashlib
from typing import Any

from .base import MetaBase
from .numbers import CODE_TTL, NAME_DECISIONS, NAME_REJECTIONS
from .state import PhoneNumber

OBA_REFUSAL = "The business does not meet the notability criteria."


def digits_of(number: str) -> str:
    return "".join(ch for ch in number if ch.isdigit())


class NumberControlsMixin(MetaBase):
    """Seeding and decisions for verification, PINs, display names, OBA and migrations."""

    # -- verification and PINs ----------------------------------------------------------------
    def control_seed_unverified_number(
        self, *, waba_id: str, number: str | None = None, verified_name: str | None = None
    ) -> dict[str, Any]:
        """Add a number to a WABA as a customer finishing without verification leaves it
        (PENDING, NOT_VERIFIED): it must request and verify a code before ``/register``."""
        waba = self.wabas[waba_id]
        name = verified_name or self.businesses[waba.business_id].name
        phone = self.new_phone(waba, number=number, verified_name=name, verified=False)
        return {"phone_number_id": phone.id, "display_phone_number": phone.number}

    def control_last_code(self, *, phone_number_id: str) -> dict[str, Any]:
        """The code ``request_code`` last sent to the number (LookupError when none is
        outstanding: never asked, verified, expired or voided)."""
        sent = self.verification_codes.get(phone_number_id)
        if sent is None or self.clock.time() - sent.sent_at > CODE_TTL:
            raise LookupError(f"no verification code outstanding for {phone_number_id}")
        return {
            "phone_number_id": phone_number_id,
            "code": sent.code,
            "code_method": sent.method,
            "language": sent.language,
            "expires_at": sent.sent_at + CODE_TTL,
        }

    def control_pin_changed_elsewhere(
        self, *, phone_number_id: str, pin: str | None = None, requester: str | None = None
    ) -> dict[str, Any]:
        """Someone changed the number's two-step PIN in WhatsApp Manager: the PIN becomes
        ``pin`` (default: one derived from the number) and the ``security`` webhook tells
        PIN_CHANGED, as ``control_security_event`` does."""
        phone = self.phones[phone_number_id]
        if pin is None:
            seed = f"{self.sandbox.seed}:{phone.id}:{phone.pin}".encode()
            pin = f"{int(hashlib.sha256(seed).hexdigest(), 16) % 1_000_000:06d}"
        if len(pin) != 6 or not pin.isdigit():
            raise ValueError("pin must be 6 digits")
        phone.pin = pin
        value: dict[str, Any] = {"display_phone_number": phone.number, "event": "PIN_CHANGED"}
        if requester:
            value["requester"] = requester
        sent = self.emit_webhook(phone.waba_id, "security", value, phone.id)
        return {"phone_number_id": phone.id, "pin": pin, "sent": sent}

    # -- display names ------------------------------------------------------------------------
    def control_set_display_name_review(self, *, seconds: float = 60.0) -> dict[str, Any]:
        """Display name changes requested from now on are decided ``seconds`` later."""
        self.display_name_review_seconds = float(seconds)
        return {"seconds": self.display_name_review_seconds}

    def control_reject_display_name(
        self, *, phone_number_id: str, reason: str = "NAME_FORMAT_UNACCEPTABLE", now: bool = False
    ) -> dict[str, Any]:
        """The number's pending review (a new number's name, or a change) rejects with
        ``reason`` when it ends; ``now`` decides it at once (with nothing pending: the
        verification of the current name, which leaves ``name_status`` DECLINED)."""
        if reason not in NAME_REJECTIONS:
            raise ValueError(f"reason must be one of {', '.join(NAME_REJECTIONS)}")
        phone = self.phones[phone_number_id]
        review = self.name_reviews.get(phone.id)
        if now or review is None:
            if review is None and not now:
                raise LookupError(f"no display name under review for {phone_number_id}")
            sent = self.decide_name(phone, "REJECTED", reason)
            return {"phone_number_id": phone.id, "decided": True, "sent": sent}
        review.rejection = reason
        return {"phone_number_id": phone.id, "decided": False, "decide_at": review.decide_at}

    def control_review_display_name(
        self, *, phone_number_id: str, decision: str = "APPROVED", reason: str | None = None
    ) -> dict[str, Any]:
        """Decide the number's display name now: APPROVED, REJECTED (with ``reason``) or
        DEFERRED (reviewed again later)."""
        if decision not in NAME_DECISIONS:
            raise ValueError(f"decision must be one of {', '.join(NAME_DECISIONS)}")
        phone = self.phones[phone_number_id]
        sent = self.decide_name(phone, decision, reason)
        return {
            "phone_number_id": phone.id,
            "name_status": phone.name_status,
            "new_name_status": phone.new_name_status,
            "sent": sent,
        }

    # -- Official Business Account ------------------------------------------------------------
    def control_set_oba_review(self, *, seconds: float = 120.0) -> dict[str, Any]:
        """OBA requests made from now on are decided ``seconds`` later."""
        self.oba_review_seconds = float(seconds)
        return {"seconds": self.oba_review_seconds}

    def control_reject_oba(
        self, *, phone_number_id: str, reason: str = OBA_REFUSAL, now: bool = False
    ) -> dict[str, Any]:
        """The number's pending OBA request is refused with ``reason`` when its review ends
        (``now``: at once)."""
        phone = self.phones[phone_number_id]
        request = self.oba_requests.get(phone.id)
        if request is None or request.status != "PENDING":
            raise LookupError(f"no Official Business Account request pending for {phone.id}")
        if now:
            self.decide_oba(phone, "REJECTED", reason)
        else:
            request.rejection = reason
        return {"phone_number_id": phone.id, "oba_status": request.status}

    def control_review_oba(self, *, phone_number_id: str) -> dict[str, Any]:
        """Approve the number's pending OBA request now."""
        phone = self.phones[phone_number_id]
        self.decide_oba(phone, "APPROVED")
        return {"phone_number_id": phone.id, "oba_status": "APPROVED"}

    # -- numbers held at another provider -----------------------------------------------------
    def control_seed_number_elsewhere(
        self,
        *,
        number: str | None = None,
        verified_name: str = "Moving Company",
        name_status: str = "APPROVED",
        pending_name: str | None = None,
        two_step: bool = True,
    ) -> dict[str, Any]:
        """A number registered at another provider (a WABA no app of the sandbox can
        read), with its old provider's state: the display name's status, a name change
        under review there, and two-step verification (on: a PIN is set)."""
        business = self.new_business(f"{verified_name} (old provider)")
        waba = self.new_waba(business.id, f"{verified_name} WABA", None)
        phone = self.new_phone(waba, number=number, verified_name=verified_name, status="CONNECTED")
        self.name_reviews.pop(phone.id, None)
        phone.name_ready_at, phone.last_onboarded_time = None, self.clock.time()
        self._old_provider(phone, two_step, name_status, pending_name)
        return {
            "number": "+" + phone.number,
            "cc": "1" if phone.number.startswith("1") else phone.number[:2],
            "phone_number_id": phone.id,
            "waba_id": waba.id,
            "pin": phone.pin,
        }

    def control_set_old_provider(
        self,
        *,
        number: str,
        two_step: bool | None = None,
        name_status: str | None = None,
        pending_name: str | None = None,
    ) -> dict[str, Any]:
        """Change what the old provider holds for ``number`` (E.164): turn two-step
        verification off (or on), set the display name's status, put a name change under
        review there (``pending_name``) or end it (``pending_name=""``)."""
        wanted = digits_of(number)
        phone = next((p for p in self.phones.values() if p.number == wanted and p.registered), None)
        if phone is None:
            raise LookupError(f"no number {number} registered at another provider")
        self._old_provider(phone, two_step, name_status, pending_name)
        return {
            "number": "+" + phone.number,
            "two_step": phone.pin is not None,
            "name_status": phone.name_status,
            "new_name_status": phone.new_name_status,
        }

    def _old_provider(
        self,
        phone: PhoneNumber,
        two_step: bool | None,
        name_status: str | None,
        pending_name: str | None,
    ) -> None:
        if two_step is not None:
            phone.pin = (phone.pin or digits_of(phone.id)[-6:]) if two_step else None
        if name_status is not None:
            phone.name_status = name_status
        if pending_name is not None:
            phone.new_display_name = pending_name or None
            phone.new_name_status = "PENDING_REVIEW" if pending_name else None
