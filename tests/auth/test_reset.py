"""Forgotten passwords: the same answer for every address, a single-use link valid for
30 minutes stored hashed, every session ended by the reset (item 13). The link is e-mailed
through the mail outbox like every e-mail, with its guarantees: the token only in the
encrypted body, dropped once done; each message on its own; intent before the send, a lost
answer never resent; a dead sender's claims recovered."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select, text

from portal.jobs import JOBS
from portal.jobs.mail import send_mail
from provisioning import mail
from provisioning.db import utcnow
from provisioning.mail import OutgoingMail
from provisioning.password_resets import MAX_LINKS_PER_HOUR, PasswordReset
from provisioning.tenancy import Role
from provisioning.tokens import digest
from tests.conftest import PASSWORD, Auth, csrf_token

NEW_PASSWORD = "a-brand-new-secret-42"


def ask(client, email: str):
    token = csrf_token(client, "/password/forgot")
    return client.post("/password/forgot", data={"email": email, "csrf_token": token})


def send(app) -> list:
    return app.extensions["job_runner"].drain()


def send_now(app) -> int:
    """One pass of the mail job, whatever was enqueued."""
    with app.app_context():
        return send_mail()


def link_in(message) -> str:
    body = message.get_content()
    return re.search(r"http://portal\.test(/password/reset/\S+)", body).group(1)


def outbox(session) -> list[OutgoingMail]:
    session.expire_all()
    return list(session.scalars(select(OutgoingMail).order_by(OutgoingMail.id)))


def choose(client, password: str, confirm: str | None = None):
    token = csrf_token(client, "/password/forgot")  # any form of the same browser session
    data = {"password": password, "confirm": confirm or password, "csrf_token": token}
    return client.post("/password/reset", data=data)


def test_the_answer_is_the_same_whether_the_address_has_an_account(app, make, inbox):
    user = make.user(make.company())
    answers = []
    for email in ("nobody@example.com", user.email, "not an address"):
        browser = app.test_client()
        response = ask(browser, email)
        page = browser.get(response.location).get_data(as_text=True)
        answers.append(
            (response.status_code, response.location, re.sub(r'value="[^"]+"', "", page))
        )
    assert answers[0] == answers[1] == answers[2]
    assert answers[0][:2] == (302, "/login") and "If an account uses that address" in answers[0][2]
    assert send(app) == [1] and len(inbox.messages) == 1  # only the account gets mail


def test_a_reset_link_sets_a_new_password_once_and_ends_every_session(
    app, client, make, session, inbox
):
    company = make.company()
    user = make.user(company, Role.ADMIN)
    other_browser = app.test_client()
    Auth(other_browser).login(user)
    ask(client, user.email)
    send(app)
    message = inbox.messages[0]
    assert message["To"] == user.email and "30 minutes" in message.get_content()
    link = link_in(message)
    token = link.rsplit("/", 1)[1]

    stored = session.scalars(select(PasswordReset)).one()
    assert stored.token_hash and token not in stored.token_hash  # only its hash is kept
    assert stored.expires_at - utcnow() <= dt.timedelta(minutes=30)

    opened = client.get(link)
    assert opened.status_code == 302 and opened.location == "/password/reset"  # token gone
    page = client.get("/password/reset")
    assert page.status_code == 200 and token not in page.get_data(as_text=True)
    assert choose(client, "password123456").status_code == 400  # a common one is refused
    response = choose(client, NEW_PASSWORD)
    assert response.status_code == 302 and response.location == "/login"

    assert other_browser.get(f"/c/{company.slug}/").status_code == 302  # signed out
    assert Auth(app.test_client()).login(user, PASSWORD).status_code == 401
    assert Auth(app.test_client()).login(user, NEW_PASSWORD).status_code == 302
    again = app.test_client().get(link)
    assert again.status_code == 404 and b"invalid, used or expired" in again.data


def test_a_link_older_than_30_minutes_is_dead(app, client, make, session, inbox):
    user = make.user(make.company())
    ask(client, user.email)
    send(app)
    link = link_in(inbox.messages[0])
    row = session.scalars(select(PasswordReset)).one()
    row.expires_at = utcnow() - dt.timedelta(seconds=1)
    session.commit()
    assert client.get(link).status_code == 404


def test_a_link_opened_then_left_past_its_time_cannot_be_used(app, client, make, session, inbox):
    user = make.user(make.company())
    ask(client, user.email)
    send(app)
    client.get(link_in(inbox.messages[0]))
    row = session.scalars(select(PasswordReset)).one()
    row.expires_at = utcnow() - dt.timedelta(seconds=1)
    session.commit()
    assert choose(client, NEW_PASSWORD).status_code == 404
    assert Auth(app.test_client()).login(user, PASSWORD).status_code == 302


def test_a_new_link_kills_none_but_a_used_one_kills_all(app, client, make, session, inbox):
    user = make.user(make.company())
    ask(client, user.email)
    ask(client, user.email)
    send(app)
    first, second = (link_in(m) for m in inbox.messages)
    client.get(second)
    assert choose(client, NEW_PASSWORD).status_code == 302
    assert app.test_client().get(first).status_code == 404


def test_made_up_or_missing_tokens_are_refused(client):
    assert client.get("/password/reset/made-up-token").status_code == 404
    assert client.get("/password/reset").status_code == 404
    assert client.get("/password/reset/" + "x" * 5000).status_code == 404


def test_a_mailbox_gets_a_few_links_an_hour_at_most(app, make, session, inbox):
    user = make.user(make.company())
    for n in range(MAX_LINKS_PER_HOUR + 2):
        browser = app.test_client()
        browser.environ_base["REMOTE_ADDR"] = f"198.51.100.{n + 1}"
        assert ask(browser, user.email).status_code == 302
    send(app)
    assert len(inbox.messages) == MAX_LINKS_PER_HOUR


def test_one_address_asking_again_and_again_is_slowed_down(client, make, frozen_clock):
    statuses = [ask(client, f"someone{n}@example.com").status_code for n in range(7)]
    assert statuses == [302] * 5 + [429, 429]


def test_without_a_mail_server_links_are_not_sent_and_the_token_is_gone(
    app, client, make, session, monkeypatch
):
    monkeypatch.setitem(app.config, "SMTP_URL", None)
    user = make.user(make.company())
    ask(client, user.email)
    assert send(app) == [0]
    (message,) = outbox(session)
    assert (message.kind, message.status, message.body) == ("password_reset", "skipped", None)


def test_a_link_is_spent_once_even_by_two_submissions_at_once(app, client, make, session, inbox):
    from provisioning.password_resets import InvalidResetLink, reset_password

    user = make.user(make.company())
    ask(client, user.email)
    send(app)
    token = link_in(inbox.messages[0]).rsplit("/", 1)[1]
    forgot = "http://portal.test/password/forgot"
    reset_password(session, token, NEW_PASSWORD, forgot_link=forgot)  # the first one wins
    with pytest.raises(InvalidResetLink):  # the second finds it spent
        reset_password(session, token, "another-new-secret-43", forgot_link=forgot)


def test_there_is_one_mail_job(app):
    assert "mail.send" in JOBS and not [name for name in JOBS if "password_reset" in name]


def test_the_token_lives_only_in_the_encrypted_outbox_body_until_sent(
    app, client, make, session, inbox
):
    user = make.user(make.company())
    ask(client, user.email)
    (message,) = outbox(session)
    assert (message.kind, message.recipient, message.status) == (
        "password_reset",
        user.email,
        "pending",
    )
    (stored,) = session.execute(text("SELECT body FROM outgoing_mail")).scalars()
    assert stored.startswith("enc:v1:")
    send(app)
    token = link_in(inbox.messages[0]).rsplit("/", 1)[1]
    assert token not in stored
    assert session.scalars(select(PasswordReset.token_hash)).one() == digest(token)
    assert session.execute(text("SELECT body FROM outgoing_mail")).scalars().all() == [None]
    assert outbox(session)[0].status == "sent"


def test_the_link_is_on_the_public_address_whatever_host_the_request_named(
    app, make, session, inbox, monkeypatch
):
    """A forged ``Host`` header must not turn the victim's link into one to the forger."""
    monkeypatch.setitem(app.config, "SERVER_NAME", None)  # production: any Host reaches us
    user = make.user(make.company())
    browser = app.test_client()
    browser.environ_base["HTTP_HOST"] = "evil.example"
    assert ask(browser, user.email).status_code == 302
    send(app)
    body = inbox.messages[0].get_content()
    assert "http://portal.test/password/reset/" in body and "evil.example" not in body


def test_a_reset_link_refused_by_the_server_stops_no_other_mail(app, client, make, session, inbox):
    refused, other = make.user(make.company()), make.user(make.company())
    inbox.refuse.add(refused.email)
    for user in (refused, other):
        ask(app.test_client(), user.email)
    assert send_now(app) == 1
    assert [m.status for m in outbox(session)] == ["failed", "sent"]
    assert [m["To"] for m in inbox.messages] == [other.email]


def test_a_reset_link_whose_answer_was_lost_is_never_sent_twice(app, make, session, inbox):
    user = make.user(make.company())
    inbox.drop_after.add(user.email)
    ask(app.test_client(), user.email)
    send_now(app)  # the server took it, and the answer was lost
    assert outbox(session)[0].status == "uncertain"
    inbox.drop_after.clear()
    assert send_now(app) == 0
    assert len(inbox.to(user.email)) == 1  # asking again gives a new link


def test_a_reset_link_a_dead_sender_had_claimed_is_sent_after_the_timeout(
    app, make, session, inbox
):
    """Links left in "sending" by a crash used to wait there for good."""
    user = make.user(make.company())
    ask(app.test_client(), user.email)
    long_ago = utcnow() - mail.CLAIM_TIMEOUT - dt.timedelta(minutes=1)
    assert len(mail.claim(session, long_ago)) == 1
    session.commit()  # the sender died before handing it to the server
    assert send_now(app) == 1
    assert outbox(session)[0].status == "sent"
    assert client_can_use(app, link_in(inbox.to(user.email)[0]))


def test_a_link_not_sent_before_it_expires_is_dropped_unsent(
    app, make, session, inbox, monkeypatch
):
    user = make.user(make.company())
    url = app.config["SMTP_URL"]
    monkeypatch.setitem(app.config, "SMTP_URL", "smtp://127.0.0.1:9")  # the server is down
    ask(app.test_client(), user.email)
    assert send(app) == [0] and outbox(session)[0].status == "pending"
    session.execute(text("UPDATE outgoing_mail SET send_before = :t"), {"t": utcnow()})
    session.commit()  # the link has just expired
    monkeypatch.setitem(app.config, "SMTP_URL", url)
    assert send_now(app) == 0
    (message,) = outbox(session)
    assert (message.status, message.body) == ("expired", None) and inbox.messages == []


def client_can_use(app, link: str) -> bool:
    return app.test_client().get(link).status_code == 302
