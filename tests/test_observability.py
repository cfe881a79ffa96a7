"""Structured logs with request and job context, and the Prometheus metrics at /metrics."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client import REGISTRY

from portal.company import routes as company_routes
from portal.config import ConfigError, load
from portal.demo import META_APP
from portal.jobs import JOBS, Job, enqueue
from portal.observability import logs
from provisioning.errors import Unreachable
from provisioning.http import ProviderClient
from provisioning.metrics import endpoint_template
from provisioning.partners import Provider
from provisioning.twilio.api import HttpxHttpClient

SECRET = "s3cr3t-value-that-must-not-leak"
TOKEN = "m" * 32


class Lines(logging.Handler):
    """Every record formatted as the portal formats it in production (JSON)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logs.formatter("json"))
        self.text: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.text.append(self.format(record))

    def events(self) -> list[dict]:
        return [json.loads(line) for line in self.text]


@pytest.fixture
def json_lines() -> Iterator[Lines]:
    handler = Lines()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


def sign(body: bytes) -> dict[str, str]:
    """Meta's signature header for ``body`` with the demo app's secret."""
    digest = hmac.new(META_APP["app_secret"].encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}"}


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


# -- logs ----------------------------------------------------------------------------------


def test_a_request_log_line_names_the_request_company_and_user_and_no_secret(
    client, auth, make, monkeypatch, json_lines
):
    company = make.company("Acme")
    user = make.user(company=company)
    auth.login(user)

    def channels_logging_a_secret():
        logging.getLogger("portal.test").warning(
            "called https://graph.example/v21.0/me?access_token=%s and /webhooks/360dialog/%s",
            SECRET,
            SECRET,
        )
        return []

    monkeypatch.setattr(company_routes, "company_channels", channels_logging_a_secret)
    response = client.get(f"/c/{company.slug}/", headers={"X-Request-ID": "lb-7f3a.91"})

    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "lb-7f3a.91"
    (line,) = [text for text in json_lines.text if "graph.example" in text]
    assert SECRET not in line
    event = json.loads(line)
    assert event["request_id"] == "lb-7f3a.91"
    assert event["company"] == company.slug and event["company_id"] == company.id
    assert event["user_id"] == user.id
    assert event["level"] == "warning" and event["logger"] == "portal.test"
    assert "access_token=***" in event["event"] and "/webhooks/360dialog/***" in event["event"]


@pytest.mark.parametrize(
    "incoming", [None, "", "has space", "x" * 129, "-leading-dash", "semi;colon", "é"]
)
def test_a_request_id_that_is_not_a_sane_token_is_replaced(client, incoming):
    headers = {} if incoming is None else {"X-Request-ID": incoming}
    answer = client.get("/healthz", headers=headers)
    generated = answer.headers["X-Request-ID"]
    assert generated != incoming and len(generated) == 32
    assert client.get("/healthz").headers["X-Request-ID"] != generated  # one per request


def test_a_job_log_line_names_the_job_and_its_id(app, session, monkeypatch, json_lines):
    def log_a_line(number: int) -> None:
        logging.getLogger("portal.test").warning("job line %d", number)

    monkeypatch.setitem(JOBS, "test.log_a_line", Job("test.log_a_line", log_a_line, "sweeps"))
    with app.app_context():
        enqueue("test.log_a_line", 7)
    app.extensions["job_runner"].drain()

    (event,) = [e for e in json_lines.events() if e["event"] == "job line 7"]
    assert event["job"] == "test.log_a_line" and event["attempt"] == 1
    assert len(event["job_id"]) == 32 and "request_id" not in event
    logging.getLogger("portal.test").warning("after the job")
    assert "job" not in json_lines.events()[-1]  # the context ended with the job


def test_gunicorn_access_lines_become_fields_with_the_token_masked(json_lines):
    from portal.log_redaction import RedactSecrets

    logger = logging.getLogger("gunicorn.access")
    logger.addFilter(redactor := RedactSecrets())
    level, logger.level = logger.level, logging.INFO
    atoms = {
        "h": "10.0.0.9",
        "m": "POST",
        "U": f"/webhooks/twilio/events/{SECRET}",
        "r": f"POST /webhooks/twilio/events/{SECRET} HTTP/1.1",
        "s": "403",
        "D": 1500,
        "{x-request-id}o": "abc123",
    }
    try:
        logger.info('%(h)s "%(r)s" %(s)s', atoms)
    finally:
        logger.removeFilter(redactor)
        logger.setLevel(level)
    event = json_lines.events()[-1]
    assert SECRET not in json_lines.text[-1]
    assert event["path"] == "/webhooks/twilio/events/***" and event["method"] == "POST"
    assert event["status"] == "403" and event["duration_ms"] == 1.5
    assert event["request_id"] == "abc123" and event["remote_addr"] == "10.0.0.9"


def test_a_traceback_is_a_field_and_masked_too(json_lines):
    try:
        raise ValueError(f"GET https://graph.example/me?access_token={SECRET}")
    except ValueError:
        logging.getLogger("portal.test").exception("provider call failed")
    assert SECRET not in json_lines.text[-1]
    event = json_lines.events()[-1]
    assert "ValueError" in event["exception"] and "access_token=***" in event["exception"]


def test_gunicorn_handlers_keep_their_destination_and_take_the_format(app):
    handler = logging.StreamHandler(io.StringIO())
    gunicorn_error = logging.getLogger("gunicorn.error")
    gunicorn_error.addHandler(handler)
    try:
        logs.configure("INFO", "json")
        gunicorn_error.warning("Worker timeout (pid:%s)", 42)
    finally:
        gunicorn_error.removeHandler(handler)
        logs.configure(app.config["LOG_LEVEL"], app.config["LOG_FORMAT"])
    event = json.loads(handler.stream.getvalue())
    assert event["event"] == "Worker timeout (pid:42)" and event["logger"] == "gunicorn.error"


def test_the_log_format_follows_the_mode_and_is_checked(tmp_path, monkeypatch):
    monkeypatch.delenv("LOG_FORMAT", raising=False)
    assert load(tmp_path, {"PORTAL_ENV": "development"})["LOG_FORMAT"] == "console"
    monkeypatch.setenv("LOG_FORMAT", "json")
    assert load(tmp_path, {"PORTAL_ENV": "development"})["LOG_FORMAT"] == "json"
    with pytest.raises(ConfigError, match="LOG_FORMAT"):
        load(tmp_path, {"LOG_FORMAT": "xml"})
    with pytest.raises(ConfigError, match="METRICS_TOKEN"):
        load(tmp_path, {"METRICS_TOKEN": "short"})


def test_console_lines_read_as_text(capsys):
    record = logging.LogRecord("portal.x", logging.INFO, __file__, 1, "hello %s", ("you",), None)
    line = logs.formatter("console").format(record)
    assert "hello you" in line and "portal.x" in line and not line.startswith("{")


# -- /metrics ------------------------------------------------------------------------------


def test_metrics_count_requests_by_endpoint_not_path(client):
    labels = {"endpoint": "health.healthz", "method": "GET", "status": "200"}
    before = sample("portal_http_requests_total", **labels)
    client.get("/healthz")
    client.get("/no/such/page/123")
    body = client.get("/metrics").get_data(as_text=True)
    assert sample("portal_http_requests_total", **labels) == before + 1
    assert 'endpoint="unmatched",method="GET",status="404"' in body
    assert "/no/such/page" not in body
    assert "portal_http_request_duration_seconds_bucket" in body


def test_metrics_need_the_bearer_token_when_one_is_set(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", TOKEN)
    refused = client.get("/metrics")
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = client.get("/metrics", headers={"Authorization": "Bearer " + "n" * 32})
    assert wrong.status_code == 401
    ok = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200 and ok.content_type.startswith("text/plain; version=")


def test_production_without_a_token_serves_metrics_to_this_host_only(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_ENV", "production")
    remote = {"REMOTE_ADDR": "203.0.113.7"}
    assert client.get("/metrics", environ_base=remote).status_code == 404
    relayed = {"X-Forwarded-For": "203.0.113.7"}
    assert client.get("/metrics", headers=relayed).status_code == 404
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200


def test_webhook_deliveries_are_counted_by_outcome(client, connected_sandbox):
    connected_sandbox(31, Provider.META)
    body = json.dumps(
        {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": []}]}
    ).encode()

    def count(outcome: str) -> float:
        return sample("portal_webhook_deliveries_total", provider="meta", outcome=outcome)

    before = {o: count(o) for o in ("stored", "duplicate", "refused", "invalid")}
    assert client.post("/webhooks/meta", data=body, headers=sign(body)).status_code == 200
    assert client.post("/webhooks/meta", data=body, headers=sign(body)).status_code == 200
    assert client.post("/webhooks/meta", data=body).status_code == 403
    assert client.post("/webhooks/meta", data=b"[", headers=sign(b"[")).status_code == 400
    assert {o: count(o) - before[o] for o in before} == {
        "stored": 1,
        "duplicate": 1,
        "refused": 1,
        "invalid": 1,
    }


# -- provider calls ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "template"),
    [
        ("/123456789/phone_numbers?fields=id,name", "/{id}/phone_numbers"),
        ("/oauth/access_token", "/oauth/access_token"),
        (
            "/partners/aB3dE6gHPA/channels/x9Yz8WQ1CH/api_keys",
            "/partners/{id}/channels/{id}/api_keys",
        ),
        (
            "https://api.twilio.com/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/"
            "IncomingPhoneNumbers/PN0123456789abcdef0123456789abcdef.json",
            "/2010-04-01/Accounts/{id}/IncomingPhoneNumbers/{id}.json",
        ),
        ("/v1/Services/MG0123456789abcdef0123456789abcdef", "/v1/Services/{id}"),
        ("/v21.0/%2B15550001111", "/v21.0/{id}"),
        ("/v1/configs/webhook", "/v1/configs/webhook"),
    ],
)
def test_provider_endpoints_are_templated(path, template):
    assert endpoint_template(path) == template


def _answer(request: httpx.Request) -> httpx.Response:
    if request.url.path.endswith("/slow"):
        raise httpx.ReadTimeout("no answer", request=request)
    if request.url.path.endswith("/down"):
        raise httpx.ConnectError("connection refused", request=request)
    status = 503 if "/broken" in request.url.path else 200
    return httpx.Response(status, json={}, request=request)


class Probe(ProviderClient):
    provider = "probe"


def test_provider_calls_are_counted_by_endpoint_and_status(monkeypatch):
    def calls(endpoint: str, status: str) -> float:
        labels = {"provider": "probe", "method": "GET", "endpoint": endpoint, "status": status}
        return sample("portal_provider_calls_total", **labels)

    cases = [
        ("/items/{id}", "200"),
        ("/broken/{id}", "503"),
        ("/{id}/slow", "timeout"),
        ("/{id}/down", "refused"),
    ]
    before = {case: calls(*case) for case in cases}
    client = Probe(
        "https://probe.example/api", transport=httpx.MockTransport(_answer), max_attempts=1
    )
    client.request("GET", "/items/42")
    client.request("GET", "https://probe.example/api/items/43")  # a paging link: same label
    for path in ("/broken/1", "/9/slow", "/9/down"):
        with pytest.raises((Unreachable, Exception)):
            client.request("GET", path)
    after = {case: calls(*case) - before[case] for case in cases}
    assert after == {cases[0]: 2, cases[1]: 1, cases[2]: 1, cases[3]: 1}
    duration = {"provider": "probe", "method": "GET", "endpoint": "/items/{id}"}
    assert sample("portal_provider_call_duration_seconds_count", **duration) >= 2


def test_twilio_sdk_calls_are_counted_too():
    labels = {
        "provider": "twilio",
        "method": "GET",
        "endpoint": "/2010-04-01/Accounts/{id}.json",
        "status": "200",
    }
    before = sample("portal_provider_calls_total", **labels)
    http = HttpxHttpClient(transport=httpx.MockTransport(_answer))
    http.request("GET", "https://api.twilio.com/2010-04-01/Accounts/AC" + "0" * 32 + ".json")
    assert sample("portal_provider_calls_total", **labels) == before + 1


def test_endpoint_labels_are_bounded_per_provider(monkeypatch):
    from provisioning import metrics

    monkeypatch.setattr(metrics, "MAX_ENDPOINTS", 2)
    monkeypatch.setattr(metrics, "_endpoints", {})
    assert [metrics._bounded("p", e) for e in ("/a", "/b", "/c", "/a")] == [
        "/a",
        "/b",
        "other",
        "/a",
    ]


def test_several_gunicorn_workers_are_added_up_from_the_multiprocess_directory(tmp_path):
    """Each process writes its own files; /metrics reads them all (a fresh interpreter:
    prometheus_client picks its storage when first imported)."""
    script = textwrap.dedent(
        """
        import os, sys
        from provisioning import metrics
        from portal.observability.endpoint import _registry
        from prometheus_client import generate_latest
        if sys.argv[1] == "write":
            metrics.webhook_stored("meta", True)
        else:
            sys.stdout.write(generate_latest(_registry()).decode())
        """
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for _ in range(2):  # two "workers"
        subprocess.run([sys.executable, "-c", script, "write"], env=env, check=True)
    out = subprocess.run(
        [sys.executable, "-c", script, "read"], env=env, check=True, capture_output=True, text=True
    ).stdout
    assert 'portal_webhook_deliveries_total{outcome="stored",provider="meta"} 2.0' in out
