"""What a toll-free verification asks for: the fields, grouped as the form shows them,
their checks (one message per field) and their prefill from the business profile.

Field names are the SDK's (``tollfree_verifications.create`` keyword arguments) and the
enums are the vendored spec's (``tollfree_verification_enum_*`` in
``tests/specs/twilio_messaging_v1.json``). Since 2026 Twilio requires the business
registration number, its authority and its country for every business type except
``SOLE_PROPRIETOR`` (Twilio's toll-free API onboarding guide and its "new policy" guide).
"""

from __future__ import annotations

import re
from typing import Any

from email_validator import EmailNotValidError, validate_email

from .. import phones
from .a2p import EIN, URL  # the business profile's own checks
from .models import TenantBusinessInfo

BUSINESS_TYPES = ("PRIVATE_PROFIT", "PUBLIC_PROFIT", "SOLE_PROPRIETOR", "NON_PROFIT", "GOVERNMENT")
AUTHORITIES = (
    "EIN", "CBN", "CRN", "PROVINCIAL_NUMBER", "VAT", "ACN", "ABN", "BRN", "SIREN", "SIRET",
    "NZBN", "USt-IdNr", "CIF", "NIF", "CNPJ", "UID", "NEQ", "OTHER",
)  # fmt: skip
USE_CASE_CATEGORIES = (
    "TWO_FACTOR_AUTHENTICATION", "ACCOUNT_NOTIFICATIONS", "CUSTOMER_CARE", "CHARITY_NONPROFIT",
    "DELIVERY_NOTIFICATIONS", "FRAUD_ALERT_MESSAGING", "EVENTS", "HIGHER_EDUCATION", "K12",
    "MARKETING", "POLLING_AND_VOTING_NON_POLITICAL", "POLITICAL_ELECTION_CAMPAIGNS",
    "PUBLIC_SERVICE_ANNOUNCEMENT", "SECURITY_ALERT",
)  # fmt: skip
OPT_IN_TYPES = ("VERBAL", "WEB_FORM", "PAPER_FORM", "VIA_TEXT", "MOBILE_QR_CODE", "IMPORT")
# Twilio's monthly volume choices (the console's list; the API takes the same strings).
MESSAGE_VOLUMES = (
    "10", "100", "1,000", "10,000", "100,000", "250,000", "500,000", "750,000", "1,000,000",
    "5,000,000", "10,000,000+",
)  # fmt: skip
SOLE_PROPRIETOR = "SOLE_PROPRIETOR"

# The form's groups, in order: group title -> its fields.
GROUPS: dict[str, tuple[str, ...]] = {
    "Business": (
        "business_name", "doing_business_as", "business_type", "business_website",
        "business_street_address", "business_street_address2", "business_city",
        "business_state_province_region", "business_postal_code", "business_country",
    ),
    "Registration": (
        "business_registration_number", "business_registration_authority",
        "business_registration_country",
    ),
    "Contact": (
        "business_contact_first_name", "business_contact_last_name", "business_contact_email",
        "business_contact_phone", "notification_email",
    ),
    "Use case": ("use_case_categories", "use_case_summary", "additional_information"),
    "Opt-in evidence": (
        "opt_in_type", "opt_in_image_urls", "opt_in_confirmation_message", "privacy_policy_url",
        "terms_and_conditions_url",
    ),
    "Samples": ("production_message_sample", "help_message_sample"),
    "Volume": ("message_volume",),
}  # fmt: skip
FIELDS = tuple(name for names in GROUPS.values() for name in names)
LIST_FIELDS = {"use_case_categories", "opt_in_image_urls"}
OPTIONAL = {
    "doing_business_as", "business_street_address2", "additional_information",
    "opt_in_confirmation_message", "privacy_policy_url", "terms_and_conditions_url",
    "help_message_sample",
}  # fmt: skip
REGISTRATION = ("business_registration_number", "business_registration_authority",
                "business_registration_country")  # fmt: skip
CHOICES = {
    "business_type": BUSINESS_TYPES,
    "business_registration_authority": AUTHORITIES,
    "opt_in_type": OPT_IN_TYPES,
    "message_volume": MESSAGE_VOLUMES,
}
URLS = {"business_website", "privacy_policy_url", "terms_and_conditions_url"}
EMAILS = {"business_contact_email", "notification_email"}
PHONES = {"business_contact_phone"}
COUNTRIES = {"business_country", "business_registration_country"}
LENGTHS = {  # the platform's limits: Twilio rejects samples and summaries that say nothing
    "use_case_summary": (20, 2000),
    "production_message_sample": (20, 1024),
    "help_message_sample": (0, 1024),
    "opt_in_confirmation_message": (0, 1024),
    "additional_information": (0, 2000),
}
MAX_LENGTH = 255
COUNTRY = re.compile(r"[A-Z]{2}")
MAX_IMAGES = 10

LABELS = {
    "business_name": "Legal business name", "doing_business_as": "Doing business as",
    "business_type": "Business type", "business_website": "Website",
    "business_street_address": "Street address", "business_street_address2": "Address line 2",
    "business_city": "City", "business_state_province_region": "State or province",
    "business_postal_code": "Postal code", "business_country": "Country (2 letters)",
    "business_registration_number": "Registration number",
    "business_registration_authority": "Registration authority",
    "business_registration_country": "Registration country (2 letters)",
    "business_contact_first_name": "Contact first name",
    "business_contact_last_name": "Contact last name",
    "business_contact_email": "Contact e-mail", "business_contact_phone": "Contact phone",
    "notification_email": "E-mail for the review's result",
    "use_case_categories": "Use case categories", "use_case_summary": "How messaging is used",
    "additional_information": "Additional information", "opt_in_type": "How people opt in",
    "opt_in_image_urls": "Opt-in evidence URLs (one per line)",
    "opt_in_confirmation_message": "Opt-in confirmation message",
    "privacy_policy_url": "Privacy policy URL", "terms_and_conditions_url": "Terms URL",
    "production_message_sample": "Sample message", "help_message_sample": "HELP reply sample",
    "message_volume": "Messages per month",
}  # fmt: skip


def as_list(value: Any) -> list[str]:
    """A list field from a list, or from text with one item per line (or comma)."""
    items = value if isinstance(value, list | tuple) else re.split(r"[\n,]", str(value or ""))
    return [str(item).strip() for item in items if str(item).strip()]


def clean(values: dict[str, Any]) -> dict[str, Any]:
    """The submitted values trimmed, lists split, codes upper-cased where Twilio's are."""
    out: dict[str, Any] = {}
    for name in FIELDS:
        if name in LIST_FIELDS:
            out[name] = as_list(values.get(name))
        else:
            out[name] = str(values.get(name) or "").strip()
    for name in COUNTRIES:
        out[name] = out[name].upper()
    return out


def validate(values: dict[str, Any]) -> dict[str, str]:
    """Field -> message for every problem of cleaned ``values`` (empty: submittable)."""
    errors: dict[str, str] = {}
    sole = values.get("business_type") == SOLE_PROPRIETOR
    for name in FIELDS:
        value = values.get(name)
        if not value:
            if name not in OPTIONAL and not (sole and name in REGISTRATION):
                errors[name] = "This field is required."
            continue
        message = _problem(name, value)
        if message:
            errors[name] = message
    authority = values.get("business_registration_authority")
    number = values.get("business_registration_number") or ""
    if authority == "EIN" and number and not EIN.fullmatch(number):
        errors.setdefault("business_registration_number", "An EIN has 9 digits, like 12-3456789.")
    return errors


def _problem(name: str, value: Any) -> str | None:
    if name == "use_case_categories":
        unknown = [v for v in value if v not in USE_CASE_CATEGORIES]
        return f"Unknown category: {', '.join(unknown)}." if unknown else None
    if name == "opt_in_image_urls":
        if len(value) > MAX_IMAGES:
            return f"At most {MAX_IMAGES} URLs."
        bad = [v for v in value if not URL.fullmatch(v) or len(v) > 500]
        return "Each line must be a full public http(s) URL." if bad else None
    low, high = LENGTHS.get(name, (0, MAX_LENGTH))
    if not low <= len(value) <= high:
        return f"Between {low} and {high} characters." if low else f"At most {high} characters."
    if name in CHOICES and value not in CHOICES[name]:
        return "Choose one of the options."
    if name in URLS and not URL.fullmatch(value):
        return "Enter a full http(s) URL."
    if name in COUNTRIES and not COUNTRY.fullmatch(value):
        return "Two letters, like US or CA."
    if name in PHONES and not phones.is_phone_number(value):
        return phones.E164_HINT
    if name in EMAILS:
        try:
            validate_email(value, check_deliverability=False)
        except EmailNotValidError:
            return "Enter a valid e-mail address."
    return None


COMPANY_TYPES = {"private": "PRIVATE_PROFIT", "public": "PUBLIC_PROFIT",
                 "non_profit": "NON_PROFIT", "government": "GOVERNMENT"}  # fmt: skip


def prefill(info: TenantBusinessInfo | None) -> dict[str, Any]:
    """The values the company's business profile already gives (the rest stays empty)."""
    if info is None or info.id is None:
        return {"business_country": "US", "business_registration_country": "US",
                "business_registration_authority": "EIN"}  # fmt: skip
    first, _, last = (info.owner_name or "").partition(" ")
    sole = info.business_type == "Sole Proprietorship"
    return {
        "business_name": info.legal_business_name, "doing_business_as": info.dba_name,
        "business_type": SOLE_PROPRIETOR if sole else COMPANY_TYPES.get(info.company_type, ""),
        "business_website": info.business_website,
        "business_street_address": info.business_address, "business_city": info.business_city,
        "business_state_province_region": info.business_state,
        "business_postal_code": info.business_zip, "business_country": info.country,
        "business_registration_number": info.business_registration_number,
        "business_registration_authority": "EIN" if info.country == "US" else "",
        "business_registration_country": info.country,
        "business_contact_first_name": first, "business_contact_last_name": last,
        "business_contact_email": info.owner_email, "business_contact_phone": info.owner_phone,
        "notification_email": info.owner_email, "use_case_summary": info.campaign_description,
        "production_message_sample": info.sample_message_1,
        "privacy_policy_url": info.privacy_policy_url,
        "terms_and_conditions_url": info.terms_url,
    }  # fmt: skip


def to_twilio(values: dict[str, Any]) -> dict[str, Any]:
    """The SDK's keyword arguments for cleaned, valid ``values`` (empty ones left out)."""
    return {name: value for name, value in values.items() if value not in ("", [], None)}
