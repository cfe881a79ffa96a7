"""New passwords: long enough, not common, not the e-mail, wherever a password is set
(item 13); changing one needs the current password."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from werkzeug.security import check_password_hash

from provisioning import accounts, password_policy
from provisioning.audit import SYSTEM, AuditEntry
from provisioning.errors import DomainError
from provisioning.tenancy import Role, User
from tests.conftest import PASSWORD, Auth, csrf_token

REFUSED = {
    "short-one": "at least 12 characters",
    "x" * 201: "at most 200 characters",
    "password1234": "most common",
    "QWERTYUIOP123": "most common",
    "iloveyou2024!": "most common",
    "1qaz2wsx3edc": "most common",
    "Dragon!!!!!!!!!": "most common",
    "jane.doe-secret-2026": "e-mail",
}
ACCEPTED = ["correct-horse-battery", "Tr0ub4dour&3-extra", "dragon fruit salad at noon", "ü" * 12]


@pytest.mark.parametrize("password,reason", REFUSED.items())
def test_weak_passwords_are_refused_with_the_reason(password, reason):
    assert reason in password_policy.problem(password, "jane.doe@example.com")


@pytest.mark.parametrize("password", ACCEPTED)
def test_long_uncommon_passwords_pass(password):
    assert password_policy.problem(password, "jane.doe@example.com") is None


def test_the_vendored_list_holds_the_common_passwords():
    common = password_policy.common_passwords()
    assert len(common) == 30_000 and {"123456", "password", "qwertyuiop"} <= common


def test_the_domain_refuses_a_common_password_whatever_the_caller(session):
    with pytest.raises(DomainError, match="most common"):
        accounts.create_user(session, SYSTEM, "new@example.com", password="password1234")


def test_the_admins_cli_refuses_a_common_password(app, session):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["admins", "create", "root@example.com"], input="qwerty123456\n")
    assert result.exit_code == 2 and "most common" in result.output
    assert session.scalars(select(User).where(User.email == "root@example.com")).first() is None


def test_an_invitation_refuses_a_common_password(client, make, session):
    company = make.company()
    _, token = accounts.add_member(session, SYSTEM, company, "new@example.com", "", Role.MEMBER)
    session.commit()
    url = f"/invite/{token}"
    form_token = csrf_token(client, url)
    weak = "password123456"
    response = client.post(url, data={"password": weak, "confirm": weak, "csrf_token": form_token})
    assert response.status_code == 400 and b"most common" in response.data
    assert (
        session.scalars(select(User).where(User.email == "new@example.com")).one().password_hash
        is None
    )


def change(client, current, new, confirm=None):
    token = csrf_token(client, "/account/password")
    return client.post(
        "/account/password",
        data={
            "current_password": current,
            "password": new,
            "confirm": confirm or new,
            "csrf_token": token,
        },
    )


def test_changing_the_password_needs_the_current_one(client, auth, make, session):
    user = make.user(make.company())
    auth.login(user)
    response = change(client, "not-the-current-one", "a-brand-new-secret-42")
    assert response.status_code == 400 and b"not your current password" in response.data
    assert change(client, PASSWORD, "qwertyuiop123").status_code == 400  # common
    assert change(client, PASSWORD, "a-brand-new-secret-42", "typo").status_code == 400
    session.refresh(user)
    assert check_password_hash(user.password_hash, PASSWORD)

    assert change(client, PASSWORD, "a-brand-new-secret-42").status_code == 302
    actions = session.scalars(select(AuditEntry.action).where(AuditEntry.target_id == str(user.id)))
    assert "user.password_change" in actions.all()
    Auth(client).logout()
    assert Auth(client).login(user, PASSWORD).status_code == 401
    assert Auth(client).login(user, "a-brand-new-secret-42").status_code == 302


def test_guessing_the_current_password_is_throttled(client, auth, make, frozen_clock):
    auth.login(make.user(make.company()))
    statuses = [
        change(client, f"guess-number-{n}", "a-brand-new-secret-42").status_code for n in range(7)
    ]
    assert statuses[:5] == [400] * 5 and statuses[5:] == [429, 429]
