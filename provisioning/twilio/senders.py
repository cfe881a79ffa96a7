"""WhatsApp senders in a company's subaccount (Tech Provider flow, fact sheet §3).

The company runs Meta's Embedded Signup with Twilio's partner solution id, which shares
its WABA with Twilio; the platform then creates the sender with the subaccount's own
credentials, relays the verification code, and follows the status.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from .. import audit, phones, platform_events
from ..db import utcnow
from ..errors import DomainError, ProviderError, Rejected
from ..health import upsert_channel
from ..partners import Provider
from ..tenancy import Company
from ..text import ascii_digits, has_control_characters
from . import claims
from .api import TwilioApi
from .models import TwilioSubaccount, TwilioWhatsAppSender

EXPLANATIONS = {
    "63100": "Twilio refused the sender's details. Check the number and the display name.",
    "63101": "Twilio cannot see this WhatsApp Business Account: finish Meta's signup from "
    "this page, so that the account is shared with Twilio's partner solution.",
    "63102": "This Twilio account is already linked to another WhatsApp Business Account; "
    "Twilio allows one per account.",
    "63107": "The number is not a valid E.164 phone number.",
    # twilio.com/docs/api/errors/63062 (docs/providers-2026.md)
    "63062": "The business has not accepted Meta's Terms of Service for the Marketing Messages "
    "API: accept them in WhatsApp Manager (Overview > Alerts), then send again.",
    # No public page for these two could be read (docs/providers-2026.md): say what is
    # known, and where to look, rather than guess at a cause.
    "63059": "Twilio refused this WhatsApp request with error 63059. Its page, "
    "twilio.com/docs/api/errors/63059, gives the cause and the fix; Twilio support can "
    "help with the sender's SID.",
    "30915": "Twilio could not deliver through this sender (error 30915). Its page, "
    "twilio.com/docs/api/errors/30915, gives the cause and the fix; Twilio support can "
    "help with the message or sender SID.",
}

# What each sender status (the spec's enum, open set) means for the company, and how it
# reads: Twilio documents no per-state meanings (fact sheet §9); these follow the Senders
# API pages named in docs/providers-2026.md.
SENDER_STATES = {
    "CREATING": ("warn", "Twilio is creating the sender."),
    "PENDING_VERIFICATION": ("warn", "Meta sent a code to the number: enter it to verify."),
    "VERIFYING": ("warn", "Meta is checking the verification code."),
    "TWILIO_REVIEW": ("warn", "Twilio is reviewing the sender; nothing to do meanwhile."),
    "ONLINE": ("ok", "The sender can send and receive messages."),
    "ONLINE:UPDATING": ("ok", "Online; a profile change is being applied."),
    "OFFLINE": ("bad", "The sender cannot send messages: see the reasons."),
    "DRAFT": ("warn", "Saved but not submitted for registration yet."),
    "STUBBED": ("warn", "A placeholder for the number: not registered with WhatsApp yet."),
}
# Statuses that change by themselves: the senders page follows them.
TRANSITIONAL = frozenset({"CREATING", "VERIFYING", "ONLINE:UPDATING", "TWILIO_REVIEW"})


def explain(exc: ProviderError) -> ProviderError:
    """Twilio's sender errors in plain words, keeping the code for support."""
    if exc.code in EXPLANATIONS:
        return Rejected("twilio", EXPLANATIONS[exc.code], exc.http_status, exc.code)
    return exc


def state(status: str | None) -> tuple[str, str]:
    """(tone, plain words) of a sender status; an unknown one is shown as Twilio sent it."""
    return SENDER_STATES.get((status or "").upper(), ("warn", f"Twilio reports {status}."))


def offline_reason_text(reason: dict[str, Any]) -> str:
    """One ``offline_reasons`` item in plain words (Twilio's message when we have none)."""
    code = str(reason.get("code") or "")
    text = EXPLANATIONS.get(code) or reason.get("message") or "no reason given"
    return f"{code}: {text}" if code else str(text)


def sender_row(session: Session, sender_id: str) -> TwilioWhatsAppSender | None:
    return session.scalars(
        select(TwilioWhatsAppSender).where(TwilioWhatsAppSender.sender_id == sender_id)
    ).one_or_none()


def check_sender(phone_number: str, waba_id: str, profile_name: str) -> str:
    """Refuse a sender's details Twilio would refuse, before anything is created for it;
    the number in E.164."""
    try:
        phone_number = phones.e164(phone_number)
    except phones.InvalidPhoneNumber as exc:
        raise DomainError(str(exc)) from exc
    if not profile_name.strip() or not waba_id:
        raise DomainError("A sender needs a display name and the WhatsApp Business Account.")
    if has_control_characters(profile_name):
        raise DomainError("The display name must be one line, without control characters.")
    return phone_number


def create_sender(
    session: Session,
    actor: audit.Actor,
    company: Company,
    sub: TwilioSubaccount,
    client: TwilioApi,
    *,
    phone_number: str,
    waba_id: str,
    profile_name: str,
    callback_url: str,
    status_callback_url: str,
    commit: Any,
) -> TwilioWhatsAppSender:
    """Create (or find, after a lost answer) the sender for ``phone_number``.

    The row is committed (claimed) before the call: a second request meanwhile is told to
    try again in a moment, and a later attempt lists the senders before creating.
    """
    phone_number = check_sender(phone_number, waba_id, profile_name)
    sender_id = f"whatsapp:{phone_number}"
    row, tried = _claim_sender(session, company, sub, sender_id, waba_id, profile_name.strip())
    if row.sender_sid:
        return row
    commit()  # on record before the call: a lost answer is looked up, not repeated
    body = {
        "configuration": {"waba_id": waba_id, "verification_method": "sms"},
        "profile": {"name": row.profile_name},
        "webhook": {"callback_url": callback_url, "status_callback_url": status_callback_url},
    }
    try:
        remote = client.find_sender(sender_id) if tried else None
        remote = remote or client.create_sender(sender_id, body)
    except ProviderError as exc:
        row.last_error = str(explain(exc))[:500]  # also ends the claim
        commit()
        raise explain(exc) from exc
    audit.record(session, actor, "twilio_sender.create", row, label=sender_id,
                 company_id=company.id)  # fmt: skip
    return _apply(session, row, remote)


def _claim_sender(
    session: Session,
    company: Company,
    sub: TwilioSubaccount,
    sender_id: str,
    waba_id: str,
    profile_name: str,
) -> tuple[TwilioWhatsAppSender, bool]:
    """The sender's row, claimed for this request (unless it has its sender already), and
    whether an earlier attempt was made. A claim is a row with neither sender nor error,
    touched within the claim's lifetime."""
    row = sender_row(session, sender_id)
    if row is None:
        mine = TwilioWhatsAppSender(
            company_id=company.id, subaccount_id=sub.id, sender_id=sender_id,
            waba_id=waba_id, profile_name=profile_name,
        )  # fmt: skip
        row = claims.insert_or_reread(session, mine, lambda: sender_row(session, sender_id))
        if row is mine:
            return row, False
    if row.company_id != company.id:
        raise DomainError("This number is a sender of another company.")
    if row.sender_sid:
        return row, True
    lapsed = or_(
        TwilioWhatsAppSender.last_error.is_not(None),
        TwilioWhatsAppSender.updated_at < claims.lapsed_before(),
    )
    free = (TwilioWhatsAppSender.sender_sid.is_(None), lapsed)
    if claims.take(session, row, {"last_error": None, "updated_at": utcnow()}, *free):
        return row, True
    if row.sender_sid:
        return row, True
    raise claims.busy(f"Creating the sender {sender_id}")


def submit_verification_code(
    session: Session, actor: audit.Actor, row: TwilioWhatsAppSender, client: TwilioApi, code: str
) -> TwilioWhatsAppSender:
    code = code.strip()
    if not ascii_digits(code, 4, 10):
        raise DomainError("The verification code is the digits Meta sent to the number.")
    try:
        remote = client.update_sender(sid_of(row), {"configuration": {"verification_code": code}})
    except ProviderError as exc:
        raise explain(exc) from exc
    audit.record(session, actor, "twilio_sender.verify", row, label=row.sender_id,
                 company_id=row.company_id)  # fmt: skip
    return _apply(session, row, remote)


def follow_changing(
    session: Session, rows: list[TwilioWhatsAppSender], api: Callable[[], Any]
) -> None:
    """Refresh the senders whose status is still changing (Twilio documents no callback
    for it). ``api`` gives the subaccount and its API; when Twilio cannot be asked now (a
    paused configuration, an error), the senders stay as stored."""
    moving = [r for r in rows if r.sender_sid and r.status in TRANSITIONAL]
    if not moving:
        return
    try:
        _, client = api()
        for row in moving:
            refresh_sender(session, row, client)
    except (DomainError, ProviderError):
        return


def sid_of(row: TwilioWhatsAppSender) -> str:
    """The sender's SID at Twilio; a sender still being created has none yet."""
    if not row.sender_sid:
        raise DomainError(f"The sender {row.sender_id} is still being created at Twilio.")
    return row.sender_sid


def refresh_sender(session: Session, row: TwilioWhatsAppSender, client: TwilioApi) -> None:
    _apply(session, row, client.fetch_sender(sid_of(row)))


def _apply(session: Session, row: TwilioWhatsAppSender, remote: Any) -> TwilioWhatsAppSender:
    """Copy a sender resource (raw strings) to its row and the unified channel."""
    before = row.status
    for name, value in sender_values(remote, row).items():
        setattr(row, name, value)
    row.last_error, row.last_synced_at = None, utcnow()
    publish_sender(session, row)
    announce_status(session, row, before, "onboarding")
    return row


def announce_status(
    session: Session, row: TwilioWhatsAppSender, before: str | None, source: str
) -> None:
    """``sender.updated`` when the sender's status is no longer ``before``."""
    if row.status == before:
        return
    data = {
        "sender": {
            "id": row.id, "phone_number": row.sender_id.removeprefix("whatsapp:"),
            "sid": row.sender_sid, "status": row.status, "profile_name": row.profile_name,
            "waba_id": row.waba_id, "channel_id": row.channel_id,
            "offline_reasons": list(row.offline_reasons or []),
        },
        "changes": {"status": {"from": before, "to": row.status}},
        "source": source,
    }  # fmt: skip
    platform_events.emit(session, "sender.updated", row.company_id, f"sender:{row.id}", data)


def sender_values(remote: Any, row: TwilioWhatsAppSender) -> dict[str, Any]:
    """A sender resource's fields as the row's column values (raw strings; the known
    status is kept when Twilio reports none)."""
    properties = remote.properties or {}
    return {
        "sender_sid": remote.sid,
        "status": remote.status or row.status,
        "offline_reasons": list(remote.offline_reasons or []),
        "quality_rating": properties.get("quality_rating"),
        "messaging_limit": properties.get("messaging_limit"),
    }


def publish_sender(session: Session, row: TwilioWhatsAppSender, source: str = "onboarding") -> None:
    """The sender as the company's unified channel."""
    reasons = row.offline_reasons if (row.status or "").upper() == "OFFLINE" else []
    channel = upsert_channel(
        session,
        row.company_id,
        Provider.TWILIO,
        sid_of(row),
        source=source,
        explain=[offline_reason_text(r) for r in reasons if isinstance(r, dict)],
        phone_number=row.sender_id.removeprefix("whatsapp:"),
        display_name=row.profile_name,
        status=row.status,
        quality_rating=_quality(row.quality_rating),
        messaging_limit=row.messaging_limit or "",
        last_synced_at=row.last_synced_at,
    )
    session.flush()
    row.channel_id = channel.id


def _quality(value: str | None) -> str:
    # Twilio reports HIGH/MEDIUM/LOW; the fleet speaks Meta's colours.
    mapping = {"HIGH": "GREEN", "MEDIUM": "YELLOW", "LOW": "RED"}
    return mapping.get((value or "").upper(), (value or "UNKNOWN").upper())
