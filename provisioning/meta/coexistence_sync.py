"""Synchronizing a WhatsApp Business app number's contacts and chat history (issue 17
item 4): a resumable run, started when a coexistence signup completes or by a person, and
a warning before Meta's 24-hour window closes.

Meta's pages (developers.facebook.com/documentation/business-messaging/whatsapp/):
``embedded-signup/onboarding-business-app-users`` (Synchronizing WhatsApp Business app
data): ``POST /{phone}/smb_app_data`` with ``sync_type`` ``smb_app_state_sync`` (contacts),
then ``history``; each **once per onboarding, within 24 hours of it** (afterwards only
offboarding and a new signup allow it again). The number's ``last_onboarded_time``
(``business-phone-numbers/phone-numbers``, Graph's phone number fields) starts the window.

A run of ``meta_coexistence_sync`` has two steps, ``sync_contacts`` and ``sync_history``.
Each sends its request at most once: the intent is recorded (and the sync marked requested)
before the call, and an attempt that finds the intent recorded, its answer lost, does not
ask again, as Meta would refuse a second request anyway. A refusal saying the sync was
already requested (the simulator's code 100, "already requested") means it was sent. Only a
person's new run asks again for a sync whose request was never confirmed.

The webhooks that follow are applied by :mod:`.coexistence_webhooks`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from .. import audit, health, platform_events, runs
from ..channels import Channel
from ..db import utcnow
from ..errors import DomainError, Rejected
from ..partners import Provider
from ..phones import digits_of
from ..runs import Flow, ProvisioningRun, RunStatus, StepContext
from ..tenancy import tenant_get, tenant_select
from . import lifecycle
from .coexistence import SYNC_WINDOW, onboarded_at, start_sync, window_closes_at
from .coexistence_models import MetaCoexistenceSync
from .models import MetaWhatsAppPhoneNumber

FLOW_NAME = "meta_coexistence_sync"
CONTACTS, HISTORY = "smb_app_state_sync", "history"
LABELS = {CONTACTS: "contacts", HISTORY: "chat history"}
WARN_BEFORE = dt.timedelta(hours=4)
PHONE_FIELDS = "is_on_biz_app,last_onboarded_time"
NOT_ON_THE_APP = (
    "This number was not onboarded from the WhatsApp Business app: it has no app contacts or "
    "chat history to synchronize."
)
ALREADY_ASKED = (
    "Meta was already asked for this number's contacts and chat history: it accepts each "
    "once per onboarding."
)


def window_closed(state: MetaCoexistenceSync) -> str:
    """Why a sync can no longer be asked for, in plain words."""
    closed = state.window_closes_at
    when = f" on {closed:%Y-%m-%d at %H:%M} UTC" if closed else ""
    return (
        f"Meta's 24 hours to synchronize this number's WhatsApp Business app contacts and chat "
        f"history ended{when}. Meta allows it only within a day of onboarding: the business "
        "must disconnect the number and connect it again through the signup to get a new day."
    )


# -- state ----------------------------------------------------------------------------------
def state_of(session: Session, number: MetaWhatsAppPhoneNumber) -> MetaCoexistenceSync | None:
    """The number's sync state, if it ever had one (what the number's page shows)."""
    return session.scalars(
        tenant_select(MetaCoexistenceSync, number.company_id).where(
            MetaCoexistenceSync.number_id == number.id
        )
    ).one_or_none()


@dataclass(frozen=True)
class SyncView:
    """What the number's page shows: the state, the run under way (or failed), whether
    Meta's window is open (None: not known yet) and whether a person may ask."""

    state: MetaCoexistenceSync | None
    run: ProvisioningRun | None
    window_open: bool | None
    can_start: bool


def view(session: Session, number: MetaWhatsAppPhoneNumber) -> SyncView | None:
    """The number's sync for its page; None for a number not from the WhatsApp Business app
    that never had one."""
    state = state_of(session, number)
    if state is None and not number.is_on_biz_app:
        return None
    closes = state.window_closes_at if state else None
    window_open = None if closes is None else utcnow() <= closes
    run = active_run(session, number)
    wanted = state is None or not (state.contacts_confirmed_at and state.history_confirmed_at)
    busy = run is not None and run.status is not RunStatus.FAILED
    can_start = number.is_on_biz_app and window_open is not False and wanted and not busy
    return SyncView(state, run, window_open, can_start)


def state_for(session: Session, number: MetaWhatsAppPhoneNumber) -> MetaCoexistenceSync:
    """The number's sync state, created when missing (its window then unknown)."""
    state = state_of(session, number)
    if state is None:
        state = MetaCoexistenceSync(company_id=number.company_id, number=number)
        session.add(state)
        session.flush()
    return state


def summary(state: MetaCoexistenceSync) -> dict[str, Any]:
    """The state as events and the API show it."""
    number = state.number
    return {
        "phone_number_id": number.phone_number_id,
        "phone_number": "+" + digits_of(number.display_phone_number),
        "channel_id": number.channel_id,
        "window_closes_at": _iso(state.window_closes_at),
        "contacts": {
            "status": state.contacts_status, "requested_at": _iso(state.contacts_requested_at),
            "request_id": state.contacts_request_id, "count": state.contacts_count,
        },
        "history": {
            "status": state.history_status, "requested_at": _iso(state.history_requested_at),
            "request_id": state.history_request_id, "progress": state.history_progress,
            "phase": state.history_phase, "messages": state.history_messages,
            "declined": state.history_declined,
            "completed_at": _iso(state.history_completed_at),
        },
    }  # fmt: skip


def announce(session: Session, state: MetaCoexistenceSync) -> None:
    """``coexistence.updated``, in the transaction that changed the state."""
    number = state.number
    key = f"channel:{number.channel_id}" if number.channel_id else f"number:{number.id}"
    platform_events.emit(
        session, "coexistence.updated", number.company_id, key, {"coexistence": summary(state)}
    )


def notify(session: Session, number: MetaWhatsAppPhoneNumber, message: str) -> bool:
    """An alert about the number for the company's admins and the platform's (False when
    the number has no channel to point the alert at)."""
    channel = session.get(Channel, number.channel_id) if number.channel_id else None
    if channel is None:
        return False
    health.raise_channel_notice(session, channel, message)
    return True


def label_of(number: MetaWhatsAppPhoneNumber) -> str:
    digits = digits_of(number.display_phone_number)
    shown = f"+{digits}" if digits else number.phone_number_id
    return f"{number.verified_name} ({shown})" if number.verified_name else shown


# -- starting a run -------------------------------------------------------------------------
def start_after_signup(session: Session, signup: ProvisioningRun) -> list[ProvisioningRun]:
    """A sync run for each WhatsApp Business app number a coexistence signup connected,
    once per signup run (called in the transaction of its last step)."""
    started = []
    for phone_id in signup.context.get("phone_number_ids") or []:
        number = session.scalars(
            tenant_select(MetaWhatsAppPhoneNumber, signup.company_id).where(
                MetaWhatsAppPhoneNumber.phone_number_id == phone_id
            )
        ).one_or_none()
        if number is None or not number.is_on_biz_app:
            continue
        state = state_for(session, number)
        if state.window_closes_at is None or utcnow() > state.window_closes_at:
            state.window_closes_at = utcnow() + SYNC_WINDOW  # the first step reads Meta's
        run, new = runs.start_once(
            session, audit.SYSTEM, FLOW, signup.company_id, f"{phone_id}:signup:{signup.id}",
            partner_configuration_id=signup.partner_configuration_id,
            context=_context(number, "signup"),
        )  # fmt: skip
        if new:
            started.append(run)
    if started:  # the job that ran the signup starts them at once (runs.FOLLOW_UPS)
        session.flush()
        follow_ups = [*signup.context.get(runs.FOLLOW_UPS, []), *(r.id for r in started)]
        signup.context = {**signup.context, runs.FOLLOW_UPS: follow_ups}
    return started


def start_by_person(
    session: Session, actor: audit.Actor, number: MetaWhatsAppPhoneNumber
) -> ProvisioningRun:
    """A person asks for the sync: the number's unfinished run (a failed one resumes), or
    a new run that asks for what was never asked, or asked without an answer."""
    if not number.is_on_biz_app:
        raise DomainError(NOT_ON_THE_APP)
    state = state_for(session, number)
    if state.window_closes_at is not None and utcnow() > state.window_closes_at:
        raise DomainError(window_closed(state))
    if state.contacts_confirmed_at and state.history_confirmed_at:
        raise DomainError(ALREADY_ASKED)
    earlier = active_run(session, number)
    if earlier is not None:
        if earlier.status is RunStatus.FAILED:
            earlier.context = {**earlier.context, "started_by": "person"}
            runs.retry(session, actor, earlier)
        return earlier  # under way, or resumed from its failed step
    run = runs.start_run(
        session, actor, FLOW, number.company_id,
        partner_configuration_id=number.client.partner_configuration_id,
        context=_context(number, "person"),
    )  # fmt: skip
    audit.record(session, actor, "number.coexistence_sync", number,
                 company_id=number.company_id, label=label_of(number))  # fmt: skip
    return run


def active_run(session: Session, number: MetaWhatsAppPhoneNumber) -> ProvisioningRun | None:
    """The number's unfinished (or failed) sync run."""
    for run in session.scalars(
        tenant_select(ProvisioningRun, number.company_id).where(
            ProvisioningRun.flow == FLOW_NAME,
            ProvisioningRun.status.in_((*runs.RUNNABLE, RunStatus.FAILED)),
        )
    ):
        if run.context.get("number_id") == number.id:
            return run
    return None


def _context(number: MetaWhatsAppPhoneNumber, started_by: str) -> dict[str, Any]:
    return {
        "number_id": number.id, "phone_number_id": number.phone_number_id,
        "waba_id": number.client.waba_id, "started_by": started_by,
    }  # fmt: skip


# -- steps ----------------------------------------------------------------------------------
def sync_contacts(ctx: StepContext) -> None:
    """Ask Meta for the app's contacts (they come as ``smb_app_state_sync`` webhooks)."""
    _request(ctx, CONTACTS)


def sync_history(ctx: StepContext) -> None:
    """Ask Meta for the app's chat history (``history`` webhooks, or the decline)."""
    _request(ctx, HISTORY)


def _request(ctx: StepContext, sync_type: str) -> None:
    number = tenant_get(
        ctx.session, MetaWhatsAppPhoneNumber, ctx.run.company_id, ctx.run.context["number_id"]
    )
    state = state_for(ctx.session, number)
    if ctx.step.effect_intended_at is not None:
        return  # sent before, or maybe (its answer lost): Meta takes each sync once
    reach = lifecycle.access(ctx.session, number, ctx.services.get("transport"))
    person = ctx.run.context.get("started_by") == "person"
    with reach.graph:
        phone = reach.graph.get(f"/{reach.phone_id}", reach.token, fields=PHONE_FIELDS)
        _observe_onboarding(state, phone)
        asked = state.requested_at(sync_type) is not None
        if asked and (state.confirmed_at(sync_type) is not None or not person):
            return  # asked already; only a person asks again for an unconfirmed request
        if not phone.get("is_on_biz_app"):
            raise DomainError(NOT_ON_THE_APP)
        if state.window_closes_at is not None and utcnow() > state.window_closes_at:
            raise DomainError(window_closed(state))
        before = state.requested_at(sync_type)
        _set(state, sync_type, "requested_at", utcnow())
        ctx.intend()  # durable with the mark: a lost answer is never followed by a resend
        try:
            request_id = start_sync(reach.graph, reach.phone_id, reach.token, sync_type)
        except Rejected as exc:
            if _already_requested(exc):
                request_id = None
            else:  # refused, so not sent: a retry may ask again
                _set(state, sync_type, "requested_at", before)
                ctx.step.effect_intended_at = None
                raise _explained(exc, state) from exc
    _set(state, sync_type, "confirmed_at", utcnow())
    _set(state, sync_type, "request_id", request_id)
    ctx.record_ids(**{f"{_prefix(sync_type)}_request_id": request_id})
    ctx.done_effect()
    announce(ctx.session, state)


def _observe_onboarding(state: MetaCoexistenceSync, phone: dict[str, Any]) -> None:
    """Meta's ``last_onboarded_time`` sets the window; a newer onboarding than the one on
    record allows each sync once more, so the state starts over."""
    try:
        onboarded = onboarded_at(str(phone.get("last_onboarded_time") or ""))
    except ValueError:
        return  # not said: the estimate made at signup stands
    if state.onboarded_at is not None and onboarded > state.onboarded_at:
        for name in (
            "contacts_requested_at", "contacts_confirmed_at", "contacts_request_id",
            "history_requested_at", "history_confirmed_at", "history_request_id",
            "history_progress", "history_phase", "history_completed_at", "window_warned_at",
        ):  # fmt: skip
            setattr(state, name, None)
        state.contacts_count = state.history_messages = 0
        state.history_declined = False
    state.onboarded_at, state.window_closes_at = onboarded, window_closes_at(onboarded)


def _prefix(sync_type: str) -> str:
    return "contacts" if sync_type == CONTACTS else "history"


def _set(state: MetaCoexistenceSync, sync_type: str, name: str, value: Any) -> None:
    setattr(state, f"{_prefix(sync_type)}_{name}", value)


def _already_requested(exc: Rejected) -> bool:
    return exc.code == "100" and "already requested" in (exc.message or "").lower()


def _explained(exc: Rejected, state: MetaCoexistenceSync) -> Rejected:
    """Meta's refusal, in plain words when it says the window is over or the number is not
    a WhatsApp Business app number."""
    text = (exc.message or "").lower()
    if "24 hours" in text or (state.window_closes_at and utcnow() > state.window_closes_at):
        message = window_closed(state)
    elif "business app" in text:
        message = NOT_ON_THE_APP
    else:
        return exc
    return Rejected(exc.provider, message, exc.http_status, exc.code, exc.subcode, exc.trace_id)


FLOW = runs.register_flow(
    Flow(
        name=FLOW_NAME,
        provider=Provider.META,
        steps=(("sync_contacts", sync_contacts), ("sync_history", sync_history)),
    )
)


# -- the window ---------------------------------------------------------------------------
def warn_closing_windows(
    session: Session, now: dt.datetime | None = None, before: dt.timedelta = WARN_BEFORE
) -> int:
    """One alert per number whose contacts or history were not asked for while less than
    ``before`` of Meta's 24 hours remain; how many were raised."""
    now = now or utcnow()
    due = session.scalars(
        select(MetaCoexistenceSync)
        .where(
            MetaCoexistenceSync.window_warned_at.is_(None),
            MetaCoexistenceSync.window_closes_at > now,
            MetaCoexistenceSync.window_closes_at <= now + before,
            or_(
                MetaCoexistenceSync.contacts_requested_at.is_(None),
                MetaCoexistenceSync.history_requested_at.is_(None),
            ),
        )
        .order_by(MetaCoexistenceSync.id)
    ).all()
    raised = 0
    for state in due:
        state.window_warned_at = now
        number = state.number
        if number.is_on_biz_app and number.client.readable:
            raised += notify(session, number, _warning(state, now))
    session.flush()
    return raised


def _warning(state: MetaCoexistenceSync, now: dt.datetime) -> str:
    missing = " and ".join(
        LABELS[kind] for kind in (CONTACTS, HISTORY) if state.requested_at(kind) is None
    )
    closes = state.window_closes_at or now
    minutes = max(0, int((closes - now).total_seconds() // 60))
    return (
        f"{label_of(state.number)}: its WhatsApp Business app {missing} can be synchronized "
        f"for {minutes // 60} h {minutes % 60:02d} min more (until {closes:%Y-%m-%d %H:%M} "
        "UTC), then Meta no longer allows it. Start the sync on the number's page."
    )


def _iso(at: dt.datetime | None) -> str | None:
    return at.isoformat().replace("+00:00", "Z") if at else None
