"""Offboarding Meta numbers, or a whole WhatsApp Business Account, as a resumable run.

A run of ``meta_offboarding`` takes the numbers in its context (one, or every number of
the WABA) off the platform, then, for a whole account, the platform's app off the WABA:

1. ``deregister_numbers``: each number Graph reports registered (``status`` CONNECTED or
   ``platform_type`` CLOUD_API) is deregistered (``POST /{PN}/deregister``). Meta counts
   it in the 10 register and deregister calls per number in 72 hours: the platform's own
   count is checked first and a number without calls left fails the run in plain words
   (a Retry resumes it). The call is never repeated blindly: every attempt reads the
   number's status first, so an answer lost after Meta acted is found done. Numbers of
   the WhatsApp Business app (coexistence) stay registered: the business keeps its app.
2. ``clear_number_callbacks``: a number whose ``webhook_configuration`` still names a
   ``phone_number`` alternate callback gets it cleared (``POST /{PN}`` with
   ``{"webhook_configuration": {"override_callback_uri": ""}}``).
3. ``unsubscribe_app`` (a whole account only): ``DELETE /{WABA}/subscribed_apps`` when
   the WABA's ``subscribed_apps`` still lists the platform's app; its WABA override goes
   with the subscription.
4. ``record_offboarded``: the numbers' channels are marked ``OFFBOARDED`` and their PINs
   forgotten; a whole account is marked ``offboarded`` and its token dropped.

Meta's pages (developers.facebook.com/documentation/business-messaging/whatsapp/...):
webhooks/override ("Delete phone number alternate callback", "Delete WABA alternate
callback"), business-phone-numbers/registration (deregister, 10 calls per 72 hours),
embedded-signup/webhooks (``subscribed_apps``: GET lists, DELETE unsubscribes).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from .. import audit, offboarded
from ..errors import DomainError, Rejected
from ..partners import Provider
from ..runs import Flow, ProvisioningRun, StepContext, register_flow
from ..tenancy import tenant_select
from . import numbers as graph_numbers
from .api import GraphClient, bearer
from .lifecycle import count_registration_call, registration_calls_left
from .models import MetaWhatsAppClient, MetaWhatsAppPhoneNumber
from .onboarding import graph, is_registered, token_of

FLOW_NAME = "meta_offboarding"
STATUS_FIELDS = "status,platform_type,is_on_biz_app"
LIMIT_REACHED = "133016"
NO_CALLS_LEFT = (
    "Meta allows 10 register and deregister calls per number in 72 hours, and {number} has "
    "used them: it cannot be deregistered now. Retry once the 72 hours have passed."
)


def start_number(
    session: Session, actor: audit.Actor, number: MetaWhatsAppPhoneNumber
) -> ProvisioningRun:
    """A run that takes one number off the platform (its WABA stays connected)."""
    return _start(session, actor, number.client, [number], whole_account=False, extra={})


def start_account(
    session: Session, actor: audit.Actor, client: MetaWhatsAppClient, **extra: Any
) -> ProvisioningRun:
    """A run that takes every number of the WABA, then the WABA, off the platform."""
    return _start(session, actor, client, list(client.phone_numbers), whole_account=True,
                  extra=extra)  # fmt: skip


def _start(
    session: Session,
    actor: audit.Actor,
    client: MetaWhatsAppClient,
    rows: list[MetaWhatsAppPhoneNumber],
    *,
    whole_account: bool,
    extra: dict[str, Any],
) -> ProvisioningRun:
    if not client.access_token:
        raise DomainError(
            f"The platform holds no token for the WhatsApp account {client.name or client.waba_id}"
            ": nothing can be undone through Meta's API. Remove the platform's app in "
            "WhatsApp Manager (Account tools > Partners)."
        )
    ids = [row.phone_number_id for row in rows]
    target = f"waba:{client.waba_id}" if whole_account else f"number:{ids[0]}"
    context = {"waba_id": client.waba_id, "phone_number_ids": ids,
               "whole_account": whole_account, **extra}  # fmt: skip
    return offboarded.start(
        session, actor, FLOW, client.company_id, target,
        partner_configuration_id=client.partner_configuration_id, context=context,
    )  # fmt: skip


# -- Graph calls (thin, keeping GraphClient's error mapping) ------------------------------------
def clear_number_callback(client: GraphClient, phone_id: str, token: str) -> None:
    """Drop the number's alternate callback (an empty ``override_callback_uri``)."""
    body = {"webhook_configuration": {"override_callback_uri": ""}}
    client.request("POST", f"/{phone_id}", headers=bearer(token), json=body, idempotent=True)


def subscribed_app_ids(client: GraphClient, waba_id: str, token: str) -> list[str]:
    listed = client.get(f"/{waba_id}/subscribed_apps", token).get("data") or []
    return [
        str((entry.get("whatsapp_business_api_data") or {}).get("id"))
        for entry in listed
        if isinstance(entry, dict)
    ]


def unsubscribe_app(client: GraphClient, waba_id: str, token: str) -> None:
    """Unsubscribe the token's app from the WABA (repeating it is harmless)."""
    client.request("DELETE", f"/{waba_id}/subscribed_apps", headers=bearer(token),
                   idempotent=True)  # fmt: skip


# -- steps ----------------------------------------------------------------------------------
def _ids(ctx: StepContext) -> list[str]:
    return list(ctx.run.context.get("phone_number_ids") or [])


def _row(ctx: StepContext, phone_id: str) -> MetaWhatsAppPhoneNumber | None:
    return ctx.session.scalars(
        tenant_select(MetaWhatsAppPhoneNumber, ctx.run.company_id).where(
            MetaWhatsAppPhoneNumber.phone_number_id == phone_id
        )
    ).one_or_none()


def deregister_numbers(ctx: StepContext) -> None:
    """Deregister each registered number once (see the module docstring)."""
    client, _ = graph(ctx)
    token = token_of(ctx)
    with client:
        for phone_id in _ids(ctx):
            phone = client.get(f"/{phone_id}", token, fields=STATUS_FIELDS)
            row = _row(ctx, phone_id)
            if phone.get("is_on_biz_app"):
                offboarded.note(ctx, "business_app", phone_id)
                continue
            if not is_registered(phone):
                offboarded.note(ctx, "not_registered", phone_id)
                _deregistered(row)
                continue
            label = (row.display_phone_number if row else "") or phone_id
            if row is not None:
                if registration_calls_left(row) == 0:
                    raise DomainError(NO_CALLS_LEFT.format(number=label))
                count_registration_call(row)
            ctx.intend()  # on record, with the call counted, before Meta counts it
            ctx.durable()
            try:
                graph_numbers.deregister(client, phone_id, token)
            except Rejected as exc:
                if exc.code != LIMIT_REACHED:
                    raise
                raise Rejected("meta", NO_CALLS_LEFT.format(number=label), exc.http_status,
                               exc.code, exc.subcode, exc.trace_id) from exc  # fmt: skip
            offboarded.note(ctx, "deregistered", phone_id)
            _deregistered(row)
            ctx.durable()
    if ctx.step.effect_intended_at is not None:
        ctx.done_effect()


def _deregistered(row: MetaWhatsAppPhoneNumber | None) -> None:
    if row is not None:
        row.registered_at, row.status = None, "DISCONNECTED"


def clear_number_callbacks(ctx: StepContext) -> None:
    """Clear each number's own alternate callback that Graph still reports."""
    client, _ = graph(ctx)
    token = token_of(ctx)
    with client:
        for phone_id in _ids(ctx):
            node = client.get(f"/{phone_id}", token, fields="webhook_configuration")
            if (node.get("webhook_configuration") or {}).get("phone_number"):
                clear_number_callback(client, phone_id, token)
                offboarded.note(ctx, "callback_cleared", phone_id)


def unsubscribe(ctx: StepContext) -> None:
    """Unsubscribe the platform's app from the WABA (a whole account only)."""
    if not ctx.run.context.get("whole_account"):
        ctx.record_ids(unsubscribed="no: the account keeps its other numbers")
        return
    client, config = graph(ctx)
    token = token_of(ctx)
    waba_id = ctx.run.context["waba_id"]
    with client:
        if str(config.value("app_id")) in subscribed_app_ids(client, waba_id, token):
            unsubscribe_app(client, waba_id, token)
            ctx.record_ids(unsubscribed=waba_id)
        elif not (ctx.step.provider_ids or {}).get("unsubscribed"):
            ctx.record_ids(unsubscribed="not subscribed")


def record_offboarded(ctx: StepContext) -> None:
    """The local record: channels OFFBOARDED, PINs forgotten, the account's token dropped."""
    session = ctx.session
    for phone_id in _ids(ctx):
        row = _row(ctx, phone_id)
        if row is None:
            continue
        row.pin = row.pin_pending = None
        offboarded.mark_channel(session, row.channel_id)
        audit.record(session, audit.SYSTEM, "number.offboard", row,
                     label=row.display_phone_number or phone_id)  # fmt: skip
    if ctx.run.context.get("whole_account"):
        client = session.scalars(
            tenant_select(MetaWhatsAppClient, ctx.run.company_id).where(
                MetaWhatsAppClient.waba_id == ctx.run.context["waba_id"]
            )
        ).one_or_none()
        if client is not None:
            client.status, client.access_token, client.subscribed_at = "offboarded", None, None
            client.reauthorization_reason = None
            audit.record(session, audit.SYSTEM, "meta_client.offboard", client,
                         label=client.name or client.waba_id)  # fmt: skip
    offboarded.settle_company(ctx)


FLOW = register_flow(
    Flow(
        name=FLOW_NAME,
        provider=Provider.META,
        steps=(
            ("deregister_numbers", deregister_numbers),
            ("clear_number_callbacks", clear_number_callbacks),
            ("unsubscribe_app", unsubscribe),
            ("record_offboarded", record_offboarded),
        ),
    )
)
