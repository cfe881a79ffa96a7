"""After sign-in, ``next`` is followed only when it is a path on this site (item 2)."""

import pytest

from portal.auth.redirects import safe_next
from tests.conftest import PASSWORD, csrf_token

NASTY = [
    "/%09/evil.example/",  # a tab: browsers drop it and read //evil.example/
    "/%0a/evil.example/",  # a newline: must not reach the Location header (was a 500)
    "/%0d%0aSet-Cookie:%20x=1",
    "//evil.example/",
    "///evil.example/",
    "/\\evil.example/",
    "/%5Cevil.example/",
    "\\\\evil.example/",
    "/ /evil.example/",
    "%20//evil.example/",
    "https://evil.example/",
    "HTTPS://evil.example/",
    "http:/evil.example/",
    "javascript:alert(1)",
    "data:text/html,x",
    "evil.example/",
    "/%E2%80%AE/evil",  # a right-to-left override
    "/\u3002evil.example",  # an ideographic full stop
    "",
    "/" + "a" * 3000,
]


def login_with_next(client, make, next_value: str):
    user = make.user(make.company("Acme"))
    token = csrf_token(client, "/login")
    return client.post(
        "/login",
        query_string={"next": next_value},
        data={"email": user.email, "password": PASSWORD, "csrf_token": token},
    )


@pytest.mark.parametrize("raw", NASTY)
def test_a_nasty_next_lands_on_the_home_page(client, make, raw):
    # The value goes in encoded once more, so the app sees exactly ``raw`` after decoding
    # ``%``-escapes of its own (the way a browser sends a crafted link).
    from urllib.parse import unquote

    response = login_with_next(client, make, unquote(raw))
    assert response.status_code == 302
    assert response.location == "/"


def test_a_nul_in_next_refuses_the_whole_request(client, make):
    # A NUL anywhere in a request is a 400 before any view runs (portal/input_checks.py).
    response = login_with_next(client, make, "/\x00/evil.example/")
    assert response.status_code == 400 and response.location is None


@pytest.mark.parametrize(
    "target",
    ["/", "/c/acme/", "/c/acme/fleet/?status=RED&page=2", "/notifications/#latest", "/a%20b"],
)
def test_a_path_on_this_site_is_followed(client, make, target):
    response = login_with_next(client, make, target)
    assert response.status_code == 302 and response.location == target


@pytest.mark.parametrize("raw", [*NASTY, None, 7, "/ok\x7f"])
def test_safe_next_refuses_everything_but_a_plain_path(raw):
    from urllib.parse import unquote

    assert safe_next(unquote(raw) if isinstance(raw, str) else raw) is None


def test_an_unauthenticated_visit_returns_to_the_page_after_sign_in(client, make):
    company = make.company("Acme")
    user = make.user(company)
    to_login = client.get("/c/acme/fleet/")
    assert to_login.status_code == 302
    token = csrf_token(client, to_login.location)
    response = client.post(
        to_login.location, data={"email": user.email, "password": PASSWORD, "csrf_token": token}
    )
    assert response.location == "/c/acme/fleet/"
