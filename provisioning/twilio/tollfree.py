"""Toll-free verification (US and Canada): submit once per number, follow the review,
fix and resubmit a rejected request, and say whether a number can send SMS.

Twilio blocks SMS from a toll-free number to the US and Canada until its verification is
``TWILIO_APPROVED`` (error 30032). A request is created once:

1. its row (``REQUESTED``, a fresh ``external_reference_id``) is committed before the
   create, so a second click meanwhile is told to wait;
2. after a lost answer (no answer, 5xx) the request is looked up by that reference (which
   Twilio echoes) before anything is created again, in the same attempt or the next;
3. a refusal (4xx) created nothing: the row is closed ``REFUSED`` with Twilio's words.

A rejected request that Twilio still lets edit (``edit_allowed``, before
``edit_expiration``) is resubmitted by updating it (``POST .../Verifications/{sid}``);
one that cannot be edited any more is replaced by a new request. Status comes from Event
Streams (``com.twilio.messaging.compliance.toll-free-verification.*``), whose events
carry the status only: the details (reasons, error code, edit window) are fetched.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from .. import audit, health, platform_events
from ..db import utcnow
from ..errors import DomainError, ProviderError
from ..partners import PartnerConfiguration, ValidationFailed
from ..phones import is_toll_free
from ..tenancy import Company
from . import claims
from . import tollfree_fields as fields
from .api import TwilioApi
from .models import SmsPhoneNumber
from .numbers import subaccount_client, subaccount_of
from .tollfree_models import (
    APPROVED,
    IN_REVIEW,
    PENDING_REVIEW,
    REJECTED,
    REQUESTED,
    TollfreeVerification,
)

# Ours: the create's answer was lost (looked up first next time); Twilio refused it.
UNCONFIRMED, REFUSED = "UNCONFIRMED", "REFUSED"
IN_FLIGHT = (PENDING_REVIEW, IN_REVIEW)
EVENT_PREFIX = "com.twilio.messaging.compliance.toll-free-verification."
EVENT_TYPES = [
    EVENT_PREFIX + kind
    for kind in ("pending-review", "in-review", "twilio-approved", "twilio-rejected", "edit",
                 "expired")
]  # fmt: skip
SINK_DESCRIPTION = "Toll-free verification status"  # one sink per subaccount, no PII
EDIT_EXPIRED = "30437"  # Twilio: "Toll Free verification rejection - Edit time expired"
DEFAULT_EDIT_REASON = "Corrected the details the review rejected."

STATUS_WORDS = {
    REQUESTED: "Being submitted to Twilio.",
    UNCONFIRMED: "Twilio did not answer the submission; it is looked up before trying again.",
    REFUSED: "Twilio refused the submission.",
    PENDING_REVIEW: "Submitted: waiting for Twilio's review.",
    IN_REVIEW: "In review by Twilio and the carriers.",
    APPROVED: "Verified: the number can send SMS to the US and Canada.",
    REJECTED: "Rejected.",
}


def current(session: Session, company_id: int, number_id: int) -> TollfreeVerification | None:
    """The number's active request (None: never submitted)."""
    return session.scalars(
        select(TollfreeVerification).where(
            TollfreeVerification.company_id == company_id,
            TollfreeVerification.number_id == number_id,
            TollfreeVerification.is_active.is_(True),
        )
    ).one_or_none()


def latest(session: Session, company_id: int, number_id: int) -> TollfreeVerification | None:
    """The number's newest request, active or not (a refusal is shown until replaced)."""
    return session.scalars(
        select(TollfreeVerification)
        .where(
            TollfreeVerification.company_id == company_id,
            TollfreeVerification.number_id == number_id,
        )
        .order_by(TollfreeVerification.id.desc())
        .limit(1)
    ).first()


def editable(row: TollfreeVerification | None) -> bool:
    """A rejected request Twilio lets edit. Its ``edit_expiration`` is shown, not judged
    here: Twilio refuses a late edit (30437) and the submission becomes a new request."""
    return row is not None and row.status == REJECTED and bool(row.edit_allowed)


def form_values(
    session: Session, company_id: int, number: SmsPhoneNumber, info: Any
) -> dict[str, Any]:
    """What the form starts with: the last submission's details, else the profile's."""
    row = latest(session, company_id, number.id)
    if row is not None and row.details:
        return dict(row.details)
    return fields.prefill(info)


# -- can the number send? ------------------------------------------------------------------


def send_check(session: Session, number: SmsPhoneNumber) -> tuple[bool, str] | None:
    """A toll-free number sends once verified: Twilio blocks it before (error 30032)."""
    if not is_toll_free(number.phone_number) or number.company_id is None:
        return None
    row = current(session, number.company_id, number.id)
    if row is not None and row.status == APPROVED:
        return True, "Its toll-free verification is approved."
    blocked = "Twilio blocks SMS from an unverified toll-free number (error 30032): "
    if row is None:
        return False, blocked + "submit its toll-free verification."
    if row.status == REJECTED:
        why = row.rejection_reason or "no reason given"
        fix = "fix and resubmit it." if editable(row) else "submit a new verification."
        return False, blocked + f"the verification was rejected ({why}); {fix}"
    return False, blocked + STATUS_WORDS.get(row.status, f"Twilio reports {row.status}.").lower()


# -- submitting ----------------------------------------------------------------------------


def _checked(values: dict[str, Any]) -> dict[str, Any]:
    clean = fields.clean(values)
    errors = fields.validate(clean)
    if errors:
        raise ValidationFailed(errors)
    return clean


def _verifiable(number: SmsPhoneNumber, company: Company) -> None:
    if number.company_id != company.id:
        raise DomainError("This number belongs to another company.")
    if not is_toll_free(number.phone_number):
        raise DomainError("Only a US or Canadian toll-free number needs toll-free verification.")
    if number.status != "active" or not number.provider_phone_id:
        raise DomainError("Only an active number can be verified.")


def submit(
    session: Session,
    actor: audit.Actor,
    company: Company,
    number: SmsPhoneNumber,
    client: TwilioApi,
    values: dict[str, Any],
    commit: Callable[[], None],
    *,
    events_destination: str | None = None,
    edit_reason: str | None = None,
) -> TollfreeVerification:
    """Submit ``values`` for ``number``: a new request, or the edit of a rejected one that
    Twilio still lets edit. Invalid values are refused with every field's message."""
    _verifiable(number, company)
    clean = _checked(values)
    row = current(session, company.id, number.id)
    if row is not None and editable(row):
        try:
            return resubmit(session, actor, row, client, clean, edit_reason)
        except ProviderError as exc:
            if exc.code != EDIT_EXPIRED:
                raise
            row.edit_allowed = False  # the window closed: a new request below
    if row is not None and row.status in IN_FLIGHT:
        raise DomainError("This number's verification is already in review.")
    if row is not None and row.status == APPROVED:
        raise DomainError("This number is verified already.")
    if row is not None and row.status == REJECTED:  # the edit window closed: a new request
        row.is_active = False
        session.flush()
        row = None
    row, tried = _claim(session, company, number, row, clean)
    commit()  # the intent is on record before the create
    if events_destination:
        _follow_events(client, events_destination)
    creation = client.tollfree_verification(
        number.provider_phone_id or "", row.external_reference_id, **fields.to_twilio(clean)
    )
    try:
        remote = (creation.looked_up() if tried else None) or creation.run()
    except ProviderError as exc:
        _failed(row, exc)
        commit()
        raise
    row.submitted_at = utcnow()
    apply_remote(session, row, remote, "submit")
    audit.record(session, actor, "tollfree.submit", row, label=number.phone_number,
                 company_id=company.id)  # fmt: skip
    return row


def _claim(
    session: Session,
    company: Company,
    number: SmsPhoneNumber,
    row: TollfreeVerification | None,
    clean: dict[str, Any],
) -> tuple[TollfreeVerification, bool]:
    """The number's request row claimed for this attempt, and whether an earlier attempt
    may have created it at Twilio (then it is looked up first)."""
    if row is None:
        mine = TollfreeVerification(
            company_id=company.id, number_id=number.id, status=REQUESTED, details=clean,
            external_reference_id="tfv_" + secrets.token_hex(12), requested_at=utcnow(),
        )  # fmt: skip
        row = claims.insert_or_reread(
            session, mine, lambda: current(session, company.id, number.id)
        )
        if row is mine:
            return row, False
    lapsed = or_(
        TollfreeVerification.status == UNCONFIRMED,
        TollfreeVerification.requested_at < claims.lapsed_before(),
    )
    free = (TollfreeVerification.verification_sid.is_(None), lapsed)
    values = {"status": REQUESTED, "requested_at": utcnow(), "details": clean}
    if claims.take(session, row, values, *free):
        return row, True
    if row.verification_sid:
        raise DomainError("This number's verification was submitted meanwhile.")
    raise claims.busy(f"The verification of {number.phone_number}")


def _failed(row: TollfreeVerification, exc: ProviderError) -> None:
    """A refusal (4xx) created nothing: the row closes. Otherwise the answer may be lost:
    the next attempt looks the request up first."""
    if exc.http_status and exc.http_status < 500 and exc.http_status != 429:
        row.status, row.is_active = REFUSED, False
        row.rejection_reason = str(exc)[:2000]
        code = exc.code or ""
        row.error_code = int(code) if code.isdigit() else None
    else:
        row.status = UNCONFIRMED


def resubmit(
    session: Session,
    actor: audit.Actor,
    row: TollfreeVerification,
    client: TwilioApi,
    clean: dict[str, Any],
    edit_reason: str | None = None,
) -> TollfreeVerification:
    """Edit a rejected request with corrected details (Twilio reviews it again). An edit
    sent twice is harmless; after a lost answer the request is fetched to see if it took."""
    if not editable(row) or not row.verification_sid:
        raise DomainError("Twilio no longer lets this verification be edited: submit a new one.")
    reason = (edit_reason or "").strip()[:500] or DEFAULT_EDIT_REASON
    try:
        remote = client.update_tollfree_verification(
            row.verification_sid, edit_reason=reason, **fields.to_twilio(clean)
        )
    except ProviderError as exc:
        if exc.http_status and exc.http_status < 500:
            raise
        remote = client.fetch_tollfree_verification(row.verification_sid)
        if remote.status == REJECTED:
            raise
    row.details, row.submitted_at = clean, utcnow()
    apply_remote(session, row, remote, "resubmit")
    audit.record(session, actor, "tollfree.resubmit", row, company_id=row.company_id,
                 label=(row.details or {}).get("business_name", ""))  # fmt: skip
    return row


def _follow_events(client: TwilioApi, destination: str) -> None:
    """The subaccount's sink and subscription for toll-free events (found, else made
    once). A failure is left to the poll: the verification does not wait for it."""
    try:
        sink = client.event_sink(SINK_DESCRIPTION, destination)
        sink_sid = (sink.looked_up() or sink.run()).sid
        subscription = client.event_subscription(SINK_DESCRIPTION, sink_sid, EVENT_TYPES)
        subscription.looked_up() or subscription.run()
    except ProviderError:
        pass


# -- status ----------------------------------------------------------------------------------


def apply_remote(session: Session, row: TollfreeVerification, remote: Any, source: str) -> bool:
    """Copy a fetched (or created, or updated) request; a status change is announced."""
    before = row.status
    row.verification_sid = row.verification_sid or remote.sid
    row.status = str(remote.status or row.status)
    row.rejection_reason = remote.rejection_reason
    row.rejection_reasons = list(remote.rejection_reasons or [])
    row.error_code = remote.error_code
    row.edit_allowed = bool(remote.edit_allowed)
    row.edit_expiration = remote.edit_expiration
    row.last_synced_at = utcnow()
    if row.status in (APPROVED, REJECTED) and before != row.status:
        row.decided_at = utcnow()
    if before != row.status:
        announce(session, row, before, source)
        return True
    return False


def apply_event(session: Session, company_id: int, data: dict[str, Any]) -> bool:
    """Apply a toll-free event of the company's sink: its status now; the details on the
    next fetch (``last_synced_at`` cleared). An event for another company's request, or
    one unknown, changes nothing."""
    sid = data.get("tollfreeverificationsid")
    status = str(data.get("verificationstatus") or "").upper()
    if not isinstance(sid, str) or not sid:
        return False
    row = session.scalars(
        select(TollfreeVerification).where(
            TollfreeVerification.company_id == company_id,
            TollfreeVerification.verification_sid == sid,
        )
    ).one_or_none()
    if row is None:
        return False
    row.last_synced_at = None  # the reasons and the edit window come with the next fetch
    if status not in (PENDING_REVIEW, IN_REVIEW, APPROVED, REJECTED) or status == row.status:
        return False
    before, row.status = row.status, status
    if status in (APPROVED, REJECTED):
        row.decided_at = utcnow()
    announce(session, row, before, "webhook")
    return True


def refresh(session: Session, row: TollfreeVerification, client: TwilioApi) -> bool:
    """Fetch the request and copy it (True when its status changed)."""
    if not row.verification_sid:
        return False
    return apply_remote(session, row, client.fetch_tollfree_verification(row.verification_sid),
                        "sync")  # fmt: skip


def needs_refresh(row: TollfreeVerification | None) -> bool:
    """A request still moving, or one an event changed since it was last fetched."""
    return bool(row and row.verification_sid and row.is_active
                and (row.status in IN_FLIGHT or row.last_synced_at is None))  # fmt: skip


def due_for_poll(session: Session, limit: int = 200) -> list[TollfreeVerification]:
    """Active requests to fetch: those in review, or changed by an event since."""
    return list(
        session.scalars(
            select(TollfreeVerification)
            .where(
                TollfreeVerification.is_active.is_(True),
                TollfreeVerification.verification_sid.is_not(None),
                or_(
                    TollfreeVerification.status.in_(IN_FLIGHT),
                    TollfreeVerification.last_synced_at.is_(None),
                ),
            )
            .order_by(
                TollfreeVerification.last_synced_at.is_(None).desc(),
                TollfreeVerification.last_synced_at,
            )
            .limit(limit)
        )
    )


def subaccount_api(session: Session, company_id: int, transport: Any) -> TwilioApi | None:
    """The company's subaccount API for the poll (None: no usable subaccount)."""
    sub = subaccount_of(session, company_id)
    if sub is None or not sub.account_sid or sub.status != "active":
        return None
    config = session.get(PartnerConfiguration, sub.partner_configuration_id)
    return None if config is None else subaccount_client(sub, config, transport)


def poll(
    session: Session, client_of: Callable[[int], TwilioApi | None], commit: Callable[[], None]
) -> int:
    """Fetch every request due (``client_of``: a company's subaccount API, None to skip);
    a failure of one leaves it for the next pass. Returns how many changed status."""
    changed = 0
    clients: dict[int, TwilioApi | None] = {}
    for row in due_for_poll(session):
        if row.company_id not in clients:
            clients[row.company_id] = client_of(row.company_id)
        client = clients[row.company_id]
        if client is None:
            continue
        try:
            changed += refresh(session, row, client)
        except ProviderError:
            continue
        commit()
    return changed


def data_of(row: TollfreeVerification) -> dict[str, Any]:
    """A request as ``tollfree_verification.updated`` events carry it (no business data)."""
    return {
        "id": row.id, "sid": row.verification_sid, "number_id": row.number_id,
        "status": row.status, "rejection_reason": row.rejection_reason,
        "error_code": row.error_code, "edit_allowed": row.edit_allowed,
        "edit_expiration": row.edit_expiration.isoformat() if row.edit_expiration else None,
    }  # fmt: skip


def announce(session: Session, row: TollfreeVerification, before: str | None, source: str) -> None:
    """``tollfree_verification.updated``: the request's status went from ``before``."""
    data = {
        "verification": data_of(row),
        "changes": {"status": {"from": before, "to": row.status}},
        "source": source,
    }
    platform_events.emit(session, "tollfree_verification.updated", row.company_id,
                         f"number:{row.number_id}", data)  # fmt: skip
    if row.status == REJECTED:  # the company's admins hear of it (and the platform's)
        number = session.get(SmsPhoneNumber, row.number_id)
        health.raise_company_notice(session, row.company_id, (
            f"Twilio rejected the toll-free verification of "
            f"{number.phone_number if number else 'a number'}: its page says why and lets you "
            "fix and resubmit it."
        ))  # fmt: skip
