"""360dialog Integrated Onboarding runs against the sandbox."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from sqlalchemy import select

from portal.demo import partner_values
from portal.sandbox_seed import seed_sandbox
from provisioning import partners, runs
from provisioning.audit import SYSTEM
from provisioning.channels import Channel
from provisioning.db import utcnow
from provisioning.dialog360.models import Dialog360Channel, Dialog360Client
from provisioning.dialog360.onboarding import INTEGRATED_ONBOARDING, resume_runs_for_client
from provisioning.partners import Environment, Provider
from provisioning.runs import RunStatus
from provisioning.sandbox import Sandbox, SimClock
from tests.conftest import offline

PUBLIC = "http://portal.test"


@pytest.fixture
def sandbox():
    sandbox = Sandbox(
        seed=9, clock=SimClock(start=1_767_225_600), record=True, outbound_transport=offline()
    )
    seed_sandbox(sandbox, PUBLIC)
    return sandbox


@pytest.fixture
def config(session, sandbox):
    values = partner_values(sandbox.base_url, PUBLIC)[Provider.DIALOG360]
    config = partners.create_configuration(
        session, SYSTEM, Provider.DIALOG360, Environment.SANDBOX, "360", values
    )
    session.commit()
    return config


@pytest.fixture
def company(make):
    return make.company()


def onboard(sandbox, company, **kw):
    return sandbox.dialog360.control_complete_onboarding(partner_payload=company.public_id, **kw)


def start(session, company, config, outcome) -> runs.ProvisioningRun:
    run = runs.start_run(
        session,
        SYSTEM,
        INTEGRATED_ONBOARDING,
        company.id,
        partner_configuration_id=config.id,
        context={
            "client_id": outcome["client_id"],
            "channel_ids": outcome["channel_ids"],
            "revoked": outcome.get("revoked") or [],
        },
    )
    session.commit()
    return run


def health_status(sandbox, api_key: str) -> int:
    """The Messaging API's answer to a key: 200 for the live key, 401 for a revoked one."""
    with httpx.Client(transport=sandbox.transport(), base_url=sandbox.base_url) as http:
        return http.get(
            "/dialog360/waba/health_status", headers={"D360-API-KEY": api_key}
        ).status_code


def execute(session, run, sandbox):
    services = {"transport": sandbox.transport(), "public_base_url": PUBLIC}
    return runs.execute(session, run.id, session.commit, services)


def run_to_end(session, run, sandbox, step_seconds=600, limit=40):
    for _ in range(limit):
        status = execute(session, run, sandbox)
        if status is not RunStatus.WAITING:
            return status
        sandbox.advance(step_seconds)
    return run.status


def test_channels_are_provisioned_once_running(session, sandbox, config, company):
    outcome = onboard(sandbox, company, numbers=["+4915100000001", "+4915100000002"])
    run = start(session, company, config, outcome)
    assert execute(session, run, sandbox) is RunStatus.WAITING  # channels are just created
    assert run_to_end(session, run, sandbox) is RunStatus.COMPLETED
    rows = session.scalars(select(Dialog360Channel)).all()
    assert len(rows) == 2 and all(r.api_key and r.status == "running" for r in rows)
    assert all(r.webhook_url == f"{PUBLIC}/webhooks/whatsapp/360dialog" for r in rows)
    channels = session.scalars(select(Channel).order_by(Channel.phone_number)).all()
    assert [c.phone_number for c in channels] == ["+4915100000001", "+4915100000002"]
    assert all(c.provider is Provider.DIALOG360 and c.company_id == company.id for c in channels)
    assert all(health_status(sandbox, r.api_key) == 200 for r in rows)


def test_a_channel_that_takes_days_waits_without_a_worker(session, sandbox, config, company):
    sandbox.dialog360.control_set_channel_timeline(days=3)
    outcome = onboard(sandbox, company, numbers=["+4915100000003"])
    run = start(session, company, config, outcome)
    assert execute(session, run, sandbox) is RunStatus.WAITING
    waits = 0
    while run.status is RunStatus.WAITING and waits < 60:
        assert run.resume_at - utcnow() <= dt.timedelta(hours=6)
        sandbox.advance(6 * 3600)
        execute(session, run, sandbox)
        waits += 1
    assert run.status is RunStatus.COMPLETED and waits >= 10


def test_a_client_of_another_company_is_refused(session, sandbox, config, company, make):
    other = make.company()
    outcome = onboard(sandbox, other, numbers=["+4915100000004"])
    run = start(session, company, config, outcome)
    assert execute(session, run, sandbox) is RunStatus.FAILED
    assert "another company" in run.error_message
    assert session.scalars(select(Dialog360Client)).all() == []


def test_a_client_without_a_partner_payload_is_never_linked(session, sandbox, config, company):
    """A client made outside the company's launch (e.g. the hub's own signup link) carries
    no partner payload: it once linked into whichever company's run named it."""
    outcome = sandbox.dialog360.control_complete_onboarding(
        partner_payload=None, numbers=["+4915100000014"]
    )
    run = start(session, company, config, outcome)
    assert execute(session, run, sandbox) is RunStatus.FAILED
    assert "partner payload" in run.error_message
    assert session.scalars(select(Dialog360Client)).all() == []
    assert session.scalars(select(Dialog360Channel)).all() == []


def test_429_on_key_generation_waits_and_retries(session, sandbox, config, company):
    outcome = onboard(sandbox, company, numbers=["+4915100000005"])
    run = start(session, company, config, outcome)
    sandbox.faults.add("throttle", provider="dialog360", method="POST", path="api_keys$", times=1)
    assert run_to_end(session, run, sandbox) is RunStatus.COMPLETED
    assert run.step("generate_api_keys").attempts == 2


def test_a_lost_key_answer_never_revokes_a_stored_key(session, sandbox, config, company):
    outcome = onboard(sandbox, company, numbers=["+4915100000006"])
    run = start(session, company, config, outcome)
    sandbox.faults.add("drop", provider="dialog360", path="api_keys$", times=1)
    assert run_to_end(session, run, sandbox) is RunStatus.COMPLETED
    row = session.scalars(select(Dialog360Channel)).one()
    assert row.api_key_requested_at is not None
    assert health_status(sandbox, row.api_key) == 200  # the stored key is the live one
    # running the finished run again asks for no key (a new one would revoke the stored one)
    calls = [e for e in sandbox.exchanges if e["path"].endswith("/api_keys")]
    assert execute(session, run, sandbox) is RunStatus.COMPLETED
    assert [e for e in sandbox.exchanges if e["path"].endswith("/api_keys")] == calls


def test_revoked_channels_lose_their_keys(session, sandbox, config, company):
    first = onboard(sandbox, company, numbers=["+4915100000007", "+4915100000008"])
    run_to_end(session, start(session, company, config, first), sandbox)
    keep = first["channel_ids"][:1]
    again = onboard(sandbox, company, client_id=first["client_id"], keep=keep, numbers=[])
    assert again["revoked"] == first["channel_ids"][1:]
    assert run_to_end(session, start(session, company, config, again), sandbox) is (
        RunStatus.COMPLETED
    )
    revoked = session.scalars(
        select(Dialog360Channel).where(Dialog360Channel.dialog_channel_id == again["revoked"][0])
    ).one()
    assert revoked.revoked_at is not None and revoked.api_key is None
    assert session.get(Channel, revoked.channel_id).status == "REVOKED"


def test_a_webhook_makes_a_waiting_run_due(session, sandbox, config, company):
    outcome = onboard(sandbox, company, numbers=["+4915100000009"])
    run = start(session, company, config, outcome)
    execute(session, run, sandbox)
    assert run.resume_at > utcnow()
    assert resume_runs_for_client(session, outcome["client_id"]) == [run.id]
    assert run.resume_at <= utcnow()


def keys_generated(sandbox, channel_id: str) -> list:
    """Every key 360dialog (the sandbox) made for the channel, revoked ones included."""
    return [k for k in sandbox.dialog360.store.api_keys.values() if k.channel_id == channel_id]


def key_requests(sandbox) -> list[str]:
    """The answered api_keys calls, in order: "GET" (listing) or "POST" (a new key)."""
    return [e["method"] for e in sandbox.exchanges if e["path"].endswith("/api_keys")]


def lost_key_audits(session) -> list:
    from provisioning.audit import AuditEntry

    return session.scalars(
        select(AuditEntry).where(AuditEntry.action == "dialog360_channel.api_key_lost")
    ).all()


def test_a_lost_key_answer_is_looked_up_and_replaced_once_on_record(
    session, sandbox, config, company
):
    outcome = onboard(sandbox, company, numbers=["+4915100000010"])
    channel_id = outcome["channel_ids"][0]
    run = start(session, company, config, outcome)
    sandbox.faults.add("drop", provider="dialog360", method="POST", path="api_keys$", times=1)
    assert run_to_end(session, run, sandbox) is RunStatus.COMPLETED
    made = keys_generated(sandbox, channel_id)
    lost, replacement = made  # the lost answer's key, and one deliberate replacement
    assert lost.revoked and not replacement.revoked
    row = session.scalars(select(Dialog360Channel)).one()
    assert row.api_key == replacement.api_key and row.api_key_id == replacement.id
    assert health_status(sandbox, row.api_key) == 200
    # the channel's keys were listed before each request, and the lost one is on record
    assert key_requests(sandbox) == ["GET", "GET", "POST"]
    step = run.step("generate_api_keys")
    assert step.provider_ids["api_key_requests"][channel_id]["lost"] == [lost.id]
    assert step.effect_intended_at is not None and step.effect_confirmed_at is not None
    assert [a.target_id for a in lost_key_audits(session)] == [str(row.id)]


def test_keys_lost_twice_stop_the_run_until_a_person_retries(session, sandbox, config, company):
    outcome = onboard(sandbox, company, numbers=["+4915100000011"])
    channel_id = outcome["channel_ids"][0]
    run = start(session, company, config, outcome)
    sandbox.faults.add("drop", provider="dialog360", method="POST", path="api_keys$", times=2)
    assert run_to_end(session, run, sandbox) is RunStatus.FAILED
    assert len(keys_generated(sandbox, channel_id)) == 2  # no blind third request
    assert "answer was lost" in run.error_message and "Retry" in run.error_message
    # a person's Retry is the deliberate request: one more key, stored and live
    runs.retry(session, SYSTEM, run)
    session.commit()
    sandbox.advance(60)
    assert run_to_end(session, run, sandbox) is RunStatus.COMPLETED
    made = keys_generated(sandbox, channel_id)
    row = session.scalars(select(Dialog360Channel)).one()
    assert len(made) == 3 and [k.api_key for k in made if not k.revoked] == [row.api_key]


def test_a_request_that_timed_out_before_acting_is_simply_made_again(
    session, sandbox, config, company
):
    outcome = onboard(sandbox, company, numbers=["+4915100000012"])
    channel_id = outcome["channel_ids"][0]
    run = start(session, company, config, outcome)
    sandbox.faults.add("timeout", provider="dialog360", method="POST", path="api_keys$", times=1)
    assert run_to_end(session, run, sandbox) is RunStatus.COMPLETED
    (key,) = keys_generated(sandbox, channel_id)
    assert session.scalars(select(Dialog360Channel)).one().api_key == key.api_key
    assert lost_key_audits(session) == []


def test_a_lost_answer_to_a_new_key_drops_the_revoked_key_and_says_so(
    session, sandbox, config, company
):
    from provisioning.dialog360.onboarding import regenerate_api_key
    from provisioning.errors import DomainError

    outcome = onboard(sandbox, company, numbers=["+4915100000013"])
    channel_id = outcome["channel_ids"][0]
    assert run_to_end(session, start(session, company, config, outcome), sandbox) is (
        RunStatus.COMPLETED
    )
    row = session.scalars(select(Dialog360Channel)).one()
    old_key = row.api_key
    sandbox.advance(60)
    sandbox.faults.add("drop", provider="dialog360", method="POST", path="api_keys$", times=1)
    with pytest.raises(DomainError, match="answer was lost"):
        regenerate_api_key(session, SYSTEM, row, sandbox.transport(), session.commit)
    session.commit()
    assert health_status(sandbox, old_key) == 401  # 360dialog acted: the old key is dead
    assert row.api_key is None and row.api_key_id is None  # and no longer passes for live
    assert [a.target_id for a in lost_key_audits(session)] == [str(row.id)]
    sandbox.advance(60)
    regenerate_api_key(session, SYSTEM, row, sandbox.transport(), session.commit)  # deliberate
    assert health_status(sandbox, row.api_key) == 200
    assert len(keys_generated(sandbox, channel_id)) == 3


def test_an_unanswered_new_key_request_that_made_nothing_keeps_the_key(
    session, sandbox, config, company
):
    from provisioning.dialog360.onboarding import regenerate_api_key
    from provisioning.errors import Unreachable

    outcome = onboard(sandbox, company, numbers=["+4915100000014"])
    run_to_end(session, start(session, company, config, outcome), sandbox)
    row = session.scalars(select(Dialog360Channel)).one()
    old_key = row.api_key
    sandbox.advance(60)
    sandbox.faults.add("timeout", provider="dialog360", method="POST", path="api_keys$", times=1)
    with pytest.raises(Unreachable):
        regenerate_api_key(session, SYSTEM, row, sandbox.transport(), session.commit)
    assert row.api_key == old_key and health_status(sandbox, old_key) == 200
