"""Channel health: every change of status, quality rating or messaging limit passes here.

:func:`observe` writes only what changed, keeps each change as a row of the channel's
history, and raises an :class:`Alert` when the change degrades the channel (quality to
YELLOW or RED, a lower messaging limit, a restricted, banned or disabled account). An
alert is fanned out once, as a :class:`Notification` per recipient: the company's admins
and the platform admins. A duplicate or replayed observation changes nothing, so it
alerts nobody twice.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, aliased, mapped_column, relationship

from . import mail, platform_events
from .channels import Channel
from .db import Base, affected_rows, intpk, utcnow
from .errors import DomainError
from .partners import Provider
from .tenancy import Company, CompanyOwned, Membership, Role, User
from .text import has_control_characters, one_line

HEALTH_FIELDS = ("status", "quality_rating", "messaging_limit")
QUALITY_RANK = {"GREEN": 0, "YELLOW": 1, "RED": 2}
# Channel statuses that mean the account behind the number can no longer send freely.
BLOCKED_STATUSES = {
    "RESTRICTED",
    "DISABLED",
    "BANNED",
    "FLAGGED",
    "ACCOUNT_RESTRICTION",
    "ACCOUNT_VIOLATION",
    "OFFLINE",  # a Twilio sender that cannot send (its offline_reasons say why)
}
_LIMIT = re.compile(r"(?i)^(?:TIER_)?(\d+)(K|M)?$")


class ChannelHistory(CompanyOwned, Base):
    """One observed change of a channel (the first row is its state when connected)."""

    __tablename__ = "channel_quality_history"
    __table_args__ = (Index("ix_channel_quality_history_channel_time", "channel_id", "id"),)

    id: Mapped[intpk]
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    observed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(40))
    quality_rating: Mapped[str] = mapped_column(String(20))
    messaging_limit: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(20))  # onboarding, webhook, sync


class Alert(CompanyOwned, Base):
    """A degrading change worth telling people about: of a channel (with the history row
    that observed it) or of a message template."""

    __tablename__ = "channel_alerts"

    id: Mapped[intpk]
    channel_id: Mapped[int | None] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), index=True
    )
    history_id: Mapped[int | None] = mapped_column(
        ForeignKey("channel_quality_history.id", ondelete="CASCADE"), unique=True
    )
    template_id: Mapped[int | None] = mapped_column(
        ForeignKey("message_templates.id", ondelete="CASCADE"), index=True
    )
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    message: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    channel: Mapped[Channel | None] = relationship()


class Notification(Base):
    """An alert as one person sees it: unread until they read it, emailed at most once.

    A person sees it only while they may see the company (:func:`visible_to`)."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("user_id", "alert_id"),
        Index("ix_notifications_user_unread", "user_id", "read_at"),
    )

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    alert_id: Mapped[int] = mapped_column(
        ForeignKey("channel_alerts.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    read_at: Mapped[dt.datetime | None]
    # pending -> queued (an ``outgoing_mail`` message) | skipped (no longer a member).
    email_status: Mapped[str] = mapped_column(String(10), default="pending", index=True)

    alert: Mapped[Alert] = relationship()
    user: Mapped[User] = relationship()


def limit_rank(value: str | None) -> float | None:
    """Messages a day a limit allows (``TIER_1K`` -> 1000, unlimited -> inf), None if unknown."""
    text = (value or "").strip().upper()
    if "UNLIMITED" in text:
        return float("inf")
    match = _LIMIT.match(text.replace(",", ""))
    if not match:
        return None
    return int(match[1]) * {"K": 1_000, "M": 1_000_000}.get(match[2] or "", 1)


def degradations(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """What got worse between two observations, in words."""
    reasons = []
    old_q, new_q = before["quality_rating"], after["quality_rating"]
    if new_q in ("YELLOW", "RED") and QUALITY_RANK[new_q] > QUALITY_RANK.get(old_q, 0):
        reasons.append(f"quality rating dropped to {new_q}")
    old_l, new_l = limit_rank(before["messaging_limit"]), limit_rank(after["messaging_limit"])
    if old_l is not None and new_l is not None and new_l < old_l:
        reasons.append(
            f"messaging limit dropped from {before['messaging_limit']} "
            f"to {after['messaging_limit']}"
        )
    new_s = after["status"].upper()
    if new_s in BLOCKED_STATUSES and before["status"].upper() != new_s:
        reasons.append(f"status is now {new_s}")
    return reasons


def observe(
    session: Session,
    channel: Channel,
    *,
    source: str,
    at: dt.datetime | None = None,
    alerts: bool = True,
    reasons: Sequence[str] = (),
    explain: Sequence[str] = (),
    **values: str | None,
) -> ChannelHistory | None:
    """Apply observed health values; a history row (and alert) only if something changed.

    ``alerts=False`` leaves the alerting to the caller (:func:`observe_group`); ``reasons``
    are degradations the three values cannot show (e.g. Meta's ``health_status`` says the
    number cannot send, 360dialog stopped template messaging): they record a history row
    and alert even when nothing else changed. ``explain`` adds the provider's own words to
    an alert the observation raises."""
    return _observe(session, channel, values, source, at, alerts, reasons, explain)


def _observe(
    session: Session,
    channel: Channel,
    values: Mapping[str, str | None],
    source: str,
    at: dt.datetime | None = None,
    alerts: bool = True,
    reasons: Sequence[str] = (),
    explain: Sequence[str] = (),
) -> ChannelHistory | None:
    unknown = set(values) - set(HEALTH_FIELDS)
    if unknown:
        raise TypeError(f"not health fields: {', '.join(sorted(unknown))}")
    new = channel.id is None
    before = {name: getattr(channel, name) or "" for name in HEALTH_FIELDS}
    changed = {k: v for k, v in values.items() if v is not None and v != before[k]}
    if not changed and not new and not reasons:
        return None
    for name, value in changed.items():
        setattr(channel, name, value)
    after = {name: getattr(channel, name) or "" for name in HEALTH_FIELDS}
    if new:
        for name, default in (("status", "UNKNOWN"), ("quality_rating", "UNKNOWN")):
            after[name] = after[name] or default
            setattr(channel, name, after[name])
    session.flush()
    history = ChannelHistory(
        company_id=channel.company_id,
        channel_id=channel.id,
        observed_at=at or utcnow(),
        source=source,
        **after,
    )
    session.add(history)
    session.flush()
    if new or changed or reasons:  # reasons: the provider says it can no longer send
        platform_events.channel_changed(session, channel, before, source, new)
    found = [] if new else [*(degradations(before, after) if alerts else []), *reasons]
    if found:
        raise_alert(session, channel, history, [*found, *explain])
    return history


def observe_group(
    session: Session,
    channels: Iterable[Channel],
    *,
    source: str,
    reason: str | None = None,
    message: str | None = None,
    at: dt.datetime | None = None,
    **values: str | None,
) -> Alert | None:
    """One observation shared by several channels (a Meta portfolio's limit, a WABA the
    customer disconnected): each channel's history records it, and ``reason`` makes one
    alert for all of them, on the first channel that changed."""
    first: tuple[Channel, ChannelHistory] | None = None
    for channel in channels:
        history = _observe(session, channel, values, source, at, alerts=False)
        if history is not None and first is None:
            first = (channel, history)
    if reason is None or first is None:
        return None
    return raise_alert(session, *first, [reason], message=message)


def upsert_channel(
    session: Session,
    company_id: int,
    provider: Provider,
    provider_ref: str,
    *,
    source: str = "onboarding",
    reasons: Sequence[str] = (),
    explain: Sequence[str] = (),
    status: str | None = None,
    quality_rating: str | None = None,
    messaging_limit: str | None = None,
    **fields: object,
) -> Channel:
    """The company's channel for this provider number, created or updated in place.

    Health fields go through :func:`observe`; other fields are set when given (not None).
    """
    channel = session.scalars(
        select(Channel).where(Channel.provider == provider, Channel.provider_ref == provider_ref)
    ).one_or_none()
    if channel is None:
        channel = Channel(company_id=company_id, provider=provider, provider_ref=provider_ref)
        session.add(channel)
    elif channel.company_id != company_id:
        raise DomainError("This number is connected to another company.")
    for name, value in fields.items():
        if value is not None and getattr(channel, name) != value:
            setattr(channel, name, value)
    health = {
        "status": status,
        "quality_rating": quality_rating,
        "messaging_limit": messaging_limit,
    }
    _observe(session, channel, health, source, reasons=reasons, explain=explain)
    return channel


def raise_alert(
    session: Session,
    channel: Channel,
    history: ChannelHistory,
    reasons: list[str],
    message: str | None = None,
) -> Alert:
    label = one_line(channel.display_name or channel.phone_number or "")
    alert = Alert(
        company_id=channel.company_id,
        channel_id=channel.id,
        history_id=history.id,
        reasons=reasons,
        message=(message or f"{label} ({channel.phone_number}): {'; '.join(reasons)}.")[:500],
    )
    return _fan_out(session, alert)


def raise_template_alert(
    session: Session, company_id: int, template_id: int, message: str
) -> Alert:
    """An alert about a message template, for the company's admins and the platform's."""
    alert = Alert(company_id=company_id, template_id=template_id, message=one_line(message)[:500])
    return _fan_out(session, alert)


def raise_channel_notice(session: Session, channel: Channel, message: str) -> Alert:
    """An alert about a channel that no health change carries (a deadline, a customer's
    choice), for the company's admins and the platform's."""
    alert = Alert(
        company_id=channel.company_id, channel_id=channel.id, message=one_line(message)[:500]
    )
    return _fan_out(session, alert)


def raise_company_notice(session: Session, company_id: int, message: str) -> Alert:
    """An alert about the company's registration (no channel or template), for its admins
    and the platform's (issue 18: a suspended or expired 10DLC campaign)."""
    alert = Alert(company_id=company_id, message=one_line(message)[:500])
    return _fan_out(session, alert)


def _fan_out(session: Session, alert: Alert) -> Alert:
    """Store the alert with one notification per recipient."""
    session.add(alert)
    session.flush()
    for user_id in recipients(session, alert.company_id):
        session.add(Notification(user_id=user_id, alert_id=alert.id))
    return alert


def recipients(session: Session, company_id: int | None) -> list[int]:
    """Active admins of the company (None: no company), and the platform admins."""
    company_admins = (
        select(User.id)
        .join(Membership, Membership.user_id == User.id)
        .where(
            Membership.company_id == company_id,
            Membership.role == Role.ADMIN,
            Membership.is_active.is_(True),
            User.is_active.is_(True),
        )
    )
    platform_admins = select(User.id).where(
        User.is_platform_admin.is_(True), User.is_active.is_(True)
    )
    return sorted(set(session.scalars(company_admins)) | set(session.scalars(platform_admins)))


def history(session: Session, channel: Channel, limit: int = 500) -> list[ChannelHistory]:
    """The channel's newest ``limit`` observations, oldest first."""
    rows = session.scalars(
        select(ChannelHistory)
        .where(ChannelHistory.channel_id == channel.id)
        .order_by(ChannelHistory.id.desc())
        .limit(limit)
    ).all()
    return list(reversed(rows))


def unread_count(session: Session, user_id: int) -> int:
    return session.scalars(
        select(func.count(Notification.id))
        .join(Alert, Alert.id == Notification.alert_id)
        .where(
            Notification.user_id == user_id,
            Notification.read_at.is_(None),
            visible_to(user_id),
        )
    ).one()


def mark_read(session: Session, user_id: int, notification_ids: list[int] | None = None) -> int:
    """Mark the user's notifications read (all they may see without ids); returns how many."""
    visible = select(Alert.id).where(visible_to(user_id))
    stmt = update(Notification).where(
        Notification.user_id == user_id,
        Notification.read_at.is_(None),
        Notification.alert_id.in_(visible),
    )
    if notification_ids is not None:
        stmt = stmt.where(Notification.id.in_(notification_ids))
    return affected_rows(session, stmt.values(read_at=utcnow()))


def visible_to(user_id: int) -> ColumnElement[bool]:
    """A condition on ``Alert``: the user may still see alerts of its company, as a
    platform admin or an active member of that (active) company. A person removed from a
    company stops seeing its alerts at once; their notifications come back if they return."""
    membership, company, user = aliased(Membership), aliased(Company), aliased(User)
    member = (
        select(membership.id)
        .join(company, company.id == membership.company_id)
        .where(
            membership.user_id == user_id,
            membership.company_id == Alert.company_id,
            membership.is_active.is_(True),
            company.is_active.is_(True),
        )
        .correlate(Alert)
        .exists()
    )
    platform_admin = (
        select(user.id).where(user.id == user_id, user.is_platform_admin.is_(True)).exists()
    )
    return or_(platform_admin, member)


def queue_alert_emails(session: Session, base_url: str, limit: int = 500) -> int:
    """Turn pending notifications into outbox messages (``provisioning.mail``), once each;
    a recipient who may no longer see the company's alerts is skipped."""
    rows = session.scalars(
        select(Notification)
        .where(Notification.email_status == "pending")
        .order_by(Notification.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    queued = 0
    for row in rows:
        visible = session.scalar(
            select(Alert.id).where(Alert.id == row.alert_id, visible_to(row.user_id))
        )
        user = row.user
        if visible is None or not user.is_active or has_control_characters(user.email):
            row.email_status = "skipped"
            continue
        alert = row.alert
        mail.queue(
            session,
            kind="alert",
            to=user.email,
            subject=f"{'Template' if alert.template_id else 'Channel'} alert: {alert.message}",
            body=(
                f"{alert.message}\n\n"
                f"Observed at {alert.created_at:%Y-%m-%d %H:%M} UTC.\n"
                f"See your notifications: {base_url.rstrip('/')}/notifications\n"
            ),
        )
        row.email_status, queued = "queued", queued + 1
    return queued
