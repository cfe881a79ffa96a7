"""Password guessing throttle: growing delays per account, per device and per address.

Each attempt is counted *before* the password is checked, in one short transaction that
locks the counters' rows: a burst of concurrent attempts can never check more passwords
than the counters allow. Past a free allowance, every failure doubles the wait before the
next attempt (up to a ceiling); a success clears the account's (or device's) counter.

No one can lock an account: the delays are short, and a browser that signed in to the
account before carries a device token (see ``portal.auth.devices``) whose attempts count
against that device instead of the account, so a stranger hammering the account slows
down strangers only (OWASP's "device cookies" against account lockout).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import math
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import String, delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from .backoff import exponential
from .db import Base, affected_rows, utcnow
from .errors import DomainError

# a counter left alone this long starts again from zero
FORGET_AFTER = dt.timedelta(hours=1)


@dataclass(frozen=True)
class Policy:
    """``free`` failures cost nothing; the next waits ``base``, doubling up to ``ceiling``."""

    free: int
    base: dt.timedelta
    ceiling: dt.timedelta

    def delay(self, failures: int) -> dt.timedelta:
        if failures < self.free:
            return dt.timedelta(0)
        wait = exponential(
            failures - self.free + 1, self.base.total_seconds(), self.ceiling.total_seconds()
        )
        return dt.timedelta(seconds=wait)


# At most about 25 guesses an hour on an account (ASVS 2.2.1 allows 100).
ACCOUNT = Policy(free=5, base=dt.timedelta(seconds=2), ceiling=dt.timedelta(minutes=5))
DEVICE = ACCOUNT
# An office behind one address mistypes more; one address trying many accounts is stopped.
ADDRESS = Policy(free=20, base=dt.timedelta(seconds=2), ceiling=dt.timedelta(minutes=15))

# Asking for password reset e-mails (each one costs a mail), per address.
RESET_REQUESTS = Policy(free=5, base=dt.timedelta(seconds=30), ceiling=dt.timedelta(minutes=15))

Key = tuple[str, Policy]


class LoginThrottled(DomainError):
    def __init__(self, retry_after: dt.timedelta) -> None:
        seconds = max(1, math.ceil(retry_after.total_seconds()))
        wait = f"{seconds} seconds" if seconds < 120 else f"{math.ceil(seconds / 60)} minutes"
        super().__init__(f"Too many failed attempts. Try again in {wait}.")
        self.retry_after = seconds


class LoginThrottle(Base):
    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    last_attempt_at: Mapped[dt.datetime] = mapped_column(index=True)
    next_attempt_at: Mapped[dt.datetime]


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:40]


def address_key(address: str) -> str:
    """The client address as counted: IPv6 by its /64 (one subscriber holds a whole /64)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "address:" + _digest(address)
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return f"address:{ip.ipv4_mapped}"
        return f"address:{ipaddress.ip_network(f'{ip}/64', strict=False)}"
    return f"address:{ip}"


def keys_for(email: str, address: str, device: str | None = None) -> list[Key]:
    """The counters an attempt on ``email`` from ``address`` (and ``device``) moves."""
    if device:
        return [(f"device:{_digest(device)}", DEVICE), (address_key(address), ADDRESS)]
    return [(f"account:{_digest(email)}", ACCOUNT), (address_key(address), ADDRESS)]


def reset_keys(address: str) -> list[Key]:
    """The counter a request for a password reset e-mail from ``address`` moves."""
    return [("reset-" + address_key(address), RESET_REQUESTS)]


def _locked_rows(
    session: Session, keys: Sequence[Key], now: dt.datetime
) -> dict[str, LoginThrottle]:
    names = sorted({name for name, _ in keys})  # one lock order: no deadlock between attempts
    postgresql = session.get_bind().dialect.name == "postgresql"
    insert = postgresql_insert if postgresql else sqlite_insert
    session.execute(
        insert(LoginThrottle)
        .values([{"key": n, "last_attempt_at": now, "next_attempt_at": now} for n in names])
        .on_conflict_do_nothing(index_elements=["key"])
    )
    rows = session.scalars(
        select(LoginThrottle)
        .where(LoginThrottle.key.in_(names))
        .order_by(LoginThrottle.key)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {row.key: row for row in rows}


def reserve(session: Session, keys: Sequence[Key], now: dt.datetime | None = None) -> None:
    """Count one attempt on every counter, or raise :class:`LoginThrottled` (and count
    nothing) while one of them is waiting. The caller commits before checking the password."""
    now = now or utcnow()
    rows = _locked_rows(session, keys, now)
    waiting = [rows[name].next_attempt_at - now for name, _ in keys]
    if max(waiting) > dt.timedelta(0):
        raise LoginThrottled(max(waiting))
    for name, policy in keys:
        row = rows[name]
        if now - row.last_attempt_at > FORGET_AFTER:
            row.failures = 0
        row.failures += 1
        row.last_attempt_at = now
        row.next_attempt_at = now + policy.delay(row.failures)


def succeeded(session: Session, keys: Sequence[Key]) -> None:
    """The password was right: clear the account's (or device's) counter and give the
    address back the attempt counted in advance."""
    rows = _locked_rows(session, keys, utcnow())
    for name, policy in keys:
        row = rows[name]
        row.failures = max(row.failures - 1, 0) if name.startswith("address:") else 0
        row.next_attempt_at = row.last_attempt_at + policy.delay(row.failures)


def forget_stale(session: Session, now: dt.datetime) -> int:
    """Delete the counters that would start from zero anyway; returns how many."""
    return affected_rows(
        session,
        delete(LoginThrottle).where(
            LoginThrottle.last_attempt_at < now - FORGET_AFTER,
            LoginThrottle.next_attempt_at <= now,
        ),
    )
