"""API keys: created by the platform's or a company's admins, shown once, stored as a
digest, revoked at once; every change on record."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape

import pytest
from sqlalchemy import select

from provisioning import api_keys
from provisioning.api_keys import ApiKey, Scope
from provisioning.audit import SYSTEM, AuditEntry
from provisioning.db import utcnow
from provisioning.errors import DomainError
from provisioning.tenancy import Role
from provisioning.tokens import digest


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


def shown_token(html: str) -> str:
    match = re.search(r'id="new-key-token" type="text" readonly value="([^"]+)"', html)
    assert match, "the new key's token is not on the page"
    return unescape(match.group(1))


def test_a_key_is_stored_as_a_digest_and_opens_until_revoked(session, world):
    key, token = api_keys.create_key(session, SYSTEM, "billing", ["read"], world["acme"])
    session.commit()
    assert token.startswith("wpk_") and len(token) > 40
    assert key.token_hash == digest(token) and token not in str(key.__dict__)
    assert key.prefix == token[:10] and key.scopes == ["read"]
    assert api_keys.authenticate(session, token) == key
    assert api_keys.authenticate(session, token + "x") is None
    assert api_keys.authenticate(session, "not-a-key") is None
    api_keys.revoke_key(session, SYSTEM, key)
    api_keys.revoke_key(session, SYSTEM, key)  # again: nothing more happens
    session.commit()
    assert api_keys.authenticate(session, token) is None
    actions = session.scalars(select(AuditEntry.action).where(AuditEntry.target_type == "api_keys"))
    assert list(actions) == ["api_key.create", "api_key.revoke"]


def test_the_last_used_time_is_written_at_most_once_a_minute(session, world):
    key, token = api_keys.create_key(session, SYSTEM, "crm", ["read"], None)
    now = utcnow()
    api_keys.authenticate(session, token, now)
    assert key.last_used_at == now
    api_keys.authenticate(session, token, now + dt.timedelta(seconds=30))
    session.expire_all()
    assert session.get(ApiKey, key.id).last_used_at == now
    later = now + dt.timedelta(seconds=61)
    api_keys.authenticate(session, token, later)
    session.expire_all()
    assert session.get(ApiKey, key.id).last_used_at == later


@pytest.mark.parametrize(
    ("name", "scopes", "message"),
    [("", ["read"], "Name the key"), ("crm", [], "at least one scope"),
     ("crm", ["admin"], "Scopes are read, write, credentials")],
)  # fmt: skip
def test_a_key_needs_a_name_and_known_scopes(session, world, name, scopes, message):
    with pytest.raises(DomainError, match=message):
        api_keys.create_key(session, SYSTEM, name, scopes, world["acme"])
    assert session.scalars(select(ApiKey)).all() == []


def test_a_company_admin_creates_a_key_sees_it_once_and_revokes_it(client, auth, session, world):
    acme = world["acme"]
    page = f"/c/{acme.slug}/api-keys"
    auth.login(world["admin"])
    answer = auth.post(page, {"name": "messaging", "scopes": ["read", "credentials"]},
                       form_page=page)  # fmt: skip
    assert answer.status_code == 201 and answer.headers["Cache-Control"] == "no-store"
    token = shown_token(answer.get_data(as_text=True))
    key = session.scalars(select(ApiKey)).one()
    assert (key.company_id, key.scopes) == (acme.id, ["credentials", "read"])
    listed = client.get(page).get_data(as_text=True)
    assert token not in listed and key.prefix in listed and "never" in listed
    revoked = auth.post(f"{page}/{key.id}/revoke", form_page=page, follow_redirects=True)
    assert "is revoked" in revoked.get_data(as_text=True)
    assert api_keys.authenticate(session, token) is None


def test_a_bad_form_is_a_message_not_a_key(client, auth, session, world):
    page = f"/c/{world['acme'].slug}/api-keys"
    auth.login(world["admin"])
    answer = auth.post(page, {"name": "", "scopes": ["root"]}, form_page=page,
                       follow_redirects=True)  # fmt: skip
    html = unescape(answer.get_data(as_text=True))
    assert answer.status_code == 200 and "'root' is not a valid choice" in html
    assert session.scalars(select(ApiKey)).all() == []


def test_platform_keys_belong_to_no_company_and_only_platform_admins_see_them(
    client, auth, session, world
):
    auth.login(world["platform"])
    answer = auth.post("/admin/api-keys", {"name": "platform crm", "scopes": ["read", "write"]},
                       form_page="/admin/api-keys")  # fmt: skip
    assert answer.status_code == 201
    key = session.scalars(select(ApiKey)).one()
    assert key.company_id is None and key.is_platform
    assert key.allows(Scope.WRITE) and not key.allows(Scope.CREDENTIALS)
    auth.logout()
    auth.login(world["admin"])
    assert client.get("/admin/api-keys").status_code == 404


def test_members_and_other_companies_get_no_keys_page(client, auth, session, world):
    acme = world["acme"]
    key, _ = api_keys.create_key(session, SYSTEM, "acme crm", ["read"], acme)
    session.commit()
    auth.login(world["member"])
    assert client.get(f"/c/{acme.slug}/api-keys").status_code == 403
    auth.logout()
    auth.login(world["globex_admin"])
    assert client.get(f"/c/{acme.slug}/api-keys").status_code == 404
    globex_page = f"/c/{world['globex'].slug}/api-keys"
    answer = auth.post(f"{globex_page}/{key.id}/revoke", form_page=globex_page)
    assert answer.status_code in (303, 404)
    session.refresh(key)
    assert key.revoked_at is None
