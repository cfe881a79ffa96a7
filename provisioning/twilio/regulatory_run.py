"""A regulatory bundle as a provisioning run: end user, documents, address, bundle, items,
evaluation, submission, review; for a copy, the copy itself and, once approved, the
original's items replaced.

Every create is recorded as intended (committed) before it is sent and carries a
deterministic friendly name (the bundle row's id in it): after a lost answer the object is
looked up by that name, in the same attempt or the next one, never created twice. The
sids are kept on the bundle row (``provider_ids``, ``item_sids``) and the document rows.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from ..audit import SYSTEM
from ..backoff import exponential
from ..db import utcnow
from ..errors import DomainError, Rejected
from ..partners import PartnerConfiguration, Provider
from ..runs import Flow, StepContext, Wait, register_flow
from ..tenancy import Company
from . import regulatory_documents as documents
from .api import Creation, TwilioApi
from .models import RegulatoryBundle, RegulatoryDocument
from .numbers import ensure_subaccount, subaccount_client
from .regulatory import APPROVED, apply_status, reasons_of

INTENDED = "intended"
MAX_WAIT = dt.timedelta(hours=6)


def _bundle(ctx: StepContext) -> RegulatoryBundle:
    bundle = ctx.session.get(RegulatoryBundle, ctx.run.context["bundle_row_id"])
    if bundle is None or bundle.company_id != ctx.run.company_id:
        raise DomainError("The regulatory bundle of this run is gone.")
    return bundle


def _client(ctx: StepContext) -> TwilioApi:
    config = ctx.session.get(PartnerConfiguration, ctx.run.partner_configuration_id)
    company = ctx.session.get(Company, ctx.run.company_id)
    if config is None or company is None:
        raise DomainError("The company or the Twilio configuration of this run was deleted.")
    transport = ctx.services.get("transport")
    sub = ensure_subaccount(ctx.session, SYSTEM, company, config, transport, commit=ctx.durable)
    return subaccount_client(sub, config, transport)


def _intended(ctx: StepContext, bundle: RegulatoryBundle, key: str) -> bool:
    """Whether ``key``'s create was sent before; if not, record (commit) that it will be."""
    ids = bundle.provider_ids or {}
    if key in ids.get(INTENDED, []):
        return True
    bundle.provider_ids = {**ids, INTENDED: [*ids.get(INTENDED, []), key]}
    ctx.durable()
    return False


def _once(ctx: StepContext, bundle: RegulatoryBundle, key: str, creation: Creation) -> str:
    """The sid under ``key``: known, found after an earlier attempt, or created once."""
    known = (bundle.provider_ids or {}).get(key)
    if known:
        return known
    found = creation.looked_up() if _intended(ctx, bundle, key) else None
    sid = (found or creation.run()).sid
    bundle.provider_ids = {**(bundle.provider_ids or {}), key: sid}
    ctx.record_ids(**{key: sid})
    ctx.durable()
    return sid


def _name(bundle: RegulatoryBundle, what: str) -> str:
    return f"{what} of bundle #{bundle.id} ({bundle.iso_country} {bundle.number_type})"


def _documents(ctx: StepContext, bundle: RegulatoryBundle) -> list[RegulatoryDocument]:
    return list(
        ctx.session.scalars(
            select(RegulatoryDocument)
            .where(RegulatoryDocument.bundle_id == bundle.id)
            .order_by(RegulatoryDocument.id)
        )
    )


def items(ctx: StepContext) -> None:
    """Step 1: the end user, the address, the supporting documents (files uploaded)."""
    bundle = _bundle(ctx)
    if bundle.copy_of_id is not None and not _updated(bundle):
        return  # a plain copy holds its original's items
    client = _client(ctx)
    kind = (bundle.provider_ids or {}).get("end_user_type") or bundle.end_user_type
    bundle.end_user_sid = _once(ctx, bundle, "end_user_sid", client.regulatory_end_user(
        _name(bundle, "end user"), kind, dict(bundle.end_user_attributes or {}),
    ))  # fmt: skip
    if bundle.address and bundle.copy_of_id is None:  # a copy keeps the original's address
        address = dict(bundle.address)
        bundle.address_sid = _once(ctx, bundle, "address_sid",
                                   client.address(_name(bundle, "address"), **address))  # fmt: skip
    for row in _documents(ctx, bundle):
        if row.document_sid:
            continue
        attributes: dict[str, Any] = dict(row.attributes or {})
        file = documents.file_of(row)
        if file is None and bundle.address_sid:
            attributes["address_sids"] = [bundle.address_sid]
        name = _name(bundle, f"document {row.requirement_name}")
        creation = client.regulatory_document(name, row.document_type, attributes, file)
        row.document_sid = _once(ctx, bundle, f"document:{row.id}", creation)
        ctx.durable()


def bundle_step(ctx: StepContext) -> None:
    """Step 2: the bundle (for a copy: the copy of the original), and its items."""
    bundle = _bundle(ctx)
    client = _client(ctx)
    if bundle.copy_of_id is not None:
        original = ctx.session.get(RegulatoryBundle, bundle.copy_of_id)
        if original is None or not original.bundle_sid:
            raise DomainError("The bundle this one copies is gone.")
        creation = client.regulatory_bundle_copy(original.bundle_sid, bundle.friendly_name)
        bundle.bundle_sid = _once(ctx, bundle, "bundle_sid", creation)
        if _updated(bundle):
            _swap_items(ctx, client, bundle)
        bundle.item_sids = sorted(client.regulatory_items(bundle.bundle_sid))
        ctx.durable()
        return
    bundle.bundle_sid = _once(ctx, bundle, "bundle_sid", client.regulatory_bundle(
        bundle.friendly_name, bundle.email, bundle.regulation_sid,
        iso_country=bundle.iso_country, number_type=bundle.number_type,
        end_user_type=bundle.end_user_type,
    ))  # fmt: skip
    wanted = [bundle.end_user_sid, *(d.document_sid for d in _documents(ctx, bundle))]
    wanted_sids = [sid for sid in wanted if sid]
    done = set(bundle.item_sids or [])
    if set(wanted_sids) - done and _intended(ctx, bundle, "items"):
        done |= client.regulatory_items(bundle.bundle_sid)  # an earlier attempt's
    for sid in wanted_sids:
        if sid not in done:
            client.regulatory_item(bundle.bundle_sid, sid).run()
            done.add(sid)
        bundle.item_sids = sorted(done)
        ctx.durable()


def _updated(bundle: RegulatoryBundle) -> bool:
    """A copy made with new information (not the original's items as they are)."""
    return bool((bundle.provider_ids or {}).get("updated"))


def _swap_items(ctx: StepContext, client: TwilioApi, bundle: RegulatoryBundle) -> None:
    """The copy's items: its new end user and documents instead of the original's.
    Removing is idempotent and each add is found by its object after a lost answer."""
    assert bundle.bundle_sid
    wanted = {bundle.end_user_sid, *(d.document_sid for d in _documents(ctx, bundle))}
    wanted.discard(None)
    current = client.regulatory_assignments(bundle.bundle_sid)
    for object_sid, assignment_sid in current.items():
        if object_sid not in wanted:
            client.remove_regulatory_item(bundle.bundle_sid, assignment_sid)
    for sid in sorted(s for s in wanted if s and s not in current):
        client.regulatory_item(bundle.bundle_sid, sid).run()


def evaluate_and_submit(ctx: StepContext) -> None:
    """Step 3: Twilio's evaluation against the regulation; a compliant bundle is submitted,
    a noncompliant one fails the run with what Twilio found missing."""
    bundle = _bundle(ctx)
    client = _client(ctx)
    assert bundle.bundle_sid
    remote = client.fetch_regulatory_bundle(bundle.bundle_sid)
    if remote.status not in ("draft", "twilio-rejected"):
        apply_status(ctx.session, bundle, remote)
        return  # submitted already
    evaluation = client.evaluate_regulatory_bundle(bundle.bundle_sid)
    if evaluation.status != "compliant":
        bundle.failure_reasons = reasons_of(evaluation)
        ctx.durable()
        lines = "; ".join(
            f"{r['requirement']}{' - ' + r['field'] if r['field'] else ''}: {r['reason']}"
            for r in bundle.failure_reasons
        )
        raise Rejected("twilio", f"Twilio found the bundle incomplete: {lines or 'noncompliant'}")
    bundle.failure_reasons = []
    apply_status(ctx.session, bundle, client.submit_regulatory_bundle(bundle.bundle_sid))


def wait_for_review(ctx: StepContext) -> None:
    """Step 4: Twilio reviews bundles (hours to days); polled with backoff."""
    bundle = _bundle(ctx)
    client = _client(ctx)
    assert bundle.bundle_sid
    apply_status(ctx.session, bundle, client.fetch_regulatory_bundle(bundle.bundle_sid))
    if bundle.status in APPROVED:
        return
    if bundle.status == "twilio-rejected":
        evaluations = client.regulatory_evaluations(bundle.bundle_sid)
        bundle.failure_reasons = reasons_of(evaluations[0]) if evaluations else []
        ctx.durable()
        reasons = "; ".join(r["reason"] for r in bundle.failure_reasons)
        raise Rejected("twilio", f"Twilio rejected the bundle: {reasons or 'no reason given'}")
    delay = exponential(ctx.step.attempts, 60, MAX_WAIT.total_seconds())
    raise Wait(f"Bundle {bundle.status}: waiting for Twilio's review",
               utcnow() + dt.timedelta(seconds=delay))  # fmt: skip


def replace_original_items(ctx: StepContext) -> None:
    """Step 5 (copies only): the approved copy's items replace the original's."""
    bundle = _bundle(ctx)
    if bundle.copy_of_id is None:
        return
    original = ctx.session.get(RegulatoryBundle, bundle.copy_of_id)
    if original is None or not original.bundle_sid or not bundle.bundle_sid:
        raise DomainError("The bundle this one copies is gone.")
    client = _client(ctx)
    # ReplaceItems makes nothing new: sending it again after a lost answer is harmless.
    apply_status(
        ctx.session,
        original,
        client.replace_regulatory_items(original.bundle_sid, bundle.bundle_sid),
    )
    original.item_sids = sorted(client.regulatory_items(original.bundle_sid))
    original.failure_reasons = []
    apply_status(ctx.session, original, client.fetch_regulatory_bundle(original.bundle_sid))


REGULATORY_BUNDLE = register_flow(
    Flow(
        name="twilio_regulatory_bundle",
        provider=Provider.TWILIO,
        steps=(
            ("items", items),
            ("bundle", bundle_step),
            ("evaluate_and_submit", evaluate_and_submit),
            ("wait_for_review", wait_for_review),
            ("replace_original_items", replace_original_items),
        ),
        max_attempts=50,
    )
)
