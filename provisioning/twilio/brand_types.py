"""10DLC brand types: which one a profile needs, what each costs and allows (docs/a2p.md).

Three registrations exist for a US business (Twilio, "Determine your brand type"):

- ``SOLE_PROPRIETOR``: no tax ID (EIN); the owner confirms a text sent to their mobile.
- ``LOW_VOLUME_STANDARD``: an EIN, under 6,000 segments a day; registered as a STANDARD
  brand with ``SkipAutomaticSecVet`` (no secondary vetting, no trust score).
- ``STANDARD``: an EIN; secondary vetting gives a trust score that sets the throughput.

The figures below are Twilio's published ones (fees: "A2P 10DLC Campaign Vetting FAQ";
throughput: "Message throughput (MPS) and Trust Scores for A2P 10DLC"); recheck them
when Twilio changes its prices.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

SOLE_PROPRIETOR, LOW_VOLUME_STANDARD, STANDARD = (
    "SOLE_PROPRIETOR",
    "LOW_VOLUME_STANDARD",
    "STANDARD",
)
OTP_VALID_HOURS = 24  # error 30752: the verification text is valid for 24 hours
MAX_OTP_RESENDS = 3  # the platform's own cap on "Send the code again"
# A registered entity's suffix in a sole proprietor's name: the carriers refuse it (30915).
ENTITY_SUFFIX = re.compile(r"\b(LLC|L\.L\.C\.|Inc\.?|Corp\.?|Corporation|Ltd\.?|LLP)\b", re.I)


@dataclass(frozen=True)
class BrandType:
    code: str
    label: str
    who: str
    brand_fee: str
    campaign_vetting_fee: str
    monthly_fee: str
    throughput: str
    daily_limit: str
    campaigns: str


BRAND_TYPES: dict[str, BrandType] = {
    SOLE_PROPRIETOR: BrandType(
        SOLE_PROPRIETOR, "Sole proprietor",
        "A person or business without an EIN (US or Canada).",
        "$4 once", "$15 per campaign submission", "$2 a month",
        "1 message segment per second", "1,000 a day to T-Mobile; about 3,000 a day in all",
        "One campaign (use case SOLE_PROPRIETOR) with one phone number",
    ),
    LOW_VOLUME_STANDARD: BrandType(
        LOW_VOLUME_STANDARD, "Low-volume standard",
        "A business with an EIN sending under 6,000 segments a day.",
        "$4 once (no secondary vetting)", "$15 per campaign submission",
        "$1.50 to $10 a month by use case",
        "About 3.75 segments per second in all (1.25 per major carrier)",
        "2,000 a day to T-Mobile; under 6,000 a day in all",
        "Several campaigns and numbers",
    ),
    STANDARD: BrandType(
        STANDARD, "Standard",
        "A business with an EIN; secondary vetting gives a trust score.",
        "$44 once ($4 brand + $40 secondary vetting)", "$15 per campaign submission",
        "$1.50 to $10 a month by use case",
        "12 to 225 segments per second by trust score",
        "2,000 to 200,000 a day to T-Mobile by trust score",
        "Several campaigns and numbers",
    ),
}  # fmt: skip

# trust score floor -> (total SMS segments/s toward the major US carriers, per carrier)
SCORE_TIERS = ((75, 225, 75), (50, 120, 40), (1, 12, 4), (0, 12, 4))

# Error codes seen on failed brands and campaigns, in plain words.
EXPLANATIONS = {
    30915: "Registered as a sole proprietor, but the business looks like a registered "
    "entity (an LLC, Inc. or Corp. name, an EIN, or public records). Register it again as "
    "a low-volume standard or standard brand with its EIN; the fees already paid are not "
    "refunded.",
    30752: "The sole proprietor's verification text expired (it is valid for 24 hours) or "
    "was not answered: send the code again and reply YES from the mobile phone.",
    30990: "The carriers suspended the campaign (its traffic did not match the registration, "
    "or a policy violation): messaging is halted until Twilio support lifts it.",
    30795: "The EIN and the legal business name did not match the IRS records.",
    30899: "One or more carriers rejected the campaign.",
}


def recommend(values: dict[str, Any]) -> str:
    """The brand type a profile needs: no EIN means a sole proprietor; an EIN with the
    low-volume use case suggests low-volume standard; otherwise standard."""
    if not str(values.get("business_registration_number") or "").strip():
        return SOLE_PROPRIETOR
    if values.get("use_case") == "LOW_VOLUME":
        return LOW_VOLUME_STANDARD
    return STANDARD


def check(values: dict[str, Any]) -> dict[str, str]:
    """Field -> message for what the chosen type forbids or needs."""
    kind = values.get("brand_type") or recommend(values)
    if kind not in BRAND_TYPES:
        return {"brand_type": "Choose a brand type."}
    errors: dict[str, str] = {}
    ein = str(values.get("business_registration_number") or "").strip()
    if kind == SOLE_PROPRIETOR:
        if ein:
            errors["business_registration_number"] = (
                "A sole proprietor has no EIN: remove it, or choose a standard brand type."
            )
        if ENTITY_SUFFIX.search(str(values.get("legal_business_name") or "")):
            errors["legal_business_name"] = (
                "An LLC, Inc. or Corp. is a registered entity with an EIN, not a sole "
                "proprietor (Twilio refuses it with error 30915)."
            )
        phone = str(values.get("owner_phone") or "")
        if phone and not phone.replace(" ", "").startswith("+1"):
            errors["owner_phone"] = (
                "The verification text goes to a US or Canadian mobile (+1): give one."
            )
    elif not ein:
        errors["business_registration_number"] = (
            f"A {BRAND_TYPES[kind].label.lower()} brand needs the business's EIN."
        )
    return errors


def explain(code: Any = None, reason: str | None = None) -> str | None:
    """The plain-words explanation of a failure code (also found inside a reason text)."""
    try:
        number = int(code) if code is not None else None
    except (TypeError, ValueError):
        number = None
    if number is None and reason:
        found = re.search(r"\b(30\d{3})\b", reason)
        number = int(found.group(1)) if found else None
    return EXPLANATIONS.get(number) if number is not None else None


def throughput(brand_type: str, score: int | None) -> str:
    """What the brand may send, for the page: fixed for the two small types, by trust
    score for standard brands. MMS count per message (no segments) against the same
    limits."""
    if brand_type != STANDARD:
        return BRAND_TYPES.get(brand_type, BRAND_TYPES[STANDARD]).throughput
    if score is None:
        return "Set by the trust score once secondary vetting is done."
    for floor, total, per_carrier in SCORE_TIERS:
        if score >= floor:
            return (
                f"Trust score {score}: {total} SMS segments or MMS per second in all "
                f"({per_carrier} per major carrier)"
            )
    return BRAND_TYPES[STANDARD].throughput
