"""The provisioning run engine: resumable, idempotent, one-shot effects never repeated."""

from __future__ import annotations

import datetime as dt

import pytest

from provisioning import runs
from provisioning.audit import SYSTEM
from provisioning.db import utcnow
from provisioning.errors import AuthError, DomainError, Rejected, Retryable
from provisioning.partners import Provider
from provisioning.runs import Flow, RunStatus, StepStatus, Wait


class Script:
    """Step behaviour per call: an exception to raise, or None to succeed."""

    def __init__(self) -> None:
        self.plan: dict[str, list[Exception | None]] = {}
        self.calls: list[str] = []
        self.effects: list[str] = []  # the paid, one-shot side effect actually made
        self.provider_has: set[str] = set()  # what the "provider" holds
        self.flagged: list[str] = []  # credential errors the flow's hook saw

    def step(self, name: str):
        def run(ctx: runs.StepContext) -> None:
            self.calls.append(name)
            planned = self.plan.get(name, [])
            outcome = planned.pop(0) if planned else None
            if outcome is not None:
                raise outcome
            ctx.record_ids(**{f"{name}_id": f"id-{name}"})

        return run

    def buy(self, ctx: runs.StepContext) -> None:
        """A one-shot effect: the intent is durable before the call; a retry looks it up."""
        self.calls.append("buy")
        if not ctx.intend() and "number" in self.provider_has:
            # An earlier attempt bought it and lost the answer: keep it, never buy again.
            ctx.record_ids(number="+15550001")
            ctx.done_effect()
            return
        self.effects.append("buy")
        self.provider_has.add("number")
        planned = self.plan.get("buy", [])
        if planned and planned.pop(0) is not None:
            raise Retryable("test", "response lost after the purchase")
        ctx.record_ids(number="+15550001")
        ctx.done_effect()


@pytest.fixture
def script():
    return Script()


@pytest.fixture
def flow(script):
    flow = runs.register_flow(
        Flow(
            name="test_flow",
            provider=Provider.META,
            steps=(
                ("first", script.step("first")),
                ("buy", script.buy),
                ("last", script.step("last")),
            ),
            max_attempts=3,
            on_auth_error=lambda session, run, exc: script.flagged.append(exc.code or ""),
        )
    )
    yield flow
    runs.FLOWS.pop("test_flow")


@pytest.fixture
def run(session, make, flow):
    company = make.company()
    run = runs.start_run(session, SYSTEM, flow, company.id, context={"waba_id": "1"})
    session.commit()
    return run


def execute(session, run):
    return runs.execute(session, run.id, session.commit)


def test_a_run_completes_and_running_it_again_changes_nothing(session, run, script):
    assert execute(session, run) is RunStatus.COMPLETED
    assert [s.status for s in run.steps] == [StepStatus.DONE] * 3
    assert run.step("first").provider_ids == {"first_id": "id-first"}
    calls = list(script.calls)
    assert execute(session, run) is RunStatus.COMPLETED
    assert script.calls == calls


def test_a_failed_run_resumes_from_its_failed_step(session, run, script):
    script.plan["last"] = [Rejected("meta", "Invalid parameter", 400, code="100", trace_id="T1")]
    assert execute(session, run) is RunStatus.FAILED
    failed = run.step("last")
    assert (failed.error_code, failed.error_trace_id, failed.error_http_status) == (
        "100",
        "T1",
        400,
    )
    runs.retry(session, SYSTEM, run)
    session.commit()
    assert execute(session, run) is RunStatus.COMPLETED
    assert script.calls.count("first") == 1 and script.calls.count("last") == 2
    assert run.step("last").error_message is None


def test_retryable_errors_wait_with_backoff_then_fail(session, run, script):
    script.plan["first"] = [Retryable("meta", "5xx", 503)] * 3
    assert execute(session, run) is RunStatus.WAITING
    assert run.resume_at > utcnow()
    assert runs.due_runs(session) == []
    assert runs.due_runs(session, now=utcnow() + dt.timedelta(hours=2)) == [run.id]
    execute(session, run)
    assert execute(session, run) is RunStatus.FAILED
    assert run.step("first").attempts == 3


def test_credential_errors_fail_and_call_the_flow_hook(session, run, script):
    script.plan["first"] = [AuthError("meta", "Session expired", 401, code="190")]
    assert execute(session, run) is RunStatus.FAILED
    assert script.flagged == ["190"]


def test_only_failed_runs_can_be_retried(session, run):
    execute(session, run)
    with pytest.raises(DomainError, match="Only a failed run"):
        runs.retry(session, SYSTEM, run)


def test_a_lost_response_after_a_paid_effect_is_reconciled_not_repeated(session, run, script):
    script.plan["buy"] = ["lost"]  # the purchase happens, the answer is lost
    assert execute(session, run) is RunStatus.WAITING
    assert run.step("buy").effect_intended_at is not None
    assert execute(session, run) is RunStatus.COMPLETED
    assert script.effects == ["buy"]
    assert run.step("buy").provider_ids == {"number": "+15550001"}


def test_a_step_can_wait_for_the_provider_without_a_worker(session, run, script):
    later = utcnow() + dt.timedelta(days=2)
    script.plan["last"] = [Wait("channel not running yet", later)]
    assert execute(session, run) is RunStatus.WAITING
    assert run.step("last").status is StepStatus.WAITING and run.resume_at == later
    assert run.id in runs.due_runs(session, now=later)
    assert execute(session, run) is RunStatus.COMPLETED


def test_the_secret_input_is_encrypted_and_cleared_when_done(session, make, flow):
    company = make.company()
    run = runs.start_run(session, SYSTEM, flow, company.id, secret_input={"code": "abc-123"})
    session.commit()
    from sqlalchemy import Text, select, type_coerce

    raw = session.scalar(
        select(type_coerce(runs.ProvisioningRun.secret_input, Text())).where(
            runs.ProvisioningRun.id == run.id
        )
    )
    assert raw.startswith("enc:v1:") and "abc-123" not in raw
    execute(session, run)
    assert run.secret_input is None


def test_cancelled_runs_do_not_execute(session, run, script):
    runs.cancel(session, SYSTEM, run)
    session.commit()
    assert execute(session, run) is RunStatus.CANCELLED and script.calls == []


def test_a_failed_run_is_not_run_again_by_a_stray_execution(session, run, script):
    """A redelivered or retried ``execute_run`` job finds the run FAILED: only a person's
    Retry (``runs.retry``) may restart it."""
    script.plan["last"] = [Rejected("meta", "The number is not available", 400, code="100")]
    assert execute(session, run) is RunStatus.FAILED
    calls = list(script.calls)
    assert execute(session, run) is RunStatus.FAILED  # the stray job
    assert script.calls == calls and script.effects == ["buy"]
    failed = run.step("last")
    assert (failed.status, failed.attempts, failed.error_code) == (StepStatus.FAILED, 1, "100")
    assert (run.lease_owner, run.lease_expires_at) == (None, None)
    runs.retry(session, SYSTEM, run)
    session.commit()
    assert execute(session, run) is RunStatus.COMPLETED
