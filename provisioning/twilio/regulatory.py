"""Regulatory compliance bundles: numbers outside the US and Canada need an approved one.

What a bundle must hold is read from Twilio's Regulations API for the country, number
type and end-user type, never written down here (:mod:`.regulatory_requirements`:
:func:`read_requirements` turns a regulation into a form description,
:func:`check_submission` checks what a person filled in against it).
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
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import audit, health, runs
from ..db import utcnow
from ..errors import DomainError, ProviderError, Rejected
from ..partners import PartnerConfiguration
from ..tenancy import Company
from . import regulatory_documents as documents
from .api import TwilioApi
from .models import RegulatoryBundle, RegulatoryDocument
from .regulatory_requirements import (
    ADDRESS_FIELDS,
    NUMBER_TYPES,
    Requirements,
    Submission,
    end_user_key,
    needs_bundle,
    requirements_of,
)
from .regulatory_requirements import check_submission as check_submission
from .regulatory_requirements import read_requirements as read_requirements

APPROVED = ("twilio-approved", "provisionally-approved")
IN_PROGRESS = ("draft", "pending-review", "in-review")

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


# -- the company's bundles ---------------------------------------------------------------


def bundles_of(session: Session, company_id: int) -> list[RegulatoryBundle]:
    return list(
        session.scalars(
            select(RegulatoryBundle)
            .where(RegulatoryBundle.company_id == company_id)
            .order_by(RegulatoryBundle.id.desc())
        )
    )


def documents_of(session: Session, company_id: int) -> dict[int, list[RegulatoryDocument]]:
    """The company's documents by bundle id (for listing: names and sizes, never content)."""
    found: dict[int, list[RegulatoryDocument]] = {}
    rows = session.scalars(
        select(RegulatoryDocument)
        .where(RegulatoryDocument.company_id == company_id)
        .order_by(RegulatoryDocument.id)
    )
    for row in rows:
        found.setdefault(row.bundle_id, []).append(row)
    return found


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
    """Record the bundle and its documents (files encrypted) and start its run. The same
    submission sent twice (a double click) starts one bundle: the second gets the first."""
    from .regulatory_run import REGULATORY_BUNDLE

    run, new = runs.start_once(
        session, actor, REGULATORY_BUNDLE, company.id, _origin(requirements, submission),
        partner_configuration_id=config.id,
    )  # fmt: skip
    if not new:
        earlier = session.scalars(
            select(RegulatoryBundle).where(RegulatoryBundle.run_id == run.id)
        ).one_or_none()
        if earlier is None:
            raise DomainError("This bundle was already submitted.")
        return earlier
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
    run.context = {"bundle_row_id": bundle.id}
    bundle.run_id = run.id
    audit.record(session, actor, "regulatory_bundle.start", bundle, label=bundle.friendly_name,
                 company_id=company.id)  # fmt: skip
    return bundle


def _origin(requirements: Requirements, submission: Submission) -> str:
    """A digest of everything submitted (the files' bytes included): the run's origin."""
    digest = hashlib.sha256(requirements.regulation_sid.encode())
    for part in (submission.email, submission.end_user, submission.address):
        digest.update(json.dumps(part, sort_keys=True).encode())
    for name, (doc_type, attributes, upload) in sorted(submission.documents.items()):
        digest.update(json.dumps([name, doc_type, attributes], sort_keys=True).encode())
        digest.update(upload.content if upload is not None else b"")
    return digest.hexdigest()


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


def apply_status(session: Session, bundle: RegulatoryBundle, remote: Any) -> None:
    """A bundle's status and ``valid_until`` as Twilio reports them. A rejection, and a
    regulation change that gives the bundle an end date, are told to the company's admins
    (and the platform's) once."""
    before, ending = bundle.status, bundle.valid_until
    if remote.status:
        bundle.status = remote.status
    valid_until = getattr(remote, "valid_until", None)
    if isinstance(valid_until, dt.datetime) or valid_until is None:
        bundle.valid_until = valid_until
    if bundle.status in APPROVED and bundle.approved_at is None:
        bundle.approved_at = utcnow()
    what = (
        f"The {bundle.iso_country} {bundle.number_type} regulatory bundle {bundle.friendly_name!r}"
    )
    if bundle.status == "twilio-rejected" and before != bundle.status:
        rejected = f"{what} was rejected by Twilio: its page says why."
        health.raise_company_notice(session, bundle.company_id, rejected)
    if bundle.valid_until is not None and ending is None:
        health.raise_company_notice(session, bundle.company_id, (
            f"{what} must be updated before {bundle.valid_until:%Y-%m-%d}: its regulation "
            "changed (Update through a copy, on the Regulatory bundles page)."
        ))  # fmt: skip


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
    apply_status(session, bundle, client.fetch_regulatory_bundle(bundle.bundle_sid))
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
