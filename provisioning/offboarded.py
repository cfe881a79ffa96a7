"""What the providers' offboarding runs share, knowing no provider: starting a run once per
target, the ``OFFBOARDED`` mark on a unified channel, and the company's own mark.

A company's offboarding is a set of runs, one per provider account, that carry the same
``company_offboarding`` key in their context (:mod:`provisioning.offboarding` starts them).
The provider packages stay independent of each other (an import-linter contract): they
meet here, through the runs' rows only. Each flow ends with a local step that calls
:func:`settle_company`; the last run to get there marks the company offboarded. A step
that must come after every other provider's (closing the Twilio subaccount, for good)
calls :func:`wait_for_siblings` first.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit, runs
from .channels import Channel
from .db import utcnow
from .health import observe
from .runs import Flow, ProvisioningRun, StepContext, StepStatus, Wait
from .tenancy import Company, tenant_select

OFFBOARDED = "OFFBOARDED"  # the unified channel's status once its number is torn down
COMPANY_KEY = "company_offboarding"  # the context key a company's offboarding runs share
TARGET_KEY = "target"  # what one run tears down (a number, an account), in its context
SIBLING_WAIT = dt.timedelta(minutes=5)


def start(
    session: Session,
    actor: audit.Actor,
    flow: Flow,
    company_id: int,
    target: str,
    *,
    partner_configuration_id: int | None,
    context: dict[str, Any],
) -> ProvisioningRun:
    """The unfinished run of ``flow`` for ``target`` (a failed one too: a Retry resumes
    it), else a new one. Two starts at once meet on the new run's unique nonce (the later
    commit fails), since both count the same earlier runs."""
    earlier = [
        run
        for run in session.scalars(
            tenant_select(ProvisioningRun, company_id).where(ProvisioningRun.flow == flow.name)
        )
        if run.context.get(TARGET_KEY) == target
    ]
    for run in earlier:
        if not run.status.finished:
            return run
    run, _ = runs.start_once(
        session, actor, flow, company_id, f"offboard:{target}:{len(earlier)}",
        partner_configuration_id=partner_configuration_id,
        context={**context, TARGET_KEY: target},
    )  # fmt: skip
    return run


def note(ctx: StepContext, key: str, value: Any) -> None:
    """Add ``value`` to the step's ``provider_ids[key]`` list (kept across attempts, so a
    resumed step still says what an earlier attempt did)."""
    done = list((ctx.step.provider_ids or {}).get(key) or [])
    if value not in done:
        ctx.record_ids(**{key: [*done, value]})


def mark_channel(session: Session, channel_id: int | None) -> None:
    """The unified channel's status becomes ``OFFBOARDED`` (kept in its history, announced
    as ``channel.disconnected``)."""
    channel = session.get(Channel, channel_id) if channel_id else None
    if channel is not None:
        observe(session, channel, source="offboarding", status=OFFBOARDED)


def siblings(session: Session, run: ProvisioningRun) -> list[ProvisioningRun]:
    """The other runs of the same company offboarding (none for a single number's)."""
    key = run.context.get(COMPANY_KEY)
    if not key:
        return []
    return [
        other
        for other in session.scalars(tenant_select(ProvisioningRun, run.company_id))
        if other.id != run.id and other.context.get(COMPANY_KEY) == key
    ]


def at_its_end(run: ProvisioningRun) -> bool:
    """Completed, or every step done but its last (the local record, which cannot fail):
    two runs ending at once each see the other there, and both mark the company."""
    if run.status is runs.RunStatus.COMPLETED:
        return True
    return all(step.status is StepStatus.DONE for step in run.steps[:-1])


def wait_for_siblings(ctx: StepContext, what: str) -> None:
    """Wait (without a worker) until every other run of the company's offboarding has
    done its provider work: ``what`` comes last."""
    pending = [other for other in siblings(ctx.session, ctx.run) if not at_its_end(other)]
    if pending:
        names = ", ".join(f"#{other.id} ({other.provider.brand})" for other in pending)
        raise Wait(
            f"{what} comes last: waiting for the other offboarding runs to finish ({names}). "
            "A failed one needs its Retry.",
            resume_at=utcnow() + SIBLING_WAIT,
        )


def settle_company(ctx: StepContext) -> None:
    """Mark the company offboarded when this run is the last of its offboarding to end."""
    if not ctx.run.context.get(COMPANY_KEY):
        return
    if all(at_its_end(other) for other in siblings(ctx.session, ctx.run)):
        mark_company(ctx.session, ctx.session.get_one(Company, ctx.run.company_id))


def mark_company(session: Session, company: Company) -> None:
    """An offboarded company is deactivated: its pages, API keys and links stop working
    (a platform admin may reactivate it); its rows and runs stay for the record."""
    if not company.is_active:
        return
    company.is_active = False
    audit.record(session, audit.SYSTEM, "company.offboarded", company, label=company.name,
                 company_id=company.id)  # fmt: skip


def latest_company_runs(session: Session, company_id: int) -> list[ProvisioningRun]:
    """The runs of the company's latest whole-company offboarding, in order."""
    found = [
        run
        for run in session.scalars(
            tenant_select(ProvisioningRun, company_id).order_by(ProvisioningRun.id.desc())
        )
        if run.context.get(COMPANY_KEY)
    ]
    if not found:
        return []
    key = found[0].context[COMPANY_KEY]
    return sorted((run for run in found if run.context[COMPANY_KEY] == key), key=lambda r: r.id)


def company_offboardings(session: Session, company_id: int) -> int:
    """How many whole-company offboardings the company had (names the next one's key)."""
    keys = {
        run.context.get(COMPANY_KEY)
        for run in session.scalars(
            select(ProvisioningRun).where(ProvisioningRun.company_id == company_id)
        )
    }
    return len(keys - {None})
