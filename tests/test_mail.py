"""Outgoing mail: alerts and invitations go out through the outbox, one message at a time.

A real SMTP server (aiosmtpd on loopback) receives them; it can refuse a recipient or drop
the connection after taking a message.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, text

from portal.jobs.mail import send_mail
from provisioning import accounts, health, mail
from provisioning.audit import SYSTEM
from provisioning.db import utcnow
from provisioning.health import Notification, upsert_channel
from provisioning.mail import OutgoingMail
from provisioning.partners import Provider
from provisioning.tenancy import Membership, Role

EVIL_NAME = "Support\r\nBcc: collector@evil.test\r\n\r\nYour account is closed"


@pytest.fixture
def people(make):
    acme, globex = make.company("Acme"), make.company("Globex")
    return {
        "acme": acme,
        "globex": globex,
        "owner": make.user(acme, Role.ADMIN),
        "other": make.user(globex, Role.ADMIN),
        "platform": make.admin(),
    }


def red_alert(session, company, ref: str, name: str = "Support line"):
    channel = upsert_channel(
        session, company.id, Provider.META, ref, phone_number=f"+1555000{ref[-1]}",
        display_name=name, status="CONNECTED", quality_rating="GREEN",
    )  # fmt: skip
    health.observe(session, channel, source="webhook", quality_rating="RED")
    session.commit()
    return channel


def send(app) -> int:
    with app.app_context():
        return send_mail()


def statuses(session) -> dict[str, str]:
    session.expire_all()
    return {m.recipient: m.status for m in session.scalars(select(OutgoingMail))}


def test_each_alert_is_emailed_once_to_each_recipient(app, session, people, inbox):
    red_alert(session, people["acme"], "pn-1")
    assert send(app) == 2
    assert send(app) == 0  # nothing is sent twice
    owner, platform = people["owner"].email, people["platform"].email
    assert sorted(m["To"] for m in inbox.messages) == sorted([owner, platform])
    body = inbox.to(owner)[0].get_content()
    assert "quality rating dropped to RED" in body and "/notifications" in body
    assert set(session.scalars(select(Notification.email_status))) == {"queued"}
    assert set(statuses(session).values()) == {"sent"}


def test_message_bodies_are_encrypted_at_rest_and_dropped_once_sent(app, session, people, inbox):
    red_alert(session, people["acme"], "pn-1")
    health.queue_alert_emails(session, "http://portal.test")
    session.commit()
    stored = session.execute(text("SELECT body FROM outgoing_mail")).scalars().all()
    assert stored and all(body.startswith("enc:v1:") for body in stored)
    send(app)
    assert session.execute(text("SELECT body FROM outgoing_mail")).scalars().all() == [None] * 2


def test_without_a_mail_server_messages_are_skipped(app, session, people, monkeypatch):
    monkeypatch.setitem(app.config, "SMTP_URL", None)
    red_alert(session, people["acme"], "pn-1")
    assert send(app) == 0
    assert set(statuses(session).values()) == {"skipped"}


def test_an_unreachable_mail_server_leaves_messages_pending(app, session, people, monkeypatch):
    monkeypatch.setitem(app.config, "SMTP_URL", "smtp://127.0.0.1:9")  # nothing listens
    red_alert(session, people["acme"], "pn-1")
    assert send(app) == 0
    assert set(statuses(session).values()) == {"pending"}


def test_a_display_name_with_line_breaks_blocks_no_ones_alerts(app, session, people, inbox):
    """One company's channel name with CR/LF once crashed the job and left every
    company's alerts in "sending" for good."""
    red_alert(session, people["acme"], "pn-1", name=EVIL_NAME)
    red_alert(session, people["globex"], "pn-2")
    assert send(app) == 4  # Acme's admin, Globex's admin, the platform admin twice
    assert set(statuses(session).values()) == {"sent"}
    for message in inbox.messages:
        assert "\n" not in message["Subject"] and "\r" not in message["Subject"]
        assert message["Bcc"] is None
    acme_subject = inbox.to(people["owner"].email)[0]["Subject"]
    assert "Support Bcc: collector@evil.test Your account is closed" in acme_subject
    assert inbox.to("collector@evil.test") == []


def test_a_stored_subject_with_line_breaks_is_sent_on_one_line(app, session, people, inbox):
    """Messages queued before the fix (or by any path) are cleaned when they are built."""
    mail.queue(session, kind="alert", to=people["owner"].email, subject="x", body="hello")
    session.execute(
        text("UPDATE outgoing_mail SET subject = :s"), {"s": "Alert\r\nBcc: collector@evil.test"}
    )
    session.commit()
    assert send(app) == 1
    (message,) = inbox.messages
    assert message["Subject"] == "Alert Bcc: collector@evil.test" and message["Bcc"] is None


def test_a_recipient_the_server_refuses_does_not_stop_the_others(app, session, people, inbox):
    owner, platform = people["owner"].email, people["platform"].email
    inbox.refuse.add(owner)
    red_alert(session, people["acme"], "pn-1")
    assert send(app) == 1
    assert statuses(session) == {owner: "failed", platform: "sent"}
    assert [m["To"] for m in inbox.messages] == [platform]


def test_an_answer_lost_after_the_server_took_the_message_is_not_sent_again(
    app, session, people, inbox
):
    owner, platform = people["owner"].email, people["platform"].email  # sent in this order
    inbox.drop_after.add(owner)
    red_alert(session, people["acme"], "pn-1")
    send(app)  # the owner's message reaches the server, and its answer is lost
    assert statuses(session) == {owner: "uncertain", platform: "pending"}  # never attempted
    inbox.drop_after.clear()
    assert send(app) == 1
    assert statuses(session) == {owner: "uncertain", platform: "sent"}
    assert len(inbox.to(owner)) == 1 and len(inbox.to(platform)) == 1


def test_messages_of_a_sender_that_died_are_recovered_after_the_timeout(
    app, session, people, inbox
):
    for address in ("a@example.com", "b@example.com", "c@example.com"):
        mail.queue(session, kind="alert", to=address, subject="Alert", body="hello")
    claimed = mail.claim(session, utcnow())
    claimed[0].claimed_at = utcnow() - mail.CLAIM_TIMEOUT - dt.timedelta(minutes=1)
    claimed[1].claimed_at = utcnow() - mail.CLAIM_TIMEOUT - dt.timedelta(minutes=1)
    mail.attempt(claimed[1], utcnow() - mail.CLAIM_TIMEOUT)  # it died talking to the server
    session.commit()  # c@ was claimed a moment ago: its sender may still be at work
    assert send(app) == 1
    assert statuses(session) == {
        "a@example.com": "sent",
        "b@example.com": "uncertain",
        "c@example.com": "sending",
    }
    assert [m["To"] for m in inbox.messages] == ["a@example.com"]


def test_alerts_of_a_company_one_was_removed_from_are_not_emailed(app, session, people, inbox):
    red_alert(session, people["acme"], "pn-1")
    membership = session.scalars(
        select(Membership).where(Membership.user_id == people["owner"].id)
    ).one()
    accounts.deactivate_membership(session, SYSTEM, membership)
    session.commit()
    assert send(app) == 1
    assert [m["To"] for m in inbox.messages] == [people["platform"].email]
    owner_notification = session.scalars(
        select(Notification).where(Notification.user_id == people["owner"].id)
    ).one()
    assert owner_notification.email_status == "skipped"


def test_a_recipient_address_must_be_one_plain_address(session):
    from provisioning.errors import DomainError

    for bad in ("a@example.com\r\nBcc: b@example.com", "a@example.com, b@example.com", "nobody"):
        with pytest.raises(DomainError):
            mail.queue(session, kind="alert", to=bad, subject="s", body="b")


def test_names_that_reach_mail_headers_must_be_one_line(session, people):
    from provisioning import companies
    from provisioning.errors import DomainError

    with pytest.raises(DomainError, match="one line"):
        companies.create_company(session, SYSTEM, "Acme\r\nBcc: collector@evil.test")
    with pytest.raises(DomainError, match="one line"):
        companies.update_company(
            session, SYSTEM, people["acme"], "Acme\nX", people["acme"].slug, True
        )


def test_a_message_past_its_deadline_is_dropped_unsent(app, session, people, inbox):
    """A message with a link (an invitation, a reset) is useless once the link is dead."""
    now = utcnow()
    for address, deadline in (("late@example.com", now), ("no-deadline@example.com", None)):
        mail.queue(session, kind="invitation", to=address, subject="s", body="b",
                   send_before=deadline)  # fmt: skip
    session.commit()
    assert send(app) == 1
    assert statuses(session) == {"late@example.com": "expired", "no-deadline@example.com": "sent"}
    assert session.execute(text("SELECT body FROM outgoing_mail")).scalars().all() == [None] * 2
    assert [m["To"] for m in inbox.messages] == ["no-deadline@example.com"]
