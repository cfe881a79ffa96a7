"""Read side of the fleet dashboard: counts, filters, keyset pages and history series.

Every read is bounded whatever the fleet size: the counts are one GROUP BY over the
filtered channels, a page of channels is one keyset query on ``channels.id`` (never
OFFSET, never a COUNT per page) joined to its company, and a channel's history is read
through its ``(channel_id, id)`` index. A company's reads go through
:func:`~provisioning.tenancy.tenant_select`; ``company_id=None`` means the whole platform
(platform admins only: the caller decides who may ask).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from .channels import Channel
from .errors import NotFound
from .health import Alert, ChannelHistory, Notification, limit_rank, visible_to
from .partners import Provider
from .sync import SyncRun
from .tenancy import Company, tenant_select

PAGE_SIZE = 50
QUALITY_ORDER = ("GREEN", "YELLOW", "RED", "UNKNOWN")
# Twilio reports sender quality as HIGH / MEDIUM / LOW; they read as Meta's colours.
QUALITY_ALIASES = {"HIGH": "GREEN", "MEDIUM": "YELLOW", "LOW": "RED"}


@dataclass(frozen=True)
class FleetFilter:
    """Which channels to show; ``company_id`` is the tenant scope (None: every company)."""

    company_id: int | None = None
    provider: Provider | None = None
    quality_rating: str | None = None
    status: str | None = None
    messaging_limit: str | None = None
    needs_reauthorization: bool = False

    def within(self, company_id: int) -> FleetFilter:
        """The same filter, confined to one company."""
        return dataclasses.replace(self, company_id=company_id)

    def channels(self) -> Select[Channel]:
        """``SELECT channels`` with every filter applied."""
        stmt = (
            select(Channel) if self.company_id is None else tenant_select(Channel, self.company_id)
        )
        if self.provider is not None:
            stmt = stmt.where(Channel.provider == self.provider)
        if self.quality_rating is not None:
            stmt = stmt.where(Channel.quality_rating == self.quality_rating)
        if self.status is not None:
            stmt = stmt.where(Channel.status == self.status)
        if self.messaging_limit is not None:
            stmt = stmt.where(Channel.messaging_limit == self.messaging_limit)
        if self.needs_reauthorization:
            stmt = stmt.where(Channel.needs_reauthorization.is_(True))
        return stmt


@dataclass(frozen=True)
class FleetCounts:
    total: int = 0
    needs_reauthorization: int = 0
    by_provider: dict[Provider, int] = field(default_factory=dict)
    by_status: dict[str, int] = field(default_factory=dict)
    by_quality: dict[str, int] = field(default_factory=dict)
    by_limit: dict[str, int] = field(default_factory=dict)


def counts(session: Session, where: FleetFilter) -> FleetCounts:
    """Channels by provider, status, quality and limit: one GROUP BY over the filtered set.

    The database groups on all four columns at once; folding its rows into four tallies
    in Python costs one step per distinct combination (a few dozen), never per channel.
    """
    columns = (
        Channel.provider,
        Channel.status,
        Channel.quality_rating,
        Channel.messaging_limit,
        Channel.needs_reauthorization,
    )
    stmt = where.channels().with_only_columns(*columns, func.count()).group_by(*columns)
    provider: Counter[Provider] = Counter()
    status: Counter[str] = Counter()
    quality: Counter[str] = Counter()
    limit: Counter[str] = Counter()
    total = reauthorization = 0
    for prov, stat, qual, lim, reauth, n in session.execute(stmt):
        provider[prov] += n
        status[stat] += n
        quality[qual] += n
        limit[lim] += n
        total += n
        reauthorization += n if reauth else 0
    return FleetCounts(
        total=total,
        needs_reauthorization=reauthorization,
        by_provider={p: provider[p] for p in Provider if provider[p]},
        by_status=dict(status.most_common()),
        by_quality=dict(sorted(quality.items(), key=lambda kv: _quality_position(kv[0]))),
        by_limit=dict(sorted(limit.items(), key=lambda kv: _limit_position(kv[0]))),
    )


def _quality_position(value: str) -> tuple[int, str]:
    level = quality_level(value)
    return QUALITY_ORDER.index(level), value


def _limit_position(value: str) -> tuple[float, str]:
    rank = limit_rank(value)
    return (-1.0 if rank is None else rank), value


@dataclass(frozen=True)
class FleetRow:
    channel: Channel
    company_name: str
    company_slug: str
    last_change: dt.datetime | None


@dataclass(frozen=True)
class FleetPage:
    rows: list[FleetRow]
    next_after: int | None  # ?after= for the next page, None on the last one
    prev_before: int | None  # ?before= for the previous page, None on the first one


def channels_page(
    session: Session,
    where: FleetFilter,
    *,
    after: int | None = None,
    before: int | None = None,
    size: int = PAGE_SIZE,
) -> FleetPage:
    """One page of channels in id order, after or before a channel id (keyset pagination).

    One query: the channels with their company's name and the time of their latest
    history row. ``size + 1`` rows are read to know whether another page follows.
    """
    last_change = (
        select(ChannelHistory.observed_at)
        .where(ChannelHistory.channel_id == Channel.id)
        .order_by(ChannelHistory.id.desc())
        .limit(1)
        .correlate(Channel)
        .scalar_subquery()
    )
    stmt = (
        where.channels()
        .join(Company, Company.id == Channel.company_id)
        .add_columns(Company.name, Company.slug, last_change)
    )
    if before is not None:
        stmt = stmt.where(Channel.id < before).order_by(Channel.id.desc())
    else:
        if after is not None:
            stmt = stmt.where(Channel.id > after)
        stmt = stmt.order_by(Channel.id)
    found = list(session.execute(stmt.limit(size + 1)))
    more = len(found) > size
    found = found[:size]
    if before is not None:
        found.reverse()
    rows = [FleetRow(channel, name, slug, changed) for channel, name, slug, changed in found]
    has_next = more if before is None else True
    has_prev = more if before is not None else after is not None
    return FleetPage(
        rows=rows,
        next_after=rows[-1].channel.id if rows and has_next else None,
        prev_before=rows[0].channel.id if rows and has_prev else None,
    )


def company_by_slug(session: Session, slug: str) -> Company | None:
    return session.scalars(select(Company).where(Company.slug == slug)).one_or_none()


def latest_sync_runs(session: Session, limit: int = 8) -> list[SyncRun]:
    return list(session.scalars(select(SyncRun).order_by(SyncRun.id.desc()).limit(limit)))


def channel_alerts(session: Session, channel: Channel, limit: int = 50) -> list[Alert]:
    """The channel's newest alerts, newest first."""
    stmt = (
        tenant_select(Alert, channel.company_id)
        .where(Alert.channel_id == channel.id)
        .order_by(Alert.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


# -- history series ----------------------------------------------------------------------
def quality_level(value: str | None) -> str:
    """GREEN, YELLOW, RED or UNKNOWN, whatever spelling the provider used."""
    text = (value or "").upper()
    text = QUALITY_ALIASES.get(text, text)
    return text if text in QUALITY_ORDER else "UNKNOWN"


@dataclass(frozen=True)
class Step:
    """A stretch of time during which the channel's health did not change."""

    start: dt.datetime
    end: dt.datetime
    status: str
    quality: str  # GREEN, YELLOW, RED or UNKNOWN
    messaging_limit: str
    per_day: float | None  # messages a day the limit allows (inf: unlimited), None: unknown
    source: str  # what observed it: onboarding, webhook, sync


def health_steps(rows: list[ChannelHistory], until: dt.datetime) -> list[Step]:
    """History rows (oldest first) as steps; the last one lasts until ``until``.

    Rows are in the order they were applied; a row stamped earlier than the one before it
    (a provider's late timestamp) starts when the previous one did, so time never runs back.
    """
    starts: list[dt.datetime] = []
    for row in rows:
        starts.append(max(row.observed_at, starts[-1]) if starts else row.observed_at)
    ends = [*starts[1:], max(until, starts[-1])] if rows else []
    return [
        Step(
            start=start,
            end=end,
            status=row.status,
            quality=quality_level(row.quality_rating),
            messaging_limit=row.messaging_limit,
            per_day=limit_rank(row.messaging_limit),
            source=row.source,
        )
        for row, start, end in zip(rows, starts, ends, strict=True)
    ]


# -- notifications -----------------------------------------------------------------------
@dataclass(frozen=True)
class NotificationRow:
    id: int
    created_at: dt.datetime
    read_at: dt.datetime | None
    message: str
    channel_id: int | None
    phone_number: str | None
    company_name: str
    company_slug: str
    template_id: int | None = None


def notifications_page(
    session: Session, user_id: int, *, before: int | None = None, size: int = PAGE_SIZE
) -> tuple[list[NotificationRow], int | None]:
    """The user's notifications, newest first, and the ``before`` cursor of the next page."""
    stmt = (
        select(
            Notification.id,
            Notification.created_at,
            Notification.read_at,
            Alert.message,
            Alert.channel_id,
            Channel.phone_number,
            Company.name,
            Company.slug,
            Alert.template_id,
        )
        .join(Alert, Alert.id == Notification.alert_id)
        .outerjoin(Channel, Channel.id == Alert.channel_id)
        .join(Company, Company.id == Alert.company_id)
        .where(Notification.user_id == user_id, visible_to(user_id))
        .order_by(Notification.id.desc())
        .limit(size + 1)
    )
    if before is not None:
        stmt = stmt.where(Notification.id < before)
    rows = [NotificationRow(*row) for row in session.execute(stmt)]
    more = len(rows) > size
    rows = rows[:size]
    return rows, rows[-1].id if more else None


def user_notification(session: Session, user_id: int, notification_id: int) -> Notification:
    """The user's own notification while they may see its company, or :class:`NotFound`."""
    row = session.scalars(
        select(Notification)
        .join(Alert, Alert.id == Notification.alert_id)
        .where(
            Notification.id == notification_id,
            Notification.user_id == user_id,
            visible_to(user_id),
        )
    ).one_or_none()
    if row is None:
        raise NotFound(f"Notification {notification_id} not found")
    return row
