"""Twilio's part of the quality sync: one paged Senders listing per subaccount.

``GET /v2/Channels/Senders?Channel=whatsapp`` with the subaccount's own credentials (the
parent's are refused, fact sheet §1, §3) carries each sender's status, ``properties``
(quality rating, messaging limit) and ``offline_reasons``. 429 / 20429 (the account's
REST concurrency, §7) puts the subaccount back for later; 20003 (credentials refused)
marks its channels as needing reauthorization.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..channels import mark_needing_reauthorization
from ..errors import AuthError
from ..outbound import guarded
from ..sync import Outcome, SyncPass, batches, copy_changes, fetch_concurrently
from .api import connect
from .models import TwilioSubaccount, TwilioWhatsAppSender
from .senders import announce_status, publish_sender, sender_values


@dataclass
class Subaccount:
    """One subaccount to list (plain values: fetch threads never touch the session)."""

    id: int
    account_sid: str
    base_url: str | None
    auth_token: str = field(repr=False)

    def __str__(self) -> str:
        return f"subaccount {self.account_sid}"


def sync(sync_pass: SyncPass) -> None:
    """List every subaccount's senders concurrently; apply them here, a chunk per commit.

    The subaccounts' SDK clients share one transport (one TLS setup and connection pool
    for the pass, instead of one per subaccount: building each costs ~60 ms of CPU).
    """
    own = sync_pass.transport is None
    transport = guarded(None) if own else sync_pass.transport
    fetch = partial(list_senders, sync_pass, transport)
    try:
        outcomes = fetch_concurrently(subaccounts(sync_pass), fetch, sync_pass.policy)
        for batch in batches(outcomes, _size, sync_pass.policy.chunk_size):
            apply(sync_pass, batch)
            sync_pass.checkpoint()
    finally:
        if own:
            transport.close()


def _size(outcome: Outcome[Subaccount]) -> int:
    return len(outcome.result or ()) or 1


def subaccounts(sync_pass: SyncPass) -> Iterator[Subaccount]:
    """The active subaccounts, read ``chunk_size`` at a time."""
    stmt = select(
        TwilioSubaccount.id,
        TwilioSubaccount.account_sid,
        TwilioSubaccount.auth_token,
        TwilioSubaccount.partner_configuration_id,
    ).where(TwilioSubaccount.status == "active")
    if sync_pass.company_id is not None:
        stmt = stmt.where(TwilioSubaccount.company_id == sync_pass.company_id)
    for row in sync_pass.keyset(stmt, TwilioSubaccount.id):
        target = f"subaccount {row.account_sid}"
        config = sync_pass.configuration(row.partner_configuration_id, target)
        if config is None:
            continue
        base_url = config.value("api_base_url") or None
        yield Subaccount(row.id, row.account_sid, base_url, row.auth_token)


def list_senders(sync_pass: SyncPass, transport: httpx.BaseTransport, sub: Subaccount) -> list[Any]:
    """Every WhatsApp sender of the subaccount, page after page (runs in a fetch thread).

    The client is not closed: closing it would close the shared transport.
    """
    api = connect(sub.account_sid, sub.auth_token, base_url=sub.base_url, transport=transport)

    def before_call() -> None:
        sync_pass.pacer.before_call()
        sync_pass.count_call()

    pages = api.whatsapp_sender_pages(sync_pass.policy.page_size, before_call)
    return [sender for page in pages for sender in page]


def apply(sync_pass: SyncPass, batch: list[Outcome[Subaccount]]) -> None:
    """Write what changed: senders we know, their channels, and flags for refused tokens."""
    session = sync_pass.session
    listed = [o.target.id for o in batch if o.error is None]
    rows = _rows(session, listed)
    for outcome in batch:
        sub = outcome.target
        if isinstance(outcome.error, AuthError):
            flag_channels(session, sub.id)
            sync_pass.reauthorization += 1
            continue
        if outcome.error is not None:
            sync_pass.error(str(sub), outcome.error)
            continue
        sync_pass.succeeded += 1
        for remote in outcome.result:
            sync_pass.seen += 1
            row = rows.get(remote.sid)
            if row is None or row.subaccount_id != sub.id:
                continue  # a sender Twilio lists that the platform does not hold: ignored
            if update_sender(session, row, remote, sync_pass.started):
                sync_pass.changed += 1


def _rows(session: Session, subaccount_ids: list[int]) -> dict[str, TwilioWhatsAppSender]:
    if not subaccount_ids:
        return {}
    senders = session.scalars(
        select(TwilioWhatsAppSender).where(
            TwilioWhatsAppSender.subaccount_id.in_(subaccount_ids),
            TwilioWhatsAppSender.sender_sid.is_not(None),
        )
    )
    return {s.sender_sid: s for s in senders if s.sender_sid}


def update_sender(
    session: Session, row: TwilioWhatsAppSender, remote: Any, at: dt.datetime
) -> bool:
    """Copy the listed values that differ; publish the channel when any did, and the
    sender's new status."""
    before = row.status
    if not copy_changes(row, sender_values(remote, row), at):
        return False
    if row.channel_id is not None:
        publish_sender(session, row, source="sync")
    announce_status(session, row, before, "sync")
    return True


def flag_channels(session: Session, subaccount_id: int) -> None:
    """Twilio refused the subaccount's credentials: its channels need attention."""
    channel_ids = select(TwilioWhatsAppSender.channel_id).where(
        TwilioWhatsAppSender.subaccount_id == subaccount_id,
        TwilioWhatsAppSender.channel_id.is_not(None),
    )
    mark_needing_reauthorization(session, channel_ids)
