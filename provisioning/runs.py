"""Durable provisioning runs: a row per onboarding, a row per step, resumable.

A flow is an ordered list of named steps. :func:`execute` runs a run's steps in order,
skipping those already done, and commits after every step through the ``commit``
callable the job layer passes in, so a crash loses at most the step in flight. Each step
function must be idempotent: it checks what the provider and the database already hold
before acting, and brackets a one-shot side effect with :meth:`StepContext.intend` /
:meth:`StepContext.done_effect` so that a retry reconciles instead of repeating it.

Outcomes of a step:
- it returns: the step is done (``provider_ids`` it recorded are kept);
- it raises :class:`Wait`: the run waits for the provider until ``resume_at`` (or an
  event) without holding a worker;
- :class:`~provisioning.errors.Retryable`: the step is retried with backoff up to the
  flow's limit, then the run fails (and may be resumed by a person);
- :class:`~provisioning.errors.AuthError`: the run fails and the flow's ``on_auth_error``
  hook flags the credentials for reauthorization;
- any other :class:`ProviderError` or :class:`DomainError`: the run fails with the
  provider's message, code and trace id; "Retry" resumes from that step.

A failed run stays failed whoever enqueues it again: only :func:`retry` (a person's
"Retry") makes it runnable.

One executor at a time: :func:`execute` leases the run in the database (an atomic
``UPDATE ... WHERE`` the lease is free or lapsed), renews it from a heartbeat while a step
runs, and releases it at the end, so a run enqueued twice, or picked up by two workers,
runs once. Every commit is fenced by the lease: an executor that lost it (a stalled
process whose lease lapsed and was taken over) stops without writing.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import logging
import os
import secrets
import socket
from collections.abc import Callable
from contextlib import nullcontext, suppress
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Engine,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Update,
    select,
    update,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from . import audit, platform_events
from .backoff import exponential
from .crypto import EncryptedJSON
from .db import Base, affected_rows, created_at, enum_column, intpk, updated_at, utcnow
from .errors import AuthError, DomainError, ProviderError, Retryable
from .heartbeat import Heartbeat, on_own_connection
from .partners import Provider
from .tenancy import CompanyOwned

log = logging.getLogger("provisioning.runs")


class RunStatus(enum.StrEnum):
    STARTED = "started"
    WAITING = "waiting_for_provider"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (RunStatus.COMPLETED, RunStatus.CANCELLED)

    @property
    def runnable(self) -> bool:
        """Whether an execution may pick the run up: a failed run waits for a person's
        Retry (:func:`retry`), whoever else enqueues it."""
        return self in RUNNABLE


RUNNABLE = (RunStatus.STARTED, RunStatus.RUNNING, RunStatus.WAITING)


class StepStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    WAITING = "waiting"
    DONE = "done"
    FAILED = "failed"


class ProvisioningRun(CompanyOwned, Base):
    __tablename__ = "provisioning_runs"

    id: Mapped[intpk]
    flow: Mapped[str] = mapped_column(String(60))
    provider: Mapped[Provider] = mapped_column(enum_column(Provider))
    partner_configuration_id: Mapped[int | None] = mapped_column(
        ForeignKey("partner_configurations.id", ondelete="RESTRICT"), index=True
    )
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    state_nonce: Mapped[str | None] = mapped_column(String(64), unique=True)
    status: Mapped[RunStatus] = mapped_column(enum_column(RunStatus), default=RunStatus.STARTED)
    # What the flow started from (provider events, ids): never a secret.
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Short-lived secrets a step still needs (an authorization code): cleared once used.
    secret_input: Mapped[dict[str, Any] | None] = mapped_column(
        EncryptedJSON("provisioning_runs.secret_input")
    )
    resume_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    # A worker executing the run holds it until the lease expires (one executor at a time).
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[dt.datetime | None]
    error_message: Mapped[str | None] = mapped_column(Text)
    finished_at: Mapped[dt.datetime | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    steps: Mapped[list[ProvisioningStep]] = relationship(
        back_populates="run", order_by="ProvisioningStep.position", cascade="all, delete-orphan"
    )

    def step(self, name: str) -> ProvisioningStep:
        return next(s for s in self.steps if s.name == name)


class ProvisioningStep(Base):
    __tablename__ = "provisioning_steps"
    __table_args__ = (UniqueConstraint("run_id", "name"),)

    id: Mapped[intpk]
    run_id: Mapped[int] = mapped_column(
        ForeignKey("provisioning_runs.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(60))
    status: Mapped[StepStatus] = mapped_column(enum_column(StepStatus), default=StepStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    provider_ids: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # A one-shot side effect: intended (before the call) and confirmed (after it).
    effect_intended_at: Mapped[dt.datetime | None]
    effect_confirmed_at: Mapped[dt.datetime | None]
    error_provider: Mapped[str | None] = mapped_column(String(40))
    error_http_status: Mapped[int | None]
    error_code: Mapped[str | None] = mapped_column(String(40))
    error_subcode: Mapped[str | None] = mapped_column(String(40))
    error_message: Mapped[str | None] = mapped_column(Text)
    error_trace_id: Mapped[str | None] = mapped_column(String(120))

    run: Mapped[ProvisioningRun] = relationship(back_populates="steps")

    def record_error(self, exc: Exception) -> None:
        if isinstance(exc, ProviderError):
            self.error_provider, self.error_http_status = exc.provider, exc.http_status
            self.error_code, self.error_subcode = exc.code, exc.subcode
            self.error_message, self.error_trace_id = exc.message, exc.trace_id
        else:
            self.error_provider = self.error_http_status = self.error_code = None
            self.error_subcode = self.error_trace_id = None
            self.error_message = str(exc)

    def clear_error(self) -> None:
        self.error_provider = self.error_http_status = self.error_code = None
        self.error_subcode = self.error_message = self.error_trace_id = None


class Wait(Exception):
    """Raised by a step to wait for the provider (an event, or ``resume_at``)."""

    def __init__(self, reason: str, resume_at: dt.datetime | None = None) -> None:
        super().__init__(reason)
        self.reason, self.resume_at = reason, resume_at


@dataclass
class StepContext:
    """What a step function gets: the session, the run, its step row, and services."""

    session: Session
    run: ProvisioningRun
    step: ProvisioningStep
    services: dict[str, Any] = field(default_factory=dict)
    commit: Callable[[], None] | None = None

    def record_ids(self, **ids: Any) -> None:
        self.step.provider_ids = {**(self.step.provider_ids or {}), **ids}

    def intend(self) -> bool:
        """Mark a one-shot side effect as about to happen; False when it was already tried.

        When it returns False, an earlier attempt may have made the call and lost the
        answer: the step must look the result up at the provider instead of calling again.
        """
        if self.step.effect_intended_at is not None:
            return False
        self.step.effect_intended_at = utcnow()
        self.durable()
        return True

    def durable(self) -> None:
        """Commit now: what was recorded must survive a crash during the next call."""
        self.session.flush()
        if self.commit is not None:
            self.commit()

    def done_effect(self) -> None:
        self.step.effect_confirmed_at = utcnow()


StepFunction = Callable[[StepContext], None]


@dataclass(frozen=True)
class Flow:
    """An ordered list of named, idempotent steps."""

    name: str
    provider: Provider
    steps: tuple[tuple[str, StepFunction], ...]
    max_attempts: int = 5
    backoff_seconds: float = 5.0
    on_auth_error: Callable[[Session, ProvisioningRun, AuthError], None] | None = None


FLOWS: dict[str, Flow] = {}
# A run's context key listing the runs its steps started, for the job layer to start them
# as soon as this one has finished (the periodic sweep would pick them up later anyway).
FOLLOW_UPS = "follow_up_runs"
DEFAULT_LEASE_SECONDS = 300.0


def register_flow(flow: Flow) -> Flow:
    FLOWS[flow.name] = flow
    return flow


def start_run(
    session: Session,
    actor: audit.Actor,
    flow: Flow,
    company_id: int,
    *,
    partner_configuration_id: int | None = None,
    context: dict[str, Any] | None = None,
    secret_input: dict[str, Any] | None = None,
    state_nonce: str | None = None,
) -> ProvisioningRun:
    run = ProvisioningRun(
        company_id=company_id,
        flow=flow.name,
        provider=flow.provider,
        partner_configuration_id=partner_configuration_id,
        started_by_id=actor.user_id,
        state_nonce=state_nonce or secrets.token_urlsafe(24),
        context=dict(context or {}),
        secret_input=secret_input,
        steps=[ProvisioningStep(position=i, name=name) for i, (name, _) in enumerate(flow.steps)],
    )
    session.add(run)
    audit.record(session, actor, "provisioning_run.start", run, label=flow.name, flow=flow.name)
    return run


def start_once(
    session: Session,
    actor: audit.Actor,
    flow: Flow,
    company_id: int,
    origin: str,
    **options: Any,
) -> tuple[ProvisioningRun, bool]:
    """``(run, True)``: a new run of ``flow`` started from ``origin`` (what it starts from,
    e.g. a provider's client and channels); ``(the first run, False)`` when this company
    started the flow from the same origin before. The origin's digest is the run's unique
    state nonce: two starts at once meet there, and the later one's commit fails."""
    seed = f"{company_id}:{flow.name}:{origin}".encode()
    nonce = "origin-" + hashlib.sha256(seed).hexdigest()[:57]
    earlier = session.scalars(
        select(ProvisioningRun).where(ProvisioningRun.state_nonce == nonce)
    ).one_or_none()
    if earlier is not None:
        return earlier, False
    return start_run(session, actor, flow, company_id, state_nonce=nonce, **options), True


def due_runs(session: Session, now: dt.datetime | None = None, limit: int = 100) -> list[int]:
    """Ids of unfinished runs to pick up: started, running (a crashed worker), or due waits."""
    now = now or utcnow()
    stmt = (
        select(ProvisioningRun.id)
        .where(
            ProvisioningRun.status.in_(RUNNABLE),
            (ProvisioningRun.resume_at.is_(None)) | (ProvisioningRun.resume_at <= now),
            # a run leased to a live executor is in hand already
            ProvisioningRun.lease_expires_at.is_(None) | (ProvisioningRun.lease_expires_at < now),
        )
        .order_by(ProvisioningRun.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def new_lease_owner() -> str:
    """A name for one executor: host, process, and a random part so threads never share it."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{secrets.token_hex(6)}"


def _lease_update(run_id: int) -> Update:
    return (
        update(ProvisioningRun)
        .where(ProvisioningRun.id == run_id)
        .execution_options(synchronize_session=False)
    )


def claim_lease(
    session: Session, run_id: int, owner: str, seconds: float, now: dt.datetime | None = None
) -> bool:
    """Take the run for ``seconds`` unless another executor holds a live lease or the run
    is not runnable (failed, finished): one atomic statement."""
    now = now or utcnow()
    return (
        affected_rows(
            session,
            _lease_update(run_id)
            .where(
                ProvisioningRun.status.in_(RUNNABLE),
                ProvisioningRun.lease_expires_at.is_(None)
                | (ProvisioningRun.lease_expires_at < now),
            )
            .values(lease_owner=owner, lease_expires_at=now + dt.timedelta(seconds=seconds)),
        )
        == 1
    )


def renew_lease(session: Session, run_id: int, owner: str, seconds: float) -> bool:
    """Extend our lease; False when it lapsed and another executor took the run."""
    return (
        affected_rows(
            session,
            _lease_update(run_id)
            .where(ProvisioningRun.lease_owner == owner)
            .values(lease_expires_at=utcnow() + dt.timedelta(seconds=seconds)),
        )
        == 1
    )


def release_lease(session: Session, run_id: int, owner: str) -> None:
    session.execute(
        _lease_update(run_id)
        .where(ProvisioningRun.lease_owner == owner)
        .values(lease_owner=None, lease_expires_at=None)
    )


class LeaseLost(Exception):
    """Another executor took the run over: this one stops, and its last writes are dropped."""


def fenced(
    session: Session, run_id: int, owner: str, seconds: float, commit: Callable[[], None]
) -> Callable[[], None]:
    """``commit``, fenced by the lease: the same transaction first renews our lease with a
    conditional ``UPDATE``; when the lease is another executor's, nothing is written and
    :class:`LeaseLost` is raised."""

    def fenced_commit() -> None:
        if not renew_lease(session, run_id, owner, seconds):
            session.rollback()
            raise LeaseLost(f"provisioning run {run_id} is leased to another executor")
        commit()

    return fenced_commit


def lease_heartbeat(engine: Engine, run_id: int, owner: str, seconds: float) -> Heartbeat:
    """Renews the lease every third of ``seconds`` on a connection of its own."""
    beat = on_own_connection(engine, lambda s: renew_lease(s, run_id, owner, seconds))
    return Heartbeat(beat, seconds / 3, f"the lease of provisioning run {run_id}")


def execute(
    session: Session,
    run_id: int,
    commit: Callable[[], None],
    services: dict[str, Any] | None = None,
    *,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    heartbeat: Engine | None = None,
) -> RunStatus:
    """Run (or resume) a run's remaining steps; commits after each step. Idempotent.

    The call leases the run for ``lease_seconds`` and releases it at the end (on failure
    too): a second executor finding a live lease returns at once without touching the
    run, and a crashed executor's lease lapses on its own. With ``heartbeat`` (an engine:
    a connection of its own), the lease is renewed while a step runs, however long it
    takes. Every commit of the run's steps is fenced by the lease (:func:`fenced`): an
    executor whose lease another one took stops without writing.
    """
    run = session.get(ProvisioningRun, run_id)
    if run is None:
        raise DomainError(f"provisioning run {run_id} does not exist")
    if not run.status.runnable:
        return run.status  # finished, or failed: only runs.retry() restarts a failed run
    owner = new_lease_owner()
    claimed = claim_lease(session, run_id, owner, lease_seconds)
    commit()
    if not claimed:
        return run.status  # another executor has it, or it failed or finished meanwhile
    keeper = lease_heartbeat(heartbeat, run_id, owner, lease_seconds) if heartbeat else None
    try:
        with keeper or nullcontext():
            status = _execute_steps(
                session, run, fenced(session, run_id, owner, lease_seconds, commit), services
            )
    except LeaseLost:
        log.warning("provisioning run %d: the lease was lost; this executor stops", run_id)
        session.rollback()
        return session.get_one(ProvisioningRun, run_id).status
    except Exception:
        session.rollback()
        with suppress(SQLAlchemyError):  # if the database is gone, the lease lapses instead
            release_lease(session, run_id, owner)
            commit()
        raise
    release_lease(session, run_id, owner)
    commit()
    return status


def _execute_steps(
    session: Session,
    run: ProvisioningRun,
    commit: Callable[[], None],
    services: dict[str, Any] | None,
) -> RunStatus:
    flow = FLOWS[run.flow]
    functions = dict(flow.steps)
    run.status, run.resume_at, run.error_message = RunStatus.RUNNING, None, None
    commit()
    for step in run.steps:
        if step.status is StepStatus.DONE:
            continue
        function = functions[step.name]
        step.status, step.attempts = StepStatus.RUNNING, step.attempts + 1
        step.started_at = step.started_at or utcnow()
        commit()  # no read until the step's own: SQLite would hold its write lock meanwhile
        context = StepContext(session, run, step, dict(services or {}), commit)
        try:
            function(context)
        except Wait as wait:
            step.status, run.status = StepStatus.WAITING, RunStatus.WAITING
            run.resume_at, step.error_message = wait.resume_at, wait.reason
            commit()
            return run.status
        except Retryable as exc:
            step.record_error(exc)
            if step.attempts < flow.max_attempts:
                delay = exponential(
                    step.attempts, flow.backoff_seconds, 3600, retry_after=exc.retry_after
                )
                step.status, run.status = StepStatus.WAITING, RunStatus.WAITING
                run.resume_at = utcnow() + dt.timedelta(seconds=delay)
                commit()
                return run.status
            return _fail(session, run, step, exc, commit)
        except AuthError as exc:
            if flow.on_auth_error is not None:
                flow.on_auth_error(session, run, exc)
            return _fail(session, run, step, exc, commit)
        except (ProviderError, DomainError) as exc:
            return _fail(session, run, step, exc, commit)
        step.status, step.finished_at = StepStatus.DONE, utcnow()
        step.clear_error()
        commit()
    run.status, run.finished_at, run.secret_input = RunStatus.COMPLETED, utcnow(), None
    audit.record(session, audit.SYSTEM, "provisioning_run.complete", run, label=run.flow)
    announce(session, run)
    commit()
    return run.status


def _fail(
    session: Session,
    run: ProvisioningRun,
    step: ProvisioningStep,
    exc: Exception,
    commit: Callable[[], None],
) -> RunStatus:
    step.status = StepStatus.FAILED
    step.record_error(exc)
    run.status, run.error_message = RunStatus.FAILED, str(exc)
    audit.record(
        session, audit.SYSTEM, "provisioning_run.fail", run, label=run.flow, step=step.name
    )
    announce(session, run, step)
    commit()
    return run.status


def announce(
    session: Session, run: ProvisioningRun, failed_step: ProvisioningStep | None = None
) -> None:
    """``run.completed`` or ``run.failed`` (with the step that failed), in the transaction
    that records the outcome."""
    data = {
        "run": {
            "id": run.id, "flow": run.flow, "provider": run.provider.value,
            "status": run.status.value, "error": run.error_message,
            "failed_step": failed_step.name if failed_step else None,
        }
    }  # fmt: skip
    event_type = "run.completed" if run.status is RunStatus.COMPLETED else "run.failed"
    platform_events.emit(session, event_type, run.company_id, f"run:{run.id}", data)


def retry(session: Session, actor: audit.Actor, run: ProvisioningRun) -> None:
    """Let a failed run resume from its failed step on the next execution."""
    if run.status is not RunStatus.FAILED:
        raise DomainError("Only a failed run can be retried.")
    run.status, run.error_message, run.resume_at = RunStatus.STARTED, None, None
    audit.record(session, actor, "provisioning_run.retry", run, label=run.flow)


def cancel(session: Session, actor: audit.Actor, run: ProvisioningRun) -> None:
    if run.status.finished:
        raise DomainError("This run has already finished.")
    run.status, run.finished_at, run.secret_input = RunStatus.CANCELLED, utcnow(), None
    audit.record(session, actor, "provisioning_run.cancel", run, label=run.flow)
