"""Events for the platform's services, delivered to the endpoints it registers.

An event (``channel.connected``, ``channel.updated``, ...) is written to the outbox in
the same transaction as the change it announces, with one delivery per endpoint that
wants it, so a change and its events are stored together or not at all. The delivery
job (:func:`deliver_due`) sends each one signed per the Standard Webhooks specification
(``webhook-id``, ``webhook-timestamp``, ``webhook-signature``: HMAC-SHA256 with the
endpoint's ``whsec_`` secret), retries with exponential backoff for ``GIVE_UP_AFTER``,
and keeps the events of one ordering key (a channel) in order: a later event of a
channel waits while an earlier one is still being retried. An endpoint whose deliveries
keep failing for ``GIVE_UP_AFTER`` is disabled; its pending deliveries wait, and an admin
replays them once it works again.
"""

from __future__ import annotations

import base64
import datetime as dt
import enum
import json
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    and_,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, joinedload, mapped_column, relationship
from standardwebhooks.webhooks import Webhook

from . import audit, mail
from .backoff import exponential
from .crypto import EncryptedText
from .db import Base, affected_rows, enum_column, intpk, utcnow
from .errors import DomainError, NotFound
from .tenancy import Company, User
from .text import has_control_characters, one_line

CATALOG = {
    "channel.connected": "A number was connected and its channel created.",
    "channel.updated": "A channel's status, quality rating, messaging limit or send readiness"
    " changed.",
    "channel.disconnected": "A channel stopped working: disconnected, banned or deleted.",
    "run.completed": "An onboarding run finished all its steps.",
    "run.failed": "An onboarding run stopped at a step with an error (a retry resumes it).",
    "number.purchased": "A Twilio number was bought into a company's subaccount.",
    "number.released": "A company's Twilio number was released.",
    "sender.updated": "A Twilio WhatsApp sender was created or its status changed.",
    "brand.updated": "A 10DLC brand was submitted or its status changed.",
    "campaign.updated": "A 10DLC campaign's status changed.",
    "tollfree_verification.updated": "A toll-free number's verification was submitted, or its"
    " status changed (in review, approved, rejected with the reason).",
    "link.completed": "A hosted onboarding link was completed: its provider flow finished"
    " and the company's run started.",
    "link.failed": "A hosted onboarding link failed: cancelled, a provider error, or refused.",
    "template.updated": "A message template was created, or its status, quality score or"
    " category changed (or a re-categorisation was announced).",
    "message.received": "A customer sent a message to a channel (the message relay).",
    "message.status": "A message a channel sent was sent, delivered, read or failed.",
    "message.error": "The provider reported an error of a channel's messaging.",
    "message.echo": "A message the business sent from the WhatsApp Business app of a"
    " coexistence number.",
    "coexistence.updated": "A WhatsApp Business app number's contacts or history sync was"
    " requested, progressed, completed or declined.",
    "coexistence.contacts": "Contacts of a WhatsApp Business app number, as Meta synchronized"
    " them (added, edited, removed).",
    "coexistence.history": "A part of a WhatsApp Business app number's chat history, as Meta"
    " synchronized it.",
}
# High volume: only to endpoints that name them (an endpoint of every type gets none).
NAMED_ONLY = frozenset({"message.received", "message.status", "message.error", "message.echo",
                        "coexistence.contacts", "coexistence.history"})  # fmt: skip
EMITTED = "platform_events.emitted"  # session.info: events written since take_emitted()
DISCONNECTED = frozenset({"DISCONNECTED", "DELETED", "BANNED", "REVOKED", "OFFLINE", "OFFBOARDED"})
GIVE_UP_AFTER = dt.timedelta(hours=26)  # over a day of retries before an endpoint is disabled
MAX_DELAY = 3600.0  # seconds between two attempts, at most
BATCH = 100
MAX_ROUNDS = 20  # batches per pass: the rest waits for the next pass


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # given up: the endpoint was disabled


UNDELIVERED = (DeliveryStatus.PENDING.value, DeliveryStatus.FAILED.value)


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class EventEndpoint(Base):
    """Where the platform wants events: all companies', or one company's."""

    __tablename__ = "event_endpoints"

    id: Mapped[intpk]
    url: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(String(200), default="")
    company_id: Mapped[int | None] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    event_types: Mapped[list[str]] = mapped_column(JSON, default=list)  # empty: every type
    secret: Mapped[str] = mapped_column(EncryptedText("event_endpoints.secret"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[dt.datetime | None]
    disabled_reason: Mapped[str] = mapped_column(String(300), default="")

    company: Mapped[Company | None] = relationship()

    def wants(self, event_type: str, company_id: int | None) -> bool:
        """Its types name ``event_type``, or it has none and the type is not
        :data:`NAMED_ONLY`; and the event is of its company, if it has one."""
        if self.event_types:
            listed = event_type in self.event_types
        else:
            listed = event_type not in NAMED_ONLY
        return listed and (self.company_id is None or self.company_id == company_id)


class PlatformEvent(Base):
    """One event of the outbox."""

    __tablename__ = "platform_events"

    id: Mapped[intpk]
    public_id: Mapped[str] = mapped_column(String(40), unique=True)  # webhook-id: msg_...
    type: Mapped[str] = mapped_column(String(60))
    company_id: Mapped[int | None] = mapped_column(
        ForeignKey("companies.id", ondelete="SET NULL"), index=True
    )
    ordering_key: Mapped[str] = mapped_column(String(80))  # events of one key go in order
    payload: Mapped[str] = mapped_column(Text)  # the JSON body, exactly as signed and sent
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class EventDelivery(Base):
    """One event for one endpoint: its attempts and outcome."""

    __tablename__ = "event_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "endpoint_id"),
        Index("ix_event_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[intpk]
    event_id: Mapped[int] = mapped_column(ForeignKey("platform_events.id", ondelete="CASCADE"))
    endpoint_id: Mapped[int] = mapped_column(
        ForeignKey("event_endpoints.id", ondelete="CASCADE"), index=True
    )
    ordering_key: Mapped[str] = mapped_column(String(80))
    status: Mapped[DeliveryStatus] = mapped_column(
        enum_column(DeliveryStatus), default=DeliveryStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    first_failed_at: Mapped[dt.datetime | None]
    last_attempt_at: Mapped[dt.datetime | None]
    last_status_code: Mapped[int | None]
    last_error: Mapped[str] = mapped_column(String(300), default="")
    delivered_at: Mapped[dt.datetime | None]

    event: Mapped[PlatformEvent] = relationship()
    endpoint: Mapped[EventEndpoint] = relationship()


# --- endpoints ----------------------------------------------------------------------------


def add_endpoint(
    session: Session,
    actor: audit.Actor,
    url: str,
    *,
    check_url: Callable[[str], None],
    company: Company | None = None,
    event_types: Iterable[str] = (),
    description: str = "",
) -> EventEndpoint:
    """Register an endpoint; ``check_url`` refuses a URL the platform may not call."""
    url = url.strip()
    check_url(url)
    types = sorted(set(event_types))
    unknown = [t for t in types if t not in CATALOG]
    if unknown:
        raise DomainError(f"Unknown event types: {', '.join(unknown)}.")
    endpoint = EventEndpoint(
        url=url, company_id=company.id if company else None, event_types=types,
        description=one_line(description, 200), secret=new_secret(),
    )  # fmt: skip
    session.add(endpoint)
    session.flush()
    audit.record(session, actor, "event_endpoint.create", endpoint, label=url)
    return endpoint


def endpoint_of(session: Session, company_id: int | None, endpoint_id: int) -> EventEndpoint:
    """An endpoint of the platform (``company_id`` None: any) or of one company."""
    statement = select(EventEndpoint).where(EventEndpoint.id == endpoint_id)
    if company_id is not None:
        statement = statement.where(EventEndpoint.company_id == company_id)
    endpoint = session.scalars(statement).one_or_none()
    if endpoint is None:
        raise NotFound(f"event endpoint {endpoint_id} not found")
    return endpoint


def delivery_of(
    session: Session, endpoint: EventEndpoint, delivery_id: int
) -> EventDelivery | None:
    return session.scalars(
        select(EventDelivery).where(
            EventDelivery.id == delivery_id, EventDelivery.endpoint_id == endpoint.id
        )
    ).one_or_none()


def enable(session: Session, actor: audit.Actor, endpoint: EventEndpoint) -> int:
    """Enable a disabled endpoint and send its failed deliveries again, in order; those
    that waited go at once too, their failures before forgotten (a new failure retries for
    ``GIVE_UP_AFTER`` again instead of disabling the endpoint at once)."""
    endpoint.disabled_at = None
    endpoint.disabled_reason = ""
    count = replay(session, endpoint, DeliveryStatus.FAILED)
    replay(session, endpoint, DeliveryStatus.PENDING)
    audit.record(session, actor, "event_endpoint.enable", endpoint, label=endpoint.url,
                 replayed=count)  # fmt: skip
    return count


def replay(session: Session, endpoint: EventEndpoint, status: DeliveryStatus) -> int:
    rows = session.scalars(
        select(EventDelivery).where(
            EventDelivery.endpoint_id == endpoint.id, EventDelivery.status == status
        )
    ).all()
    now = utcnow()
    for row in rows:
        row.status, row.next_attempt_at, row.first_failed_at = DeliveryStatus.PENDING, now, None
    return len(rows)


def redeliver(session: Session, actor: audit.Actor, delivery: EventDelivery) -> None:
    """Send one delivery again (a delivered one too: the receiver deduplicates by id)."""
    delivery.status = DeliveryStatus.PENDING
    delivery.next_attempt_at = utcnow()
    delivery.first_failed_at = None
    audit.record(session, actor, "event_delivery.replay", delivery,
                 label=delivery.event.public_id)  # fmt: skip


# --- the outbox ---------------------------------------------------------------------------


def endpoints_for(session: Session, event_type: str, company_id: int | None) -> list[EventEndpoint]:
    """The endpoints (enabled or not: a disabled one gets it once enabled) that want it."""
    return [
        e
        for e in session.scalars(
            select(EventEndpoint).where(
                (EventEndpoint.company_id.is_(None)) | (EventEndpoint.company_id == company_id)
            )
        )
        if e.wants(event_type, company_id)
    ]


def emit(
    session: Session,
    event_type: str,
    company_id: int | None,
    ordering_key: str,
    data: dict,
    public_id: str | None = None,
) -> PlatformEvent | None:
    """Write ``event_type`` to the outbox with a delivery per endpoint that wants it (in
    the caller's transaction); None when no endpoint wants it, or when the event
    ``public_id`` (derived by the caller from what it announces) was written before."""
    if event_type not in CATALOG:
        raise ValueError(f"not in the catalog: {event_type}")
    endpoints = endpoints_for(session, event_type, company_id)
    if not endpoints:
        return None
    if public_id is None:
        public_id = "msg_" + secrets.token_hex(12)
    elif session.scalar(select(PlatformEvent.id).where(PlatformEvent.public_id == public_id)):
        return None
    now = utcnow()
    company = session.get(Company, company_id) if company_id is not None else None
    body = {
        "type": event_type,
        "timestamp": now.isoformat().replace("+00:00", "Z"),
        "data": {"company": company.public_id if company else None, **data},
    }
    event = PlatformEvent(
        public_id=public_id, type=event_type, company_id=company_id, ordering_key=ordering_key,
        payload=json.dumps(body, separators=(",", ":"), sort_keys=True), created_at=now,
    )  # fmt: skip
    session.add(event)
    session.flush()
    for endpoint in endpoints:
        session.add(
            EventDelivery(
                event_id=event.id, endpoint_id=endpoint.id, ordering_key=ordering_key,
                next_attempt_at=now,
            )
        )  # fmt: skip
    session.flush()
    session.info[EMITTED] = session.info.get(EMITTED, 0) + 1
    return event


def take_emitted(session: Session) -> int:
    """How many events ``session`` wrote since the last call (to wake the delivery job
    once they are committed)."""
    return int(session.info.pop(EMITTED, 0))


@dataclass(frozen=True)
class Outcome:
    status_code: int | None  # None: no answer (timeout, refused connection)
    error: str = ""

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


Send = Callable[[str, bytes, dict[str, str]], Outcome]


def signed_headers(endpoint: EventEndpoint, event: PlatformEvent, now: dt.datetime) -> dict:
    return _signed(endpoint.secret, event.public_id, event.payload, now)


def _signed(secret: str, public_id: str, payload: str, now: dt.datetime) -> dict:
    signature = Webhook(secret).sign(public_id, now, payload)
    return {
        "webhook-id": public_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
    }


def due(session: Session, now: dt.datetime, limit: int = BATCH) -> list[EventDelivery]:
    """Pending deliveries due now, of enabled endpoints, each the oldest pending one of its
    endpoint and ordering key (a later event of a channel waits for the earlier)."""
    earlier = EventDelivery.__table__.alias("earlier")
    waiting_behind = (
        select(earlier.c.id)
        .where(
            earlier.c.endpoint_id == EventDelivery.endpoint_id,
            earlier.c.ordering_key == EventDelivery.ordering_key,
            # not delivered, spelt so the (status, ...) index finds the few such rows:
            # "!= delivered" reads every delivery the endpoint ever had
            earlier.c.status.in_(UNDELIVERED),
            earlier.c.id < EventDelivery.id,
        )
        .exists()
    )
    return list(
        session.scalars(
            select(EventDelivery)
            .join(EventEndpoint, EventEndpoint.id == EventDelivery.endpoint_id)
            .options(joinedload(EventDelivery.event), joinedload(EventDelivery.endpoint))
            .where(
                and_(
                    EventDelivery.status == DeliveryStatus.PENDING,
                    EventDelivery.next_attempt_at <= now,
                    EventEndpoint.disabled_at.is_(None),
                    ~waiting_behind,
                )
            )
            .order_by(EventDelivery.id)
            .limit(limit)
        )
    )


def record_attempt(
    session: Session, delivery: EventDelivery, outcome: Outcome, now: dt.datetime
) -> bool:
    """Record one attempt's outcome; True when this attempt disabled the endpoint (it has
    failed for ``GIVE_UP_AFTER``): one conditional ``UPDATE``, so of two workers giving up
    at once only one disables it, and its admins are told once (:func:`alert_disabled`)."""
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.last_status_code = outcome.status_code
    delivery.last_error = one_line(outcome.error, 300)
    if outcome.delivered:
        delivery.status = DeliveryStatus.DELIVERED
        delivery.delivered_at = now
        delivery.first_failed_at = None
        return False
    delivery.first_failed_at = delivery.first_failed_at or now
    if now - delivery.first_failed_at < GIVE_UP_AFTER:
        delay = exponential(delivery.attempts, 30, MAX_DELAY)
        delivery.next_attempt_at = now + dt.timedelta(seconds=delay)
        return False
    delivery.status = DeliveryStatus.FAILED
    reason = (
        f"Every attempt failed for {GIVE_UP_AFTER.total_seconds() / 3600:.0f} hours"
        f" (last: {outcome.status_code or outcome.error or 'no answer'})."
    )
    disabled = affected_rows(
        session,
        update(EventEndpoint)
        .where(EventEndpoint.id == delivery.endpoint_id, EventEndpoint.disabled_at.is_(None))
        .values(disabled_at=now, disabled_reason=one_line(reason, 300))
        .execution_options(synchronize_session="evaluate"),
    )
    if disabled:
        alert_disabled(session, delivery.endpoint)
    return bool(disabled)


def alert_disabled(session: Session, endpoint: EventEndpoint) -> int:
    """E-mail the platform admins, and the company's admins for a company's endpoint, that
    ``endpoint`` was disabled (in the transaction that disabled it); how many were told."""
    from .health import recipients  # the channel health module emits events: no cycle

    users = session.scalars(
        select(User).where(User.id.in_(recipients(session, endpoint.company_id)))
    ).all()
    told = 0
    for user in users:
        if has_control_characters(user.email):
            continue
        mail.queue(
            session,
            kind="event_endpoint_disabled",
            to=user.email,
            subject=f"Event endpoint disabled: {endpoint.url}",
            body=(
                f"The platform stopped sending events to {endpoint.url}: "
                f"{endpoint.disabled_reason}\n\n"
                "Its events are kept and wait. Once it answers again, enable it (platform "
                f"admins: Event endpoints; the API: POST /api/v1/event-endpoints/{endpoint.id}"
                "/enable) and every waiting event is sent, in order.\n"
            ),
        )
        told += 1
    return told


TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def http_client(transport: httpx.BaseTransport | None = None) -> httpx.Client:
    return httpx.Client(transport=transport, timeout=TIMEOUT, follow_redirects=False)


def http_sender(client: httpx.Client) -> Send:
    """Send with ``client``: any answer is an outcome, no answer (timeout, refusal) too;
    redirects are not followed (a 3xx is a failure the log shows)."""

    def send(url: str, body: bytes, headers: dict[str, str]) -> Outcome:
        try:
            answer = client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return Outcome(None, f"{type(exc).__name__}: {exc}")
        return Outcome(answer.status_code, "" if answer.is_success else answer.text[:200])

    return send


CLAIM = dt.timedelta(seconds=60)  # an attempt in flight (at most 10 s) is not handed out again


def claim(session: Session, delivery_id: int, now: dt.datetime) -> bool:
    """Take a due delivery for one attempt, committed before it is sent (one conditional
    ``UPDATE``): False when another pass (a worker of another process, woken by the same
    relayed messages) took it first. A pass that dies while sending leaves it to the passes
    after ``CLAIM``; the later events of its channel wait behind it meanwhile."""
    taken = affected_rows(
        session,
        update(EventDelivery)
        .where(
            EventDelivery.id == delivery_id,
            EventDelivery.status == DeliveryStatus.PENDING,
            EventDelivery.next_attempt_at <= now,
        )
        .values(next_attempt_at=now + CLAIM)
        .execution_options(synchronize_session=False),
    )
    session.commit()
    return bool(taken)


def deliver_due(session: Session, send: Send, now: Callable[[], dt.datetime] = utcnow) -> dict:
    """Send what is due, each delivery claimed before it is sent and its attempt committed
    after; counts by outcome, and the endpoints disabled. What a batch sends is read once
    (a commit expires the rows: no reload per delivery)."""
    counts: dict[str, Any] = {"delivered": 0, "failed": 0, "disabled": []}
    for _ in range(MAX_ROUNDS):  # a delivered event lets its channel's next one go
        batch = [
            (d.id, d.endpoint_id, d.endpoint.url, d.endpoint.secret, d.event.public_id,
             d.event.payload)
            for d in due(session, now())
        ]  # fmt: skip
        delivered = False
        for delivery_id, endpoint_id, url, secret, public_id, payload in batch:
            if endpoint_id in counts["disabled"]:  # disabled earlier in this batch: it waits
                continue
            at = now()
            headers = _signed(secret, public_id, payload, at)
            if not claim(session, delivery_id, at):  # another pass is sending it
                continue
            outcome = send(url, payload.encode(), headers)
            delivery = session.get_one(EventDelivery, delivery_id)
            if record_attempt(session, delivery, outcome, at):
                counts["disabled"].append(endpoint_id)
            counts["delivered" if outcome.delivered else "failed"] += 1
            delivered |= outcome.delivered
            session.commit()
        if not delivered:
            break
    return counts


# Reads a channel's send readiness with its status before a change, and now: registered by
# provisioning.send_readiness, which reads every provider's rows (this module may not).
ReadinessOf = Callable[[Session, Any, str], tuple[dict[str, Any], dict[str, Any]]]
_readiness: list[ReadinessOf] = []


def register_readiness(readiness_of: ReadinessOf) -> None:
    _readiness[:] = [readiness_of]


def channel_changed(
    session: Session, channel: Any, before: dict[str, str], source: str, new: bool
) -> PlatformEvent | None:
    """The event of a channel's observed change: connected (new), disconnected (its
    status became one of :data:`DISCONNECTED`) or updated, with what changed, its send
    readiness among it (``{"ready": bool, "reasons": [...]}``). An observation that changed
    none of the fields (a provider reporting that the number cannot send) is an update."""
    after = {name: getattr(channel, name) or "" for name in before}
    changes: dict[str, Any] = {
        k: {"from": before[k], "to": after[k]} for k in after if before[k] != after[k]
    }
    if new:
        event_type = "channel.connected"
    elif "status" in changes and after["status"] in DISCONNECTED:
        event_type = "channel.disconnected"
    else:
        event_type = "channel.updated"
    if not endpoints_for(session, event_type, channel.company_id):
        return None  # nobody listens: the readiness is not even read
    readiness: dict[str, Any] = {}
    if _readiness:
        was, readiness = _readiness[0](session, channel, before.get("status", ""))
        if was != readiness and not new:
            changes["send_readiness"] = {"from": was, "to": readiness}
    data = {
        "channel": {
            "id": channel.id, "provider": channel.provider.value,
            "phone_number": channel.phone_number, "display_name": channel.display_name,
            **after, **({"send_readiness": readiness} if readiness else {}),
        },
        "changes": {} if new else changes,
        "source": source,
    }  # fmt: skip
    return emit(session, event_type, channel.company_id, f"channel:{channel.id}", data)
