"""Bad input gets a 4xx that says what is wrong, never a 500, on SQLite and PostgreSQL.

One test per kind of input the fuzz test (``tests/test_fuzz.py``) or a review found
answering 500 before: ids past 64 bits, NUL characters, JSON where a form belongs, pages
past any offset, an empty ``bodySHA256``, a ``state`` that is not text, malformed but
validly signed Meta payloads, and a Twilio that refuses the platform's credentials.
"""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from flask_wtf import FlaskForm
from sqlalchemy import func, select

from portal.forms import Form
from portal.input_checks import MAX_ID, NUL_MESSAGE
from provisioning import partners
from provisioning.audit import SYSTEM
from provisioning.events import WebhookEvent
from provisioning.partners import Provider
from provisioning.tenancy import Membership, Role, User
from tests.conftest import csrf_token
from tests.route_inputs import int_arguments, routes


@pytest.fixture
def acme(make):
    company = make.company("Acme")
    return company, make.user(company, Role.ADMIN), make.admin()


@pytest.fixture
def csrf_off(app, monkeypatch):
    """Call after signing in: these tests are about the input, not the token."""
    return lambda: monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", False)


def message_of(response) -> str:
    return response.get_data(as_text=True)


def test_ids_past_64_bits_are_404_on_every_id_route(app, client, auth, acme, csrf_off):
    company, _, platform = acme
    auth.login(platform)  # platform admins pass every access check: the id is what counts
    csrf_off()
    checked = []
    for route in routes(app):
        ints = int_arguments(route.rule)
        if not ints:
            continue
        for too_big in (MAX_ID + 1, 2**64, 10**30):
            values = {n: too_big if n in ints else company.slug for n in route.rule.arguments}
            if "status" in values:
                values["status"] = "active"
            url = route.rule.build(values)[1]
            response = client.open(url, method=route.method, data={})
            assert response.status_code == 404, (str(route), too_big, response.status_code)
        checked.append(route.rule.rule)
    assert len(set(checked)) >= 28  # every id route of issue 12 (new ones add to these)
    assert client.get(f"/admin/companies/{MAX_ID}").status_code == 404  # the largest id: fine


@pytest.mark.parametrize(
    ("name", "value"), [("email", "ann\x00@example.com"), ("password", "x\x00y")]
)
def test_a_nul_in_the_login_form_is_a_400_that_says_so(client, name, value):
    form = {"email": "ann@example.com", "password": "correct-horse-battery", name: value}
    response = client.post("/login", data=form | {"csrf_token": csrf_token(client, "/login")})
    assert response.status_code == 400
    assert NUL_MESSAGE in message_of(response)


def test_a_nul_in_a_stored_field_is_refused_and_nothing_is_written(
    client, auth, acme, session, csrf_off
):
    company, admin, _ = acme
    auth.login(admin)
    csrf_off()
    users = session.scalar(select(func.count(User.id)))
    response = client.post(
        f"/c/{company.slug}/team/invite",
        data={"email": "new@example.com", "name": "Ann\x00Lee", "role": "member"},
    )
    assert response.status_code == 400 and NUL_MESSAGE in message_of(response)
    assert session.scalar(select(func.count(User.id))) == users
    for url in (f"/c/{company.slug}/fleet/?status=%00", f"/c/{company.slug}%00/"):
        assert client.get(url).status_code == 400, url


def test_a_nul_in_a_json_string_is_refused_but_an_escaped_backslash_is_text(
    client, auth, acme, csrf_off
):
    company, admin, _ = acme
    auth.login(admin)
    csrf_off()
    url = f"/c/{company.slug}/connect/meta/complete"
    nul = client.post(url, data=b'{"state": "a\\u0000b"}', content_type="application/json")
    assert nul.status_code == 400 and NUL_MESSAGE in message_of(nul)
    text = client.post(url, data=b'{"state": "a\\\\u0000b"}', content_type="application/json")
    assert NUL_MESSAGE not in message_of(text)  # a backslash, then "u0000": plain text


@pytest.mark.parametrize("body", ["true", "[1, 2]", '{"email": 5, "password": ["x"]}', "null"])
def test_json_sent_to_a_form_fills_no_field(client, auth, acme, csrf_off, session, body):
    company, admin, _ = acme
    login = client.post("/login", data=body, content_type="application/json")
    assert login.status_code == 400  # the form is empty: the page asks again
    auth.login(admin)
    csrf_off()
    members = session.scalar(select(func.count(Membership.id)))
    invite = client.post(
        f"/c/{company.slug}/team/invite", data=body, content_type="application/json"
    )
    # a script is answered in JSON, with the form's errors (a page gets them flashed)
    assert invite.status_code == 400 and "required" in invite.get_json()["error"]
    assert session.scalar(select(func.count(Membership.id))) == members


def test_every_form_of_the_portal_reads_form_posts_only(app):
    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    stray = [
        f"{c.__module__}.{c.__qualname__}"
        for c in subclasses(FlaskForm)
        if c.__module__.startswith("portal.") and not issubclass(c, Form)
    ]
    assert stray == [], "derive these from portal.forms.Form"


def test_pages_and_query_ids_past_any_column_show_an_empty_list(client, auth, acme):
    _, _, platform = acme
    auth.login(platform)
    for url in (
        f"/admin/users?page={MAX_ID}",
        f"/admin/companies?page={2**70}",
        f"/admin/events/?page={MAX_ID}",
        f"/admin/360dialog/?page={MAX_ID}",
        f"/admin/twilio/?page={MAX_ID}",
        f"/admin/audit?page={MAX_ID}",
        f"/admin/audit?company={MAX_ID + 1}",
    ):
        assert client.get(url).status_code == 200, url


def test_a_twilio_callback_with_an_empty_body_hash_is_refused(app, client, connected_sandbox):
    sandbox = connected_sandbox(41, Provider.TWILIO)
    sid = sandbox.configs[Provider.TWILIO].value("account_sid")
    for query in ("?bodySHA256=", "?bodySHA256"):
        response = client.post(
            f"/webhooks/twilio/status{query}",
            data=json.dumps({"AccountSid": sid}),
            content_type="application/json",
            headers={"X-Twilio-Signature": "bm9wZQ=="},
        )
        assert response.status_code == 403, query


@pytest.mark.parametrize("state", [["a"], {"a": 1}, 5, True, 1.5])
def test_a_state_that_is_not_text_is_refused(
    client, auth, acme, connected_sandbox, csrf_off, state
):
    connected_sandbox(42, Provider.META, Provider.TWILIO)
    company, admin, _ = acme
    auth.login(admin)
    csrf_off()
    for url in ("connect/meta/complete", "whatsapp-senders/complete"):
        client.post(f"/c/{company.slug}/{url.replace('complete', 'launch')}")  # one is open
        response = client.post(f"/c/{company.slug}/{url}", json={"state": state})
        assert response.status_code == 400, (url, response.status_code)
        assert "state" in response.get_json()["error"]


MALFORMED_META = [
    {"entry": [None]},
    {"entry": ["x", 1]},
    {"entry": [{"changes": "x"}]},
    {"entry": [{"changes": [None]}]},
    {"entry": [{"changes": [{"field": 5}]}]},
    {"entry": [{"changes": [{"field": ["a"], "value": {}}]}]},
    {"entry": [{"changes": [{"field": "account_update", "value": "x"}]}]},
    {"entry": {"id": "1"}},
    [],
    "entry",
]


@pytest.mark.parametrize("payload", MALFORMED_META)
def test_a_validly_signed_malformed_meta_payload_is_a_400(
    client, session, connected_sandbox, payload
):
    sandbox = connected_sandbox(43, Provider.META)
    secret = sandbox.configs[Provider.META].value("app_secret")
    body = json.dumps(payload).encode()
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    response = client.post(
        "/webhooks/meta",
        data=body,
        content_type="application/json",
        headers={"X-Hub-Signature-256": f"sha256={signature}"},
    )
    assert response.status_code == 400
    assert "not a Meta webhook" in response.get_json()["error"]
    assert session.scalar(select(func.count(WebhookEvent.id))) == 0


def test_a_number_search_twilio_refuses_the_credentials_of_is_a_409_that_says_so(
    client, auth, acme, session, connected_sandbox
):
    sandbox = connected_sandbox(44, Provider.TWILIO)
    config = sandbox.configs[Provider.TWILIO]
    values = {f.name: config.value(f.name) for f in config.spec.fields}
    partners.update_configuration(
        session, SYSTEM, config, config.environment, config.name,
        values | {"auth_token": "a-token-twilio-does-not-know"},
    )  # fmt: skip
    session.commit()
    company, admin, _ = acme
    auth.login(admin)
    response = client.get(f"/c/{company.slug}/numbers/?country=US&number_type=local")
    assert response.status_code == 409
    assert "Twilio refused the platform" in message_of(response).replace("&#39;", "'")
