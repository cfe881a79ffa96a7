import pytest
from sqlalchemy import text

from provisioning import accounts
from provisioning.audit import SYSTEM
from provisioning.db import utcnow
from provisioning.errors import DomainError
from provisioning.login_throttle import ACCOUNT, LoginThrottle, keys_for
from provisioning.tenancy import Role
from tests.conftest import PASSWORD, csrf_token


def test_login_lands_a_member_on_their_company(client, auth, make):
    company = make.company("Acme")
    user = make.user(company, Role.MEMBER)
    response = auth.login(user)
    assert response.status_code == 302
    assert client.get("/").location.endswith("/c/acme/")


def test_wrong_password_is_refused_with_401_and_recorded(client, auth, make, session):
    user = make.user()
    response = auth.login(user, "not-the-password")
    assert response.status_code == 401
    assert b"Wrong e-mail or password" in response.data
    account_key = keys_for(user.email, "127.0.0.1")[0][0]
    assert session.get(LoginThrottle, account_key).failures == 1


def test_unknown_email_looks_like_a_wrong_password(auth):
    response = auth.login("nobody@example.com", "whatever-password")
    assert response.status_code == 401


def test_logins_are_throttled_after_repeated_failures(client, auth, make):
    user = make.user()
    for _ in range(ACCOUNT.free):
        assert auth.login(user, "wrong-password-123").status_code == 401
    response = auth.login(user)  # even the right password is refused now
    assert response.status_code == 429
    assert b"Too many failed attempts" in response.data
    assert client.get("/admin/").status_code == 302


def test_post_without_csrf_token_is_refused(client, make):
    user = make.user()
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 400
    assert b"form expired" in response.data


def test_logout_needs_post_and_ends_the_session(client, auth, make):
    company = make.company()
    auth.login(make.user(company))
    assert client.get("/logout").status_code == 405
    auth.logout()
    assert client.get(f"/c/{company.slug}/").status_code == 302


def test_deactivating_a_user_ends_their_sessions(client, auth, make, session):
    company = make.company()
    user = make.user(company)
    auth.login(user)
    assert client.get(f"/c/{company.slug}/").status_code == 200
    accounts.set_user_active(session, SYSTEM, user, False)
    session.commit()
    assert client.get(f"/c/{company.slug}/").status_code == 302


def test_login_never_redirects_off_site(client, make):
    user = make.user(make.company())
    token = csrf_token(client, "/login")
    response = client.post(
        "/login?next=//evil.example/x",
        data={"email": user.email, "password": PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302 and "evil" not in response.location


def test_session_cookie_is_hardened(app, auth, make):
    response = auth.login(make.user())
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_invitation_sets_a_password_once(client, make, session):
    company = make.company()
    _, token = accounts.add_member(session, SYSTEM, company, "new@example.com", "", Role.MEMBER)
    session.commit()
    url = f"/invite/{token}"
    form_token = csrf_token(client, url)
    response = client.post(
        url, data={"password": "short", "confirm": "short", "csrf_token": form_token}
    )
    assert response.status_code == 400
    response = client.post(
        url,
        data={
            "password": "a-good-password",
            "confirm": "a-good-password",
            "csrf_token": form_token,
        },
    )
    assert response.status_code == 302
    assert client.get(f"/c/{company.slug}/").status_code == 200
    assert client.get(url).status_code == 404  # used: the link is dead


def test_a_set_password_link_is_spent_once_even_by_two_submissions_at_once(make, session):
    """Both tabs checked the link; the other one spent it before this one set a password."""
    _, token = accounts.add_member(
        session, SYSTEM, make.company(), "new@example.com", "", Role.MEMBER
    )
    session.commit()
    invitation, _ = accounts.invitation_user(session, token)  # this tab's check
    session.execute(
        text("UPDATE invitations SET used_at = :now WHERE id = :id"),
        {"now": utcnow(), "id": invitation.id},
    )  # the other tab's acceptance
    with pytest.raises(DomainError, match="invalid, used or expired"):
        accounts.accept_invitation(session, token, "a-good-password-43", forgot_link="/forgot")
