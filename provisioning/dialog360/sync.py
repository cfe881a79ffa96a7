"""360dialog's part of the quality sync: one paged partner channels listing for the fleet.

``GET /partners/{pid}/channels`` carries each channel's status, ``current_quality_rating``
and ``current_limit`` (fact sheet §3, §7 "Quality sync"), so the whole fleet costs one
listing per partner configuration, paged with ``limit``/``offset``. The first page gives
the total; the other pages are then fetched concurrently, sorted by creation time so that
channels added meanwhile land at the end instead of shifting the pages. With a company,
the listing is filtered by each of its 360dialog clients.

A 429 holds every page back for a while (the limit is the partner's); a 401 or 403 means
the platform's partner key was refused: the pass fails and the configuration records it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db import utcnow
from ..errors import AuthError, Retryable
from ..partners import PartnerConfiguration, record_check
from ..sync import Outcome, SyncPass, batches, copy_changes, fetch_concurrently
from .api import PartnerClient
from .models import Dialog360Channel, Dialog360Client
from .onboarding import channel_values, partner_client, publish_channel

ITEMS = "partner_channels"
SORT = "created_at"  # oldest first: new channels are appended, the pages do not shift


@dataclass
class Listing:
    """One channels listing: a partner configuration, optionally filtered by a client."""

    config_id: int
    api: PartnerClient = field(repr=False)
    filters: dict[str, Any] | None = None

    def __str__(self) -> str:
        suffix = f" of client {self.filters['client_id']}" if self.filters else ""
        return f"360dialog channels{suffix}"


@dataclass
class Page:
    listing: Listing
    offset: int

    def __str__(self) -> str:
        return f"{self.listing} from {self.offset}"


def sync(sync_pass: SyncPass) -> None:
    for listing in listings(sync_pass):
        try:
            outcomes = pages(sync_pass, listing)
            for batch in batches(outcomes, _size, sync_pass.policy.chunk_size):
                apply(sync_pass, batch)
                sync_pass.checkpoint()
        finally:
            listing.api.close()


def _size(outcome: Outcome[Page]) -> int:
    return len((outcome.result or {}).get(ITEMS) or ()) or 1


def listings(sync_pass: SyncPass) -> Iterator[Listing]:
    """The whole partner fleet per configuration in use, or one listing per client of the
    company."""
    session = sync_pass.session
    if sync_pass.company_id is None:
        config_ids = session.scalars(
            select(Dialog360Client.partner_configuration_id)
            .where(Dialog360Client.partner_configuration_id.is_not(None))
            .distinct()
        )
        wanted: list[tuple[int | None, dict[str, str] | None]]
        wanted = [(config_id, None) for config_id in config_ids]
    else:
        clients = session.execute(
            select(Dialog360Client.partner_configuration_id, Dialog360Client.client_id)
            .where(Dialog360Client.company_id == sync_pass.company_id)
            .order_by(Dialog360Client.id)
        )
        wanted = [(config_id, {"client_id": client_id}) for config_id, client_id in clients]
    for config_id, filters in wanted:
        config = sync_pass.configuration(config_id, "360dialog channels")
        if config is None:
            continue
        api = partner_client(config, sync_pass.transport)
        api.max_attempts = 1  # the pass retries, without holding a thread
        yield Listing(config.id, api, filters)


def pages(sync_pass: SyncPass, listing: Listing) -> Iterator[Outcome[Page]]:
    """The first page, then every other page at once (as many in flight as the policy
    allows), each outcome as it arrives."""
    fetch = partial(fetch_page, sync_pass)
    (first,) = fetch_concurrently([Page(listing, 0)], fetch, sync_pass.policy)
    yield first
    if first.error is not None:
        return
    step = len(first.result.get(ITEMS) or ()) or sync_pass.policy.page_size
    total = int(first.result.get("total") or 0)
    offsets = range(step, total, step)
    yield from fetch_concurrently(
        (Page(listing, offset) for offset in offsets), fetch, sync_pass.policy
    )


def fetch_page(sync_pass: SyncPass, page: Page) -> dict[str, Any]:
    """One page of the listing (runs in a fetch thread)."""
    api = page.listing.api
    params: dict[str, Any] = {
        "limit": sync_pass.policy.page_size,
        "offset": page.offset,
        "sort": SORT,
    }
    if page.listing.filters:
        params["filters"] = json.dumps(page.listing.filters, separators=(",", ":"))
    sync_pass.pacer.before_call()
    sync_pass.count_call()
    try:
        return api.call("GET", f"/partners/{api.partner_id}/channels", params=params).json()
    except Retryable as exc:
        if exc.http_status == 429:  # the partner's limit: every page waits
            sync_pass.pacer.pause(exc.retry_after or sync_pass.policy.backoff)
        raise


def apply(sync_pass: SyncPass, batch: list[Outcome[Page]]) -> None:
    session = sync_pass.session
    items = [item for o in batch if o.error is None for item in o.result.get(ITEMS) or ()]
    rows = _rows(sync_pass, [str(item.get("id")) for item in items])
    for outcome in batch:
        if outcome.error is None:
            sync_pass.succeeded += 1
            continue
        if isinstance(outcome.error, AuthError):
            _refused(session, outcome.target.listing, outcome.error)
        sync_pass.error(str(outcome.target), outcome.error)
    for item in items:
        sync_pass.seen += 1
        row = rows.get(str(item.get("id")))
        if row is not None and update_channel(session, row, item, sync_pass.started):
            sync_pass.changed += 1


def _rows(sync_pass: SyncPass, ids: list[str]) -> dict[str, Dialog360Channel]:
    if not ids:
        return {}
    stmt = select(Dialog360Channel).where(
        Dialog360Channel.dialog_channel_id.in_(ids), Dialog360Channel.revoked_at.is_(None)
    )
    if sync_pass.company_id is not None:
        stmt = stmt.where(Dialog360Channel.company_id == sync_pass.company_id)
    return {row.dialog_channel_id: row for row in sync_pass.session.scalars(stmt)}


def update_channel(
    session: Session, row: Dialog360Channel, item: dict[str, Any], at: dt.datetime
) -> bool:
    """Copy the listed values that differ; publish the channel when any did."""
    if not copy_changes(row, channel_values(item, row), at):
        return False
    if row.channel_id is not None:  # onboarding publishes channels once they have a key
        publish_channel(session, row, source="sync")
    return True


def _refused(session: Session, listing: Listing, exc: AuthError) -> None:
    """The partner key was refused: the configuration shows it until an admin fixes it."""
    config = session.get(PartnerConfiguration, listing.config_id)
    if config is not None:
        message = f"The quality sync was refused: {exc}"
        record_check(config, False, message, utcnow())
