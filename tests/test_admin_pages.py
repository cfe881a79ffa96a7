"""The platform admin's company and user pages: what is stored, what is shown, the status."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from provisioning.accounts import Invitation
from provisioning.audit import AuditEntry
from provisioning.tenancy import Membership, Role, User


@pytest.fixture
def admin(auth, make) -> User:
    user = make.admin()
    auth.login(user)
    return user


def flashed(response) -> str:
    return response.get_data(as_text=True)


def test_a_refused_company_edit_shows_the_stored_company(client, auth, make, session, admin):
    make.company("Globex")
    acme = make.company("Acme")
    url = f"/admin/companies/{acme.id}"
    response = auth.post(url, {"name": "Renamed", "slug": "globex", "is_active": "y"},
                         form_page=url)  # fmt: skip
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "taken by another company" in page and "<h1>Acme</h1>" in page
    session.expire_all()
    assert (acme.name, acme.slug) == ("Acme", "acme")
    assert (
        session.scalars(select(AuditEntry).where(AuditEntry.action == "company.update")).all() == []
    )


def test_a_company_edit_is_saved_and_audited_once(auth, make, session, admin):
    acme = make.company("Acme")
    url = f"/admin/companies/{acme.id}"
    response = auth.post(url, {"name": "Acme Corp", "slug": "acme-corp"}, form_page=url)
    assert response.status_code == 302
    session.expire_all()
    assert (acme.name, acme.slug, acme.is_active) == ("Acme Corp", "acme-corp", False)
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "company.update")).one()
    assert entry.details["changed"] == ["name", "slug", "is_active"]


def test_a_new_member_is_stored_with_a_one_time_invitation(client, auth, make, session, admin):
    acme = make.company("Acme")
    url = f"/admin/companies/{acme.id}"
    response = auth.post(f"{url}/members", {"email": "new@example.com", "role": "admin"},
                         form_page=url, follow_redirects=True)  # fmt: skip
    assert "new@example.com is now" in flashed(response) and "Invitation link" in flashed(response)
    user = session.scalars(select(User).where(User.email == "new@example.com")).one()
    membership = session.scalars(select(Membership).where(Membership.user_id == user.id)).one()
    assert (membership.company_id, membership.role) == (acme.id, Role.ADMIN)
    assert session.scalars(select(Invitation).where(Invitation.user_id == user.id)).one()


def test_an_invalid_member_form_goes_back_to_the_company_with_its_errors(
    auth, make, session, admin
):
    acme = make.company("Acme")
    url = f"/admin/companies/{acme.id}"
    response = auth.post(f"{url}/members", {"email": "not-an-address", "role": "admin"},
                         form_page=url)  # fmt: skip
    assert response.status_code == 303 and response.location == url
    assert "Invalid email address." in flashed(auth.client.get(url))
    assert session.scalars(select(Membership)).all() == []


def test_an_invalid_role_goes_back_to_the_membership_company(auth, make, session, admin):
    acme = make.company("Acme")
    member = make.user(acme, Role.MEMBER)
    membership = session.scalars(select(Membership).where(Membership.user_id == member.id)).one()
    url = f"/admin/companies/{acme.id}"
    response = auth.post(f"/admin/memberships/{membership.id}/role", {"role": "owner"},
                         form_page=url)  # fmt: skip
    assert response.status_code == 303 and response.location == url
    assert "Choose a valid role." in flashed(auth.client.get(url))
    session.expire_all()
    assert membership.role is Role.MEMBER


def test_an_admin_cannot_deactivate_themselves(auth, session, admin):
    url = f"/admin/users/{admin.id}"
    response = auth.post(f"{url}/active", form_page=url)
    assert response.status_code == 303 and response.location == url
    assert "You cannot deactivate yourself." in flashed(auth.client.get(url))
    session.expire_all()
    assert admin.is_active


def test_a_new_user_is_created_with_an_invitation(auth, session, admin):
    response = auth.post("/admin/users/new", {"email": "ops@example.com", "name": "Ops"},
                         form_page="/admin/users/new", follow_redirects=True)  # fmt: skip
    assert "Invitation link" in flashed(response)
    user = session.scalars(select(User).where(User.email == "ops@example.com")).one()
    assert (user.name, user.is_platform_admin, user.password_hash) == ("Ops", False, None)
    assert session.scalars(select(Invitation).where(Invitation.user_id == user.id)).one()


def test_a_taken_e_mail_is_a_field_error_and_nothing_is_stored(auth, make, session, admin):
    taken = make.user(email="taken@example.com")
    response = auth.post("/admin/users/new", {"email": "taken@example.com"},
                         form_page="/admin/users/new")  # fmt: skip
    assert response.status_code == 400 and "already exists" in flashed(response)
    assert session.scalars(select(Invitation).where(Invitation.user_id == taken.id)).all() == []
