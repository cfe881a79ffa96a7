"""Outgoing e-mail: an outbox of messages, each sent on its own and at most once.

A message is queued in the transaction that decides it (an alert, an invitation, a
password reset link, a password change notice). Its body is encrypted at rest (invitations
and reset links carry a one-time token) and dropped once the message is done. A message
may have a deadline (``send_before``, a link's expiry): one still pending then is
``expired`` and its body dropped, never sent. A sender walks each message through
recorded states:

- ``pending`` -> ``sending`` (claimed, ``claimed_at``), in batches;
- before the message is handed to the server, ``attempted_at`` is committed: the intent;
- then the outcome: ``sent`` (the server accepted it), ``failed`` (the server refused it,
  or it could not be built), or ``uncertain`` (the connection broke during the attempt:
  the server may have accepted it, so it is never sent again by itself).

A message one sender claimed but never attempted goes back to ``pending``. :func:`recover`
does the same for claims older than ``CLAIM_TIMEOUT`` (a sender that died): unattempted
ones are sent again, attempted ones become ``uncertain``. Nothing the server accepted is
sent twice, and no message waits on another.
"""

from __future__ import annotations

import datetime as dt
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from sqlalchemy import Index, String, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from .crypto import EncryptedText
from .db import Base, affected_rows, intpk, utcnow
from .errors import DomainError
from .text import has_control_characters, one_line

CLAIM_TIMEOUT = dt.timedelta(minutes=15)  # beyond the sending job's time limit
BATCH = 20
SUBJECT_LENGTH = 200


class OutgoingMail(Base):
    __tablename__ = "outgoing_mail"
    __table_args__ = (Index("ix_outgoing_mail_status_claimed", "status", "claimed_at"),)

    id: Mapped[intpk]
    kind: Mapped[str] = mapped_column(String(40))  # alert, invitation, password_reset, ...
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(SUBJECT_LENGTH))
    body: Mapped[str | None] = mapped_column(EncryptedText("outgoing_mail.body"))
    status: Mapped[str] = mapped_column(String(12), default="pending")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    send_before: Mapped[dt.datetime | None]  # useless afterwards (the link in it is dead)
    claimed_at: Mapped[dt.datetime | None]
    attempted_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    error: Mapped[str | None] = mapped_column(String(200))


def queue(
    session: Session,
    *,
    kind: str,
    to: str,
    subject: str,
    body: str,
    send_before: dt.datetime | None = None,
) -> OutgoingMail:
    """Add a message to the outbox (flushed with the caller's transaction). The subject is
    made one line; a recipient that is not one plain address is refused. A message not
    sent by ``send_before`` is dropped."""
    if has_control_characters(to) or "," in to or "@" not in to:
        raise DomainError(f"{one_line(to)!r} is not a single e-mail address.")
    mail = OutgoingMail(
        kind=kind,
        recipient=to.strip(),
        subject=one_line(subject, SUBJECT_LENGTH),
        body=body,
        send_before=send_before,
    )
    session.add(mail)
    session.flush()
    return mail


def build(mail: OutgoingMail, sender: str) -> EmailMessage:
    """The message as the SMTP policy writes it. Header values are one line whatever is
    stored; the policy itself refuses a header with a line break."""
    message = EmailMessage(policy=SMTP)
    message["From"] = one_line(sender)
    message["To"] = Address(addr_spec=mail.recipient)
    message["Subject"] = one_line(mail.subject, SUBJECT_LENGTH)
    message["Date"] = format_datetime(mail.created_at)
    domain = one_line(sender).rpartition("@")[2].strip("<> ") or "localhost"
    message["Message-ID"] = f"<outgoing-mail-{mail.id}@{domain}>"  # the same on any resend
    message.set_content(mail.body or "")
    return message


def expire(session: Session, now: dt.datetime) -> int:
    """Pending messages past their ``send_before``: ``expired``, their bodies dropped."""
    return affected_rows(
        session,
        update(OutgoingMail)
        .where(OutgoingMail.status == "pending", OutgoingMail.send_before <= now)
        .values(status="expired", finished_at=now, body=None)
        .execution_options(synchronize_session=False),
    )


def claim(session: Session, now: dt.datetime, limit: int = BATCH) -> list[OutgoingMail]:
    """Pending messages, marked ``sending`` (the caller commits before sending)."""
    rows = session.scalars(
        select(OutgoingMail)
        .where(OutgoingMail.status == "pending")
        .order_by(OutgoingMail.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for row in rows:
        row.status, row.claimed_at, row.attempted_at = "sending", now, None
    return list(rows)


def attempt(mail: OutgoingMail, now: dt.datetime) -> None:
    """Record that the message is being handed to the server (committed before the call)."""
    mail.attempted_at = now


def finish(mail: OutgoingMail, status: str, now: dt.datetime, error: str | None = None) -> None:
    """The outcome: ``sent``, ``failed`` or ``uncertain``; the body goes."""
    mail.status, mail.finished_at, mail.body = status, now, None
    mail.error = one_line(error, 200) if error else None


def release(mail: OutgoingMail) -> None:
    """Nothing was handed to the server: back to ``pending`` for the next pass."""
    mail.status, mail.claimed_at, mail.attempted_at = "pending", None, None


def recover(session: Session, now: dt.datetime) -> tuple[int, int]:
    """Claims older than ``CLAIM_TIMEOUT``: unattempted messages back to ``pending``,
    attempted ones ``uncertain``. Returns (released, uncertain)."""
    stale = (OutgoingMail.status == "sending", OutgoingMail.claimed_at < now - CLAIM_TIMEOUT)
    released = affected_rows(
        session,
        update(OutgoingMail)
        .where(*stale, OutgoingMail.attempted_at.is_(None))
        .values(status="pending", claimed_at=None)
        .execution_options(synchronize_session=False),
    )
    uncertain = affected_rows(
        session,
        update(OutgoingMail)
        .where(*stale, OutgoingMail.attempted_at.is_not(None))
        .values(
            status="uncertain",
            finished_at=now,
            body=None,
            error="The sender stopped during the attempt: it may have been delivered.",
        )
        .execution_options(synchronize_session=False),
    )
    return released, uncertain


def skip_pending(session: Session, now: dt.datetime) -> int:
    """No mail server: pending messages will never be sent."""
    return affected_rows(
        session,
        update(OutgoingMail)
        .where(OutgoingMail.status == "pending")
        .values(status="skipped", finished_at=now, body=None)
        .execution_options(synchronize_session=False),
    )
