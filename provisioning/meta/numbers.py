"""A number's calls to Graph after onboarding: adding (or migrating) a number to a WABA, its
verification code, its two-step PIN, deregistration, display name changes and the Official
Business Account badge. Thin functions over :class:`~provisioning.meta.api.GraphClient`, whose
error mapping they keep (credential codes -> ``AuthError``, throttles -> ``Retryable``, the
rest -> ``Rejected``); a POST with an effect (a code sent, a number added, a review asked
for, a registration call counted by Meta) is never retried here.

Meta's pages (developers.facebook.com): registering numbers (documentation/business-messaging/
whatsapp/solution-providers/registering-phone-numbers: ``POST /{waba}/phone_numbers`` with
``cc, phone_number, verified_name``, then ``request_code``, ``verify_code``, ``register``);
the request_code reference (docs/graph-api/reference/whats-app-business-account-to-number-
current-status/request_code: ``code_method`` SMS or VOICE, ``language``, error 136024);
two-step verification (.../business-phone-numbers/two-step-verification: ``POST /{PN}`` with
``pin``); display names (.../display-names, .../webhooks/reference/phone_number_name_update:
``new_display_name``, ``new_name_status``, ``rejection_reason``); Official Business Accounts
(.../official-business-accounts: ``oba_status``, ``status_message``); migration (.../solution-
providers/support/migrating-phone-numbers-among-solution-partners-programmatically and the
phone migration errors of docs/whatsapp/business-management-api/error-codes: 2388012 and
2388103, which Graph sends as ``error_subcode``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..errors import Rejected
from .api import GraphClient, bearer

CODE_TOO_SOON = "136024"  # "Request code error": asked again too soon
WRONG_CODE = "136025"  # "Verify code error": wrong, expired or voided code
ALREADY_PRESENT, CANNOT_MIGRATE = "2388012", "2388103"
NAME_FIELDS = "verified_name,name_status,new_display_name,new_name_status"

# Why Meta refuses a migration, in plain words (the key is :attr:`MigrationRefused.reason`).
MIGRATION_REFUSALS = {
    "two_step_enabled": "Two-step verification is still on at the current provider. Ask the "
    "business to turn it off in WhatsApp Manager (Phone numbers > Settings > Two-step "
    "verification), then try again.",
    "name_not_approved": "The number's display name is not approved yet at the current "
    "provider. Migration can start once Meta has approved it.",
    "name_change_pending": "A display name change is still being reviewed at the current "
    "provider. Wait for Meta's decision, then try again.",
    "destination_webhooks": "The platform's app is not subscribed to this WhatsApp account "
    "yet. Subscribe it (the onboarding does), then try again.",
    "already_present": "This number is already on this WhatsApp account.",
    "not_held_elsewhere": "This number is not registered with another provider: add it "
    "directly instead of migrating it.",
    "unknown": "Meta refused to migrate this number.",
}
_REFUSAL_WORDS = (
    ("Two-step", "two_step_enabled"),
    ("approved display name", "name_not_approved"),
    ("under review", "name_change_pending"),
    ("Webhooks", "destination_webhooks"),
    ("added directly", "not_held_elsewhere"),
)

# phone_number_name_update's rejection_reason, in plain words (M-wh/phone_number_name_update).
NAME_REJECTIONS = {
    "NAME_EMPLOYEE_ISSUE": "The name looks like a person's name or an employee's.",
    "NAME_INDIVIDUAL_ISSUE": "The name looks like a person's name.",
    "NAME_ENDCLIENT_NOTRELATED": "The name is another business's, not related to this one.",
    "NAME_FORMAT_UNACCEPTABLE": "The name's format is not accepted (capitals, punctuation, "
    "emoji or extra words).",
    "NAME_NOT_CONSISTENT": "The name does not match the business's brand (website, "
    "business portfolio).",
    "UNKNOWN": "Meta gave no reason.",
}
DECLINED_COST = (
    "While the display name is declined the number cannot register again, its name is not "
    "shown to customers and it cannot grow past its messaging limit."
)


@dataclass
class MigrationRefused(Rejected):
    """Meta refused ``migrate_phone_number``; ``reason`` is a key of MIGRATION_REFUSALS."""

    reason: str = "unknown"

    @property
    def explanation(self) -> str:
        return MIGRATION_REFUSALS.get(self.reason, MIGRATION_REFUSALS["unknown"])


@dataclass
class DisplayName:
    """A number's display name and the change under review, as Graph reports them."""

    verified_name: str | None
    name_status: str | None
    new_display_name: str | None
    new_name_status: str | None

    @property
    def change_pending(self) -> bool:
        return self.new_name_status == "PENDING_REVIEW"

    @property
    def change_approved(self) -> bool:
        """Approved, in effect once the number registers again."""
        return self.new_name_status == "APPROVED" and bool(self.new_display_name)

    @property
    def declined(self) -> bool:
        return "DECLINED" in (self.name_status, self.new_name_status)


@dataclass
class ObaStatus:
    """The latest Official Business Account request: ``status`` None when none was made."""

    status: str | None
    message: str | None


def migration_reason(exc: Rejected) -> str | None:
    """The MIGRATION_REFUSALS key of a refused migration, None for any other error."""
    if exc.subcode == ALREADY_PRESENT:
        return "already_present"
    if exc.subcode != CANNOT_MIGRATE:
        return None
    for words, reason in _REFUSAL_WORDS:
        if words.lower() in (exc.message or "").lower():
            return reason
    return "unknown"


def name_rejection(reason: str | None) -> str:
    """A ``rejection_reason`` in plain words."""
    return NAME_REJECTIONS.get(reason or "UNKNOWN", f"Meta's reason: {reason}.")


# -- adding a number ---------------------------------------------------------------------------
def add_number(
    graph: GraphClient,
    waba_id: str,
    token: str,
    *,
    cc: str,
    phone_number: str,
    verified_name: str = "",
    migrate: bool = False,
) -> str:
    """Put a number on the WABA (``migrate``: move it from the WABA that holds it now);
    returns its new phone number id. Not retried: after a lost answer, :func:`find_number`
    says whether Meta added it. A refused migration raises :class:`MigrationRefused`."""
    body: dict[str, Any] = {"cc": cc, "phone_number": phone_number}
    if verified_name:
        body["verified_name"] = verified_name
    if migrate:
        body["migrate_phone_number"] = True
    try:
        response = graph.request(
            "POST", f"/{waba_id}/phone_numbers", headers=bearer(token), json=body, idempotent=False
        )
    except Rejected as exc:
        reason = migration_reason(exc)
        if reason is None:
            raise
        raise MigrationRefused(
            exc.provider, exc.message, exc.http_status, exc.code, exc.subcode, exc.trace_id,
            reason=reason,
        ) from exc  # fmt: skip
    return str(response.json()["id"])


def migrate_number(
    graph: GraphClient,
    waba_id: str,
    token: str,
    *,
    cc: str,
    phone_number: str,
    verified_name: str = "",
) -> str:
    """Start moving a number in from another provider or WABA (Meta checks that two-step
    verification is off there, the display name approved and no change of it pending);
    then request_code, verify_code and register the returned id."""
    return add_number(graph, waba_id, token, cc=cc, phone_number=phone_number,
                      verified_name=verified_name, migrate=True)  # fmt: skip


def find_number(graph: GraphClient, waba_id: str, token: str, digits: str) -> str | None:
    """The id of the WABA's number whose E.164 digits are ``digits``, or None."""
    wanted = "".join(ch for ch in digits if ch.isdigit())
    for page, _ in graph.pages(
        f"/{waba_id}/phone_numbers", token, fields="id,display_phone_number", limit=100
    ):
        for phone in page.get("data") or []:
            shown = "".join(
                ch for ch in str(phone.get("display_phone_number") or "") if ch.isdigit()
            )
            if shown == wanted:
                return str(phone["id"])
    return None


# -- verification, PIN, registration ---------------------------------------------------------
def request_code(
    graph: GraphClient, phone_id: str, token: str, *, method: str = "SMS", language: str = "en_US"
) -> None:
    """Have Meta send a verification code by SMS or voice call. Not retried (each call sends
    a message; Meta refuses one asked too soon with 136024)."""
    params = {"code_method": method.upper(), "language": language}
    graph.request("POST", f"/{phone_id}/request_code", headers=bearer(token), json=params,
                  idempotent=False)  # fmt: skip


def verify_code(graph: GraphClient, phone_id: str, token: str, code: str) -> None:
    """Verify the number with the code received ("123-456" or "123456"). Not retried: a code
    works once. A wrong or expired code is ``Rejected`` with code 136025."""
    digits = "".join(ch for ch in code if ch.isdigit())
    graph.request("POST", f"/{phone_id}/verify_code", headers=bearer(token),
                  json={"code": digits}, idempotent=False)  # fmt: skip


def set_pin(graph: GraphClient, phone_id: str, token: str, pin: str) -> None:
    """Set or change the two-step verification PIN (sending the same PIN again is harmless,
    so this one may be retried)."""
    graph.request("POST", f"/{phone_id}", headers=bearer(token), json={"pin": pin},
                  idempotent=True)  # fmt: skip


def deregister(graph: GraphClient, phone_id: str, token: str) -> None:
    """Take the number off Cloud API. Counted in Meta's 10 calls per 72 hours: not retried."""
    graph.request("POST", f"/{phone_id}/deregister", headers=bearer(token), idempotent=False)


# -- display name ------------------------------------------------------------------------------
def request_display_name(graph: GraphClient, phone_id: str, token: str, name: str) -> None:
    """Ask Meta to review a new display name (one change at a time). Its decision comes
    with ``phone_number_name_update``; an approved name applies at the next registration."""
    body = {"messaging_product": "whatsapp", "new_display_name": name}
    graph.request("POST", f"/{phone_id}", headers=bearer(token), json=body, idempotent=False)


def display_name_status(graph: GraphClient, phone_id: str, token: str) -> DisplayName:
    phone = graph.get(f"/{phone_id}", token, fields=NAME_FIELDS)
    return DisplayName(
        verified_name=_text(phone.get("verified_name")),
        name_status=_text(phone.get("name_status")),
        new_display_name=_text(phone.get("new_display_name")),
        new_name_status=_text(phone.get("new_name_status")),
    )


# -- Official Business Account -----------------------------------------------------------------
def request_oba(
    graph: GraphClient,
    phone_id: str,
    token: str,
    *,
    business_website_url: str,
    primary_country_of_operation: str,
    primary_language: str,
    parent_business_or_brand: str | None = None,
    supporting_links: Iterable[str] = (),
    additional_supporting_information: str | None = None,
) -> ObaStatus:
    """Ask for the Official Business Account badge (the display name must be approved and
    two-step verification on); returns the request's status. Not retried."""
    body: dict[str, Any] = {
        "business_website_url": business_website_url,
        "primary_country_of_operation": primary_country_of_operation,
        "primary_language": primary_language,
    }
    links = [link for link in supporting_links if link]
    optional = {"parent_business_or_brand": parent_business_or_brand,
                "supporting_links": links or None,
                "additional_supporting_information": additional_supporting_information}  # fmt: skip
    body.update({key: value for key, value in optional.items() if value})
    answer = graph.request(
        "POST", f"/{phone_id}/official_business_account", headers=bearer(token), json=body,
        idempotent=False,
    ).json()  # fmt: skip
    status = answer.get("updated_status") if isinstance(answer, dict) else None
    if isinstance(status, dict):
        return ObaStatus(_text(status.get("oba_status")), _text(status.get("status_message")))
    return oba_status(graph, phone_id, token)


def oba_status(graph: GraphClient, phone_id: str, token: str) -> ObaStatus:
    body = graph.get(
        f"/{phone_id}/official_business_account", token, fields="oba_status,status_message"
    )
    return ObaStatus(_text(body.get("oba_status")), _text(body.get("status_message")))


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
