"""The outbound guard: provider calls (and their secrets) never reach a private address,
production keeps provider URLs on the providers' own hosts, and both are said in plain
words when an admin saves a configuration and when a call is made."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from sqlalchemy import select

from portal.config import ConfigError, load
from portal.demo import D360_PARTNER, META_APP, TWILIO_MASTER, partner_values
from provisioning.audit import AuditEntry
from provisioning.crypto import Keyring
from provisioning.errors import BlockedDestination
from provisioning.meta.api import GraphClient
from provisioning.outbound import GuardedTransport, OutboundPolicy, address_refusal
from provisioning.partners import PROVIDERS, Environment, PartnerConfiguration, Provider
from tests.test_crypto import meta_values

PUBLIC = "http://portal.test"
SECRETS = (META_APP["app_secret"], D360_PARTNER["api_key"], TWILIO_MASTER["auth_token"])


class Listener:
    """An HTTP server on loopback that keeps every request it gets (or answers with a
    redirect, to play a sandbox that sends the caller elsewhere)."""

    def __init__(self, redirect_to: str | None = None) -> None:
        self.requests: list[str] = []
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                listener.requests.append(f"{self.requestline}\n{self.headers}\n{body!r}")
                if redirect_to:
                    self.send_response(302)
                    self.send_header("Location", redirect_to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            do_POST = do_GET

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


@pytest.fixture
def network(app, monkeypatch):
    """The portal calls providers over the real network (no test transport)."""
    monkeypatch.setitem(app.config, "PROVIDER_TRANSPORT", None)


def stored_config(session, provider: Provider, **changes: str) -> PartnerConfiguration:
    """A configuration written as it would be before this guard (or by a database edit),
    without the save-time check: the call-time guard must hold on its own."""
    values = partner_values("https://sandbox.invalid", PUBLIC)[provider] | changes
    secret = {f.name for f in PROVIDERS[provider].fields if f.secret}
    config = PartnerConfiguration(
        provider=provider, environment=Environment.SANDBOX, name=f"{provider.value} test",
        settings={k: v for k, v in values.items() if k not in secret},
        secrets={k: v for k, v in values.items() if k in secret},
    )  # fmt: skip
    session.add(config)
    session.commit()
    return config


def click_test_connection(auth, config) -> str:
    response = auth.post(
        f"/admin/partners/{config.id}/check", form_page="/admin/partners", follow_redirects=True
    )
    assert response.status_code == 200
    return response.get_data(as_text=True)


URL_FIELDS = {
    Provider.META: "graph_base_url",
    Provider.DIALOG360: "api_base_url",
    Provider.TWILIO: "api_base_url",
}


# -- call time: Test connection sends the app secret, the partner key, the master token ---
@pytest.mark.parametrize("provider", list(Provider))
def test_a_loopback_listener_that_is_not_the_sandbox_receives_nothing(
    provider, auth, make, session, network, listener
):
    config = stored_config(session, provider, **{URL_FIELDS[provider]: listener.url})
    auth.login(make.admin())
    page = click_test_connection(auth, config)
    assert "Connection failed: the configuration cannot be used" in page
    assert "127.0.0.1 is a loopback address" in page
    assert listener.requests == []
    session.expire_all()
    assert config.last_check_ok is False


@pytest.mark.parametrize(
    ("base_url", "said"),
    [
        ("http://10.0.0.5:8080/graph", "10.0.0.5 is a private address"),
        ("http://169.254.169.254/latest", "169.254.169.254 is a link-local address"),
        ("http://[::1]:6379", "::1 is a loopback address"),
        ("http://[::ffff:10.0.0.5]/", "10.0.0.5 is a private address"),
        ("http://localhost:6379", "localhost is a loopback name"),
    ],
)
def test_private_link_local_and_loopback_base_urls_are_refused_at_call_time(
    base_url, said, auth, make, session, network
):
    config = stored_config(session, Provider.META, graph_base_url=base_url)
    auth.login(make.admin())
    page = click_test_connection(auth, config)
    assert "Connection failed: the configuration cannot be used" in page and said in page


def test_a_redirect_from_the_sandbox_to_a_private_address_is_not_followed(
    app, auth, make, session, network, listener, monkeypatch
):
    sandbox = Listener(redirect_to=f"{listener.url}/steal")
    try:
        monkeypatch.setitem(app.config, "SANDBOX_URL", sandbox.url)
        config = stored_config(session, Provider.META, graph_base_url=f"{sandbox.url}/meta/graph")
        auth.login(make.admin())
        page = click_test_connection(auth, config)
        assert "Connection failed" in page
        assert len(sandbox.requests) == 1  # the sandbox itself is reachable
    finally:
        sandbox.close()
    assert listener.requests == []


def test_a_redirect_hop_to_a_private_address_is_refused_by_the_guard(listener):
    """Provider clients follow no redirects; a client that did would be stopped per hop."""
    sandbox = Listener(redirect_to=f"{listener.url}/steal")
    policy = OutboundPolicy.build(sandbox_urls=[sandbox.url])
    try:
        with (
            httpx.Client(transport=GuardedTransport(policy), follow_redirects=True) as client,
            pytest.raises(BlockedDestination, match=r"127\.0\.0\.1 is a loopback address"),
        ):
            client.get(f"{sandbox.url}/graph", headers={"Authorization": "Bearer secret"})
        assert len(sandbox.requests) == 1
    finally:
        sandbox.close()
    assert listener.requests == []


# -- DNS: every address checked, the connection pinned to the one checked ------------------
class Recorder(httpx.BaseTransport):
    """Stands for the network: what would have been sent where."""

    def __init__(self) -> None:
        self.sent: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return httpx.Response(200, json={"id": "1", "name": "app"})


def guard_with(answers: list[list[str]]) -> tuple[GuardedTransport, Recorder, list[str]]:
    asked: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        return answers[len(asked) - 1]

    recorder = Recorder()
    guard = GuardedTransport(OutboundPolicy(resolve=resolve), network=lambda: recorder)
    return guard, recorder, asked


@pytest.mark.parametrize(
    "addresses",
    [["10.1.2.3"], ["169.254.169.254"], ["::1"], ["93.184.216.34", "192.168.0.7"]],
)
def test_a_name_resolving_to_a_private_address_is_refused_before_connecting(addresses):
    guard, recorder, _ = guard_with([addresses])
    with (
        GraphClient("https://graph.rebind.example", "v23.0", transport=guard) as graph,
        pytest.raises(BlockedDestination, match=r"refused to connect to graph\.rebind"),
    ):
        graph.check_app("1000", "app-secret")
    assert recorder.sent == []


def test_dns_rebinding_cannot_move_a_checked_connection():
    """Resolved once per request; the connection goes to the address that was checked,
    with the name kept for Host and TLS (SNI, certificate)."""
    guard, recorder, asked = guard_with([["93.184.216.34"], ["127.0.0.1"]])
    with GraphClient("https://graph.rebind.example", "v23.0", transport=guard) as graph:
        graph.check_app("1000", "app-secret")
        (sent,) = recorder.sent
        assert sent.url.host == "93.184.216.34" and sent.headers["Host"] == "graph.rebind.example"
        assert sent.extensions["sni_hostname"] == "graph.rebind.example"
        with pytest.raises(BlockedDestination, match=r"127\.0\.0\.1 is a loopback"):
            graph.check_app("1000", "app-secret")  # the name now points at loopback
    assert asked == ["graph.rebind.example"] * 2 and len(recorder.sent) == 1


def test_each_host_name_has_its_own_connection_pool():
    """Pools are keyed by address: a connection whose certificate was checked for one name
    never carries another name's request (two names on one address)."""
    pools: list[Recorder] = []

    def open_pool() -> Recorder:
        pools.append(Recorder())
        return pools[-1]

    policy = OutboundPolicy(resolve=lambda host, port: ["93.184.216.34"])
    with httpx.Client(transport=GuardedTransport(policy, network=open_pool)) as client:
        for url in ("https://a.example/", "https://b.example/", "https://a.example/x"):
            client.get(url)
    sent = [[r.headers["Host"] for r in pool.sent] for pool in pools]
    assert sent == [["a.example", "a.example"], ["b.example"]]


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
        "100.64.0.1", "0.0.0.0", "224.0.0.1", "::1", "::", "fe80::1", "fc00::1",
        "::ffff:127.0.0.1", "2002:a00:1::", "64:ff9b::a00:1", "ff02::1",
    ],
)  # fmt: skip
def test_non_public_addresses_are_refused(address):
    assert address_refusal(address) is not None


@pytest.mark.parametrize("address", ["93.184.216.34", "157.240.22.35", "2a03:2880:f10c::1"])
def test_public_addresses_are_allowed(address):
    assert address_refusal(address) is None


# -- save time: a clear form error ---------------------------------------------------------
def save_meta(auth, **changes):
    data = {"environment": "sandbox", "name": "Meta app"} | meta_values() | changes
    return auth.post("/admin/partners/new/meta", data, form_page="/admin/partners/new/meta")


@pytest.mark.parametrize(
    ("base_url", "said"),
    [
        ("http://10.0.0.5/graph", "10.0.0.5 is a private address"),
        ("http://169.254.169.254/", "169.254.169.254 is a link-local address"),
        ("http://[::1]:8080/", "::1 is a loopback address"),
        ("http://localhost:6379/", "localhost is a loopback name"),
        ("http://127.0.0.1:5999/", "127.0.0.1 is a loopback address"),  # not the sandbox
    ],
)
def test_saving_a_private_base_url_shows_a_form_error(base_url, said, auth, make, session):
    auth.login(make.admin())
    response = save_meta(auth, graph_base_url=base_url)
    assert response.status_code == 400
    assert said in response.get_data(as_text=True)
    assert session.scalars(select(PartnerConfiguration)).all() == []


def test_the_configured_sandbox_may_be_on_loopback(app, auth, make, session):
    auth.login(make.admin())
    sandbox = app.config["SANDBOX_URL"]  # http://127.0.0.1:5001 outside production
    response = save_meta(auth, graph_base_url=f"{sandbox}/meta/graph")
    assert response.status_code == 302


# -- production: the providers' own hosts, over https --------------------------------------
@pytest.fixture
def production(app, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_ENV", "production")


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({"graph_base_url": "https://graph.evil.example"}, "graph.evil.example is not a provider"),
        ({"graph_base_url": "http://graph.facebook.com"}, "must use https in production"),
        ({"sdk_url": "https://evil.example/sdk.js"}, "evil.example is not a provider host"),
        ({"graph_base_url": "http://127.0.0.1:5001/meta/graph"}, "127.0.0.1 is not a provider"),
    ],
)
def test_production_keeps_provider_urls_on_the_providers_hosts(
    changes, said, auth, make, session, production
):
    auth.login(make.admin())
    response = save_meta(auth, **changes)
    assert response.status_code == 400 and said in response.get_data(as_text=True)
    assert save_meta(auth).status_code == 302  # the real hosts


def test_production_allowlist_adds_hosts(app, auth, make, session, production, monkeypatch):
    url = "/admin/partners/new/twilio"
    data = {"environment": "production", **TWILIO_MASTER,
            "api_base_url": "https://twilio-egress.example.com"}  # fmt: skip
    auth.login(make.admin())
    refused = auth.post(url, data, form_page=url)
    assert refused.status_code == 400 and b"PROVIDER_URL_ALLOWLIST" in refused.data
    monkeypatch.setitem(app.config, "PROVIDER_URL_ALLOWLIST", ("twilio-egress.example.com",))
    assert auth.post(url, data, form_page=url).status_code == 302


def test_production_refuses_other_hosts_at_call_time(app, auth, make, session, production):
    config = stored_config(session, Provider.META, graph_base_url="https://graph.evil.example")
    recorder = Recorder()
    app.config["PROVIDER_TRANSPORT"], saved = recorder, app.config["PROVIDER_TRANSPORT"]
    try:
        auth.login(make.admin())
        page = click_test_connection(auth, config)
    finally:
        app.config["PROVIDER_TRANSPORT"] = saved
    assert "graph.evil.example is not a provider host allowed in production" in page
    assert recorder.sent == []


def test_the_allowlist_must_name_hosts(tmp_path):
    overrides = {"SECRET_KEY": "x", "KEYRING": Keyring.generate()}
    assert load(tmp_path, overrides | {"PROVIDER_URL_ALLOWLIST": "a.example.com, *.b.example"})[
        "PROVIDER_URL_ALLOWLIST"
    ] == ("a.example.com", "*.b.example")
    with pytest.raises(ConfigError, match="not a host name"):
        load(tmp_path, overrides | {"PROVIDER_URL_ALLOWLIST": "https://a.example.com:443/x"})


# -- the audit trail --------------------------------------------------------------------
def test_test_connection_is_audited_without_secrets(auth, make, session, network, listener):
    config = stored_config(session, Provider.DIALOG360, api_base_url=listener.url)
    admin = make.admin()
    auth.login(admin)
    click_test_connection(auth, config)
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "partner_configuration.check")
    ).one()
    assert entry.actor_id == admin.id and entry.target_id == str(config.id)
    assert entry.details["ok"] is False and "loopback" in entry.details["message"]
    assert not any(secret in str(entry.details) for secret in SECRETS)
