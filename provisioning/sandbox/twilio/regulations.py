"""The regulations the sandbox knows, in the shape Twilio's Regulations API gives them
(``requirements.end_user``; ``requirements.supporting_document``: groups of requirements,
each with the ``accepted_documents`` that satisfy it): Germany local (business,
individual) and France local (business). ``_address_country`` is the sandbox's own note
of the constraint ``IncludeConstraints`` describes: the address's country.
"""

from __future__ import annotations

import hashlib
from typing import Any


def _sid(prefix: str, key: str) -> str:
    return prefix + hashlib.sha256(key.encode()).hexdigest()[:32]


def _field(name: str, label: str, description: str = "") -> dict[str, str]:
    return {"machine_name": name, "friendly_name": label, "description": description}


def _document(type_: str, name: str, *fields: tuple[str, str]) -> dict[str, Any]:
    return {
        "name": name,
        "type": type_,
        "url": f"https://numbers.twilio.com/v2/RegulatoryCompliance/SupportingDocumentTypes/{type_}",
        "fields": [f for f, _ in fields],
        "detailed_fields": [_field(f, label) for f, label in fields],
    }


ADDRESS_DOC = _document("address", "Address validation", ("address_sids", "Address"))


def _regulation(
    country: str,
    number_type: str,
    end_user_type: str,
    end_user_fields: list[tuple[str, str]],
    documents: list[tuple[str, str, str, list[dict[str, Any]]]],
) -> dict[str, Any]:
    """A regulation as Twilio shows it (``IncludeConstraints``: the address country)."""
    key = f"{country}-{number_type}-{end_user_type}"
    return {
        "sid": _sid("RN", key),
        "friendly_name": f"{country}: {number_type.title()} - {end_user_type.title()}",
        "iso_country": country,
        "number_type": number_type,
        "end_user_type": end_user_type,
        "requirements": {
            "end_user": [
                {
                    "name": end_user_type.title(),
                    "type": end_user_type,
                    "requirement_name": f"{end_user_type}_info",
                    "url": "https://numbers.twilio.com/v2/RegulatoryCompliance/EndUserTypes/"
                    + end_user_type,
                    "fields": [f for f, _ in end_user_fields],
                    "detailed_fields": [_field(f, label) for f, label in end_user_fields],
                }
            ],
            "supporting_document": [
                [
                    {
                        "name": name,
                        "type": "document",
                        "requirement_name": requirement,
                        "description": description,
                        "accepted_documents": accepted,
                    }
                ]
                for requirement, name, description, accepted in documents
            ],
        },
        "url": f"https://numbers.twilio.com/v2/RegulatoryCompliance/Regulations/{_sid('RN', key)}",
        "_address_country": country,
    }


def _address(country: str) -> tuple[str, str, str, list[dict[str, Any]]]:
    return (
        "address_info",
        "Address",
        f"An address in {country} where the number is used.",
        [ADDRESS_DOC],
    )


REGULATIONS = [
    _regulation(
        "DE", "local", "business", [("business_name", "Business name")],
        [
            ("business_registration_info", "Business registration",
             "An excerpt of the commercial register (Handelsregister) naming the business.",
             [_document("business_registration", "Business registration",
                        ("business_name", "Business name"),
                        ("business_registration_number", "Registration number"))]),
            _address("DE"),
        ],
    ),
    _regulation(
        "DE", "local", "individual",
        [("first_name", "First name"), ("last_name", "Last name")],
        [
            ("identity_info", "Proof of identity", "A passport or national identity card.",
             [_document("passport", "Passport", ("first_name", "First name"),
                        ("last_name", "Last name"), ("document_number", "Document number")),
              _document("government_issued_document", "National identity card",
                        ("first_name", "First name"), ("last_name", "Last name"),
                        ("document_number", "Document number"))]),
            _address("DE"),
        ],
    ),
    _regulation(
        "FR", "local", "business", [("business_name", "Business name")],
        [
            ("business_registration_info", "Business registration",
             "A Kbis extract of less than three months naming the business.",
             [_document("commercial_registrar_excerpt", "Kbis extract",
                        ("business_name", "Business name"))]),
            _address("FR"),
        ],
    ),
]  # fmt: skip
BY_SID = {r["sid"]: r for r in REGULATIONS}


def regulations_for(country: str, number_type: str) -> list[dict[str, Any]]:
    return [
        r for r in REGULATIONS if r["iso_country"] == country and r["number_type"] == number_type
    ]
