"""The quality sync: refresh every channel's health with as few provider calls as possible.

Each provider's ``sync.py`` lists its fleet in pages (Meta per WABA, 360dialog one partner
listing, Twilio per subaccount) and feeds what it sees to :func:`provisioning.health.observe`,
which writes only what changed. A :class:`SyncRun` records each pass.

The machinery shared by the three passes lives here: a small thread pool fetches while
the calling thread, the only one that touches the database session, applies what comes
back (:func:`fetch_concurrently`); a :class:`Pacer` spaces calls out as the provider's
reported usage nears its limit; throttled or failing targets are retried after a backoff
and, once the attempts are spent, reported on the run while the rest syncs on.

A pass has an owner (host, process, a random part) and a heartbeat: it stamps
``heartbeat_at`` at every checkpoint and, given an engine, from a thread every
``SyncPolicy.heartbeat`` seconds. A later pass over the same fleet skips while that one is
alive, and takes over a dead one (no heartbeat for ``dead_after``, or a pass of this very
process that is no longer running: its worker lost the database before it could close
its row), closing it as failed.
"""

from __future__ import annotations

import datetime as dt
import heapq
import importlib
import itertools
import logging
import os
import secrets
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Engine, ForeignKey, Select, String, select, update
from sqlalchemy.orm import InstrumentedAttribute, Mapped, Session, mapped_column

from . import metrics
from .backoff import exponential
from .db import Base, affected_rows, enum_column, intpk, utcnow
from .errors import ProviderError, Retryable
from .heartbeat import Heartbeat, on_own_connection
from .http import redact_url
from .partners import PartnerConfiguration, Provider, unusable_reason

log = logging.getLogger("provisioning.sync")
T = TypeVar("T")

PASSES = {
    Provider.META: "provisioning.meta.sync",
    Provider.DIALOG360: "provisioning.dialog360.sync",
    Provider.TWILIO: "provisioning.twilio.sync",
}
ERRORS_KEPT = 100  # per run; the rest is counted in a final entry
_END: Any = object()


class SyncRun(Base):
    """One pass of the quality sync over one provider's fleet (or one company's part)."""

    __tablename__ = "quality_sync_runs"

    id: Mapped[intpk]
    provider: Mapped[Provider] = mapped_column(enum_column(Provider))
    company_id: Mapped[int | None] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(20), default="running")
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    finished_at: Mapped[dt.datetime | None]
    owner: Mapped[str | None] = mapped_column(String(64))  # host:pid:random of the pass
    heartbeat_at: Mapped[dt.datetime | None]  # the pass was alive then
    calls: Mapped[int] = mapped_column(default=0)  # provider requests made
    seen: Mapped[int] = mapped_column(default=0)  # channels the provider reported
    changed: Mapped[int] = mapped_column(default=0)  # channels whose health changed
    reauthorization: Mapped[int] = mapped_column(default=0)  # clients flagged
    errors: Mapped[list[Any]] = mapped_column(default=list)


@dataclass(frozen=True)
class SyncPolicy:
    """How hard a pass may push a provider. The defaults suit production; tests shorten
    the waits."""

    workers: int = 16  # concurrent fetches per provider (at most twice as many in flight)
    chunk_size: int = 500  # our rows per keyset query; channels applied per commit
    page_size: int = 100  # items asked for per provider page
    max_attempts: int = 4  # per WABA, subaccount or page (throttles and transient errors)
    backoff: float = 2.0  # seconds before the first retry, doubled after each
    max_pause: float = 120.0  # the longest wait for one target; a longer one is an error
    slow_from: float = 75.0  # reported usage (%) from which calls are spaced out
    max_spacing: float = 2.0  # seconds between calls at 100 % usage
    heartbeat: float = 30.0  # seconds between a running pass's heartbeats
    dead_after: dt.timedelta = dt.timedelta(minutes=2)  # a pass silent this long is dead


class Pacer:
    """Spaces out one provider's calls as its reported usage nears 100 %, and holds them
    all while the provider asks for a pause. Shared by the fetch threads of a pass."""

    def __init__(self, policy: SyncPolicy, sleep: Callable[[float], None] = time.sleep) -> None:
        self.policy = policy
        self.sleep = sleep
        self._lock = threading.Lock()
        self._usage = 0.0
        self._paused_until = 0.0

    def spacing(self, percent: float) -> float:
        """Seconds to leave between calls at this usage (0 below ``slow_from``)."""
        start = self.policy.slow_from
        if percent < start:
            return 0.0
        share = min(1.0, (percent - start) / max(100.0 - start, 1.0))
        return self.policy.max_spacing * share

    def report(self, percent: float) -> None:
        with self._lock:
            self._usage = percent

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    def before_call(self) -> None:
        """Wait out a pause, then the spacing the latest usage asks for."""
        with self._lock:
            wait_for = max(0.0, self._paused_until - time.monotonic())
            usage = self._usage
        self.sleep(wait_for + self.spacing(usage))


@dataclass
class Outcome(Generic[T]):
    """What fetching one target gave: its result, or the error that stopped it."""

    target: T
    result: Any = None
    error: ProviderError | None = None


def retry_delay(exc: Retryable, attempt: int, policy: SyncPolicy) -> float | None:
    """Seconds before trying a failed target again; None when it should be reported."""
    if attempt >= policy.max_attempts:
        return None
    delay = exponential(attempt, policy.backoff, retry_after=exc.retry_after)
    return None if delay > policy.max_pause else delay


def fetch_concurrently(
    targets: Iterable[T], fetch: Callable[[T], Any], policy: SyncPolicy
) -> Iterator[Outcome[T]]:
    """Fetch ``targets`` on a small thread pool; yield outcomes here as they complete.

    ``targets`` is pulled lazily from this thread (it may query the database). At most
    twice ``policy.workers`` fetches are under way, so memory stays bounded. A target that
    fails with a retryable error is put back after a backoff (the provider's own wait when
    it names one) until its attempts are spent; then, like any other provider error, it
    is yielded as an error outcome.
    """
    pending = iter(targets)
    exhausted = False
    order = itertools.count()
    deferred: list[tuple[float, int, T, int]] = []  # (due, tie-breaker, target, attempt)
    running: dict[Future[Any], tuple[T, int]] = {}
    with ThreadPoolExecutor(max_workers=policy.workers, thread_name_prefix="sync") as pool:
        try:
            while True:
                while len(running) < 2 * policy.workers:
                    if deferred and deferred[0][0] <= time.monotonic():
                        _, _, target, attempt = heapq.heappop(deferred)
                    elif not exhausted:
                        target = next(pending, _END)
                        if target is _END:
                            exhausted = True
                            continue
                        attempt = 1
                    else:
                        break
                    running[pool.submit(fetch, target)] = (target, attempt)
                if not running:
                    if not deferred:
                        return
                    time.sleep(max(0.0, deferred[0][0] - time.monotonic()))
                    continue
                timeout = max(0.0, deferred[0][0] - time.monotonic()) if deferred else None
                done, _ = wait(running, timeout=timeout, return_when=FIRST_COMPLETED)
                for future in done:
                    target, attempt = running.pop(future)
                    try:
                        result = future.result()
                    except Retryable as exc:
                        delay = retry_delay(exc, attempt, policy)
                        if delay is None:
                            yield Outcome(target, error=exc)
                        else:
                            log.info("retrying %r in %.1f s: %s", target, delay, exc)
                            due = time.monotonic() + delay
                            heapq.heappush(deferred, (due, next(order), target, attempt + 1))
                    except ProviderError as exc:
                        yield Outcome(target, error=exc)
                    else:
                        yield Outcome(target, result=result)
        finally:
            for future in running:
                future.cancel()


class SyncPass:
    """One provider pass in progress: its run row and counters, and what the provider's
    code needs (session, transport, policy, pacer, the company or clients to cover)."""

    def __init__(
        self,
        session: Session,
        run: SyncRun,
        commit: Callable[[], None],
        *,
        policy: SyncPolicy,
        transport: Any = None,
        company_id: int | None = None,
        client_ids: list[int] | None = None,
    ) -> None:
        self.session = session
        self.run = run
        self.commit = commit
        self.policy = policy
        self.transport = transport
        self.company_id = company_id
        self.client_ids = client_ids
        self.pacer = Pacer(policy)
        self.started = utcnow()
        self.seen = self.changed = self.reauthorization = 0
        self.succeeded = self.failed = 0  # targets (WABAs, pages, subaccounts)
        self.errors: list[dict[str, Any]] = []
        self._configs: dict[int | None, PartnerConfiguration | None] = {}
        self.skipped: Counter[str] = Counter()  # reason -> targets left out
        self._committed = (0, 0, 0)
        self._calls = 0
        self._calls_lock = threading.Lock()

    @property
    def calls(self) -> int:
        return self._calls

    def count_call(self) -> None:
        """One request about to be made (called from the fetch threads)."""
        with self._calls_lock:
            self._calls += 1

    def error(self, target: str, exc: BaseException) -> None:
        """A target that could not be synced; the message never carries a secret."""
        self.failed += 1
        message = redact_url(str(exc))  # a message may quote a URL with its token
        if isinstance(exc, ProviderError) and exc.retry_after:
            message += f" (asked to wait {exc.retry_after:.0f} s)"
        log.warning("quality sync %s: %s: %s", self.run.provider, target, message)
        self.errors.append({"target": target, "error": message[:500]})

    def configuration(self, config_id: int | None, target: str) -> PartnerConfiguration | None:
        """The configuration ``target`` is synced through, loaded once per pass; None when
        it is gone (an error) or deactivated (``target`` is skipped, counted per reason)."""
        if config_id not in self._configs:
            self._configs[config_id] = (
                self.session.get(PartnerConfiguration, config_id) if config_id else None
            )
        config = self._configs[config_id]
        reason = unusable_reason(config)
        if config is None:
            self.error(target, LookupError(reason))
        elif reason:
            self.skipped[reason] += 1
        return None if reason else config

    def keyset(
        self, stmt: Select[*tuple[Any, ...]], key: InstrumentedAttribute[int]
    ) -> Iterator[Any]:
        """The rows of ``stmt`` in ``key`` order, ``chunk_size`` per query (never all)."""
        last = None
        while True:
            query = stmt if last is None else stmt.where(key > last)
            rows = self.session.execute(query.order_by(key).limit(self.policy.chunk_size)).all()
            yield from rows
            if len(rows) < self.policy.chunk_size:
                return
            last = getattr(rows[-1], key.key)

    def checkpoint(self) -> None:
        """Commit what was applied so far, with the run's counters."""
        run = self.run
        run.calls, run.seen, run.changed = self.calls, self.seen, self.changed
        run.reauthorization, run.heartbeat_at = self.reauthorization, utcnow()
        run.errors = self._notes() + self._kept_errors()
        self.commit()
        self._committed = (self.seen, self.changed, self.reauthorization)

    def rollback(self) -> None:
        """Drop what was applied since the last checkpoint, and its counts."""
        self.session.rollback()
        self.seen, self.changed, self.reauthorization = self._committed

    def _kept_errors(self) -> list[dict[str, Any]]:
        kept = self.errors[:ERRORS_KEPT]
        if len(self.errors) > ERRORS_KEPT:
            kept.append({"target": "", "error": f"and {len(self.errors) - ERRORS_KEPT} more"})
        return kept

    def _notes(self) -> list[dict[str, Any]]:
        """One line per reason targets were skipped (not errors: nothing failed)."""
        return [{"target": f"{n} skipped", "error": reason} for reason, n in self.skipped.items()]

    def finish(self, fatal: bool = False) -> None:
        nothing_synced = self.failed and not self.succeeded
        only_skipped = self.skipped and not self.succeeded and not self.failed
        self.run.status = (
            "failed" if fatal or nothing_synced
            else "partial" if self.errors
            else "skipped" if only_skipped
            else "succeeded"
        )  # fmt: skip
        self.run.finished_at = utcnow()
        self.checkpoint()


# Owners of the passes running in this process: a "running" row of this process that is
# not listed here lost its pass (the database went away before the pass could close it).
_LIVE_OWNERS: set[str] = set()
_OWNER_PREFIX = f"{socket.gethostname()[:30]}:{os.getpid()}:"


def new_owner() -> str:
    return f"{_OWNER_PREFIX}{secrets.token_hex(6)}"


def _dead(run: SyncRun, since: dt.datetime) -> bool:
    if run.owner and run.owner.startswith(_OWNER_PREFIX) and run.owner not in _LIVE_OWNERS:
        return True  # ours, and no longer running here
    return (run.heartbeat_at or run.started_at) < since


def pass_running(
    session: Session, provider: Provider, company_id: int | None, policy: SyncPolicy
) -> bool:
    """Whether a live pass covers the same fleet; dead ones are closed (taken over)."""
    scope = SyncRun.company_id.is_(None) if company_id is None else SyncRun.company_id == company_id
    since = utcnow() - policy.dead_after
    running = session.scalars(
        select(SyncRun).where(SyncRun.provider == provider, scope, SyncRun.status == "running")
    ).all()
    alive = False
    for run in running:
        if not _dead(run, since):
            alive = True
            continue
        log.warning("quality sync run %d stopped without finishing: taken over", run.id)
        run.status, run.finished_at = "failed", utcnow()
        run.errors = [*run.errors, {"target": "", "error": TAKEN_OVER}]
    return alive


TAKEN_OVER = "the pass stopped without finishing (its worker died or lost the database)"


def _heartbeat(engine: Engine, run_id: int, owner: str, policy: SyncPolicy) -> Heartbeat:
    def renew(session: Session) -> bool:
        renewed = affected_rows(
            session,
            update(SyncRun)
            .where(SyncRun.id == run_id, SyncRun.owner == owner, SyncRun.status == "running")
            .values(heartbeat_at=utcnow())
            .execution_options(synchronize_session=False),
        )
        return renewed == 1

    return Heartbeat(on_own_connection(engine, renew), policy.heartbeat, f"sync run {run_id}")


def sync_quality(
    session: Session,
    commit: Callable[[], None],
    *,
    providers: Iterable[Provider] | None = None,
    company_id: int | None = None,
    client_ids: list[int] | None = None,
    transport: Any = None,
    policy: SyncPolicy | None = None,
    heartbeat: Engine | None = None,
) -> list[SyncRun]:
    """Sync the channels of every provider (or ``providers``), of one company when
    ``company_id`` is given; ``client_ids`` narrows a Meta pass to those clients.

    One :class:`SyncRun` per provider, committed at the start (status ``running``), after
    each chunk and at the end. A live pass over the same fleet makes this one ``skipped``;
    a dead one is closed and this one runs. With ``heartbeat`` (an engine: a connection
    of its own) the pass also stamps its heartbeat between checkpoints. One provider
    failing never stops the next one.
    """
    policy = policy or SyncPolicy()
    runs = []
    for provider in providers or list(Provider):
        busy = client_ids is None and pass_running(session, provider, company_id, policy)
        run = SyncRun(provider=provider, company_id=company_id)
        if busy:
            run.status, run.finished_at = "skipped", utcnow()
            metrics.sync_pass_finished(provider.value, "skipped", 0.0, seen=0, changed=0, calls=0)
        else:
            run.owner, run.heartbeat_at = new_owner(), utcnow()
            _LIVE_OWNERS.add(run.owner)
        owner = run.owner or ""
        try:
            session.add(run)
            commit()
            runs.append(run)
            if busy:
                continue
            sync_pass = SyncPass(
                session, run, commit, policy=policy, transport=transport,
                company_id=company_id, client_ids=client_ids,
            )  # fmt: skip
            keeper = _heartbeat(heartbeat, run.id, owner, policy) if heartbeat else None
            with keeper or nullcontext():
                _run_pass(sync_pass, provider)
        finally:
            _LIVE_OWNERS.discard(owner)
    return runs


def _run_pass(sync_pass: SyncPass, provider: Provider) -> None:
    started = time.perf_counter()
    module = importlib.import_module(PASSES[provider])
    try:
        module.sync(sync_pass)
    except Exception as exc:  # the pass cannot go on; the next provider still syncs
        sync_pass.rollback()
        if not isinstance(exc, ProviderError):
            log.exception("quality sync of %s stopped", provider)
        sync_pass.error(provider.label, exc)
        sync_pass.finish(fatal=True)
    else:
        sync_pass.finish()
    run = sync_pass.run
    metrics.sync_pass_finished(
        provider.value,
        run.status,
        time.perf_counter() - started,
        seen=run.seen,
        changed=run.changed,
        calls=run.calls,
    )


def summary(run: SyncRun) -> str:
    """One line for people: what a pass did."""
    return (
        f"{run.provider.value}: {run.status}, {run.calls} call(s), {run.seen} seen, "
        f"{run.changed} changed, {run.reauthorization} to reauthorize, "
        f"{len(run.errors)} error(s)"
    )


def batches(outcomes: Iterable[Outcome[T]], size: Callable[[Outcome[T]], int], limit: int):
    """Group outcomes so that each group covers about ``limit`` channels (one commit each)."""
    batch: list[Outcome[T]] = []
    count = 0
    for outcome in outcomes:
        batch.append(outcome)
        count += size(outcome)
        if count >= limit:
            yield batch
            batch, count = [], 0
    if batch:
        yield batch


def copy_changes(row: Any, values: dict[str, Any], at: dt.datetime) -> bool:
    """Set the listed values that differ from the row (and when it was read); False, and
    nothing written, when none does."""
    changed = {name: value for name, value in values.items() if getattr(row, name) != value}
    for name, value in changed.items():
        setattr(row, name, value)
    if changed:
        row.last_synced_at = at
    return bool(changed)
