"""360dialog Integrated Onboarding as a provisioning flow (fact sheet §1-§4).

The hub sends the customer back with ``client`` and ``channels=[...]``. The run then reads
the client and channels from the Partner API, waits (for days if need be, without a
worker) until each channel is ``running``, generates one API key per channel, points the
channel's webhook at the platform, reads its health, and stores everything.

A new API key revokes the channel's older keys, and 360dialog allows one request per
30 s per channel: the request is recorded before it is made, a channel that already holds
a key never asks for another, and after a lost answer the channel's keys are looked up
before anything is asked again, so a retry never revokes a key the platform uses and
never repeats a request blindly.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import audit, clients
from ..backoff import exponential
from ..channels import Channel
from ..db import utcnow
from ..errors import DomainError, ProviderError, Unreachable
from ..health import observe, upsert_channel
from ..partners import PartnerConfiguration, Provider
from ..phones import digits_of
from ..runs import Flow, ProvisioningRun, RunStatus, StepContext, Wait, register_flow
from ..tenancy import Company, tenant_select
from ..tokens import new_token
from . import messaging as messaging_webhook
from .api import PartnerClient
from .models import Dialog360Channel, Dialog360Client

RUNNING = "running"
MAX_WAIT = dt.timedelta(hours=6)
# Per channel, in the key step's provider ids: the key ids listed before our latest
# request ("known") and the ids of keys whose creating answer was lost ("lost").
KEY_REQUESTS = "api_key_requests"
MAX_LOST_KEYS = 1  # lost answers replaced without a person


def _config(ctx: StepContext) -> PartnerConfiguration:
    config = ctx.session.get(PartnerConfiguration, ctx.run.partner_configuration_id)
    if config is None:
        raise DomainError("The 360dialog partner configuration of this run was deleted.")
    return config


def partner_client(config: PartnerConfiguration, transport: Any = None) -> PartnerClient:
    return clients.dialog360_partner(config, transport)


def _client_row(ctx: StepContext) -> Dialog360Client:
    row = ctx.session.scalars(
        tenant_select(Dialog360Client, ctx.run.company_id).where(
            Dialog360Client.client_id == ctx.run.context["client_id"]
        )
    ).one_or_none()
    if row is None:
        raise DomainError("The 360dialog client is not stored yet; retry the run.")
    return row


def _channel_rows(ctx: StepContext) -> list[Dialog360Channel]:
    wanted = ctx.run.context.get("channel_ids") or []
    rows = ctx.session.scalars(
        tenant_select(Dialog360Channel, ctx.run.company_id).where(
            Dialog360Channel.dialog_channel_id.in_(wanted)
        )
    )
    return sorted(rows, key=lambda r: wanted.index(r.dialog_channel_id))


def read_client(ctx: StepContext) -> None:
    """The hub's client must carry this company's opaque id as its partner payload, before
    anything about it is stored."""
    client_id = ctx.run.context["client_id"]
    company = ctx.session.get_one(Company, ctx.run.company_id)
    taken = ctx.session.scalars(
        select(Dialog360Client.company_id).where(Dialog360Client.client_id == client_id)
    ).first()
    if taken is not None and taken != ctx.run.company_id:
        raise DomainError("This 360dialog client is connected to another company.")
    with partner_client(_config(ctx), ctx.services.get("transport")) as api:
        found = next(iter(api.clients(filters={"id": client_id}, limit=1)), None)
    if found is None:
        raise DomainError(f"360dialog knows no client {client_id} for this partner.")
    # Always the company's own opaque id: a client without one (made outside this
    # company's launch) or with another is never linked, whoever sent the customer back.
    if found.get("partner_payload") != company.public_id:
        raise DomainError(
            "This 360dialog client does not carry this company's partner payload (it was "
            "made for another company, or outside this company's connection): start again."
        )
    row = ctx.session.scalars(
        select(Dialog360Client).where(Dialog360Client.client_id == client_id)
    ).one_or_none()
    if row is None:
        row = Dialog360Client(company_id=ctx.run.company_id, client_id=client_id)
        ctx.session.add(row)
    row.partner_configuration_id = ctx.run.partner_configuration_id
    row.name = found.get("name") or row.name
    row.status = found.get("status")
    row.partner_payload = found.get("partner_payload")
    ctx.session.flush()
    ctx.record_ids(client_id=client_id)


def read_channels(ctx: StepContext) -> None:
    """Store the permitted channels; discard the keys of revoked ones."""
    client = _client_row(ctx)
    wanted = set(ctx.run.context.get("channel_ids") or [])
    revoked = set(ctx.run.context.get("revoked") or [])
    with partner_client(_config(ctx), ctx.services.get("transport")) as api:
        for item in api.channels(filters={"client_id": client.client_id}):
            if item["id"] in wanted:
                apply_channel(ctx.session, client, item)
    for row in ctx.session.scalars(
        tenant_select(Dialog360Channel, ctx.run.company_id).where(
            Dialog360Channel.dialog_channel_id.in_(revoked)
        )
    ):
        revoke_channel(ctx.session, row)
    missing = wanted - {row.dialog_channel_id for row in _channel_rows(ctx)}
    if missing:
        raise DomainError(f"360dialog does not list the channel(s) {', '.join(sorted(missing))}.")
    ctx.record_ids(channel_ids=sorted(wanted), revoked=sorted(revoked))


def apply_channel(session: Session, client: Dialog360Client, item: dict[str, Any]) -> None:
    """Copy a Partner API channel object (raw strings) onto its row."""
    row = session.scalars(
        select(Dialog360Channel).where(Dialog360Channel.dialog_channel_id == item["id"])
    ).one_or_none()
    if row is not None and row.company_id != client.company_id:
        raise DomainError("This 360dialog channel is connected to another company.")
    if row is None:
        row = Dialog360Channel(
            company_id=client.company_id, client=client, dialog_channel_id=item["id"]
        )
        session.add(row)
    for name, value in channel_values(item, row).items():
        setattr(row, name, value)
    row.last_synced_at = utcnow()
    session.flush()


def channel_values(item: dict[str, Any], row: Dialog360Channel) -> dict[str, Any]:
    """A Partner API channel object as the row's column values (a known number and name
    are kept when 360dialog leaves them out)."""
    setup = item.get("setup_info") or {}
    return {
        "phone_number": setup.get("phone_number") or row.phone_number,
        "phone_name": setup.get("phone_name") or row.phone_name,
        "status": item.get("status"),
        "waba_account_id": (item.get("waba_account") or {}).get("id"),
        "external_id": item.get("external_id"),
        "quality_rating": item.get("current_quality_rating"),
        "messaging_limit": item.get("current_limit"),
    }


def revoke_channel(session: Session, row: Dialog360Channel) -> None:
    row.revoked_at, row.api_key, row.api_key_id = utcnow(), None, None
    row.webhook_token_digest = None
    if row.channel_id:
        channel = session.get(Channel, row.channel_id)
        if channel is not None:
            observe(session, channel, source="onboarding", status="REVOKED")


def wait_until_running(ctx: StepContext) -> None:
    """Park the run until every channel runs (the partner webhook resumes it early)."""
    rows = [r for r in _channel_rows(ctx) if r.revoked_at is None]
    if any(r.status != RUNNING for r in rows):
        client = _client_row(ctx)
        with partner_client(_config(ctx), ctx.services.get("transport")) as api:
            for item in api.channels(filters={"client_id": client.client_id}):
                if item["id"] in {r.dialog_channel_id for r in rows}:
                    apply_channel(ctx.session, client, item)
    pending = [r.dialog_channel_id for r in rows if r.status != RUNNING]
    if pending:
        delay = dt.timedelta(seconds=exponential(ctx.step.attempts, 120, MAX_WAIT.total_seconds()))
        raise Wait(f"Waiting for 360dialog to set up {', '.join(pending)}", utcnow() + delay)


def generate_api_keys(ctx: StepContext) -> None:
    """One key per channel that has none (a stored key is never replaced here).

    A key request is recorded, committed, before it is made, with the ids of the keys the
    channel already had. When an earlier request lost its answer, the channel's keys are
    listed first: a key that was not there before is the lost answer's, whose value
    360dialog never shows again. That key is useless to everyone, so one deliberate
    replacement is requested (it revokes the lost key); a second lost answer stops the
    run until a person retries. A request that made no key is simply made again.
    """
    config = _config(ctx)
    requests = dict((ctx.step.provider_ids or {}).get(KEY_REQUESTS) or {})
    with partner_client(config, ctx.services.get("transport")) as api:
        for row in _channel_rows(ctx):
            if row.revoked_at is not None or row.api_key:
                continue  # a stored key is live: asking again would revoke it
            chid = row.dialog_channel_id
            listed = api.api_key_ids(chid)
            earlier = requests.get(chid) or {"known": listed, "lost": []}
            made = [key_id for key_id in listed if key_id not in earlier["known"]]
            requests[chid] = {"known": listed, "lost": earlier["lost"] + made}
            ctx.record_ids(**{KEY_REQUESTS: dict(requests)})
            if made:
                _lost_keys(ctx, row, made, requests[chid]["lost"])
            row.api_key_requested_at = utcnow()
            ctx.intend()  # the step's one-shot effect is on record...
            ctx.durable()  # ...and so is this request, with the keys the channel had
            answer = api.generate_api_key(chid)
            row.api_key, row.api_key_id = answer["api_key"], answer.get("id")
            ctx.durable()
            audit.record(
                ctx.session, audit.SYSTEM, "dialog360_channel.api_key", row,
                label=row.phone_number,
            )  # fmt: skip
    if ctx.step.effect_intended_at is not None:
        ctx.done_effect()


def _lost_keys(ctx: StepContext, row: Dialog360Channel, made: list[str], lost: list[str]) -> None:
    """Record keys whose creating answer was lost; stop after too many for one channel."""
    audit.record(
        ctx.session, audit.SYSTEM, "dialog360_channel.api_key_lost", row,
        label=row.phone_number, key_ids=made,
    )  # fmt: skip
    if len(lost) > MAX_LOST_KEYS:
        ctx.durable()  # a person's Retry then finds these keys known, and asks once more
        raise DomainError(
            f"360dialog made {len(lost)} API keys for {row.phone_number or row.dialog_channel_id}"
            " and each answer was lost; 360dialog shows a key only once. Retry asks for one "
            "more key (it revokes the lost ones)."
        )


def configure_webhooks(ctx: StepContext) -> None:
    """Point each channel's messages webhook at the platform (repeating it is harmless)."""
    config = _config(ctx)
    url = inbound_url(ctx.services.get("public_base_url") or "")
    for row in _channel_rows(ctx):
        if row.revoked_at is None and row.api_key:
            point_webhook(row, config, url, ctx.services.get("transport"))


def point_webhook(
    row: Dialog360Channel, config: PartnerConfiguration, url: str, transport: Any = None
) -> bool:
    """Set the channel's messaging webhook with a fresh secret header, unless it already
    points at ``url`` with one (a channel connected before the secret existed gets one).
    The digest is written after 360dialog accepted the secret, so a failed call leaves the
    old secret valid. Returns whether a call was made."""
    if row.webhook_url == url and row.webhook_token_digest:
        return False
    if not row.api_key:
        raise DomainError(f"360dialog channel {row.dialog_channel_id} has no API key yet.")
    token, digest = new_token()
    with clients.dialog360_messaging(config, row.api_key, transport) as api:
        api.set_webhook(url, headers=messaging_webhook.headers(token))
    row.webhook_url, row.webhook_token_digest = url, digest
    return True


def point_all_webhooks(
    session: Session, public_base_url: str, transport: Any = None
) -> tuple[int, list[str]]:
    """Give every connected channel whose webhook lacks its secret (connected before the
    secret existed, or pointed elsewhere) a fresh one; (channels pointed, errors)."""
    url = inbound_url(public_base_url)
    rows = session.scalars(
        select(Dialog360Channel).where(
            Dialog360Channel.revoked_at.is_(None), Dialog360Channel.api_key.is_not(None)
        )
    )
    pointed, errors = 0, []
    for row in rows:
        config = session.get(PartnerConfiguration, row.client.partner_configuration_id or 0)
        if config is None:
            continue
        try:
            pointed += point_webhook(row, config, url, transport)
        except ProviderError as exc:
            errors.append(f"{row.dialog_channel_id}: {exc}")
        session.flush()
    return pointed, errors


def inbound_url(public_base_url: str) -> str:
    return f"{public_base_url.rstrip('/')}/webhooks/whatsapp/360dialog"


def store_channels(ctx: StepContext) -> None:
    """Read each channel's health and publish it as the company's unified channel."""
    config = _config(ctx)
    for row in _channel_rows(ctx):
        if row.revoked_at is not None or not row.api_key:
            continue
        with clients.dialog360_messaging(
            config, row.api_key, ctx.services.get("transport")
        ) as messaging:
            row.health = messaging.health_status().get("health_status") or {}
        publish_channel(ctx.session, row)
    audit.record(
        ctx.session, audit.SYSTEM, "dialog360_client.connect", _client_row(ctx),
        label=ctx.run.context["client_id"], channels=ctx.run.context.get("channel_ids"),
    )  # fmt: skip


def publish_channel(session: Session, row: Dialog360Channel, source: str = "onboarding") -> None:
    digits = digits_of(row.phone_number)
    channel = upsert_channel(
        session,
        row.company_id,
        Provider.DIALOG360,
        row.dialog_channel_id,
        phone_number=f"+{digits}" if digits else row.phone_number,
        display_name=row.phone_name,
        status=(row.status or "unknown").upper(),
        quality_rating=(row.quality_rating or "UNKNOWN").upper(),
        messaging_limit=row.messaging_limit or "",
        last_synced_at=row.last_synced_at,
        source=source,
    )
    session.flush()
    row.channel_id = channel.id


def resume_runs_for_client(session: Session, client_id: str) -> list[int]:
    """Runs waiting on this 360dialog client become due now (a webhook said it moved)."""
    waiting = session.scalars(
        select(ProvisioningRun).where(
            ProvisioningRun.flow == INTEGRATED_ONBOARDING.name,
            ProvisioningRun.status == RunStatus.WAITING,
        )
    )
    due = [run for run in waiting if run.context.get("client_id") == client_id]
    for run in due:
        run.resume_at = utcnow()
    return [run.id for run in due]


INTEGRATED_ONBOARDING = register_flow(
    Flow(
        name="dialog360_integrated_onboarding",
        provider=Provider.DIALOG360,
        steps=(
            ("read_client", read_client),
            ("read_channels", read_channels),
            ("wait_until_running", wait_until_running),
            ("generate_api_keys", generate_api_keys),
            ("configure_webhooks", configure_webhooks),
            ("store_channels", store_channels),
        ),
        max_attempts=50,  # waiting for a channel to run can take days
    )
)


def regenerate_api_key(
    session: Session,
    actor: audit.Actor,
    row: Dialog360Channel,
    transport: Any = None,
    commit: Any = None,
) -> None:
    """A new key for a running channel; 360dialog revokes the old one at once.

    When the answer is lost, the channel's keys are looked up: if the stored key is gone,
    360dialog made a new one that cannot be read back, so the dead key is dropped and the
    person is told to ask again (deliberately, never a blind repeat)."""
    config_id = row.client.partner_configuration_id
    config = session.get(PartnerConfiguration, config_id) if config_id is not None else None
    if config is None or row.revoked_at is not None:
        raise DomainError("This channel is not connected through an active configuration.")
    row.api_key_requested_at = utcnow()
    session.flush()
    if commit is not None:
        commit()  # the request is on record before it is made
    with partner_client(config, transport) as api:
        try:
            answer = api.generate_api_key(row.dialog_channel_id)
        except Unreachable:
            listed = api.api_key_ids(row.dialog_channel_id)
            if row.api_key_id is None or row.api_key_id in listed:
                raise  # the stored key is live: the request made nothing
            made = [key_id for key_id in listed if key_id != row.api_key_id]
            row.api_key = row.api_key_id = None
            audit.record(
                session, actor, "dialog360_channel.api_key_lost", row,
                label=row.phone_number, key_ids=made,
            )  # fmt: skip
            if commit is not None:
                commit()  # the dead key stays dropped although the person is told "no"
            raise DomainError(
                "360dialog made a new key but its answer was lost, and a key is shown only "
                "once: the previous key no longer works. Ask for a new key again."
            ) from None
    row.api_key, row.api_key_id = answer["api_key"], answer.get("id")
    audit.record(
        session, actor, "dialog360_channel.api_key_regenerate", row, label=row.phone_number
    )
