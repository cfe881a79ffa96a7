"""Every response carries the security headers; no page needs an inline script or style."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from portal import create_app
from portal.access import public
from portal.security_headers import content_security_policy
from provisioning import partners, runs
from provisioning.audit import SYSTEM
from provisioning.events import body_digest, store_event
from provisioning.health import upsert_channel
from provisioning.meta import registration
from provisioning.meta.models import MetaWhatsAppClient, MetaWhatsAppPhoneNumber
from provisioning.meta.onboarding import EMBEDDED_SIGNUP
from provisioning.partners import PROVIDERS, Environment, Provider
from provisioning.sandbox.twilio.regulations import REGULATIONS
from provisioning.tenancy import Role
from provisioning.twilio.models import RegulatoryBundle, SmsPhoneNumber
from tests.test_access import url_for_rule
from tests.test_api_twilio import a_template
from tests.test_production_lockdown import production_overrides

ROOT = Path(__file__).resolve().parent.parent
META_SDK_PAGES = {"onboarding.connect_meta", "twilio_senders.index", "sandbox_admin.index"}
CONNECT_PAGES = META_SDK_PAGES | {"onboarding.connect_dialog360"}


def directives(response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    return {
        name: sources
        for name, *sources in (part.split() for part in policy.split(";") if part.strip())
    }


def assert_security_headers(response, *, connect_page: bool = False) -> None:
    csp = directives(response)
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["default-src"] == ["'self'"] and csp["object-src"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"] and csp["form-action"] == ["'self'"]
    assert "'unsafe-inline'" not in csp["script-src"] and "'unsafe-eval'" not in csp["script-src"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    expected = "strict-origin-when-cross-origin" if connect_page else "same-origin"
    assert response.headers["Referrer-Policy"] == expected


class InlineCode(HTMLParser):
    """Collects what a CSP without 'unsafe-inline' would block, and the scripts loaded."""

    def __init__(self) -> None:
        super().__init__()
        self.blocked: list[str] = []
        self.script_sources: list[str] = []
        self._inline_script = False

    def handle_starttag(self, tag, attrs):
        names = dict(attrs)
        for name, value in attrs:
            if name.startswith("on") or name == "style":
                self.blocked.append(f"<{tag} {name}={value!r}>")
            if name in {"href", "src", "action"} and (value or "").startswith("javascript:"):
                self.blocked.append(f"<{tag} {name}={value!r}>")
        if tag == "style":
            self.blocked.append("<style> element")
        if tag == "script":
            if names.get("src"):
                self.script_sources.append(names["src"])
            else:
                self._inline_script = True

    def handle_data(self, data):
        if self._inline_script and data.strip():
            self.blocked.append(f"inline <script>: {data.strip()[:60]!r}")

    def handle_endtag(self, tag):
        if tag == "script":
            self._inline_script = False


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def assert_page_runs_under_its_policy(response) -> None:
    """No inline code, and every script the page loads is one its policy allows."""
    parser = InlineCode()
    parser.feed(response.get_data(as_text=True))
    assert parser.blocked == [], parser.blocked
    allowed = directives(response)["script-src"]
    for src in parser.script_sources:
        assert src.startswith("/") or origin(src) in allowed, (src, allowed)


@pytest.fixture
def world(connected_sandbox, make, session):
    """A company with a channel, a run and an event; every provider configured."""
    sandbox = connected_sandbox(12)
    company = make.company("Headers Inc")
    owner = make.user(company, Role.ADMIN)
    channel = upsert_channel(session, company.id, Provider.META, "h-1", phone_number="+15550001")
    run = runs.start_run(session, SYSTEM, EMBEDDED_SIGNUP, company.id)
    body = json.dumps({"object": "whatsapp_business_account", "entry": []}).encode()
    event_id = store_event(session, Provider.META, body_digest(body), "test", body)
    template = a_template(session, company.id, "AC" + "0" * 32)
    waba = MetaWhatsAppClient(company_id=company.id, waba_id="waba-h", name="H")
    session.add(waba)
    session.flush()
    number = MetaWhatsAppPhoneNumber(
        company_id=company.id,
        client_id=waba.id,
        phone_number_id="h-1",
        display_phone_number="+15550001",
    )
    session.add(number)
    registration_run = runs.start_run(
        session, SYSTEM, registration.FLOW, company.id,
        context={"number_key": "h-1", "phone_number_ids": ["h-1"]},
    )  # fmt: skip
    bundle = RegulatoryBundle(
        company_id=company.id, iso_country="DE", number_type="local", end_user_type="business",
        regulation_sid=REGULATIONS[0]["sid"], friendly_name="H", email="h@h.test",
        status="twilio-approved", bundle_sid="BU" + "2" * 32,
    )  # fmt: skip
    sms_number = SmsPhoneNumber(phone_number="+18885550100", company_id=company.id,
                                status="active", provider_phone_id="PN" + "3" * 32)  # fmt: skip
    session.add_all([bundle, sms_number])
    session.commit()
    ids = {
        "bundle_id": bundle.id,
        "number_id": sms_number.id,
        "company_id": company.id,
        "user_id": owner.id,
        "config_id": sandbox.configs[Provider.META].id,
        "channel_id": channel.id,
        "run_id": run.id,
        "event_id": event_id,
        "template_id": template.id,
        "wa_number_id": number.id,
        "registration_id": registration_run.id,
    }
    return company, ids, sandbox


def test_every_get_route_carries_the_headers_and_runs_no_inline_code(
    app, client, auth, make, world
):
    company, ids, sandbox = world
    auth.login(make.admin())
    statuses = {}
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods:
            continue
        url = (
            "/static/app.css"
            if rule.endpoint == "static"
            else url_for_rule(rule, company.slug, ids)
        )
        response = client.get(url)
        statuses[rule.endpoint] = response.status_code
        assert response.status_code < 500, (url, response.status_code)
        assert_security_headers(response, connect_page=rule.endpoint in CONNECT_PAGES)
        script_src = directives(response)["script-src"]
        if rule.endpoint in META_SDK_PAGES:
            assert script_src == ["'self'", origin(sandbox.base_url)], url
        else:
            assert script_src == ["'self'"], url
        if response.mimetype == "text/html":
            assert_page_runs_under_its_policy(response)
    # the walk reached the real pages, the connect pages with their SDK among them
    not_ok = {endpoint: status for endpoint, status in statuses.items() if status != 200}
    api = {e for e in not_ok if app.view_functions[e].__dict__.get("access") == "api_key"}
    assert all(not_ok[e] == 401 for e in api)  # the API: a signed-in browser has no key
    not_ok = {e: status for e, status in not_ok.items() if e not in api}
    assert set(not_ok) <= {
        "auth.login",  # signed in already: a redirect
        "auth.home",
        "auth.accept_invitation",  # no such invitation
        "invitations.accept",
        "password_reset.open_link",  # no such reset link
        "password_reset.choose",
        "onboarding.channel_messaging_events",  # a Meta channel: no 360dialog deliveries
        "onboarding_return.dialog360_return",  # no launch open
        "hosted.link_page",  # no such link
        "hosted.done",
        "webhooks.meta_verify",  # no verify token
        "event_endpoints.detail",  # no endpoint registered
        # the API: a signed-in browser has no key (401)
        "api_companies.Companies",
        "api_companies.CompanyItem",
        "api_channels.Channels",
        "api_channels.ChannelItem",
    }, not_ok
    assert all(statuses[endpoint] == 200 for endpoint in CONNECT_PAGES)
    assert b"/meta/connect/en_US/sdk.js" in client.get(f"/c/{company.slug}/connect/meta").data


def test_errors_webhook_answers_and_static_files_carry_the_headers(client):
    answers = [
        client.get("/no/such/page"),  # 404
        client.get("/logout"),  # 405
        client.post("/login", data={"email": "a@example.com", "password": "x"}),  # CSRF 400
        client.post("/webhooks/meta", data=b"{}", content_type="application/json"),
        client.post("/webhooks/360dialog", data=b"{}", content_type="application/json"),
        client.post("/webhooks/twilio/status", data={"MessageSid": "SM1"}),
        client.post("/webhooks/twilio/events/unknown-token", data=b"[]"),
        client.get("/webhooks/meta?hub.mode=subscribe&hub.verify_token=no&hub.challenge=1"),
        client.get("/healthz"),
        client.get("/static/embedded_signup.js"),
        client.get("/login"),
    ]
    assert [r.status_code for r in answers][:3] == [404, 405, 400]
    for response in answers:
        assert response.status_code < 500
        assert_security_headers(response)


def test_a_server_error_page_carries_the_headers(tmp_path):
    app = create_app({**production_overrides(tmp_path), "PORTAL_ENV": "development"})
    app.add_url_rule("/boom", "boom", public(lambda: 1 / 0))
    response = app.test_client().get("/boom")
    assert response.status_code == 500
    assert_security_headers(response)


def test_hsts_in_production_only(app, tmp_path):
    production = create_app(production_overrides(tmp_path))
    hsts = production.test_client().get("/static/app.css").headers["Strict-Transport-Security"]
    assert hsts == "max-age=63072000; includeSubDomains"
    assert "Strict-Transport-Security" not in app.test_client().get("/static/app.css").headers


def test_hsts_seconds_is_configurable(tmp_path, monkeypatch):
    monkeypatch.setenv("HSTS_SECONDS", "600")
    production = create_app(production_overrides(tmp_path))
    hsts = production.test_client().get("/login").headers["Strict-Transport-Security"]
    assert hsts == "max-age=600; includeSubDomains"


def test_the_real_meta_sdk_is_allowed_on_its_pages_only(
    app, client, auth, make, session, monkeypatch
):
    """With real providers, the connect page loads https://connect.facebook.net and its
    policy allows exactly Meta's origins; every other page allows none of them."""
    monkeypatch.setitem(app.config, "PROVIDER_ENVIRONMENT", "production")
    partners.create_configuration(
        session, SYSTEM, Provider.META, Environment.PRODUCTION, "",
        {"app_id": "1234567", "app_secret": "s3cret-value", "config_id": "7654321",
         "webhook_verify_token": "verify-token-value", "graph_api_version": "v25.0",
         **{f.name: f.default for f in PROVIDERS[Provider.META].fields if f.kind == "url"
            and f.default}},
    )  # fmt: skip
    company = make.company("Real Meta")
    auth.login(make.user(company, Role.ADMIN))
    page = client.get(f"/c/{company.slug}/connect/meta")
    assert page.status_code == 200
    assert b'src="https://connect.facebook.net/en_US/sdk.js"' in page.data
    assert_page_runs_under_its_policy(page)
    csp = directives(page)
    assert csp["script-src"] == ["'self'", "https://connect.facebook.net"]
    assert "https://www.facebook.com" in csp["frame-src"] and "'none'" not in csp["frame-src"]
    assert "https://graph.facebook.com" in csp["connect-src"]
    dashboard = client.get(f"/c/{company.slug}/")
    assert "facebook" not in dashboard.headers["Content-Security-Policy"]
    assert directives(dashboard)["style-src"] == ["'self'"]


def test_the_sdk_origin_is_the_configured_sdk_url_s_in_any_environment(
    app, client, auth, make, session
):
    """The policy follows the Meta configuration's ``sdk_url``, not the provider
    environment: a sandbox-environment configuration naming Meta's real SDK gets Meta's
    origins."""
    assert app.config["PROVIDER_ENVIRONMENT"] == "sandbox"
    partners.create_configuration(
        session, SYSTEM, Provider.META, Environment.SANDBOX, "",
        {"app_id": "1234567", "app_secret": "s3cret-value", "config_id": "7654321",
         "webhook_verify_token": "verify-token-value", "graph_api_version": "v25.0",
         **{f.name: f.default for f in PROVIDERS[Provider.META].fields if f.kind == "url"
            and f.default}},
    )  # fmt: skip
    company = make.company("Sandbox env, real SDK")
    auth.login(make.user(company, Role.ADMIN))
    page = client.get(f"/c/{company.slug}/connect/meta")
    assert page.status_code == 200
    assert_page_runs_under_its_policy(page)
    assert directives(page)["script-src"] == ["'self'", "https://connect.facebook.net"]


def test_any_other_sdk_host_gets_its_origin_and_nothing_else():
    for url, origin_ in (
        ("http://127.0.0.1:8001/meta/connect/en_US/sdk.js", "http://127.0.0.1:8001"),
        ("https://SDK.example:9443/sdk.js", "https://sdk.example:9443"),
    ):
        policy = content_security_policy("meta_sdk", url)
        assert f"script-src 'self' {origin_};" in policy
        assert "facebook" not in policy and "unsafe-inline" not in policy
    assert content_security_policy("meta_sdk", None) == content_security_policy(None)


def test_violations_are_reported_where_configured(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "CSP_REPORT_URI", "https://csp.example/report")
    assert directives(client.get("/login"))["report-uri"] == ["https://csp.example/report"]


INLINE_IN_TEMPLATES = re.compile(
    r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\bstyle\s*=|\son[a-z]+\s*=\s*[\"']|javascript:",
    re.IGNORECASE,
)


def test_no_template_has_inline_script_handler_or_style():
    found = [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for path in sorted((ROOT / "templates").rglob("*.html"))
        for match in INLINE_IN_TEMPLATES.finditer(path.read_text())
    ]
    assert found == []
