"""The quality sync over a sandbox fleet: minimum calls, changes only, errors isolated."""

from __future__ import annotations

from sqlalchemy import func, select

from provisioning.channels import Channel
from provisioning.health import Alert, ChannelHistory
from provisioning.partners import Provider
from provisioning.tenancy import Role

from .conftest import FAST, run_sync

PAGES = "phone_numbers"


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def channel(session, provider: Provider, ref: str) -> Channel:
    return session.scalars(
        select(Channel).where(Channel.provider == provider, Channel.provider_ref == ref)
    ).one()


def test_the_first_pass_reads_every_channel_with_the_fewest_calls(session, fleet):
    setup = fleet()
    runs = run_sync(session, setup)
    # 3 numbers per WABA in pages of 2: 2 calls per WABA; 6 channels in one listing of
    # 3 pages; 3 senders per subaccount: 2 pages each.
    minimum = {Provider.META: 2 * 2, Provider.DIALOG360: 3, Provider.TWILIO: 2 * 2}
    for provider, run in runs.items():
        assert setup.calls(provider) == minimum[provider] == run.calls, provider
        assert (run.status, run.seen, run.changed, run.errors) == ("succeeded", 6, 6, [])
        assert run.finished_at is not None
    number = setup.fleet.meta[0].phone_number_ids[0]
    meta = channel(session, Provider.META, number)
    assert (meta.status, meta.quality_rating, meta.messaging_limit) == (
        "CONNECTED", "GREEN", "TIER_250",
    )  # fmt: skip
    d360 = channel(session, Provider.DIALOG360, setup.fleet.dialog360[0].channel_ids[0])
    assert (d360.status, d360.quality_rating, d360.messaging_limit) == (
        "RUNNING", "GREEN", "TIER_250",
    )  # fmt: skip
    sender = channel(session, Provider.TWILIO, setup.fleet.twilio[0].sender_sids[0])
    assert (sender.status, sender.quality_rating, sender.messaging_limit) == (
        "ONLINE", "GREEN", "1K Customers/24hr",
    )  # fmt: skip
    assert count(session, ChannelHistory) == 18


def test_a_pass_with_nothing_changed_writes_nothing(session, fleet, writes):
    setup = fleet()
    run_sync(session, setup)
    history = count(session, ChannelHistory)
    assert writes, "the first pass fills the rows"
    writes.clear()
    runs = run_sync(session, setup)
    assert writes == []
    assert {p: (r.status, r.changed, r.seen) for p, r in runs.items()} == {
        p: ("succeeded", 0, 6) for p in Provider
    }
    assert count(session, ChannelHistory) == history


def test_a_change_at_the_provider_is_one_history_row_and_one_alert(session, fleet, make):
    setup = fleet()
    owner = make.user(setup.companies[0], Role.ADMIN)
    run_sync(session, setup)
    history = session.scalar(select(func.max(ChannelHistory.id)))
    alerts = count(session, Alert)
    sandbox, seeded = setup.sandbox, setup.fleet
    sandbox.meta.control_set_quality(
        phone_number_id=seeded.meta[0].phone_number_ids[1], quality_rating="RED"
    )
    sandbox.dialog360.control_set_messaging_limit(
        channel_id=seeded.dialog360[0].channel_ids[2], limit="TIER_50"
    )
    sandbox.twilio.control_set_sender_quality(
        sender_sid=seeded.twilio[0].sender_sids[0], quality_rating="LOW"
    )
    runs = run_sync(session, setup)
    assert {p: r.changed for p, r in runs.items()} == dict.fromkeys(Provider, 1)
    new = session.scalars(select(ChannelHistory).where(ChannelHistory.id > history)).all()
    assert len(new) == 3 and {h.source for h in new} == {"sync"}
    raised = session.scalars(select(Alert).order_by(Alert.id)).all()[alerts:]
    assert sorted(a.reasons[0] for a in raised) == [
        "messaging limit dropped from TIER_250 to TIER_50",
        "quality rating dropped to RED",
        "quality rating dropped to RED",
    ]
    assert {a.company_id for a in raised} == {setup.companies[0].id}
    assert all(owner.id in {n.user_id for n in a_notifications(session, a)} for a in raised)
    assert channel(session, Provider.META, seeded.meta[0].phone_number_ids[1]).quality_rating == (
        "RED"
    )


def a_notifications(session, alert):
    from provisioning.health import Notification

    return session.scalars(select(Notification).where(Notification.alert_id == alert.id)).all()


def test_numbers_the_platform_does_not_hold_are_ignored(session, fleet):
    setup = fleet()
    sandbox = setup.sandbox
    waba = sandbox.meta.wabas[setup.fleet.meta[0].waba_id]
    sandbox.meta.new_phone(waba, verified_name="Elsewhere", status="CONNECTED")
    sandbox.dialog360.control_seed_channels(count=2)  # another client of the partner
    channels = count(session, Channel)
    runs = run_sync(session, setup)
    assert (runs[Provider.META].seen, runs[Provider.META].changed) == (7, 6)
    assert (runs[Provider.DIALOG360].seen, runs[Provider.DIALOG360].changed) == (8, 6)
    assert count(session, Channel) == channels


def test_a_throttled_waba_is_retried_after_a_backoff(session, fleet):
    setup = fleet()
    waba = setup.fleet.meta[0].waba_id
    setup.sandbox.meta.control_set_fault_codes(throttle=80007)
    setup.sandbox.faults.add("throttle", provider="meta", path=f"/{waba}/{PAGES}", times=1)
    run = run_sync(session, setup, providers=[Provider.META])[Provider.META]
    assert (run.status, run.errors, run.changed) == ("succeeded", [], 6)
    assert run.calls == setup.calls(Provider.META) == 4 + 1


def test_a_waba_that_stays_throttled_is_reported_and_the_rest_syncs(session, fleet):
    setup = fleet()
    stuck, fine = setup.fleet.meta
    setup.sandbox.meta.control_set_fault_codes(throttle=80008)
    setup.sandbox.faults.add("throttle", provider="meta", path=f"/{stuck.waba_id}/{PAGES}")
    run = run_sync(session, setup, providers=[Provider.META])[Provider.META]
    assert run.status == "partial" and run.changed == 3
    (error,) = run.errors
    assert error["target"] == f"WABA {stuck.waba_id}" and "code 80008" in error["error"]
    assert setup.calls(Provider.META, stuck.waba_id) == FAST.max_attempts
    assert channel(session, Provider.META, fine.phone_number_ids[0]).quality_rating == "GREEN"
    assert channel(session, Provider.META, stuck.phone_number_ids[0]).quality_rating == "UNKNOWN"


def test_a_waba_out_of_call_budget_waits_for_meta_or_is_reported(session, fleet):
    setup = fleet()
    waba = setup.fleet.meta[0]
    # One call left this hour: the first page spends it (usage header at 100 %), so the
    # second is held back; when it is tried, Meta answers 80007 with an hour to wait.
    setup.sandbox.meta.control_set_call_budget(waba_id=waba.waba_id, calls=1)
    run = run_sync(session, setup, providers=[Provider.META])[Provider.META]
    (error,) = run.errors
    assert "code 80007" in error["error"] and "asked to wait 3660 s" in error["error"]
    assert setup.calls(Provider.META, waba.waba_id) == 2
    assert run.status == "partial" and run.changed == 3


def test_a_refused_token_flags_the_client_and_the_rest_syncs(session, fleet):
    from provisioning.meta.models import MetaWhatsAppClient

    setup = fleet()
    revoked, fine = setup.fleet.meta
    setup.sandbox.meta.control_revoke_token(token=revoked.token)
    run = run_sync(session, setup, providers=[Provider.META])[Provider.META]
    assert (run.status, run.reauthorization, run.changed, run.errors) == ("succeeded", 1, 3, [])
    client = session.scalars(
        select(MetaWhatsAppClient).where(MetaWhatsAppClient.waba_id == revoked.waba_id)
    ).one()
    assert client.status == "reauthorization_required" and "code 190" in (
        client.reauthorization_reason
    )
    flagged = [channel(session, Provider.META, p) for p in revoked.phone_number_ids]
    assert all(c.needs_reauthorization for c in flagged)
    assert not channel(session, Provider.META, fine.phone_number_ids[0]).needs_reauthorization
    before = setup.calls(Provider.META, revoked.waba_id)
    run_sync(session, setup, providers=[Provider.META])
    assert setup.calls(Provider.META, revoked.waba_id) == before  # not called again


def test_refused_subaccount_credentials_flag_its_channels(session, fleet):
    from provisioning.twilio.models import TwilioSubaccount

    setup = fleet()
    refused, fine = setup.fleet.twilio
    sub = session.scalars(
        select(TwilioSubaccount).where(TwilioSubaccount.account_sid == refused.account_sid)
    ).one()
    sub.auth_token = "not-the-token"
    session.commit()
    run = run_sync(session, setup, providers=[Provider.TWILIO])[Provider.TWILIO]
    assert (run.status, run.reauthorization, run.changed) == ("succeeded", 1, 3)
    assert all(
        channel(session, Provider.TWILIO, sid).needs_reauthorization for sid in refused.sender_sids
    )
    assert not channel(session, Provider.TWILIO, fine.sender_sids[0]).needs_reauthorization


def test_a_throttled_360dialog_page_is_fetched_again(session, fleet):
    setup = fleet()
    setup.sandbox.faults.add("throttle", provider="dialog360", path="/channels", times=2)
    run = run_sync(session, setup, providers=[Provider.DIALOG360])[Provider.DIALOG360]
    assert (run.status, run.changed, run.calls) == ("succeeded", 6, 3 + 2)


def test_a_refused_partner_key_fails_the_360dialog_pass_and_marks_the_configuration(session, fleet):
    setup = fleet()
    config = setup.sandbox.configs[Provider.DIALOG360]
    config.secrets = {**config.secrets, "api_key": "revoked-key"}
    session.commit()
    runs = run_sync(session, setup)
    run = runs[Provider.DIALOG360]
    assert (run.status, run.calls, run.changed) == ("failed", 1, 0)
    assert "HTTP 401" in run.errors[0]["error"]
    session.refresh(config)
    assert config.last_check_ok is False and "quality sync was refused" in (
        config.last_check_message
    )
    assert runs[Provider.META].status == runs[Provider.TWILIO].status == "succeeded"


def test_one_company_is_synced_alone(session, fleet):
    setup = fleet()
    first, second = setup.companies
    runs = run_sync(session, setup, company_id=first.id)
    assert {p: (r.company_id, r.changed) for p, r in runs.items()} == {
        p: (first.id, 3) for p in Provider
    }
    assert setup.calls(Provider.META) == 2 and setup.calls(Provider.TWILIO) == 2
    listing = [e for e in setup.sandbox.exchanges if e["provider"] == "dialog360"]
    assert len(listing) == 2  # 3 channels of the company's client, filtered by client id
    others = session.scalars(select(Channel).where(Channel.company_id == second.id)).all()
    assert {c.quality_rating for c in others} == {"UNKNOWN"}


def test_a_pass_over_a_fleet_being_synced_is_skipped(session, fleet):
    from provisioning.sync import SyncRun

    setup = fleet()
    session.add(SyncRun(provider=Provider.TWILIO))
    session.commit()
    runs = run_sync(session, setup)
    assert runs[Provider.TWILIO].status == "skipped" and setup.calls(Provider.TWILIO) == 0
    assert runs[Provider.META].status == "succeeded"


def test_a_pass_interrupted_by_a_database_outage_is_taken_over(session, fleet):
    """The database went away mid-pass: the pass could not close its row. The next pass
    (the job's retry once the database is back) takes it over instead of skipping."""
    import pytest
    from sqlalchemy.exc import OperationalError

    from provisioning.sync import TAKEN_OVER, SyncRun, sync_quality

    setup = fleet()
    commits = 0

    def commit_until_the_outage():
        nonlocal commits
        commits += 1
        if commits > 1:  # the pass's row is stored, then every commit fails
            raise OperationalError("COMMIT", {}, Exception("server closed the connection"))
        session.commit()

    with pytest.raises(OperationalError):
        sync_quality(
            session, commit_until_the_outage, providers=[Provider.META],
            transport=setup.sandbox.transport(), policy=FAST,
        )  # fmt: skip
    session.rollback()  # as the job layer does after a failed attempt
    (interrupted,) = session.scalars(select(SyncRun)).all()
    assert interrupted.status == "running" and interrupted.owner

    runs = run_sync(session, setup, providers=[Provider.META])
    assert runs[Provider.META].status == "succeeded" and runs[Provider.META].changed == 6
    session.refresh(interrupted)
    assert interrupted.status == "failed" and interrupted.finished_at is not None
    assert interrupted.errors[-1] == {"target": "", "error": TAKEN_OVER}


def test_a_silent_pass_of_another_worker_is_taken_over_and_a_live_one_is_not(session, fleet):
    from datetime import timedelta

    from provisioning.db import utcnow
    from provisioning.sync import SyncRun

    setup = fleet()
    long_ago = utcnow() - timedelta(minutes=10)
    dead = SyncRun(provider=Provider.META, owner="worker-2:41:0a", started_at=long_ago,
                   heartbeat_at=long_ago)  # fmt: skip
    alive = SyncRun(provider=Provider.TWILIO, owner="worker-2:42:0b", started_at=long_ago,
                    heartbeat_at=utcnow())  # fmt: skip
    session.add_all([dead, alive])
    session.commit()
    runs = run_sync(session, setup, providers=[Provider.META, Provider.TWILIO])
    assert runs[Provider.META].status == "succeeded" and dead.status == "failed"
    assert runs[Provider.TWILIO].status == "skipped" and alive.status == "running"
    assert setup.calls(Provider.TWILIO) == 0
