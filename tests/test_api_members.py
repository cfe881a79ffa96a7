"""The API's members, invitations and partner configuration health: the team page's rules,
each company's rows out of another company's reach, platform keys only for partners."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from provisioning import api_keys, invitations, partners
from provisioning.audit import SYSTEM, AuditEntry
from provisioning.db import utcnow
from provisioning.invitations import CompanyInvitation
from provisioning.mail import OutgoingMail
from provisioning.partners import Environment, Provider
from provisioning.tenancy import Membership, Role

PROBLEM = "application/problem+json"


@pytest.fixture
def team(make):
    acme, globex = make.company("Acme"), make.company("Globex")
    return {
        "acme": acme, "globex": globex, "admin": make.user(acme, Role.ADMIN),
        "member": make.user(acme), "globex_admin": make.user(globex, Role.ADMIN),
    }  # fmt: skip


def bearer(session, scopes=("read", "write"), company=None) -> dict[str, str]:
    _, token = api_keys.create_key(session, SYSTEM, "crm", scopes, company)
    session.commit()
    return {"Authorization": f"Bearer {token}"}


def membership(session, user, company) -> Membership:
    return session.scalars(
        select(Membership).where(Membership.user_id == user.id, Membership.company_id == company.id)
    ).one()


def test_a_company_key_lists_its_members_and_changes_a_role(client, session, team):
    acme = team["acme"]
    headers = bearer(session, company=acme)
    url = f"/api/v1/companies/{acme.public_id}/members"
    page = client.get(f"{url}?limit=1", headers=headers).json
    assert [m["email"] for m in page["data"]] == [team["admin"].email] and page["next_cursor"]
    rest = client.get(f"{url}?cursor={page['next_cursor']}", headers=headers).json
    assert [m["email"] for m in rest["data"]] == [team["member"].email]
    member = membership(session, team["member"], acme)
    answer = client.patch(f"{url}/{member.id}", json={"role": "admin"}, headers=headers)
    assert answer.status_code == 200 and answer.json["role"] == "admin"
    assert client.get(f"{url}/{member.id}", headers=headers).json["role"] == "admin"
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "membership.update"))
    assert entry.one().actor_email.startswith("api-key:")
    bad = client.patch(f"{url}/{member.id}", json={"role": "owner"}, headers=headers)
    assert bad.status_code == 422 and bad.content_type == PROBLEM


def test_the_last_admin_is_neither_demoted_nor_removed(client, session, team):
    acme = team["acme"]
    headers = bearer(session, company=acme)
    url = f"/api/v1/companies/{acme.public_id}/members"
    admin = membership(session, team["admin"], acme)
    for answer in (
        client.patch(f"{url}/{admin.id}", json={"role": "member"}, headers=headers),
        client.delete(f"{url}/{admin.id}", headers=headers),
    ):
        assert answer.status_code == 400 and answer.content_type == PROBLEM
        assert answer.json["detail"] == "The company needs at least one admin."
    session.refresh(admin)
    assert admin.is_active and admin.role is Role.ADMIN
    member = membership(session, team["member"], acme)
    assert client.delete(f"{url}/{member.id}", headers=headers).status_code == 204
    assert [m["email"] for m in client.get(url, headers=headers).json["data"]] == [
        team["admin"].email
    ]
    assert client.get(f"{url}/{member.id}", headers=headers).status_code == 404
    assert client.delete(f"{url}/{member.id}", headers=headers).status_code == 404


def test_a_read_key_changes_nothing(client, session, team):
    acme = team["acme"]
    headers = bearer(session, ("read",), acme)
    member = membership(session, team["member"], acme)
    base = f"/api/v1/companies/{acme.public_id}"
    for method, url, body in (
        ("PATCH", f"{base}/members/{member.id}", {"role": "admin"}),
        ("DELETE", f"{base}/members/{member.id}", None),
        ("POST", f"{base}/invitations", {"email": "new@example.com"}),
    ):
        assert client.open(url, method=method, json=body, headers=headers).status_code == 403


def test_another_companys_team_is_out_of_reach(client, session, team):
    globex = team["globex"]
    headers = bearer(session, ("read", "write"), team["acme"])
    member = membership(session, team["globex_admin"], globex)
    invitation, _ = invitations.invite(session, SYSTEM, globex, "x@example.com", Role.MEMBER,
                                       link=str)  # fmt: skip
    session.commit()
    base = f"/api/v1/companies/{globex.public_id}"
    for method, url, body in (
        ("GET", f"{base}/members", None),
        ("GET", f"{base}/members/{member.id}", None),
        ("PATCH", f"{base}/members/{member.id}", {"role": "member"}),
        ("DELETE", f"{base}/members/{member.id}", None),
        ("GET", f"{base}/invitations", None),
        ("POST", f"{base}/invitations", {"email": "spy@example.com", "role": "admin"}),
        ("DELETE", f"{base}/invitations/{invitation.id}", None),
    ):
        answer = client.open(url, method=method, json=body, headers=headers)
        assert answer.status_code == 404, (method, url, answer.status_code)
    # Acme's URLs with Globex's row ids: not found either
    acme_base = f"/api/v1/companies/{team['acme'].public_id}"
    assert client.get(f"{acme_base}/members/{member.id}", headers=headers).status_code == 404
    gone = client.delete(f"{acme_base}/invitations/{invitation.id}", headers=headers)
    assert gone.status_code == 404
    session.refresh(member)
    session.refresh(invitation)
    assert member.is_active and member.role is Role.ADMIN and invitation.revoked_at is None
    assert session.scalars(select(CompanyInvitation)).all() == [invitation]


def test_an_invitation_is_emailed_listed_revoked_and_accepted_by_the_invitee_only(
    client, session, team
):
    acme = team["acme"]
    headers = {**bearer(session, company=acme), "Idempotency-Key": "invite-1"}
    url = f"/api/v1/companies/{acme.public_id}/invitations"
    created = client.post(url, json={"email": "New@Example.com", "role": "admin"}, headers=headers)
    assert created.status_code == 201, created.json
    assert created.json["email"] == "new@example.com" and created.json["role"] == "admin"
    assert "token" not in created.text and "/invitations/" not in created.text
    again = client.post(url, json={"email": "New@Example.com", "role": "admin"}, headers=headers)
    assert again.headers["Idempotent-Replayed"] == "true" and again.json == created.json
    mails = session.scalars(select(OutgoingMail).where(OutgoingMail.kind == "invitation")).all()
    assert [m.recipient for m in mails] == ["new@example.com"]  # one e-mail, not two
    body = mails[0].body or ""
    assert (
        body.startswith("You are invited to join Acme as company admin") and "api-key" not in body
    )
    listed = client.get(url, headers=headers).json["data"]
    assert [i["id"] for i in listed] == [created.json["id"]]

    token = re.search(r"/invitations/(\S+)", body)[1]
    accounts_before = session.scalars(select(Membership)).all()
    invitations.accept_new_account(session, token, "New", "a-long-enough-password-1")
    session.commit()
    assert len(session.scalars(select(Membership)).all()) == len(accounts_before) + 1
    members = client.get(f"/api/v1/companies/{acme.public_id}/members", headers=headers).json
    assert "new@example.com" in [m["email"] for m in members["data"]]
    assert client.get(url, headers=headers).json["data"] == []  # accepted: no longer pending

    second = client.post(url, json={"email": "later@example.com"}, headers=bearer(session))
    assert second.status_code == 201 and second.json["role"] == "member"  # a platform key
    revoked = client.delete(f"{url}/{second.json['id']}", headers=headers)
    assert revoked.status_code == 204 and client.get(url, headers=headers).json["data"] == []
    assert client.delete(f"{url}/{second.json['id']}", headers=headers).status_code == 400


def test_invitations_the_portal_refuses_are_refused(client, app, session, team, monkeypatch):
    acme = team["acme"]
    headers = bearer(session, company=acme)
    url = f"/api/v1/companies/{acme.public_id}/invitations"
    for body in ({"email": "not an address"}, {"email": team["member"].email}):
        answer = client.post(url, json=body, headers=headers)
        assert answer.status_code == 400 and answer.content_type == PROBLEM, body
    monkeypatch.setitem(app.config, "PORTAL_ENV", "production")
    monkeypatch.setitem(app.config, "SMTP_URL", None)
    answer = client.post(url, json={"email": "n@example.com"}, headers=headers)
    assert answer.status_code == 400 and "no mail server" in answer.json["detail"]
    assert session.scalars(select(CompanyInvitation)).all() == []


def test_a_deactivated_company_invites_nobody(client, session, team):
    acme = team["acme"]
    acme.is_active = False
    session.commit()
    answer = client.post(f"/api/v1/companies/{acme.public_id}/invitations",
                         json={"email": "n@example.com"}, headers=bearer(session))  # fmt: skip
    assert answer.status_code == 400 and "deactivated" in answer.json["detail"]


TWILIO = {"account_sid": "AC" + "a" * 32, "auth_token": "very-secret-auth-token"}


def test_partner_health_for_platform_keys_without_secrets(client, session, team):
    config = partners.create_configuration(
        session, SYSTEM, Provider.TWILIO, Environment.SANDBOX, "Twilio test", TWILIO
    )
    partners.record_check(config, False, "the provider refused the credentials (20003)", utcnow())
    session.commit()
    company_key = bearer(session, ("read",), team["acme"])
    refused = client.get("/api/v1/partner-configurations", headers=company_key)
    assert refused.status_code == 403 and refused.content_type == PROBLEM
    answer = client.get("/api/v1/partner-configurations", headers=bearer(session, ("read",)))
    assert answer.status_code == 200
    assert "very-secret-auth-token" not in answer.text
    items = {(i["provider"], i["environment"]): i for i in answer.json["data"]}
    assert len(items) == 6
    twilio = items[("twilio", "sandbox")]
    assert twilio["configured"] and twilio["active"] and twilio["current"]
    assert twilio["name"] == "Twilio test" and twilio["missing"] == []
    assert twilio["last_check"]["ok"] is False and "20003" in twilio["last_check"]["message"]
    assert twilio["usage"] == {"companies": 0, "accounts": 0, "numbers": 0, "runs_under_way": 0}
    meta = items[("meta", "production")]
    assert meta == {"provider": "meta", "environment": "production", "current": False,
                    "configured": False, "name": None, "active": False, "missing": [],
                    "last_check": None, "usage": None}  # fmt: skip


def test_partner_health_names_what_is_missing(client, session):
    config = partners.create_configuration(
        session, SYSTEM, Provider.TWILIO, Environment.SANDBOX, "", TWILIO
    )
    config.secrets = {}  # e.g. a secret cleared by hand
    partners.deactivate_configuration(session, SYSTEM, config)
    session.commit()
    answer = client.get("/api/v1/partner-configurations", headers=bearer(session, ("read",)))
    twilio = next(i for i in answer.json["data"] if i["provider"] == "twilio" and i["current"])
    assert twilio["active"] is False and twilio["last_check"] is None
    assert twilio["missing"] == ["auth_token"]
