"""Company invitations: nobody joins a company without accepting, and the inviting admin
learns nothing about which addresses have accounts."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape

import pytest
from sqlalchemy import func, select, text

from portal.jobs.mail import send_mail
from provisioning.audit import AuditEntry
from provisioning.db import utcnow
from provisioning.invitations import CompanyInvitation
from provisioning.mail import OutgoingMail
from provisioning.tenancy import Membership, Role, User
from tests.conftest import PASSWORD, Auth

NEW_PASSWORD = "a-long-fresh-passphrase"


@pytest.fixture
def world(make):
    acme, globex = make.company("Acme"), make.company("Globex")
    return {
        "acme": acme,
        "globex": globex,
        "admin": make.user(acme, Role.ADMIN),
        "member": make.user(acme, Role.MEMBER),
        "globex_admin": make.user(globex, Role.ADMIN),
        "platform": make.admin(),
    }


def team(company) -> str:
    return f"/c/{company.slug}/team"


def invite(auth, company, email: str, role: str = "member"):
    return auth.post(
        f"{team(company)}/invite", {"email": email, "role": role}, form_page=team(company)
    )


def flashes(html: str) -> list[str]:
    return [
        unescape(m) for m in re.findall(r'<div class="flash [a-z]+" role="status">([^<]*)<', html)
    ]


def link_sent_to(app, inbox, email: str) -> str:
    with app.app_context():
        send_mail()
    (message,) = inbox.to(email)
    return re.search(r"http://portal\.test(/invitations/\S+)", message.get_content()).group(1)


def memberships(session, user) -> dict[int, Role]:
    session.expire_all()
    rows = session.scalars(select(Membership).where(Membership.user_id == user.id))
    return {m.company_id: m.role for m in rows if m.is_active}


def test_a_new_person_accepts_with_an_account_of_their_own(
    app, client, auth, world, session, inbox
):
    acme = world["acme"]
    auth.login(world["admin"])
    response = invite(auth, acme, "New.Person@Example.com", "admin")
    assert response.status_code == 302
    page = client.get(team(acme)).get_data(as_text=True)
    assert "Invitation sent to new.person@example.com." in flashes(page)[0]
    assert "new.person@example.com" in page.split('id="pending-invitations"')[1]
    assert session.scalar(select(func.count(User.id)).where(User.email.like("new.%"))) == 0
    link = link_sent_to(app, inbox, "new.person@example.com")
    auth.logout()

    form = client.get(link)
    assert form.status_code == 200 and b'id="invitation-new_account"' in form.data
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form.text).group(1)
    data = {"name": "New Person", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    done = client.post(link, data=data | {"csrf_token": token})
    assert done.status_code == 302 and done.location.endswith("/login")
    user = session.scalars(select(User).where(User.email == "new.person@example.com")).one()
    assert memberships(session, user) == {acme.id: Role.ADMIN}
    assert client.get(link).status_code == 404  # used once
    Auth(client).login(user, NEW_PASSWORD)
    assert client.get(f"/c/{acme.slug}/").status_code == 200


def test_an_existing_user_joins_only_by_accepting_signed_in(
    app, client, auth, world, session, inbox
):
    """A company admin once attached any existing user (another tenant's admin, a platform
    admin) straight away, without asking them."""
    acme, victim = world["acme"], world["globex_admin"]
    auth.login(world["admin"])
    invite(auth, acme, victim.email, "admin")
    invite(auth, acme, world["platform"].email)
    assert memberships(session, victim) == {world["globex"].id: Role.ADMIN}
    assert memberships(session, world["platform"]) == {}
    link = link_sent_to(app, inbox, victim.email)

    # the inviting admin (or anyone else holding the link) cannot accept for them
    form_page = client.get(link)
    assert b'id="invitation-other_account"' in form_page.data
    assert auth.post(link, form_page=team(acme)).status_code == 403
    auth.logout()
    assert b'id="invitation-sign_in"' in client.get(link).data  # signed out: sign in first
    assert client.post(link, data={}).status_code in (400, 403)
    assert memberships(session, victim) == {world["globex"].id: Role.ADMIN}

    auth.login(victim)
    accepted = auth.post(link, form_page=link)
    assert accepted.status_code == 302 and accepted.location.endswith(f"/c/{acme.slug}/")
    assert memberships(session, victim) == {world["globex"].id: Role.ADMIN, acme.id: Role.ADMIN}
    assert client.get(link).status_code == 404


def test_the_link_is_on_the_public_address_whatever_host_the_request_named(
    app, world, session, inbox, monkeypatch
):
    """An admin who forged the ``Host`` header got the invitee's token in a link to their
    own server, and could create the invited address's account without owning it."""
    monkeypatch.setitem(app.config, "SERVER_NAME", None)  # production: any Host reaches us
    browser = app.test_client()
    browser.environ_base["HTTP_HOST"] = "evil.example"
    forger = Auth(browser)
    forger.login(world["admin"])
    assert invite(forger, world["acme"], "someone@example.com").status_code == 302
    with app.app_context():
        send_mail()
    body = inbox.to("someone@example.com")[0].get_content()
    assert "http://portal.test/invitations/" in body and "evil.example" not in body


def test_the_inviting_admin_gets_the_same_answer_whether_an_account_exists(
    client, auth, world, session, inbox
):
    acme = world["acme"]
    auth.login(world["admin"])
    answers = []
    for email in (world["globex_admin"].email, "nobody.yet@example.com"):
        response = invite(auth, acme, email)
        page = client.get(team(acme)).get_data(as_text=True)
        shown = [m.replace(email, "<e-mail>") for m in flashes(page)]
        answers.append((response.status_code, response.location, shown))
    assert answers[0] == answers[1]
    assert "Invitation sent to <e-mail>." in answers[0][2][0]
    rows = session.scalars(select(CompanyInvitation).order_by(CompanyInvitation.id)).all()
    assert [r.email for r in rows] == [world["globex_admin"].email, "nobody.yet@example.com"]
    assert session.scalar(select(func.count(OutgoingMail.id))) == 2


def test_invitations_can_be_revoked_expire_and_are_replaced_by_a_new_one(
    app, client, auth, world, session, inbox
):
    acme = world["acme"]
    auth.login(world["admin"])
    invite(auth, acme, "first@example.com")
    first = link_sent_to(app, inbox, "first@example.com")
    invite(auth, acme, "first@example.com")  # sent again: the first link stops working
    assert client.get(first).status_code == 404
    (pending,) = session.scalars(
        select(CompanyInvitation).where(CompanyInvitation.revoked_at.is_(None))
    ).all()
    revoke = f"{team(acme)}/invitations/{pending.id}/revoke"
    assert auth.post(revoke, form_page=team(acme)).status_code == 302
    assert "first@example.com" not in client.get(team(acme)).text.split("pending-invitations")[1]
    assert auth.post(revoke, form_page=team(acme)).status_code == 303  # no longer pending

    invite(auth, acme, "late@example.com")
    late = session.scalars(
        select(CompanyInvitation).where(CompanyInvitation.email == "late@example.com")
    ).one()
    late.expires_at = utcnow() - dt.timedelta(seconds=1)
    session.commit()
    inbox.messages.clear()
    link = link_sent_to(app, inbox, "late@example.com")
    auth.logout()
    assert client.get(link).status_code == 404
    assert b"expired" in client.get(link).data
    assert session.scalar(select(func.count(User.id)).where(User.email == "late@example.com")) == 0


def test_tokens_are_stored_only_as_hashes_and_the_mail_encrypted(
    app, client, auth, world, session, inbox
):
    auth.login(world["admin"])
    invite(auth, world["acme"], "hashed@example.com")
    body = session.execute(text("SELECT body FROM outgoing_mail")).scalar_one()
    assert body.startswith("enc:v1:")
    link = link_sent_to(app, inbox, "hashed@example.com")
    token = link.rsplit("/", 1)[1]
    row = session.scalars(select(CompanyInvitation)).one()
    assert row.token_hash != token and len(row.token_hash) == 64
    assert session.execute(text("SELECT body FROM outgoing_mail")).scalar_one() is None
    details = " ".join(str(e.details) for e in session.scalars(select(AuditEntry)))
    assert token not in details


def test_members_and_other_companies_cannot_invite_or_revoke(client, auth, world, session):
    acme, globex = world["acme"], world["globex"]
    auth.login(world["globex_admin"])
    invite(auth, globex, "theirs@example.com")
    theirs = session.scalars(select(CompanyInvitation)).one()
    auth.logout()

    auth.login(world["member"])
    assert invite(auth, acme, "x@example.com").status_code == 403
    revoke = f"{team(acme)}/invitations/{theirs.id}/revoke"
    assert auth.post(revoke, form_page=team(acme)).status_code == 403
    assert 'id="pending-invitations"' not in client.get(team(acme)).text
    auth.logout()

    auth.login(world["admin"])
    assert invite(auth, globex, "x@example.com").status_code == 404
    other = f"{team(globex)}/invitations/{theirs.id}/revoke"
    assert auth.post(other, form_page=team(acme)).status_code == 404
    assert auth.post(revoke, form_page=team(acme)).status_code == 404  # B's row in A's URL
    assert "theirs@example.com" not in client.get(team(acme)).text
    session.refresh(theirs)
    assert theirs.revoked_at is None
    assert session.scalar(select(func.count(CompanyInvitation.id))) == 1


def test_current_members_and_bad_addresses_are_told_so(client, auth, world, session):
    auth.login(world["admin"])
    invite(auth, world["acme"], world["member"].email)
    page = client.get(team(world["acme"])).text
    assert f"{world['member'].email} is already a member of Acme." in flashes(page)
    assert invite(auth, world["acme"], "not an address").status_code == 303
    assert session.scalar(select(func.count(CompanyInvitation.id))) == 0


def test_production_without_a_mail_server_refuses_to_invite(
    app, client, auth, world, session, monkeypatch
):
    monkeypatch.setitem(app.config, "SMTP_URL", None)
    monkeypatch.setitem(app.config, "PORTAL_ENV", "production")
    auth.login(world["admin"])
    assert invite(auth, world["acme"], "someone@example.com").status_code == 303
    assert "no mail server" in flashes(client.get(team(world["acme"])).text)[0]
    assert session.scalar(select(func.count(CompanyInvitation.id))) == 0


def test_without_a_mail_server_outside_production_the_link_is_shown(
    app, client, auth, world, monkeypatch
):
    monkeypatch.setitem(app.config, "SMTP_URL", None)
    auth.login(world["admin"])
    invite(auth, world["acme"], "dev@example.com")
    shown = flashes(client.get(team(world["acme"])).text)
    assert any("/invitations/" in message for message in shown)


def test_a_wrong_password_form_creates_nothing(app, client, auth, world, session, inbox):
    auth.login(world["admin"])
    invite(auth, world["acme"], "short@example.com")
    link = link_sent_to(app, inbox, "short@example.com")
    auth.logout()
    page = client.get(link)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
    bad = client.post(link, data={"password": "short", "confirm": "short", "csrf_token": token})
    assert bad.status_code == 400
    assert session.scalar(select(func.count(User.id)).where(User.email.like("short@%"))) == 0
    assert client.get(link).status_code == 200  # still open
    assert PASSWORD  # the fixtures' password is not the invitee's
