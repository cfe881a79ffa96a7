"""Offboarding 360dialog channels as a resumable run: webhooks cleared, then keys revoked.

A run of ``dialog360_offboarding`` takes the channels in its context (one, or every
channel of a hub client) off the platform:

1. ``clear_webhooks``: with the channel's own key (360dialog changes a webhook only with
   a live ``D360-API-KEY``), each webhook that sends to the platform is cleared: the
   number's (``POST /v1/configs/webhook`` with ``{"url": ""}``), its WABA's
   (``POST /waba_webhook``) and the multi-webhook copies (``POST /multi_webhook``
   ``{"enabled": false}``). Each is read first; clearing twice is harmless.
2. ``revoke_api_keys``: the channel's live keys are listed, and revoked when there are any
   (``DELETE /partners/{pid}/channels/{chid}/api_keys``). The order matters: a revoked key
   leaves the webhooks in place, still receiving the number's messages, and nothing of the
   partner's could clear them any more. The revocation is recorded before the call and,
   after a lost answer, the keys are listed again rather than revoked again.
3. ``record_offboarded``: the keys, the webhook secret and URL are dropped from the rows,
   the channels marked revoked (the sync and the inbound webhook skip them) and their
   unified channels ``OFFBOARDED``; a whole client is marked ``offboarded``.

360dialog's pages: docs.360dialog.com/docs/hub/api-key (a key is shown once; generating one
revokes the others), the Messaging API's webhook and multi-webhook pages
(docs.360dialog.com/partner/messaging/receiving-messages-via-webhook). Deleting a channel's
keys follows WABA360Dialog.NET's DeleteApiKeyByChannel (fact sheet §3); how 360dialog clears
a webhook is not documented publicly (an empty ``url``, as the sandbox takes it).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from .. import audit, clients, offboarded
from ..db import utcnow
from ..errors import DomainError
from ..partners import PartnerConfiguration, Provider
from ..runs import Flow, ProvisioningRun, StepContext, register_flow
from ..tenancy import tenant_select
from .api import MessagingClient, PartnerClient
from .models import Dialog360Channel, Dialog360Client

FLOW_NAME = "dialog360_offboarding"


def start_channel(session: Session, actor: audit.Actor, row: Dialog360Channel) -> ProvisioningRun:
    """A run that takes one channel off the platform (its client stays connected)."""
    return _start(session, actor, row.client, [row], whole_client=False, extra={})


def start_client(
    session: Session, actor: audit.Actor, client: Dialog360Client, **extra: Any
) -> ProvisioningRun:
    """A run that takes every channel of a hub client off the platform."""
    live = [row for row in client.channels if row.revoked_at is None]
    return _start(session, actor, client, live, whole_client=True, extra=extra)


def _start(
    session: Session,
    actor: audit.Actor,
    client: Dialog360Client,
    rows: list[Dialog360Channel],
    *,
    whole_client: bool,
    extra: dict[str, Any],
) -> ProvisioningRun:
    ids = [row.dialog_channel_id for row in rows]
    target = f"client:{client.client_id}" if whole_client else f"channel:{ids[0]}"
    context = {"client_id": client.client_id, "channel_ids": ids,
               "whole_client": whole_client, **extra}  # fmt: skip
    return offboarded.start(
        session, actor, FLOW, client.company_id, target,
        partner_configuration_id=client.partner_configuration_id, context=context,
    )  # fmt: skip


def _config(ctx: StepContext) -> PartnerConfiguration:
    config = ctx.session.get(PartnerConfiguration, ctx.run.partner_configuration_id)
    if config is None:
        raise DomainError("The 360dialog partner configuration of this run was deleted.")
    return config


def _rows(ctx: StepContext) -> list[Dialog360Channel]:
    wanted = ctx.run.context.get("channel_ids") or []
    return list(
        ctx.session.scalars(
            tenant_select(Dialog360Channel, ctx.run.company_id)
            .where(Dialog360Channel.dialog_channel_id.in_(wanted))
            .order_by(Dialog360Channel.id)
        )
    )


def _ours(url: Any, row: Dialog360Channel, public_base_url: str) -> bool:
    """A webhook URL on the platform's host (or the one the platform set on the channel)."""
    if not isinstance(url, str) or not url:
        return False
    host = urlsplit(public_base_url).hostname or ""
    return url == row.webhook_url or (bool(host) and urlsplit(url).hostname == host)


# -- Messaging API calls (thin, keeping the client's error mapping) ---------------------------
def clear_channel_webhooks(
    api: MessagingClient, row: Dialog360Channel, public_base_url: str
) -> list[str]:
    """Clear the number's, the WABA's and the multi-webhook copies that send to the
    platform; returns what was cleared."""
    cleared = []
    if _ours(api.webhook().get("url"), row, public_base_url):
        api.request("POST", "/v1/configs/webhook", json={"url": ""}, idempotent=True)
        cleared.append("phone_webhook")
    waba = api.request("GET", "/waba_webhook").json()
    if _ours(waba.get("url"), row, public_base_url):
        api.request("POST", "/waba_webhook", json={"url": ""}, idempotent=True)
        cleared.append("waba_webhook")
    multi = api.request("GET", "/multi_webhook").json()
    destinations = multi.get("destinations") or []
    if multi.get("enabled") and any(_ours(d.get("url"), row, public_base_url)
                                    for d in destinations if isinstance(d, dict)):  # fmt: skip
        api.request("POST", "/multi_webhook", json={"enabled": False}, idempotent=True)
        cleared.append("multi_webhook")
    return cleared


def revoke_keys(api: PartnerClient, channel_id: str) -> None:
    """Revoke every key of the channel (360dialog answers 200 with an empty body)."""
    api.call("DELETE", f"/partners/{api.partner_id}/channels/{channel_id}/api_keys",
             idempotent=False)  # fmt: skip


# -- steps ----------------------------------------------------------------------------------
def clear_webhooks(ctx: StepContext) -> None:
    """Clear what sends the channels' messages to the platform, with each channel's key."""
    config = _config(ctx)
    public = ctx.services.get("public_base_url") or ""
    for row in _rows(ctx):
        if row.revoked_at is not None:
            offboarded.note(ctx, "already_revoked", row.dialog_channel_id)
            continue
        if not row.api_key:
            raise DomainError(
                f"The platform holds no API key for the 360dialog channel "
                f"{row.phone_number or row.dialog_channel_id}, and 360dialog changes a "
                "webhook only with the channel's key: generate a new key for the channel, "
                "then retry."
            )
        with clients.dialog360_messaging(config, row.api_key, ctx.services.get("transport")) as api:
            for kind in clear_channel_webhooks(api, row, public):
                offboarded.note(ctx, kind, row.dialog_channel_id)


def revoke_api_keys(ctx: StepContext) -> None:
    """Revoke the channels' keys once; after a lost answer the keys are listed again."""
    config = _config(ctx)
    with clients.dialog360_partner(config, ctx.services.get("transport")) as api:
        for row in _rows(ctx):
            live = api.api_key_ids(row.dialog_channel_id)
            if not live:
                offboarded.note(ctx, "revoked", row.dialog_channel_id)
                continue
            ctx.intend()
            ctx.durable()
            revoke_keys(api, row.dialog_channel_id)
            offboarded.note(ctx, "revoked", row.dialog_channel_id)
            ctx.record_ids(revoked_key_ids=sorted(
                {*((ctx.step.provider_ids or {}).get("revoked_key_ids") or []), *live}
            ))  # fmt: skip
    if ctx.step.effect_intended_at is not None:
        ctx.done_effect()


def record_offboarded(ctx: StepContext) -> None:
    """The local record: keys and webhook secrets dropped, channels marked revoked and
    ``OFFBOARDED``; a whole client marked ``offboarded``."""
    session = ctx.session
    for row in _rows(ctx):
        row.api_key = row.api_key_id = row.webhook_url = row.webhook_token_digest = None
        row.revoked_at = row.revoked_at or utcnow()
        offboarded.mark_channel(session, row.channel_id)
        audit.record(session, audit.SYSTEM, "dialog360_channel.offboard", row,
                     label=row.phone_number or row.dialog_channel_id)  # fmt: skip
    if ctx.run.context.get("whole_client"):
        client = session.scalars(
            tenant_select(Dialog360Client, ctx.run.company_id).where(
                Dialog360Client.client_id == ctx.run.context["client_id"]
            )
        ).one_or_none()
        if client is not None:
            client.status = "offboarded"
            audit.record(session, audit.SYSTEM, "dialog360_client.offboard", client,
                         label=client.name or client.client_id)  # fmt: skip
    offboarded.settle_company(ctx)


FLOW = register_flow(
    Flow(
        name=FLOW_NAME,
        provider=Provider.DIALOG360,
        steps=(
            ("clear_webhooks", clear_webhooks),
            ("revoke_api_keys", revoke_api_keys),
            ("record_offboarded", record_offboarded),
        ),
    )
)
