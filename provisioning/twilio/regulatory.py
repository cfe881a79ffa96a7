"""Regulatory compliance bundles: numbers outside the US and Canada need an approved one.

What a bundle must hold is read from Twilio's Regulations API for the country, number
type and end-user type, never written down here: the end user's fields, and the
supporting documents (each requirement with the document types it accepts and their
fields). :func:`read_requirements` turns a regulation into a form description,
:func:`check_submission` checks what a person filled in against it, and
:func:`start_bundle` records the bundle and starts its run
(:mod:`provisioning.twilio.regulatory_run`): end user, documents (files uploaded),
address, bundle, items, evaluation, submission, Twilio's review.

Buying a number in a regulated country takes the company's approved bundle for that
country and type (:func:`bundle_for_purchase`), and Twilio's refusals come back in plain
words (:func:`explain`). When a regulation changes, Twilio sets the bundle's
``valid_until``: :func:`copy_bundle` makes a copy to submit, whose approval replaces the
original's items (Copies, ReplaceItems; see docs/regulatory.md).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import audit, runs
from ..errors import DomainError, ProviderError, Rejected
from ..partners import PartnerConfiguration, ValidationFailed
from ..tenancy import Company
from . import regulatory_documents as documents
from .api import TwilioApi
from .models import RegulatoryBundle, RegulatoryDocument

# The platform's number types -> the Regulations API's ``NumberType``.
NUMBER_TYPES = {"local": "local", "mobile": "mobile", "toll_free": "toll-free",
                "national": "national"}  # fmt: skip
END_USER_TYPES = ("business", "individual")
# Twilio's 2020 changelog: regulated numbers are "most phone numbers outside the US and
# Canada"; those two are never asked about.
UNREGULATED_COUNTRIES = frozenset({"US", "CA"})
APPROVED = ("twilio-approved", "provisionally-approved")
IN_PROGRESS = ("draft", "pending-review", "in-review")
ADDRESS_FIELD = "address_sids"  # a document proving the address carries the address's sid
ADDRESS_FIELDS = ("customer_name", "street", "city", "region", "postal_code")
COUNTRY = re.compile(r"^[A-Z]{2}$")
FIELD_LENGTH = 255

# Twilio's refusals, in plain words (twilio.com/docs/api/errors/<code>).
REFUSALS = {
    "21649": "This number can only be bought with an approved regulatory bundle for its "
    "country and number type (Twilio error 21649). Create one on the Regulatory bundles "
    "page and wait for Twilio's approval.",
    "21651": "The bundle's documents do not satisfy the regulation for this number, for "
    "example the address given is not the one the bundle proves (Twilio error 21651).",
    "21631": "This number needs the address of its user, in the country the regulation "
    "asks for (Twilio error 21631).",
    "21613": "Twilio needs an address on file to sell this number (Twilio error 21613).",
    "21648": "The bundle still has numbers assigned to it, so it cannot be deleted "
    "(Twilio error 21648).",
    "22200": "Twilio does not know this end-user type or number type (Twilio error 22200).",
    "22205": "A document or end user given for the bundle does not belong to this account "
    "(Twilio error 22205).",
    "22225": "The bundle to take the new items from does not exist (Twilio error 22225).",
    "22226": "A bundle cannot take its items from itself (Twilio error 22226).",
    "22228": "The copy does not meet the regulation's latest requirements yet "
    "(Twilio error 22228).",
    "22229": "The copy must keep the original bundle's address (Twilio error 22229).",
}


def explain(exc: ProviderError) -> ProviderError:
    """``exc`` with Twilio's words replaced by plain ones when its code is known."""
    plain = REFUSALS.get(str(exc.code or ""))
    if plain is None:
        return exc
    return Rejected("twilio", plain, exc.http_status, code=exc.code)


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


# -- the company's bundles ---------------------------------------------------------------


def bundles_of(session: Session, company_id: int) -> list[RegulatoryBundle]:
    return list(
        session.scalars(
            select(RegulatoryBundle)
            .where(RegulatoryBundle.company_id == company_id)
            .order_by(RegulatoryBundle.id.desc())
        )
    )


def _friendly_name(company: Company, requirements: Requirements, row_id: int) -> str:
    what = f"{requirements.iso_country} {requirements.number_type} {requirements.end_user_type}"
    return f"{company.name[:60]} {what} #{row_id}"[:120]


def start_bundle(
    session: Session,
    actor: audit.Actor,
    company: Company,
    config: PartnerConfiguration,
    requirements: Requirements,
    submission: Submission,
) -> RegulatoryBundle:
    """Record the bundle and its documents (files encrypted) and start its run."""
    from .regulatory_run import REGULATORY_BUNDLE

    bundle = RegulatoryBundle(
        company_id=company.id, iso_country=requirements.iso_country,
        number_type=requirements.number_type, end_user_type=requirements.end_user_type,
        regulation_sid=requirements.regulation_sid, friendly_name="", email=submission.email,
        status="draft", end_user_attributes=submission.end_user,
        address=submission.address or None,
        provider_ids={"end_user_type": requirements.end_user_kind},
    )  # fmt: skip
    session.add(bundle)
    session.flush()
    bundle.friendly_name = _friendly_name(company, requirements, bundle.id)
    _document_rows(session, bundle, requirements, submission)
    run = runs.start_run(
        session, actor, REGULATORY_BUNDLE, company.id, partner_configuration_id=config.id,
        context={"bundle_row_id": bundle.id},
    )  # fmt: skip
    session.flush()
    bundle.run_id = run.id
    audit.record(session, actor, "regulatory_bundle.start", bundle, label=bundle.friendly_name,
                 company_id=company.id)  # fmt: skip
    return bundle


def _document_rows(
    session: Session, bundle: RegulatoryBundle, requirements: Requirements, submission: Submission
) -> None:
    for requirement in requirements.documents:
        doc_type, attributes, upload = submission.documents[requirement.requirement_name]
        row = RegulatoryDocument(
            company_id=bundle.company_id, bundle_id=bundle.id,
            requirement_name=requirement.requirement_name, document_type=doc_type,
            attributes=attributes,
        )  # fmt: skip
        if upload is not None:
            documents.keep(row, upload)
        session.add(row)


def apply_status(bundle: RegulatoryBundle, remote: Any) -> None:
    """A bundle's status and ``valid_until`` as Twilio reports them."""
    if remote.status:
        bundle.status = remote.status
    valid_until = getattr(remote, "valid_until", None)
    if isinstance(valid_until, dt.datetime) or valid_until is None:
        bundle.valid_until = valid_until
    if bundle.status in APPROVED and bundle.approved_at is None:
        from ..db import utcnow

        bundle.approved_at = utcnow()


def reasons_of(evaluation: Any) -> list[dict[str, str]]:
    """What an evaluation found missing or wrong, one line per problem, in Twilio's words
    (the requirement, and the field when Twilio names one)."""
    found = []
    for result in evaluation.results or []:
        if result.get("passed", True):
            continue
        requirement = result.get("requirement_friendly_name") or result.get("friendly_name")
        invalid = result.get("invalid") or []
        for problem in invalid or [result]:
            found.append(
                {
                    "requirement": str(requirement or result.get("requirement_name") or ""),
                    "field": str(problem.get("friendly_name") or problem.get("object_field") or ""),
                    "reason": str(problem.get("failure_reason") or "not satisfied"),
                }
            )
    return found


def refresh_bundle(session: Session, bundle: RegulatoryBundle, client: TwilioApi) -> None:
    """Read the bundle's status, ``valid_until`` and, when rejected, the reasons."""
    if not bundle.bundle_sid:
        return
    apply_status(bundle, client.fetch_regulatory_bundle(bundle.bundle_sid))
    if bundle.status == "twilio-rejected":
        evaluations = client.regulatory_evaluations(bundle.bundle_sid)
        if evaluations:
            bundle.failure_reasons = reasons_of(evaluations[0])


def current_requirements(client: TwilioApi, bundle: RegulatoryBundle) -> Requirements:
    """What the bundle's regulation requires now (after a change, what a copy must hold)."""
    return requirements_of(client.regulation(bundle.regulation_sid))


def copy_values(bundle: RegulatoryBundle, requirements: Requirements) -> dict[str, str]:
    """The form values a copy starts from: the bundle's e-mail and end user (the address
    stays: Twilio refuses a copy whose address changed, 22229); documents are uploaded
    again."""
    values = {"email": bundle.email}
    for f in requirements.end_user_fields:
        values[end_user_key(f.name)] = str((bundle.end_user_attributes or {}).get(f.name, ""))
    for name in ADDRESS_FIELDS:
        values[f"address-{name}"] = str((bundle.address or {}).get(name, ""))
    return values


def copy_bundle(
    session: Session,
    actor: audit.Actor,
    company: Company,
    config: PartnerConfiguration,
    original: RegulatoryBundle,
    requirements: Requirements | None = None,
    submission: Submission | None = None,
) -> RegulatoryBundle:
    """A copy of an approved bundle whose regulation changed, to submit again; once
    approved, its items replace the original's (the original's sid, and the numbers bought
    with it, stay). The copy is made by its run, once. With a ``submission`` (checked
    against the regulation's current ``requirements``), the copy holds a new end user and
    new documents in place of the original's; the address stays the original's."""
    from .regulatory_run import REGULATORY_BUNDLE

    if original.company_id != company.id:
        raise DomainError("This bundle belongs to another company.")
    if original.status not in APPROVED or not original.bundle_sid:
        raise DomainError("Only an approved bundle can be copied to be updated.")
    pending = session.scalars(
        select(RegulatoryBundle).where(
            RegulatoryBundle.copy_of_id == original.id,
            RegulatoryBundle.status.in_(IN_PROGRESS),
        )
    ).first()
    if pending is not None:
        raise DomainError("A copy of this bundle is already being reviewed.")
    copy = RegulatoryBundle(
        company_id=company.id, iso_country=original.iso_country,
        number_type=original.number_type, end_user_type=original.end_user_type,
        regulation_sid=original.regulation_sid, friendly_name="", email=original.email,
        status="draft", end_user_attributes=original.end_user_attributes,
        address=original.address, copy_of_id=original.id,
        end_user_sid=original.end_user_sid, address_sid=original.address_sid,
        provider_ids={"end_user_type": (original.provider_ids or {}).get("end_user_type")},
    )  # fmt: skip
    session.add(copy)
    session.flush()
    copy.friendly_name = f"{original.friendly_name[:100]} copy #{copy.id}"[:120]
    if requirements is not None and submission is not None:
        copy.email, copy.end_user_attributes = submission.email, submission.end_user
        copy.provider_ids = {**(copy.provider_ids or {}), "updated": True}
        _document_rows(session, copy, requirements, submission)
    run = runs.start_run(
        session, actor, REGULATORY_BUNDLE, company.id, partner_configuration_id=config.id,
        context={"bundle_row_id": copy.id},
    )  # fmt: skip
    session.flush()
    copy.run_id = run.id
    audit.record(session, actor, "regulatory_bundle.copy", copy, label=copy.friendly_name,
                 company_id=company.id, original_id=original.id)  # fmt: skip
    return copy


# -- buying with a bundle ----------------------------------------------------------------


def approved_bundle(
    session: Session, company_id: int, iso_country: str, number_type: str
) -> RegulatoryBundle | None:
    """The company's newest approved bundle for the country and number type (a copy's
    original keeps serving: the copy's items end up in it)."""
    twilio_type = NUMBER_TYPES.get(number_type, number_type)
    return session.scalars(
        select(RegulatoryBundle)
        .where(
            RegulatoryBundle.company_id == company_id,
            RegulatoryBundle.iso_country == iso_country.upper(),
            RegulatoryBundle.number_type == twilio_type,
            RegulatoryBundle.status.in_(APPROVED),
            RegulatoryBundle.copy_of_id.is_(None),
        )
        .order_by(RegulatoryBundle.id.desc())
    ).first()


@dataclass(frozen=True)
class PurchaseBundle:
    """What a purchase needs: nothing, or the approved bundle and its address."""

    bundle_sid: str | None = None
    address_sid: str | None = None


def bundle_for_purchase(
    session: Session, company_id: int, client: TwilioApi, iso_country: str, number_type: str
) -> PurchaseBundle:
    """The bundle a purchase uses; :class:`DomainError` (before any paid call) when the
    number needs one and the company has no approved one."""
    if not needs_bundle(client, iso_country, number_type):
        return PurchaseBundle()
    bundle = approved_bundle(session, company_id, iso_country, number_type)
    if bundle is None:
        raise DomainError(purchase_blocker(session, company_id, iso_country, number_type))
    return PurchaseBundle(bundle.bundle_sid, bundle.address_sid)


def purchase_blocker(session: Session, company_id: int, iso_country: str, number_type: str) -> str:
    """Why such a number cannot be bought yet, in plain words."""
    twilio_type = NUMBER_TYPES.get(number_type, number_type)
    waiting = session.scalars(
        select(RegulatoryBundle).where(
            RegulatoryBundle.company_id == company_id,
            RegulatoryBundle.iso_country == iso_country.upper(),
            RegulatoryBundle.number_type == twilio_type,
            RegulatoryBundle.status.in_(IN_PROGRESS),
        )
    ).first()
    where = f"{twilio_type} numbers in {iso_country.upper()}"
    if waiting is not None:
        return (
            f"Twilio only sells {where} with an approved regulatory bundle; yours is "
            f"{waiting.status}. The number can be bought once Twilio approves it."
        )
    return (
        f"Twilio only sells {where} with an approved regulatory bundle, and the company has "
        "none yet: create one on the Regulatory bundles page."
    )


def purchase_note(
    session: Session, company_id: int, client: TwilioApi, iso_country: str, number_type: str
) -> dict[str, Any] | None:
    """For the numbers page: which bundle a purchase of such numbers uses (``ok``), or why
    none can be bought yet; None when such numbers need no bundle."""
    if not needs_bundle(client, iso_country, number_type):
        return None
    bundle = approved_bundle(session, company_id, iso_country, number_type)
    if bundle is not None:
        name = f"{bundle.friendly_name} ({bundle.bundle_sid})"
        return {"ok": True, "text": f"Purchases use the approved regulatory bundle {name}."}
    return {"ok": False, "text": purchase_blocker(session, company_id, iso_country, number_type)}
