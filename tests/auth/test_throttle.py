"""Password guessing: counted before the check (no race), growing delays, and no lock-out
of the account's owner (item 10)."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest
from flask_migrate import upgrade

from portal import create_app
from portal.extensions import db
from provisioning import login_throttle
from provisioning.crypto import Keyring
from provisioning.login_throttle import (
    ACCOUNT,
    ADDRESS,
    LoginThrottle,
    LoginThrottled,
    address_key,
    keys_for,
    reserve,
    succeeded,
)
from tests.auth.conftest import NOW
from tests.conftest import PASSWORD, Auth


def browser_at(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


@pytest.fixture
def committing_app(scratch_database_url: str, tmp_path: Path):
    """An app on its own migrated database, committing for real (threads see each other)."""
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": scratch_database_url,
            "SECRET_KEY": "test-secret-key",
            "KEYRING": Keyring.generate(),
            "INSTANCE_PATH": str(tmp_path),
            "WTF_CSRF_ENABLED": False,
            "JOB_RUNNER": "manual",
            "SERVER_NAME": "portal.test",
        }
    )
    with app.app_context():
        upgrade()
        yield app
        db.session.remove()
        db.engine.dispose()


def test_thirty_concurrent_guesses_check_only_the_free_allowance(committing_app, frozen_clock):
    from provisioning import accounts
    from provisioning.audit import SYSTEM

    accounts.create_user(db.session, SYSTEM, "victim@example.com", password=PASSWORD)
    db.session.commit()
    barrier, statuses, lock = threading.Barrier(30), [], threading.Lock()

    def guess(n: int) -> None:
        client = committing_app.test_client()
        barrier.wait()
        response = client.post(
            "/login", data={"email": "victim@example.com", "password": f"guess-number-{n}"}
        )
        with lock:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [401] * ACCOUNT.free + [429] * (30 - ACCOUNT.free)
    row = db.session.get(LoginThrottle, keys_for("victim@example.com", "127.0.0.1")[0][0])
    assert row.failures == ACCOUNT.free


def test_delays_grow_with_each_failure_up_to_a_ceiling(session):
    keys = keys_for("someone@example.com", "198.51.100.7")
    now, waits = NOW, []
    for _ in range(ACCOUNT.free + 10):
        reserve(session, keys, now)
        row = session.get(LoginThrottle, keys[0][0])
        waits.append((row.next_attempt_at - now).total_seconds())
        if waits[-1]:
            with pytest.raises(LoginThrottled):
                reserve(session, keys, now)  # too early: refused, and nothing counted
        now = row.next_attempt_at
    assert waits[: ACCOUNT.free - 1] == [0] * (ACCOUNT.free - 1)
    assert waits[ACCOUNT.free - 1 : ACCOUNT.free + 3] == [2, 4, 8, 16]
    assert max(waits) == ACCOUNT.ceiling.total_seconds() == waits[-1]
    assert session.get(LoginThrottle, keys[0][0]).failures == ACCOUNT.free + 10


def test_a_refused_attempt_does_not_extend_the_wait(session):
    keys = keys_for("someone@example.com", "198.51.100.7")
    for _ in range(ACCOUNT.free):
        reserve(session, keys, NOW)
    row = session.get(LoginThrottle, keys[0][0])
    until = row.next_attempt_at
    for _ in range(20):
        with pytest.raises(LoginThrottled) as refused:
            reserve(session, keys, NOW + dt.timedelta(seconds=1))
        assert refused.value.retry_after == 1
    assert row.next_attempt_at == until and row.failures == ACCOUNT.free


def test_a_success_clears_the_account_and_refunds_the_address(session):
    keys = keys_for("someone@example.com", "198.51.100.7")
    for _ in range(3):
        reserve(session, keys, NOW)
    succeeded(session, keys)
    assert session.get(LoginThrottle, keys[0][0]).failures == 0
    assert session.get(LoginThrottle, keys[1][0]).failures == 2


def test_counters_are_forgotten_after_a_quiet_hour(session):
    keys = keys_for("someone@example.com", "198.51.100.7")
    for _ in range(ACCOUNT.free):
        reserve(session, keys, NOW)
    later = NOW + login_throttle.FORGET_AFTER + dt.timedelta(seconds=1)
    reserve(session, keys, later)
    assert session.get(LoginThrottle, keys[0][0]).failures == 1


def test_one_address_guessing_many_accounts_is_slowed_down(session):
    for n in range(ADDRESS.free):
        reserve(session, keys_for(f"user{n}@example.com", "198.51.100.7"), NOW)
    with pytest.raises(LoginThrottled):
        reserve(session, keys_for("one-more@example.com", "198.51.100.7"), NOW)
    reserve(session, keys_for("one-more@example.com", "198.51.100.8"), NOW)  # others go on


def test_ipv6_clients_are_counted_by_their_64_prefix():
    assert address_key("2001:db8:1:2::1") == address_key("2001:db8:1:2:ffff::9")
    assert address_key("2001:db8:1:2::1") != address_key("2001:db8:1:3::1")
    assert address_key("::ffff:198.51.100.7") == address_key("198.51.100.7")
    assert address_key("not an address").startswith("address:")


def test_a_stranger_cannot_lock_the_owner_out(app, make, frozen_clock):
    owner = make.user(make.company())
    owners_browser = app.test_client()
    assert Auth(owners_browser).login(owner).status_code == 302  # gets a device token
    Auth(owners_browser).logout()

    stranger = Auth(browser_at(app, "203.0.113.9"))
    statuses = [stranger.login(owner, f"wrong-guess-{n}").status_code for n in range(12)]
    assert statuses == [401] * ACCOUNT.free + [429] * (12 - ACCOUNT.free)
    refused = stranger.login(owner)  # the right password is refused to the stranger too
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1

    assert Auth(owners_browser).login(owner).status_code == 302  # the owner is not slowed
    new_browser = Auth(app.test_client())
    assert new_browser.login(owner).status_code == 429  # a browser never used before waits


def test_a_forged_or_foreign_device_token_counts_as_none(app, make, frozen_clock):
    owner, other = make.user(make.company()), make.user(make.company())
    browser = app.test_client()
    assert Auth(browser).login(other).status_code == 302  # a device token for another account
    Auth(browser).logout()
    stranger = Auth(browser_at(app, "203.0.113.9"))
    for n in range(ACCOUNT.free):
        stranger.login(owner, f"wrong-guess-{n}")
    assert Auth(browser).login(owner).status_code == 429
    browser.set_cookie("portal_device", "forged.value.here", domain="portal.test")
    assert Auth(browser).login(owner).status_code == 429
