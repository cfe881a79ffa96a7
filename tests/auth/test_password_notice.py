"""A changed password is told to the account's address (ASVS 2.2.3, 2.5.x): whoever owns
the mailbox learns that the password changed, when and how, and how to take the account
back, through the mail outbox like every e-mail."""

from __future__ import annotations

import re

from sqlalchemy import select

from provisioning import accounts
from provisioning.audit import SYSTEM
from provisioning.mail import OutgoingMail
from provisioning.tenancy import Role
from tests.auth.test_passwords import change
from tests.auth.test_reset import NEW_PASSWORD, ask, choose, link_in, send
from tests.conftest import PASSWORD, Auth, csrf_token

SUBJECT = "Your Partner Portal password was changed"


def notice_to(inbox, user) -> str:
    """The one notice the account got, its words on one line."""
    (notice,) = [m for m in inbox.to(user.email) if m["Subject"] == SUBJECT]
    return " ".join(notice.get_content().split())


def test_changing_the_password_tells_the_account(app, client, make, session, inbox):
    user = make.user(make.company())
    Auth(client).login(user)
    assert change(client, PASSWORD, NEW_PASSWORD).status_code == 302
    assert send(app) == [1]
    body = notice_to(inbox, user)
    assert re.search(r"was changed on the account page on \d{4}-\d\d-\d\d \d\d:\d\d UTC\.", body)
    assert "http://portal.test/password/forgot" in body
    assert NEW_PASSWORD not in body and PASSWORD not in body
    kinds = session.scalars(select(OutgoingMail.kind).where(OutgoingMail.status == "sent"))
    assert kinds.all() == ["password_changed"]


def test_a_reset_tells_the_account_too(app, client, make, session, inbox):
    user = make.user(make.company())
    ask(client, user.email)
    send(app)
    client.get(link_in(inbox.messages[0]))
    assert choose(client, NEW_PASSWORD).status_code == 302
    assert send(app) == [1]
    body = notice_to(inbox, user)
    assert "with a reset link sent to this address" in body and NEW_PASSWORD not in body
    assert re.search(r"http://portal\.test/password/forgot\b", body)


def test_no_notice_when_nothing_changed(app, client, make, session, inbox):
    user = make.user(make.company())
    Auth(client).login(user)
    assert change(client, "not-the-current-one", NEW_PASSWORD).status_code == 400
    assert change(client, PASSWORD, "qwertyuiop123").status_code == 400  # refused: common
    assert session.scalars(select(OutgoingMail)).all() == []
    assert app.extensions["job_runner"].drain() == [] and inbox.messages == []


def set_password_with(client, token: str):
    url = f"/invite/{token}"
    data = {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    return client.post(url, data=data | {"csrf_token": csrf_token(client, url)})


def test_a_set_password_link_on_an_account_with_a_password_is_a_reset(app, make, session, inbox):
    """A platform admin's set-password link used on an account that had a password
    changed it silently and left every session of the account open."""
    company = make.company()
    user = make.user(company)
    phone = app.test_client()
    Auth(phone).login(user)
    token = accounts.invite(session, SYSTEM, user)
    session.commit()
    assert set_password_with(app.test_client(), token).status_code == 302
    assert phone.get(f"/c/{company.slug}/").status_code == 302  # signed out
    assert send(app) == [1]
    assert "with a set-password link from a platform admin" in notice_to(inbox, user)


def test_a_first_password_is_not_a_change(app, make, session, inbox):
    _, token = accounts.add_member(
        session, SYSTEM, make.company(), "new@example.com", "", Role.MEMBER
    )
    session.commit()
    assert set_password_with(app.test_client(), token).status_code == 302
    assert send(app) == [0] and inbox.messages == []
