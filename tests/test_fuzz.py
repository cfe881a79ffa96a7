"""Fuzzing: every route, as every kind of user, with hostile values; no answer is a 5xx.

The routes come from ``app.url_map`` and the inputs of each from tracing the app
(``tests/route_inputs.py``): every query key, form field and JSON key a view reads gets
generated values (hypothesis, derandomized: the same examples on every run). Path
arguments get real ids of both companies and hostile ones (0, 2**63, 2**70...). Provider
webhooks are sent validly signed (with the partner secrets of the test configurations)
over malformed bodies, and sometimes unsigned. Every route starts from the same world
(a savepoint rolled back after it). A failure lists each route with the status or the
exception and the smallest example hypothesis found.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from provisioning.dialog360 import messaging
from provisioning.partners import Provider
from tests.conftest import PUBLIC, Auth
from tests.route_inputs import (
    Route,
    access,
    choices,
    discover,
    int_arguments,
    kept_cookies,
    routes,
    undone,
)
from tests.tenants import populate

ROLES = ("anonymous", "member", "company_admin", "platform_admin")
ENTERS = {  # the access markers each role gets past: those routes get the most examples
    "anonymous": {"public"},
    "member": {"public", "signed_in", "company_member"},
    "company_admin": {"public", "signed_in", "company_member", "company_admin"},
    "platform_admin": {"public", "signed_in", "company_member", "company_admin", "platform_admin"},
}
EXAMPLES, WEBHOOK_EXAMPLES, REFUSED_EXAMPLES = 16, 40, 2

HOSTILE = [
    "", " ", "\x00", "a\x00b", "\r\nX-Injected: 1", "\t", "0", "-1", "1e999", "NaN", "inf",
    str(2**31), str(2**63 - 1), str(2**63), str(2**64), "9" * 40, "%", "%00", "%zz", "../..",
    "<script>alert(1)</script>", "'; DROP TABLE users; --", "null", "[]", "{}", "\u202e",
    "😀", "\ufeff", "a" * 3000, "//evil.example/", "/\t/evil.example", "javascript:alert(1)",
]  # fmt: skip
PLAUSIBLE = [
    "alpha", "admin", "member", "meta", "dialog360", "twilio", "sandbox", "production",
    "US", "local", "toll_free", "415", "55", "on", "y", "true", "1", "CLOSE", "GREEN",
    "+15005550006", "+14155550123", "user@example.com", "https://example.com/hook",
    "Acme Inc", "acme", "subscribe", "HEALTHCARE", "set_quality", '{"a": 1}', "3600",
]  # fmt: skip
hostile, plausible = st.sampled_from(HOSTILE), st.sampled_from(PLAUSIBLE)
numbers = st.integers(min_value=-(2**70), max_value=2**70)
texts = st.one_of(hostile, hostile, plausible, st.text(max_size=30), numbers.map(str))
json_values = st.recursive(
    st.none() | st.booleans() | texts | numbers
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)  # fmt: skip


def mutations(value: Any) -> st.SearchStrategy:
    """``value`` with parts dropped or replaced by any JSON: malformed but close to real."""
    if isinstance(value, dict):
        parts = {key: mutations(part) for key, part in value.items()}
        return st.fixed_dictionaries({}, optional=parts) | json_values
    if isinstance(value, list):
        return st.lists(mutations(value[0]), max_size=3) | json_values
    return st.just(value) | json_values


def json_object(paths: set[str]) -> st.SearchStrategy:
    """Objects with the traced keys (nested for "a.b" paths), each optional."""
    tree: dict[str, Any] = {}
    for path in sorted(paths):
        node = tree
        for key in path.split("."):
            node = node.setdefault(key, {})

    def build(node: dict) -> st.SearchStrategy:
        optional = {k: (build(v) | json_values if v else json_values) for k, v in node.items()}
        return st.fixed_dictionaries({}, optional=optional)

    return build(tree)


# -- signed provider webhooks ------------------------------------------------------------
META_EVENT = {"object": "whatsapp_business_account", "entry": [{
    "id": "waba-alpha", "time": 1767225600, "changes": [{
        "field": "phone_number_quality_update",
        "value": {"display_phone_number": "+15550000001", "event": "FLAGGED",
                  "current_limit": "TIER_1K", "decision": "APPROVED",
                  "requested_verified_name": "Alpha", "ban_info": {"waba_ban_state": "DISABLE"}},
    }],
}]}  # fmt: skip
D360_EVENT = {"id": "ev-1", "event": "channel_live", "data": {
    "id": "ch-alpha", "client_id": "cl-alpha", "status": "running", "phone_number": "+1555",
    "setup_info": {"phone_number": "+15550000002"}, "client": {"id": "cl-alpha"},
}}  # fmt: skip
D360_MESSAGES = {"object": "whatsapp_business_account", "entry": [{"id": "waba-alpha", "changes": [{
    "field": "messages", "value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550000002", "phone_number_id": "pn-alpha"},
        "messages": [{"from": "15551234567", "id": "wamid.1", "timestamp": "1767225600",
                      "type": "text", "text": {"body": "hi"}}],
        "statuses": [{"id": "wamid.1", "status": "sent", "timestamp": "1767225600",
                      "recipient_id": "15551234567"}],
    },
}]}]}  # fmt: skip
TWILIO_EVENT = [{"id": "ev-1", "type": "com.twilio.messaging.compliance.brand-registration."
                 "brand-registered", "data": {"brandsid": "BN1", "brandstatus": "APPROVED",
                                              "failurereason": "x"}}]  # fmt: skip
bodies = st.binary(max_size=64)


def encoded(values: st.SearchStrategy) -> st.SearchStrategy:
    return values.map(lambda v: json.dumps(v).encode()) | bodies


def hmac_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_requests(route: Route, world) -> st.SearchStrategy | None:
    """Requests for a provider webhook: mostly validly signed, over malformed bodies."""
    configs = world.sandbox.configs
    signed = st.sampled_from([True, True, True, False])  # mostly with a valid signature
    if route.endpoint == "webhooks.meta_event":
        secret = configs[Provider.META].value("app_secret")
        return st.tuples(encoded(mutations(META_EVENT)), signed).map(
            lambda b: signed_json(b[0], "X-Hub-Signature-256", "sha256=", secret, b[1])
        )
    if route.endpoint == "webhooks.meta_verify":
        token = configs[Provider.META].value("webhook_verify_token")
        args = {
            "hub.mode": st.sampled_from(["subscribe", ""]) | texts,
            "hub.verify_token": st.just(token) | texts,
            "hub.challenge": texts,
        }
        return st.fixed_dictionaries({}, optional=args).map(lambda q: {"query_string": q})
    if route.endpoint == "webhooks.dialog360":
        secret = configs[Provider.DIALOG360].value("webhook_secret")
        return st.tuples(encoded(mutations(D360_EVENT)), signed).map(
            lambda b: signed_json(b[0], "x-360dialog-signature", "", secret, b[1])
        )
    if route.endpoint == "webhooks.dialog360_messaging":  # the alpha channel's secret header
        header = messaging.headers(world.alpha.channel_token)
        return st.tuples(encoded(mutations(D360_MESSAGES)), signed).map(
            lambda b: {"data": b[0], "content_type": "application/json",
                       "headers": header if b[1] else {"Authorization": "Bearer x"}}
        )  # fmt: skip
    if route.endpoint == "webhooks.twilio_callback":
        master = configs[Provider.TWILIO]
        token, sid = master.value("auth_token"), master.value("account_sid")
        form = st.fixed_dictionaries(
            {"AccountSid": st.just(sid) | texts},
            optional={"MessageSid": texts, "MessageStatus": texts, "SmsStatus": texts,
                      "Body": texts, "From": texts},
        ).map(lambda f: {"data": f, "twilio_token": token, "twilio_params": f})  # fmt: skip
        as_json = st.tuples(
            encoded(mutations({"AccountSid": sid, "MessageSid": "SM1"})),
            st.sampled_from(["hash", "empty", "wrong"]),
        ).map(lambda b: json_delivery(token, *b))
        return form | as_json
    if route.endpoint == "webhooks.twilio_events":  # the sink of the alpha subaccount
        path = {"token": world.alpha.events_token}
        return encoded(mutations(TWILIO_EVENT)).map(
            lambda b: {**json_delivery(world.alpha.subaccount_token, b, "hash"), "path": path}
        )
    return None


def signed_json(body: bytes, header: str, prefix: str, secret: str, signed: bool) -> dict:
    """A JSON delivery with an HMAC-SHA256 signature header (a wrong one if not ``signed``)."""
    signature = hmac_hex(secret, body) if signed else "00"
    return {
        "data": body,
        "content_type": "application/json",
        "headers": {header: prefix + signature},
    }


def json_delivery(token: str, body: bytes, digest: str) -> dict:
    """A JSON body Twilio signs through the URL's ``bodySHA256`` (right, empty or wrong)."""
    sha = {"hash": hashlib.sha256(body).hexdigest(), "empty": "", "wrong": "0" * 64}[digest]
    return {
        "data": body,
        "content_type": "application/json",
        "query_string": {"bodySHA256": sha},
        "twilio_token": token,
        "twilio_params": {},
    }


# -- the world and the requests ----------------------------------------------------------
class World:
    """Both companies (``tests/tenants.py``), a platform admin, and the ids to send."""

    def __init__(self, session, make, sandbox) -> None:
        self.sandbox = sandbox
        self.platform = make.admin()  # first: it gets the alerts' notifications too
        self.alpha = populate(session, make, sandbox, "alpha")
        self.beta = populate(session, make, sandbox, "beta")
        self.users = {
            "member": self.alpha.member,
            "company_admin": self.alpha.admin,
            "platform_admin": self.platform,
        }
        self.ids = {
            name: sorted(set(self.alpha.ids.get(name, []) + self.beta.ids.get(name, [])))
            for name in {*self.alpha.ids, *self.beta.ids}
        }
        self.ids["config_id"] = sorted(c.id for c in sandbox.configs.values())
        self.tokens = [self.alpha.invitation, self.alpha.events_token, self.beta.invitation]

    def own_url(self, route: Route) -> str:
        values = {}
        for name in route.rule.arguments:
            if name == "company":
                values[name] = self.alpha.company.slug
            elif name in int_arguments(route.rule):
                values[name] = self.ids.get(name, [1])[0]
            else:
                values[name] = (choices(route.rule, name) or [self.alpha.invitation])[0]
        return route.rule.build(values)[1]

    def path_values(self, route: Route) -> st.SearchStrategy:
        parts = {}
        for name in route.rule.arguments:
            if name == "company":
                parts[name] = st.sampled_from([self.alpha.company.slug, self.beta.company.slug])
            elif name in int_arguments(route.rule):
                parts[name] = st.sampled_from(self.ids.get(name, [1])) | st.sampled_from(
                    [0, 2**31, 2**63 - 1, 2**63, 2**64, 10**30]
                ) | st.integers(min_value=0, max_value=2**70)  # fmt: skip
            elif choices(route.rule, name):
                parts[name] = st.sampled_from(choices(route.rule, name))
            else:
                parts[name] = st.sampled_from(self.tokens + [p.value for p in Provider]) | texts
        return st.fixed_dictionaries(parts)


def requests_for(route: Route, world: World, traced) -> st.SearchStrategy:
    webhook = webhook_requests(route, world)
    if webhook is not None:
        return st.tuples(world.path_values(route), webhook)
    params = st.fixed_dictionaries({}, optional={key: texts for key in sorted(traced.params)})
    calls = [params.map(lambda q: {"query_string": q})]
    if route.method != "GET":
        calls.append(st.tuples(params, params).map(lambda qf: {"query_string": qf[0],
                                                               "data": qf[1]}))  # fmt: skip
        body = json_object(traced.json) if traced.json else json_values
        calls.append(body.map(lambda b: {"json": b}))
    return st.tuples(world.path_values(route), st.one_of(calls))


def send(client, route: Route, path_values: dict, call: dict):
    call = dict(call)
    path = route.rule.build({**path_values, **call.pop("path", {})})[1]
    headers = dict(call.pop("headers", {}))
    if "twilio_token" in call:  # X-Twilio-Signature over the public URL (and the form)
        token, params = call.pop("twilio_token"), call.pop("twilio_params")
        query = urlencode(call.get("query_string") or {})
        url = PUBLIC + path + (f"?{query}" if query else "")
        headers["X-Twilio-Signature"] = RequestValidator(token).compute_signature(url, params)
    return client.open(path, method=route.method, headers=headers, **call)


@pytest.fixture
def world(session, make, connected_sandbox):
    return World(session, make, connected_sandbox(11))


def fuzz_route(client, route: Route, world: World, traced, examples: int, sent: list) -> None:
    """Up to ``examples`` requests (more while hypothesis shrinks a failure); each one's
    status, or its exception's name, is appended to ``sent``."""
    strategy = requests_for(route, world, traced)

    @settings(
        max_examples=examples, derandomize=True, database=None, deadline=None,
        suppress_health_check=list(HealthCheck), phases=(Phase.generate, Phase.shrink),
        report_multiple_bugs=False,
    )  # fmt: skip
    @given(strategy)
    def one(example):
        path_values, call = example
        try:
            response = send(client, route, path_values, call)
        except Exception as exc:  # the test client raises what a server would answer 500 to
            sent.append(type(exc).__name__)
            raise
        sent.append(response.status_code)
        assert response.status_code < 500, response.get_data(as_text=True)[:300]

    one()


@pytest.fixture
def isolated(app, session):
    return lambda: undone(app, session)


@pytest.fixture
def traced_inputs(app, world, isolated, monkeypatch):
    """The inputs of every route, traced as a platform admin and as nobody."""
    admin = app.test_client()
    Auth(admin).login(world.platform)
    with monkeypatch.context() as patch:
        patch.setitem(app.config, "WTF_CSRF_ENABLED", False)
        return discover(app, [admin, app.test_client()], world.own_url, isolated)


@pytest.mark.parametrize("role", ROLES)
def test_no_route_answers_5xx_to_any_input(
    app, client, auth, world, isolated, traced_inputs, role, monkeypatch
):
    if role != "anonymous":
        auth.login(world.users[role])
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", False)  # CSRF has its own tests
    failures, sent = [], []
    for route in routes(app):
        if route.rule.endpoint.startswith("webhooks."):
            examples = WEBHOOK_EXAMPLES if role == "anonymous" else REFUSED_EXAMPLES
        elif access(app, route) in ENTERS[role]:
            examples = EXAMPLES
        else:
            examples = REFUSED_EXAMPLES
        with isolated(), kept_cookies(client):
            try:
                fuzz_route(client, route, world, traced_inputs[route], examples, sent)
            except Exception as exc:  # hypothesis re-raises the smallest failing example
                example = "\n".join(getattr(exc, "__notes__", []))[:800]
                failures.append(f"{route}: {type(exc).__name__}: {str(exc)[:300]}\n{example}")
    errors = [s for s in sent if not isinstance(s, int) or s >= 500]
    print(f"fuzz as {role}: {len(sent)} requests, {len(errors)} errors, on {len(failures)} routes")
    assert not failures, "\n\n".join(failures)
