"""Meta's part of the quality sync: one paged ``/{waba}/phone_numbers`` listing per WABA.

Each listing uses the client's own business token and asks for the fields onboarding
reads (fact sheet §1.7). Graph's usage headers (§3.3) pace the pass: ``X-App-Usage``
spaces every call out as the app nears its limit; ``X-Business-Use-Case-Usage`` holds a
WABA back for its ``estimated_time_to_regain_access``. Throttles (4, 80007, 80008, 429)
put the WABA back for later; credential errors (0, 10, 190, 200-299) flag the client for
reauthorization. Flagged and offboarded clients are not called at all.

A quality or account webhook asks for its WABA to be listed again (Meta's quality events
carry no colour): :func:`request_refreshes` records the ask in the event's transaction,
and :func:`claim_due_refreshes` hands out each WABA at most once per interval, however
many events name it, within Meta's per-WABA call budget (200 calls an hour).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import httpx
from sqlalchemy import ForeignKey, and_, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column, selectinload

from ..db import Base, utcnow
from ..errors import AuthError, ProviderError, Retryable
from ..events import INSERTS, WebhookEvent
from ..sync import Outcome, Pacer, SyncPass, batches, copy_changes, fetch_concurrently
from ..tenancy import CompanyOwned
from .api import GraphClient, next_cursor
from .models import NOT_SYNCED, MetaWhatsAppClient, MetaWhatsAppPhoneNumber, blocking_status
from .onboarding import (
    observe_portfolio_limit,
    phone_fields,
    phone_values,
    publish_number,
    require_reauthorization,
    send_readiness_drop,
)

# Client states the webhooks publish as the channel's status (provisioning.meta.webhooks).
REFRESHING_FIELDS = ("phone_number_quality_update", "account_update")
APP_LIMIT_CODES = ("4", "17")  # app- and user-level limits: every WABA waits


@dataclass(frozen=True)
class Usage:
    """Graph's usage headers, as the highest percentage each reports."""

    app: float = 0.0  # X-App-Usage
    waba: float = 0.0  # X-Business-Use-Case-Usage
    regain_seconds: float = 0.0  # estimated_time_to_regain_access (minutes on the wire)

    @classmethod
    def from_headers(cls, headers: httpx.Headers) -> Usage:
        app = _percent(_json(headers.get("x-app-usage")))
        waba, regain = 0.0, 0.0
        buc = _json(headers.get("x-business-use-case-usage"))
        for entries in buc.values() if isinstance(buc, dict) else ():
            for entry in entries if isinstance(entries, list) else ():
                if isinstance(entry, dict):
                    waba = max(waba, _percent(entry))
                    minutes = _number(entry.get("estimated_time_to_regain_access"))
                    regain = max(regain, minutes * 60)
        return cls(app, waba, regain)


def _json(value: str | None) -> Any:
    try:
        return json.loads(value) if value else {}
    except ValueError:
        return {}


def _number(value: Any) -> float:
    try:
        return float(value or 0)
    except (TypeError, ValueError):
        return 0.0


def _percent(metrics: Any) -> float:
    if not isinstance(metrics, dict):
        return 0.0
    return max(_number(metrics.get(k)) for k in ("call_count", "total_cputime", "total_time"))


class PacedGraphClient(GraphClient):
    """The Graph client with every answer's usage headers fed to the pass's pacer."""

    def __init__(
        self,
        base_url: str,
        version: str,
        pacer: Pacer,
        count_call: Callable[[], None],
        **options: Any,
    ) -> None:
        super().__init__(base_url, version, max_attempts=1, **options)  # the pass retries
        self.pacer = pacer
        self.count_call = count_call

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Wait for the pacer, count the call, send it (once: the pass retries)."""
        self.pacer.before_call()
        self.count_call()
        return super().request(method, path, **kwargs)

    def read_usage(self, response: httpx.Response) -> Usage:
        usage = Usage.from_headers(response.headers)
        self.pacer.report(usage.app)
        return usage

    def map_error(self, response: httpx.Response) -> ProviderError:
        exc = super().map_error(response)
        usage = self.read_usage(response)
        if usage.regain_seconds:
            exc.retry_after = max(exc.retry_after or 0.0, usage.regain_seconds)
        if isinstance(exc, Retryable) and (exc.code in APP_LIMIT_CODES or usage.app >= 100):
            self.pacer.pause(exc.retry_after or self.pacer.policy.backoff)
        return exc


@dataclass
class Waba:
    """One client's WABA to list (plain values: fetch threads never touch the session)."""

    client_id: int
    waba_id: str
    client_status: str
    graph: PacedGraphClient = field(repr=False)
    token: str = field(repr=False)
    fields: str = field(repr=False, default="")

    def __str__(self) -> str:
        return f"WABA {self.waba_id}"


def sync(sync_pass: SyncPass) -> None:
    """List every WABA's numbers concurrently; apply them here, a chunk per commit."""
    graphs: dict[int, PacedGraphClient] = {}
    try:
        outcomes = fetch_concurrently(
            wabas(sync_pass, graphs),
            partial(list_numbers, sync_pass),
            sync_pass.policy,
        )
        for batch in batches(outcomes, _size, sync_pass.policy.chunk_size):
            apply(sync_pass, batch)
            sync_pass.checkpoint()
    finally:
        for graph in graphs.values():
            graph.close()


def _size(outcome: Outcome[Waba]) -> int:
    return len(outcome.result or ()) or 1


def wabas(sync_pass: SyncPass, graphs: dict[int, PacedGraphClient]) -> Iterator[Waba]:
    """The clients to sync, read ``chunk_size`` at a time."""
    stmt = select(
        MetaWhatsAppClient.id,
        MetaWhatsAppClient.waba_id,
        MetaWhatsAppClient.status,
        MetaWhatsAppClient.access_token,
        MetaWhatsAppClient.partner_configuration_id,
    ).where(
        MetaWhatsAppClient.status.not_in(NOT_SYNCED),
        MetaWhatsAppClient.access_token.is_not(None),
    )
    if sync_pass.company_id is not None:
        stmt = stmt.where(MetaWhatsAppClient.company_id == sync_pass.company_id)
    if sync_pass.client_ids is not None:
        stmt = stmt.where(MetaWhatsAppClient.id.in_(sync_pass.client_ids))
    for row in sync_pass.keyset(stmt, MetaWhatsAppClient.id):
        graph = _graph(sync_pass, graphs, row.partner_configuration_id, f"WABA {row.waba_id}")
        if graph is None:
            continue
        fields = phone_fields(graph.version)
        yield Waba(row.id, row.waba_id, row.status, graph, row.access_token, fields)


def _graph(
    sync_pass: SyncPass, graphs: dict[int, PacedGraphClient], config_id: int | None, target: str
) -> PacedGraphClient | None:
    config = sync_pass.configuration(config_id, target)
    if config is None:
        return None
    if config.id not in graphs:
        graphs[config.id] = PacedGraphClient(
            config.value("graph_base_url"),
            config.value("graph_api_version"),
            sync_pass.pacer,
            sync_pass.count_call,
            transport=sync_pass.transport,
        )
    return graphs[config.id]


def list_numbers(sync_pass: SyncPass, waba: Waba) -> list[dict[str, Any]]:
    """Every number of the WABA, one cursor page after the other (runs in a fetch thread).

    A WABA whose own budget is spent is held back (raised as retryable) rather than sent a
    call that Meta would refuse.
    """
    numbers: list[dict[str, Any]] = []
    pages = waba.graph.pages(
        f"/{waba.waba_id}/phone_numbers", waba.token,
        fields=waba.fields, limit=sync_pass.policy.page_size,
    )  # fmt: skip
    for page, response in pages:
        usage = waba.graph.read_usage(response)
        numbers += page.get("data") or []
        if next_cursor(page) is None:
            break
        if usage.waba >= 100:
            raise Retryable(
                "meta", "the WABA's call budget is spent", 429, code="80007",
                retry_after=usage.regain_seconds or None,
            )  # fmt: skip
        sync_pass.pacer.sleep(sync_pass.pacer.spacing(usage.waba))
    return numbers


def apply(sync_pass: SyncPass, batch: list[Outcome[Waba]]) -> None:
    """Write what changed: numbers we know, their channels, and flags for bad tokens."""
    session = sync_pass.session
    listed = [o for o in batch if o.error is None]
    rows = _rows(session, [o.target.client_id for o in listed])
    for outcome in batch:
        waba = outcome.target
        if isinstance(outcome.error, AuthError):
            client = session.get(MetaWhatsAppClient, waba.client_id)
            if client is not None:
                require_reauthorization(session, client, outcome.error)
                sync_pass.reauthorization += 1
            continue
        if outcome.error is not None:
            sync_pass.error(str(waba), outcome.error)
            continue
        sync_pass.succeeded += 1
        for data in outcome.result:
            sync_pass.seen += 1
            row = rows.get(str(data.get("id")))
            if row is None or row.client_id != waba.client_id:
                continue  # a number Meta lists that the platform does not hold: ignored
            if update_number(session, row, data, waba.client_status, sync_pass.started):
                sync_pass.changed += 1


def _rows(session: Session, client_ids: list[int]) -> dict[str, MetaWhatsAppPhoneNumber]:
    if not client_ids:
        return {}
    numbers = session.scalars(
        select(MetaWhatsAppPhoneNumber)
        .where(MetaWhatsAppPhoneNumber.client_id.in_(client_ids))
        .options(
            selectinload(MetaWhatsAppPhoneNumber.client).selectinload(MetaWhatsAppClient.portfolio)
        )
    )
    return {n.phone_number_id: n for n in numbers}


def update_number(
    session: Session,
    row: MetaWhatsAppPhoneNumber,
    data: dict[str, Any],
    client_status: str,
    at: dt.datetime,
) -> bool:
    """Copy the listed values that differ; publish the channel when any did. The number's
    limit is its portfolio's: a change is applied to the portfolio (all its numbers, one
    alert)."""
    before = dict(row.health_status or {})
    if not copy_changes(row, phone_values(data, row), at):
        return False
    if row.channel_id is not None:  # onboarding publishes numbers it has not finished
        observe_portfolio_limit(session, row, source="sync")
        publish_number(
            session,
            row,
            source="sync",
            status=blocking_status(client_status),
            reasons=send_readiness_drop(before, row.health_status),
        )
    return True


def clients_to_refresh(session: Session, event: WebhookEvent) -> list[int]:
    """The clients whose WABA a stored quality or account webhook names.

    Meta's quality webhook says FLAGGED without the colour: listing the WABA's numbers
    (``sync.meta_waba``) reads the exact rating.
    """
    try:
        payload = json.loads(event.payload)
    except ValueError:
        return []
    waba_ids = {
        str(entry.get("id"))
        for entry in (payload.get("entry") or [] if isinstance(payload, dict) else [])
        if isinstance(entry, dict)
        and any(
            isinstance(change, dict) and change.get("field") in REFRESHING_FIELDS
            for change in entry.get("changes") or []
        )
    }
    if not waba_ids:
        return []
    return list(
        session.scalars(
            select(MetaWhatsAppClient.id)
            .where(
                MetaWhatsAppClient.waba_id.in_(waba_ids),
                MetaWhatsAppClient.status.not_in(NOT_SYNCED),
            )
            .order_by(MetaWhatsAppClient.id)
        )
    )


class MetaWabaRefresh(CompanyOwned, Base):
    """A WABA that webhooks asked to list again: pending since ``requested_at``, last
    listing started at ``listed_at``."""

    __tablename__ = "meta_waba_refreshes"

    client_id: Mapped[int] = mapped_column(
        ForeignKey("meta_whatsapp_clients.id", ondelete="CASCADE"), primary_key=True
    )
    requested_at: Mapped[dt.datetime | None]
    listed_at: Mapped[dt.datetime | None]


def request_refreshes(session: Session, client_ids: list[int]) -> list[int]:
    """Ask for a listing of these clients' WABAs (flushed with the caller's transaction);
    the ids newly asked for. An ask already pending since the last listing started is
    kept as it is: a burst of events makes one ask."""
    if not client_ids:
        return []
    refresh, now = MetaWabaRefresh, utcnow()
    pending_since_listing = and_(
        refresh.requested_at.is_not(None),
        or_(refresh.listed_at.is_(None), refresh.requested_at > refresh.listed_at),
    )
    asked = session.scalars(
        update(refresh)
        .where(refresh.client_id.in_(client_ids), ~pending_since_listing)
        .values(requested_at=now)
        .returning(refresh.client_id)
        .execution_options(synchronize_session=False)
    ).all()
    owners = session.execute(
        select(MetaWhatsAppClient.id, MetaWhatsAppClient.company_id).where(
            MetaWhatsAppClient.id.in_(client_ids)
        )
    ).all()
    insert = INSERTS[session.get_bind().dialect.name]
    created = session.scalars(
        insert(refresh)
        .values([{"client_id": i, "company_id": c, "requested_at": now} for i, c in owners])
        .on_conflict_do_nothing(index_elements=["client_id"])
        .returning(refresh.client_id)
    ).all()
    return sorted({*asked, *created})


def claim_due_refreshes(
    session: Session, interval: float, limit: int = 100
) -> dict[int, list[int]]:
    """Take the asks whose WABA was not listed within ``interval`` seconds: company id ->
    client ids. The listing clears them with :func:`finish_refreshes`; one that never
    finishes is due again after the interval."""
    refresh, now = MetaWabaRefresh, utcnow()
    due = (
        refresh.requested_at.is_not(None),
        or_(refresh.listed_at.is_(None), refresh.listed_at <= now - dt.timedelta(seconds=interval)),
    )
    ids = session.scalars(
        select(refresh.client_id).where(*due).order_by(refresh.requested_at).limit(limit)
    ).all()
    if not ids:
        return {}
    claimed = session.execute(
        update(refresh)
        .where(refresh.client_id.in_(ids), *due)  # another worker may have claimed some
        .values(listed_at=now)
        .returning(refresh.client_id, refresh.company_id)
        .execution_options(synchronize_session=False)
    ).all()
    by_company: dict[int, list[int]] = {}
    for client_id, company_id in claimed:
        by_company.setdefault(company_id, []).append(client_id)
    return {company: sorted(ids) for company, ids in by_company.items()}


def finish_refreshes(session: Session, client_ids: list[int]) -> None:
    """The WABAs were listed: clear the asks made before the listing started (one made
    since waits for the next interval)."""
    refresh = MetaWabaRefresh
    session.execute(
        update(refresh)
        .where(refresh.client_id.in_(client_ids), refresh.requested_at <= refresh.listed_at)
        .values(requested_at=None)
        .execution_options(synchronize_session=False)
    )
