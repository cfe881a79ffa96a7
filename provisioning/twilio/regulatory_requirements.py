"""What a regulatory bundle must hold, read from Twilio's Regulations API, and the check
of what a person filled in against it (see :mod:`provisioning.twilio.regulatory`).

Nothing about a country is written here: a regulation's ``requirements`` (the end user's
fields, the supporting documents each requirement accepts) become a form description
(:class:`Requirements`), and :func:`check_submission` names each wrong field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import DomainError
from ..partners import ValidationFailed
from . import regulatory_documents as documents
from .api import TwilioApi

# The platform's number types -> the Regulations API's ``NumberType``.
NUMBER_TYPES = {"local": "local", "mobile": "mobile", "toll_free": "toll-free",
                "national": "national"}  # fmt: skip
END_USER_TYPES = ("business", "individual")
# Twilio's 2020 changelog: regulated numbers are "most phone numbers outside the US and
# Canada"; those two are never asked about.
UNREGULATED_COUNTRIES = frozenset({"US", "CA"})
ADDRESS_FIELD = "address_sids"  # a document proving the address carries the address's sid
ADDRESS_FIELDS = ("customer_name", "street", "city", "region", "postal_code")
COUNTRY = re.compile(r"^[A-Z]{2}$")
FIELD_LENGTH = 255


# -- requirements, read from the Regulations API --------------------------------------


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    description: str = ""


@dataclass(frozen=True)
class DocumentType:
    type: str
    name: str
    fields: tuple[Field, ...]

    @property
    def proves_address(self) -> bool:
        return any(f.name == ADDRESS_FIELD for f in self.fields)

    @property
    def needs_file(self) -> bool:
        return not self.proves_address

    @property
    def typed_fields(self) -> tuple[Field, ...]:
        """The fields a person fills in (the address sid is the platform's)."""
        return tuple(f for f in self.fields if f.name != ADDRESS_FIELD)


@dataclass(frozen=True)
class DocumentRequirement:
    requirement_name: str
    name: str
    description: str
    accepted: tuple[DocumentType, ...]

    @property
    def proves_address(self) -> bool:
        return any(d.proves_address for d in self.accepted)


@dataclass(frozen=True)
class Requirements:
    """One regulation as a form: the end user's fields and the documents it needs."""

    regulation_sid: str
    friendly_name: str
    iso_country: str
    number_type: str
    end_user_type: str
    end_user_kind: str
    end_user_fields: tuple[Field, ...]
    documents: tuple[DocumentRequirement, ...] = field(default=())

    @property
    def needs_address(self) -> bool:
        return any(d.proves_address for d in self.documents)


def _fields(item: dict[str, Any]) -> tuple[Field, ...]:
    detailed = {d.get("machine_name"): d for d in item.get("detailed_fields") or []}
    names = list(item.get("fields") or []) or list(detailed)
    return tuple(
        Field(
            str(name),
            str((detailed.get(name) or {}).get("friendly_name") or name.replace("_", " ").title()),
            str((detailed.get(name) or {}).get("description") or ""),
        )
        for name in names
    )


def requirements_of(regulation: Any) -> Requirements:
    """A regulation (an SDK instance, ``requirements`` as Twilio sends it) as a form.

    ``requirements.end_user``: the end user (its type and fields);
    ``requirements.supporting_document``: a list of groups, each a list of requirements,
    each with the ``accepted_documents`` (type, fields) any one of which satisfies it.
    """
    body = regulation.requirements or {}
    end_users = body.get("end_user") or [{}]
    end_user = end_users[0]
    groups = body.get("supporting_document") or []
    needed = []
    for group in groups:
        for requirement in group if isinstance(group, list) else [group]:
            accepted = tuple(
                DocumentType(str(d.get("type")), str(d.get("name") or d.get("type")), _fields(d))
                for d in requirement.get("accepted_documents") or []
            )
            needed.append(
                DocumentRequirement(
                    str(requirement.get("requirement_name") or requirement.get("name")),
                    str(requirement.get("name") or ""),
                    str(requirement.get("description") or ""),
                    accepted,
                )
            )
    return Requirements(
        regulation_sid=regulation.sid,
        friendly_name=regulation.friendly_name or "",
        iso_country=regulation.iso_country or "",
        number_type=regulation.number_type or "",
        end_user_type=regulation.end_user_type or "",
        end_user_kind=str(end_user.get("type") or regulation.end_user_type or ""),
        end_user_fields=_fields(end_user),
        documents=tuple(needed),
    )


def _choice(iso_country: str, number_type: str, end_user_type: str) -> tuple[str, str, str]:
    country = (iso_country or "").strip().upper()
    if not COUNTRY.match(country):
        raise DomainError("Give the country as two letters, like DE.")
    if number_type not in NUMBER_TYPES:
        raise DomainError(f"Choose a number type among {', '.join(NUMBER_TYPES)}.")
    if end_user_type not in END_USER_TYPES:
        raise DomainError("Choose business or individual.")
    return country, NUMBER_TYPES[number_type], end_user_type


def read_requirements(
    client: TwilioApi, iso_country: str, number_type: str, end_user_type: str
) -> Requirements | None:
    """The requirements for a bundle, or None when Twilio has no regulation for it."""
    country, twilio_type, user_type = _choice(iso_country, number_type, end_user_type)
    found = client.regulations(country, twilio_type, user_type)
    return requirements_of(found[0]) if found else None


def needs_bundle(client: TwilioApi, iso_country: str, number_type: str) -> bool:
    """Whether buying such a number takes a bundle: Twilio has a regulation for it."""
    country = iso_country.upper()
    if not COUNTRY.match(country) or country in UNREGULATED_COUNTRIES:
        return False
    twilio_type = NUMBER_TYPES.get(number_type, number_type)
    return any(client.regulations(country, twilio_type, t) for t in END_USER_TYPES)


# -- what a person filled in -------------------------------------------------------------


@dataclass
class Submission:
    """A bundle's content: the end user's values, the address, and per document
    requirement the chosen type, its values and the uploaded file."""

    email: str
    end_user: dict[str, str]
    address: dict[str, str]
    documents: dict[str, tuple[str, dict[str, str], documents.Upload | None]]


def end_user_key(name: str) -> str:
    return f"end_user-{name}"


def document_key(requirement: str, name: str) -> str:
    return f"doc-{requirement}-{name}"


def check_submission(
    requirements: Requirements,
    values: dict[str, str],
    files: dict[str, tuple[str, bytes]],
) -> Submission:
    """The submission read from form ``values`` and ``files`` (keys from
    :func:`end_user_key`, :func:`document_key`, ``address-<field>``, ``doc-<req>-type``,
    ``doc-<req>-file``), or :class:`ValidationFailed` naming each field that is wrong."""
    errors: dict[str, str] = {}

    def text(key: str, label: str, required: bool = True) -> str:
        value = (values.get(key) or "").strip()
        if required and not value:
            errors[key] = f"{label} is required."
        elif len(value) > FIELD_LENGTH:
            errors[key] = f"{label} is too long (at most {FIELD_LENGTH} characters)."
        return value

    email = text("email", "An e-mail address for Twilio's review updates")
    if email and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        errors["email"] = "Give an e-mail address, like compliance@example.com."
    end_user = {f.name: text(end_user_key(f.name), f.label) for f in requirements.end_user_fields}
    address: dict[str, str] = {}
    if requirements.needs_address:
        for name in ADDRESS_FIELDS:
            address[name] = text(f"address-{name}", name.replace("_", " ").capitalize())
        address["iso_country"] = requirements.iso_country
    chosen: dict[str, tuple[str, dict[str, str], documents.Upload | None]] = {}
    for requirement in requirements.documents:
        key = f"doc-{requirement.requirement_name}-type"
        types = {d.type: d for d in requirement.accepted}
        picked = values.get(key) or (requirement.accepted[0].type if requirement.accepted else "")
        doc_type = types.get(picked)
        if doc_type is None:
            errors[key] = f"Choose one of the documents {requirement.name} accepts."
            continue
        attributes = {
            f.name: text(document_key(requirement.requirement_name, f.name), f.label)
            for f in doc_type.typed_fields
        }
        upload = None
        if doc_type.needs_file:
            file_key = f"doc-{requirement.requirement_name}-file"
            name, content = files.get(file_key) or ("", b"")
            try:
                upload = documents.read_upload(name, content)
            except ValueError as exc:
                errors[file_key] = str(exc)
        chosen[requirement.requirement_name] = (doc_type.type, attributes, upload)
    if errors:
        raise ValidationFailed(errors)
    return Submission(email, end_user, address, chosen)
