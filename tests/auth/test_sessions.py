"""Sessions live on the server: sign-out, a password change, the idle and absolute limits
and the user's own "sign out" end them for good, whoever holds a copy of the cookie."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from portal.config import ConfigError, load
from provisioning.db import utcnow
from provisioning.tenancy import Role
from provisioning.user_sessions import UserSession
from tests.conftest import PASSWORD, Auth, csrf_token

COOKIE = "portal_session"


def stolen_cookie(client) -> str:
    return client.get_cookie(COOKIE, domain="portal.test").value


def replay(app, cookie: str):
    """A new browser (the attacker's) sending a copy of the cookie."""
    thief = app.test_client()
    thief.set_cookie(COOKIE, cookie, domain="portal.test")
    return thief


def signed_in_client(app, user):
    client = app.test_client()
    assert Auth(client).login(user).status_code == 302
    return client


def test_a_cookie_copied_before_sign_out_is_dead_after_it(app, client, auth, make):
    company = make.company()
    auth.login(make.user(company))
    cookie = stolen_cookie(client)
    assert replay(app, cookie).get(f"/c/{company.slug}/").status_code == 200
    auth.logout()
    response = replay(app, cookie).get(f"/c/{company.slug}/")
    assert response.status_code == 302 and "/login" in response.location


def test_sign_out_ends_only_that_session(app, make, session):
    company = make.company()
    user = make.user(company)
    laptop, phone = signed_in_client(app, user), signed_in_client(app, user)
    Auth(laptop).logout()
    assert laptop.get(f"/c/{company.slug}/").status_code == 302
    assert phone.get(f"/c/{company.slug}/").status_code == 200
    reasons = session.scalars(select(UserSession.end_reason).where(UserSession.user_id == user.id))
    assert sorted(reasons.all(), key=str) == [None, "signed out"]


def test_signing_in_starts_a_new_session_whatever_the_browser_had(app, client, auth, make):
    user = make.user(make.company())
    client.get("/login")
    before = stolen_cookie(client)  # an anonymous session an attacker could have planted
    auth.login(user)
    after = stolen_cookie(client)
    assert after != before
    auth.logout()
    auth.login(user)
    assert stolen_cookie(client) != after  # each sign-in has its own session token


def test_the_session_token_is_stored_hashed(client, auth, make, session):
    user = make.user(make.company())
    auth.login(user)
    row = session.scalars(select(UserSession).where(UserSession.user_id == user.id)).one()
    assert len(row.token_hash) == 64
    with client.session_transaction() as cookie_session:
        token = cookie_session["_user_id"]
    assert token not in row.token_hash and len(token) >= 40


def test_an_idle_session_ends(client, auth, make, session, app):
    company = make.company()
    user = make.user(company)
    auth.login(user)
    row = session.scalars(select(UserSession).where(UserSession.user_id == user.id)).one()
    idle = dt.timedelta(seconds=app.config["SESSION_IDLE_SECONDS"])
    row.last_seen_at = utcnow() - idle + dt.timedelta(minutes=2)
    session.commit()
    assert client.get(f"/c/{company.slug}/").status_code == 200  # still within the limit
    session.refresh(row)
    assert row.last_seen_at > utcnow() - dt.timedelta(minutes=1)  # and seen again now
    row.last_seen_at = utcnow() - idle - dt.timedelta(seconds=1)
    session.commit()
    assert client.get(f"/c/{company.slug}/").status_code == 302


def test_a_session_ends_at_its_absolute_limit_even_when_busy(client, auth, make, session):
    company = make.company()
    user = make.user(company)
    auth.login(user)
    row = session.scalars(select(UserSession).where(UserSession.user_id == user.id)).one()
    assert row.expires_at - row.created_at == dt.timedelta(hours=12)
    row.expires_at = utcnow() - dt.timedelta(seconds=1)
    session.commit()
    assert client.get(f"/c/{company.slug}/").status_code == 302


def test_changing_the_password_ends_the_other_sessions(app, make, session):
    company = make.company()
    user = make.user(company)
    laptop, phone = signed_in_client(app, user), signed_in_client(app, user)
    old_laptop_cookie = stolen_cookie(laptop)
    token = csrf_token(laptop, "/account/password")
    response = laptop.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "password": "a-brand-new-secret-42",
            "confirm": "a-brand-new-secret-42",
            "csrf_token": token,
        },
    )
    assert response.status_code == 302
    assert laptop.get(f"/c/{company.slug}/").status_code == 200  # goes on, in a new session
    assert stolen_cookie(laptop) != old_laptop_cookie
    assert phone.get(f"/c/{company.slug}/").status_code == 302
    assert replay(app, old_laptop_cookie).get(f"/c/{company.slug}/").status_code == 302
    assert Auth(app.test_client()).login(user, "a-brand-new-secret-42").status_code == 302


def end_sessions(client, ids, password=PASSWORD):
    token = csrf_token(client, "/account/")
    return client.post(
        "/account/", data={"sessions": ids, "password": password, "csrf_token": token}
    )


def test_a_user_sees_their_sessions_and_ends_another_one(app, make, session):
    company = make.company()
    user = make.user(company)
    laptop, phone = signed_in_client(app, user), signed_in_client(app, user)
    rows = session.scalars(
        select(UserSession).where(UserSession.user_id == user.id).order_by(UserSession.id)
    ).all()
    page = phone.get("/account/").get_data(as_text=True)
    assert f'data-session-id="{rows[0].id}"' in page  # the laptop, listed on the phone
    assert f'data-session-id="{rows[1].id}"' not in page  # this session is not a checkbox

    refused = end_sessions(phone, [rows[0].id], password="not-my-password-1")
    assert refused.status_code == 400
    assert laptop.get(f"/c/{company.slug}/").status_code == 200

    assert end_sessions(phone, [rows[0].id]).status_code == 302
    assert laptop.get(f"/c/{company.slug}/").status_code == 302
    assert phone.get(f"/c/{company.slug}/").status_code == 200


def test_nobody_ends_the_sessions_of_another_user(app, make, session):
    a, b = make.company(), make.company()
    victim = make.user(a, Role.ADMIN)
    victim_browser = signed_in_client(app, victim)
    victim_session = session.scalars(
        select(UserSession).where(UserSession.user_id == victim.id)
    ).one()
    for other in (make.user(b, Role.ADMIN), make.user(a, Role.MEMBER)):
        browser = signed_in_client(app, other)
        assert end_sessions(browser, [victim_session.id]).status_code == 400
        page = browser.get("/account/").get_data(as_text=True)
        assert victim.email not in page
    assert victim_browser.get(f"/c/{a.slug}/").status_code == 200
    session.refresh(victim_session)
    assert victim_session.ended_at is None


def test_account_pages_need_a_signed_in_user(client):
    for url in ("/account/", "/account/password"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.location


@pytest.mark.parametrize("setting", ["SESSION_IDLE_SECONDS", "SESSION_LIFETIME_SECONDS"])
def test_session_limits_must_be_positive(monkeypatch, tmp_path, setting):
    monkeypatch.setenv(setting, "0")
    with pytest.raises(ConfigError, match="must be more than 0"):
        load(tmp_path, {"SECRET_KEY": "x", "KEYRING": object()})
