"""Offboarding a company's Twilio senders, numbers and subaccount as a resumable run.

A run of ``twilio_offboarding`` does what its context asks, in this order:

1. ``delete_senders``: each WhatsApp sender still listed in the subaccount is deleted
   (``DELETE /v2/Channels/Senders/{XE}``). The subaccount's senders are listed first, so a
   deletion whose answer was lost is found done, not sent again.
2. ``release_numbers``: each number still in the subaccount is released for good
   (``DELETE IncomingPhoneNumbers/{PN}``), or, when the platform keeps it, returned to its
   pool: its webhooks cleared, then moved to the master account with the parent's
   credentials (``POST IncomingPhoneNumbers/{PN}`` ``AccountSid``). Every attempt looks
   the number up in the subaccount (and the master) first.
3. ``close_subaccount`` (a whole company only), last of all: it waits until the company's
   other offboarding runs have done their provider work, reads the subaccount's status
   and closes it when it is still open (``POST Accounts/{AC}`` ``Status=closed``, the
   parent's credentials). Closing cannot be undone: Twilio releases what numbers are left
   and refuses the subaccount's credentials from then on.
4. ``record_offboarded``: senders and their channels marked offboarded, the closed
   subaccount's auth token dropped.

Twilio's pages: twilio.com/docs/whatsapp/api/senders (delete a sender),
twilio.com/docs/phone-numbers/api/incomingphonenumber-resource (release: "permanent"; move
with ``AccountSid``), twilio.com/docs/iam/api/subaccounts and help.twilio.com/articles/
223135987 (closing releases every number; a closed account cannot be reopened).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from .. import audit, clients, offboarded
from ..db import utcnow
from ..errors import DomainError
from ..partners import PartnerConfiguration, Provider
from ..runs import Flow, ProvisioningRun, StepContext, register_flow
from ..tenancy import tenant_select
from .api import TwilioApi
from .models import SmsPhoneNumber, TwilioSubaccount, TwilioWhatsAppSender
from .numbers import announce, subaccount_client

FLOW_NAME = "twilio_offboarding"
NUMBER_HOOKS = ("sms_url", "sms_fallback_url", "voice_url", "voice_fallback_url",
                "status_callback")  # fmt: skip
OFFBOARDED = "OFFBOARDED"


def start_sender(
    session: Session, actor: audit.Actor, sub: TwilioSubaccount, row: TwilioWhatsAppSender
) -> ProvisioningRun:
    """A run that deletes one WhatsApp sender."""
    return _start(session, actor, sub, f"sender:{row.sender_id}", {"sender_ids": [row.id]})


def start_number(
    session: Session,
    actor: audit.Actor,
    sub: TwilioSubaccount,
    row: SmsPhoneNumber,
    *,
    return_to_pool: bool = False,
) -> ProvisioningRun:
    """A run that releases one number, or returns it to the platform's pool."""
    context = {"number_ids": [row.id], "return_to_pool": return_to_pool}
    return _start(session, actor, sub, f"number:{row.phone_number}", context)


def start_company(
    session: Session,
    actor: audit.Actor,
    sub: TwilioSubaccount,
    *,
    return_to_pool: bool = False,
    **extra: Any,
) -> ProvisioningRun:
    """A run that deletes every sender, releases (or returns) every number, then closes
    the subaccount."""
    senders = session.scalars(
        tenant_select(TwilioWhatsAppSender, sub.company_id).where(
            TwilioWhatsAppSender.subaccount_id == sub.id
        )
    )
    numbers = session.scalars(
        tenant_select(SmsPhoneNumber, sub.company_id).where(
            SmsPhoneNumber.account_sid == sub.account_sid, SmsPhoneNumber.status == "active"
        )
    )
    context = {
        "sender_ids": [row.id for row in senders], "number_ids": [row.id for row in numbers],
        "return_to_pool": return_to_pool, "close_subaccount": True, **extra,
    }  # fmt: skip
    return _start(session, actor, sub, f"subaccount:{sub.id}", context)


def _start(
    session: Session, actor: audit.Actor, sub: TwilioSubaccount, target: str, context: dict
) -> ProvisioningRun:
    if not sub.account_sid or sub.partner_configuration_id is None:
        raise DomainError("The company's Twilio subaccount is still being created.")
    return offboarded.start(
        session, actor, FLOW, sub.company_id, target,
        partner_configuration_id=sub.partner_configuration_id,
        context={"subaccount_id": sub.id, **context},
    )  # fmt: skip


def _config(ctx: StepContext) -> PartnerConfiguration:
    config = ctx.session.get(PartnerConfiguration, ctx.run.partner_configuration_id)
    if config is None:
        raise DomainError("The Twilio partner configuration of this run was deleted.")
    return config


def _sub(ctx: StepContext) -> TwilioSubaccount:
    sub = ctx.session.get(TwilioSubaccount, ctx.run.context.get("subaccount_id"))
    if sub is None or sub.company_id != ctx.run.company_id:
        raise DomainError("The company's Twilio subaccount is gone.")
    return sub


def _sub_api(ctx: StepContext) -> TwilioApi:
    return subaccount_client(_sub(ctx), _config(ctx), ctx.services.get("transport"))


def _master(ctx: StepContext) -> TwilioApi:
    return clients.twilio_master(_config(ctx), ctx.services.get("transport"))


def _senders(ctx: StepContext) -> list[TwilioWhatsAppSender]:
    ids = ctx.run.context.get("sender_ids") or []
    return list(ctx.session.scalars(
        tenant_select(TwilioWhatsAppSender, ctx.run.company_id)
        .where(TwilioWhatsAppSender.id.in_(ids)).order_by(TwilioWhatsAppSender.id)
    ))  # fmt: skip


def _numbers(ctx: StepContext) -> list[SmsPhoneNumber]:
    ids = ctx.run.context.get("number_ids") or []
    return list(ctx.session.scalars(
        tenant_select(SmsPhoneNumber, ctx.run.company_id)
        .where(SmsPhoneNumber.id.in_(ids)).order_by(SmsPhoneNumber.id)
    ))  # fmt: skip


# -- steps ----------------------------------------------------------------------------------
def delete_senders(ctx: StepContext) -> None:
    """Delete each sender the subaccount still lists, once."""
    sids = [row.sender_sid for row in _senders(ctx) if row.sender_sid]
    if not sids:
        return
    api = _sub_api(ctx)
    listed = {sender.sid for sender in api.whatsapp_senders()}
    for sid in sids:
        if sid in listed:
            ctx.intend()
            ctx.durable()
            api.delete_sender(sid)
        offboarded.note(ctx, "deleted", sid)
        ctx.durable()
    if ctx.step.effect_intended_at is not None:
        ctx.done_effect()


def release_numbers(ctx: StepContext) -> None:
    """Release each number still in the subaccount, or return it to the pool, once."""
    rows = [r for r in _numbers(ctx) if r.status == "active" and r.provider_phone_id]
    if not rows:
        return
    api, sub = _sub_api(ctx), _sub(ctx)
    keep = bool(ctx.run.context.get("return_to_pool"))
    for row in rows:
        sid = row.provider_phone_id or ""
        if row.account_sid != sub.account_sid:
            continue  # moved to the pool by an earlier attempt (recorded below)
        if api.owned_number(row.phone_number) is None:
            _gone(ctx, row, keep)
            continue
        ctx.intend()
        ctx.durable()
        if keep:
            api.update_number(sid, **{hook: "" for hook in NUMBER_HOOKS})
            master = _master(ctx)
            master.move_number(row.account_sid or "", sid, master.account_sid)
            _pooled(ctx, row, master.account_sid)
        else:
            api.release_number(sid)
            _released(ctx, row)
        ctx.durable()
    if ctx.step.effect_intended_at is not None:
        ctx.done_effect()


def _gone(ctx: StepContext, row: SmsPhoneNumber, keep: bool) -> None:
    """The subaccount no longer holds the number: in the pool (when the master holds it)
    or released."""
    if keep:
        master = _master(ctx)
        if master.owned_number(row.phone_number) is not None:
            _pooled(ctx, row, master.account_sid)
            return
    _released(ctx, row)


def _released(ctx: StepContext, row: SmsPhoneNumber) -> None:
    row.status, row.failure_reason = "retired", "released when the company was offboarded"
    audit.record(ctx.session, audit.SYSTEM, "number.release", row, label=row.phone_number,
                 company_id=row.company_id)  # fmt: skip
    announce(ctx.session, "number.released", row)
    offboarded.note(ctx, "released", row.phone_number)


def _pooled(ctx: StepContext, row: SmsPhoneNumber, master_sid: str) -> None:
    announce(ctx.session, "number.released", row)  # the company no longer has it
    audit.record(ctx.session, audit.SYSTEM, "number.return_to_pool", row,
                 label=row.phone_number, company_id=row.company_id)  # fmt: skip
    row.account_sid, row.company_id, row.allocated_at = master_sid, None, None
    row.sms_url = row.status_callback = None
    offboarded.note(ctx, "returned_to_pool", row.phone_number)


def close_subaccount(ctx: StepContext) -> None:
    """Close the subaccount, after everything else of the company's offboarding."""
    if not ctx.run.context.get("close_subaccount"):
        return
    offboarded.wait_for_siblings(ctx, "Closing the Twilio subaccount")
    sub, master = _sub(ctx), _master(ctx)
    account = master.fetch_account(sub.account_sid or "")
    if account.status != "closed":
        ctx.intend()
        master.set_account_status(sub.account_sid or "", "closed")
        ctx.done_effect()
    sub.status, sub.closed_at = "closed", sub.closed_at or utcnow()
    ctx.record_ids(closed=sub.account_sid)
    leftover = ctx.session.scalars(
        tenant_select(SmsPhoneNumber, ctx.run.company_id).where(
            SmsPhoneNumber.account_sid == sub.account_sid, SmsPhoneNumber.status == "active"
        )
    )
    for row in leftover.all():  # Twilio released them with the account
        _released(ctx, row)


def record_offboarded(ctx: StepContext) -> None:
    """The local record: senders and channels offboarded, a closed subaccount's token gone."""
    for row in _senders(ctx):
        row.status = OFFBOARDED
        offboarded.mark_channel(ctx.session, row.channel_id)
        audit.record(ctx.session, audit.SYSTEM, "twilio_sender.offboard", row,
                     label=row.sender_id, company_id=row.company_id)  # fmt: skip
    if ctx.run.context.get("close_subaccount"):
        sub = _sub(ctx)
        sub.auth_token = None  # refused by Twilio from now on; also ends its events token
        audit.record(ctx.session, audit.SYSTEM, "twilio_subaccount.closed", sub,
                     label=sub.friendly_name, company_id=sub.company_id)  # fmt: skip
    offboarded.settle_company(ctx)


FLOW = register_flow(
    Flow(
        name=FLOW_NAME,
        provider=Provider.TWILIO,
        steps=(
            ("delete_senders", delete_senders),
            ("release_numbers", release_numbers),
            ("close_subaccount", close_subaccount),
            ("record_offboarded", record_offboarded),
        ),
    )
)
