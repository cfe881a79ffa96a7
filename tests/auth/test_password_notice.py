"""A changed password is told to the account's address (ASVS 2.2.3, 2.5.x): whoever owns
the mailbox learns that the password changed, when and how, and how to take the account
back, through the mail outbox like every e-mail."""

from __future__ import annotations

import re

from sqlalchemy import select

from provisioning.mail import OutgoingMail
from tests.auth.test_passwords import change
from tests.auth.test_reset import NEW_PASSWORD, ask, choose, link_in, send
from tests.conftest import PASSWORD, Auth

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
