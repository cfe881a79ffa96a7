"""A2P 10DLC: the company's business profile, checked, and its submission as a brand.

Validation follows the fact sheet's §4 limits (campaign description 40-4096, message
flow 40-2048, samples 20-1024, use-case codes). Submitting snapshots the profile into a
new brand row and starts the ISV registration run (:mod:`.onboarding`).
"""

from __future__ import annotations

import re
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import audit, phones, runs
from ..db import utcnow
from ..errors import DomainError
from ..partners import PartnerConfiguration, ValidationFailed
from ..tenancy import Company
from . import brand_types, claims
from .models import BUSINESS_FIELDS, Tenant10DLCBrand, TenantBusinessInfo
from .onboarding import A2P_REGISTRATION, announce_brand

BUSINESS_TYPES = (
    "Sole Proprietorship", "Partnership", "Limited Liability Corporation", "Co-operative",
    "Non-profit Corporation", "Corporation",
)  # fmt: skip
INDUSTRIES = (
    "AUTOMOTIVE", "AGRICULTURE", "BANKING", "CONSTRUCTION", "CONSUMER", "EDUCATION",
    "ENGINEERING", "ENERGY", "OIL_AND_GAS", "FAST_MOVING_CONSUMER_GOODS", "FINANCIAL",
    "FINTECH", "FOOD_AND_BEVERAGE", "GOVERNMENT", "HEALTHCARE", "HOSPITALITY", "INSURANCE",
    "LEGAL", "MANUFACTURING", "MEDIA", "ONLINE", "PROFESSIONAL_SERVICES", "RAW_MATERIALS",
    "REAL_ESTATE", "RELIGION", "RETAIL", "JEWELRY", "TECHNOLOGY", "TELECOMMUNICATIONS",
    "TRANSPORTATION", "TRAVEL",
)  # fmt: skip
COMPANY_TYPES = ("private", "public", "non_profit", "government")
USE_CASES = (
    "2FA", "ACCOUNT_NOTIFICATION", "CUSTOMER_CARE", "DELIVERY_NOTIFICATION", "FRAUD_ALERT",
    "HIGHER_EDUCATION", "LOW_VOLUME", "MARKETING", "MIXED", "POLLING_VOTING",
    "PUBLIC_SERVICE_ANNOUNCEMENT", "SECURITY_ALERT",
)  # fmt: skip
EIN = re.compile(r"[0-9]{2}-?[0-9]{7}")  # ASCII digits: \d would take any script's
URL = re.compile(r"https?://[^\s/$.?#][^\s]*\.[^\s]{2,}", re.IGNORECASE)
STATE = re.compile(r"[A-Z]{2}")
ZIP = re.compile(r"[0-9]{5}(?:-[0-9]{4})?")
LENGTHS = {
    "campaign_description": (40, 4096),
    "message_flow": (40, 2048),
    "sample_message_1": (20, 1024),
    "sample_message_2": (20, 1024),
}
# the EIN is checked per brand type; no brand type means the recommended one
OPTIONAL = {"dba_name", "business_registration_number", "brand_type"}
PHONES = {"owner_phone"}  # stored in E.164 (provisioning.phones)


PATTERNS = {
    "business_registration_number": (EIN, "An EIN has 9 digits, like 12-3456789."),
    "business_website": (URL, "Enter a full http(s) URL."),
    "privacy_policy_url": (URL, "Enter a full http(s) URL."),
    "terms_url": (URL, "Enter a full http(s) URL."),
    "business_state": (STATE, "Two capital letters, like TX."),
    "business_zip": (ZIP, "A 5-digit ZIP code."),
}
CHOICES = {
    "country": (("US",), "10DLC registers US businesses only."),
    "business_type": (BUSINESS_TYPES, "Choose a business type."),
    "industry_vertical": (INDUSTRIES, "Choose an industry."),
    "company_type": (COMPANY_TYPES, "Choose a company type."),
    "use_case": (USE_CASES, "Choose a use case."),
    "brand_type": (tuple(brand_types.BRAND_TYPES), "Choose a brand type."),
}


def validate(values: dict[str, str]) -> dict[str, str]:
    """Field -> message for every problem (empty when the profile can be submitted)."""
    errors: dict[str, str] = {}
    for name in BUSINESS_FIELDS:
        value = (values.get(name) or "").strip()
        if not value:
            if name not in OPTIONAL:
                errors[name] = "This field is required."
            continue
        if name in PATTERNS and not PATTERNS[name][0].fullmatch(value):
            errors[name] = PATTERNS[name][1]
        elif name in PHONES and not phones.is_phone_number(value):
            errors[name] = "Give the phone in E.164 form, like +14155550123."
        elif name in CHOICES and value not in CHOICES[name][0]:
            errors[name] = CHOICES[name][1]
        elif name in LENGTHS and not LENGTHS[name][0] <= len(value) <= LENGTHS[name][1]:
            errors[name] = f"Between {LENGTHS[name][0]} and {LENGTHS[name][1]} characters."
    if values.get("owner_email") and "owner_email" not in errors:
        try:
            validate_email(values["owner_email"], check_deliverability=False)
        except EmailNotValidError:
            errors["owner_email"] = "Enter a valid e-mail address."
    for name, message in brand_types.check(values).items():
        errors.setdefault(name, message)
    return errors


def business_info(session: Session, company_id: int) -> TenantBusinessInfo:
    info = session.scalars(
        select(TenantBusinessInfo).where(TenantBusinessInfo.company_id == company_id)
    ).one_or_none()
    return info or TenantBusinessInfo(company_id=company_id)


def save_business_info(
    session: Session, actor: audit.Actor, company: Company, values: dict[str, Any]
) -> TenantBusinessInfo:
    """Save the editable profile; invalid values are refused with every field's message."""
    clean = {name: str(values.get(name) or "").strip() for name in BUSINESS_FIELDS}
    clean["business_state"] = clean["business_state"].upper()
    clean["brand_type"] = clean["brand_type"] or brand_types.recommend(clean)
    errors = validate(clean)
    if errors:
        raise ValidationFailed(errors)
    for name in PHONES:
        clean[name] = phones.e164(clean[name])
    info = business_info(session, company.id)
    changed = sorted(k for k, v in clean.items() if getattr(info, k) != v)
    for name, value in clean.items():
        setattr(info, name, value)
    session.add(info)
    audit.record(session, actor, "business_info.update", info, label=company.name,
                 company_id=company.id, changed=changed)  # fmt: skip
    return info


def active_brand(session: Session, company_id: int) -> Tenant10DLCBrand | None:
    return session.scalars(
        select(Tenant10DLCBrand).where(
            Tenant10DLCBrand.company_id == company_id, Tenant10DLCBrand.is_active.is_(True)
        )
    ).one_or_none()


def submit_brand(
    session: Session, actor: audit.Actor, company: Company, config: PartnerConfiguration
) -> Tenant10DLCBrand:
    """Snapshot the profile into a new brand row and start its registration run."""
    info = business_info(session, company.id)
    snapshot = {name: getattr(info, name) for name in BUSINESS_FIELDS}
    errors = validate(snapshot)
    if info.id is None or errors:
        raise DomainError("Complete and save the business profile before submitting it.")
    current = active_brand(session, company.id)
    if current is not None:
        if current.provider_approved_at is None and current.provider_status != "FAILED":
            raise DomainError("A registration is already in progress for this company.")
        if all(getattr(current, k) == v for k, v in snapshot.items()):
            raise DomainError("Nothing changed since the approved brand: no new submission.")
        current.is_active = False
        current.deprecation_reason = f"Replaced by a new submission on {utcnow():%Y-%m-%d}."
        session.flush()  # one active brand at a time
    brand = Tenant10DLCBrand(company_id=company.id, provider_status="SUBMITTED", **snapshot)
    if (
        claims.insert_or_reread(session, brand, lambda: active_brand(session, company.id))
        is not brand
    ):
        raise DomainError("A registration is already in progress for this company.")
    run = runs.start_run(
        session, actor, A2P_REGISTRATION, company.id, partner_configuration_id=config.id,
        context={"brand_row_id": brand.id},
    )  # fmt: skip
    session.flush()
    brand.run_id = run.id
    audit.record(session, actor, "brand.submit", brand, label=brand.legal_business_name,
                 company_id=company.id)  # fmt: skip
    announce_brand(session, brand, None)
    return brand
