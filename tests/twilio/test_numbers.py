"""Subaccounts and the phone pool against the Twilio sandbox, through the official SDK."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.demo import partner_values
from portal.sandbox_seed import seed_sandbox
from provisioning import partners
from provisioning.audit import SYSTEM
from provisioning.clients import twilio_master
from provisioning.errors import DomainError, ProviderError
from provisioning.partners import Environment, Provider
from provisioning.sandbox import Sandbox, SimClock
from provisioning.twilio.models import SmsPhoneNumber, TwilioSubaccount
from provisioning.twilio.numbers import (
    buy_number,
    ensure_subaccount,
    reassign_number,
    release_number,
    search_numbers,
    set_subaccount_status,
    subaccount_client,
)
from tests.twilio.interleave import Interleave

GOOD = "+15005550006"  # the sandbox's always-purchasable magic number
ACCOUNTS = r"/Accounts\.json$"


@pytest.fixture
def sandbox():
    sandbox = Sandbox(seed=21, clock=SimClock(start=1_767_225_600), record=True)
    seed_sandbox(sandbox, "http://portal.test")
    return sandbox


@pytest.fixture
def config(session, sandbox):
    values = partner_values(sandbox.base_url, "http://portal.test")[Provider.TWILIO]
    config = partners.create_configuration(
        session, SYSTEM, Provider.TWILIO, Environment.SANDBOX, "", values
    )
    session.commit()
    return config


@pytest.fixture
def world(session, sandbox, config, make):
    company = make.company("Acme")
    sub = ensure(session, company, config, sandbox.transport())
    session.commit()
    return company, sub, subaccount_client(sub, config, sandbox.transport())


def ensure(session, company, config, transport):
    return ensure_subaccount(session, SYSTEM, company, config, transport, commit=session.commit)


def purchases(sandbox) -> list:
    return [
        e
        for e in sandbox.exchanges
        if e["method"] == "POST" and e["path"].endswith("/IncomingPhoneNumbers.json")
    ]


def test_one_subaccount_per_company_created_on_first_need(session, sandbox, config, world):
    company, sub, _ = world
    assert sub.account_sid.startswith("AC") and sub.auth_token
    assert ensure(session, company, config, sandbox.transport()) is sub
    assert company.public_id in sub.friendly_name


def test_a_lost_subaccount_answer_is_adopted_not_duplicated(session, sandbox, config, make):
    sandbox.faults.add("drop", provider="twilio", method="POST", path=ACCOUNTS, times=1)
    sub = ensure(session, make.company("Lost Answer"), config, sandbox.transport())
    master = twilio_master(config, sandbox.transport())
    named = master.client.api.v2010.accounts.list(friendly_name=sub.friendly_name)
    assert [a.sid for a in named] == [sub.account_sid]  # found by its name at once


def test_a_lost_answer_whose_lookup_fails_too_is_found_next_time(session, sandbox, config, make):
    company = make.company("Lost Twice")
    sandbox.faults.add("drop", provider="twilio", method="POST", path=ACCOUNTS, times=1)

    def lookup_fails():  # armed while the create is in flight: the lookup after it fails
        sandbox.faults.add("server_error", provider="twilio", method="GET", path=ACCOUNTS)

    transport = Interleave(sandbox.transport(), "POST", ACCOUNTS, lookup_fails)
    with pytest.raises(ProviderError):
        ensure(session, company, config, transport)
    claim = session.scalars(select(TwilioSubaccount)).one()
    assert claim.status == "failed" and claim.account_sid is None  # committed, not lost
    sandbox.faults.clear()
    sub = ensure(session, company, config, sandbox.transport())
    master = twilio_master(config, sandbox.transport())
    named = master.client.api.v2010.accounts.list(friendly_name=sub.friendly_name)
    assert [a.sid for a in named] == [sub.account_sid] and sub.status == "active"


def test_search_and_buy(session, world):
    company, sub, client = world
    found = search_numbers(client, "US", "local", area_code="415", sms=True, limit=3)
    assert found and all(n["capabilities"].get("sms") for n in found)
    row = buy_number(
        session, SYSTEM, company, sub, client, found[0]["phone_number"], session.commit
    )
    assert row.status == "active" and row.provider_phone_id.startswith("PN")
    assert row.company_id == company.id and row.account_sid == sub.account_sid


def test_a_dropped_purchase_answer_never_buys_twice(session, sandbox, world):
    company, sub, client = world
    sandbox.faults.add("drop", provider="twilio", path="IncomingPhoneNumbers.json$", times=1)
    row = buy_number(session, SYSTEM, company, sub, client, GOOD, session.commit)
    assert row.status == "active"  # found in the subaccount after the lost answer
    assert len(purchases(sandbox)) == 0  # the one purchase's answer was dropped, not recorded
    again = buy_number(session, SYSTEM, company, sub, client, GOOD, session.commit)
    assert again is row
    owned = [client.owned_number(GOOD)]
    assert len(owned) == 1


def test_a_timeout_then_retry_buys_once(session, sandbox, world):
    company, sub, client = world
    sandbox.faults.add("timeout", provider="twilio", path="IncomingPhoneNumbers.json$", times=1)
    with pytest.raises(ProviderError):
        buy_number(session, SYSTEM, company, sub, client, GOOD, session.commit)
    row = session.scalars(select(SmsPhoneNumber)).one()
    assert row.status == "failed" and row.purchase_requested_at is not None
    row = buy_number(session, SYSTEM, company, sub, client, GOOD, session.commit)
    assert row.status == "active"
    assert client.owned_number(GOOD) is not None


def test_a_refused_purchase_is_recorded_as_failed(session, world):
    company, sub, client = world
    with pytest.raises(ProviderError) as refused:
        buy_number(session, SYSTEM, company, sub, client, "+15005550001", session.commit)
    assert refused.value.code == "21421"
    row = session.scalars(select(SmsPhoneNumber)).one()
    assert row.status == "failed" and "21421" in row.failure_reason


def test_release_and_move_between_companies(session, sandbox, config, world, make):
    company, sub, client = world
    row = buy_number(session, SYSTEM, company, sub, client, GOOD, session.commit)
    other = make.company("Globex")
    target = ensure(session, other, config, sandbox.transport())
    reassign_number(session, SYSTEM, row, target, twilio_master(config, sandbox.transport()))
    assert row.company_id == other.id and row.account_sid == target.account_sid
    target_client = subaccount_client(target, config, sandbox.transport())
    assert target_client.owned_number(GOOD)
    release_number(session, SYSTEM, row, target_client)
    assert row.status == "retired"
    with pytest.raises(DomainError):
        release_number(session, SYSTEM, row, target_client)


def test_closing_a_subaccount_retires_its_numbers(session, sandbox, config, world):
    company, sub, client = world
    row = buy_number(session, SYSTEM, company, sub, client, GOOD, session.commit)
    master = twilio_master(config, sandbox.transport())
    set_subaccount_status(session, SYSTEM, sub, master, "suspended")
    set_subaccount_status(session, SYSTEM, sub, master, "active")
    set_subaccount_status(session, SYSTEM, sub, master, "closed")
    assert sub.status == "closed" and row.status == "retired"
    with pytest.raises(DomainError):
        set_subaccount_status(session, SYSTEM, sub, master, "active")
    assert session.scalars(select(TwilioSubaccount)).one().closed_at is not None
