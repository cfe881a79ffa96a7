"""Rate limits per API key: the IETF RateLimit fields on every counted answer, a 429 problem
with Retry-After over the limit, each key its own budget, calls without a key uncounted."""

from __future__ import annotations

import re

import pytest

from portal.api.ratelimit import limiter
from portal.config import ConfigError, read_settings
from provisioning import api_keys, health
from provisioning.audit import SYSTEM
from provisioning.partners import Provider

PROBLEM = "application/problem+json"
FIELD = re.compile(r'"(\w+)";r=(\d+);t=(\d+)')


@pytest.fixture
def limits(app, monkeypatch):
    """Small budgets, counted from zero."""
    monkeypatch.setitem(app.config, "API_RATE_LIMIT", "3 per hour")
    monkeypatch.setitem(app.config, "API_CREDENTIALS_RATE_LIMIT", "1 per hour")
    limiter.reset()
    yield
    limiter.reset()


def bearer(session, scopes=("read",), company=None) -> dict[str, str]:
    _, token = api_keys.create_key(session, SYSTEM, "crm", scopes, company)
    session.commit()
    return {"Authorization": f"Bearer {token}"}


def left(answer) -> dict[str, tuple[int, int]]:
    """The RateLimit field: what is left of each policy, and in how many seconds it resets."""
    return {name: (int(r), int(t)) for name, r, t in FIELD.findall(answer.headers["RateLimit"])}


def test_every_counted_answer_says_the_policy_and_what_is_left(client, session, limits):
    headers = bearer(session)
    for remaining in (2, 1, 0):
        answer = client.get("/api/v1/companies", headers=headers)
        assert answer.status_code == 200
        assert answer.headers["RateLimit-Policy"] == '"api";q=3;w=3600'
        r, t = left(answer)["api"]
        assert r == remaining and 0 < t <= 3600
    missing = client.get("/api/v1/companies/co_missing", headers=headers)  # errors count too
    assert missing.status_code == 429


def test_over_the_limit_is_a_429_problem_with_retry_after_and_keys_count_apart(
    client, session, limits
):
    first, second = bearer(session), bearer(session)
    for _ in range(3):
        assert client.get("/api/v1/companies", headers=first).status_code == 200
    refused = client.get("/api/v1/companies", headers=first)
    assert refused.status_code == 429 and refused.content_type == PROBLEM
    assert refused.json["status"] == 429 and "too many calls" in refused.json["detail"]
    assert 0 < int(refused.headers["Retry-After"]) <= 3600
    assert left(refused)["api"][0] == 0
    other = client.get("/api/v1/companies", headers=second)  # another key: its own budget
    assert other.status_code == 200 and left(other)["api"][0] == 2
    posted = client.post("/api/v1/companies", json={"name": "X"},
                         headers={**first, "Content-Type": "application/json"})  # fmt: skip
    assert posted.status_code == 429  # every operation of the key shares the budget


def test_calls_without_a_key_are_401_and_count_against_nothing(client, session, limits):
    headers = bearer(session)
    for bad in ({}, {"Authorization": "Bearer wpk_not-a-key"}):
        for _ in range(5):
            answer = client.get("/api/v1/companies", headers=bad)
            assert answer.status_code == 401 and "RateLimit" not in answer.headers
    assert left(client.get("/api/v1/companies", headers=headers))["api"][0] == 2


def test_a_missing_scope_is_counted_and_credentials_have_a_stricter_budget(
    client, session, make, limits
):
    company = make.company("Acme")
    channel = health.upsert_channel(session, company.id, Provider.META, "pn-1",
                                    phone_number="+1555", status="CONNECTED")  # fmt: skip
    session.commit()
    reader = bearer(session)
    refused = client.get(f"/api/v1/channels/{channel.id}/credentials", headers=reader)
    assert refused.status_code == 403 and left(refused)["api"][0] == 2
    keyed = bearer(session, ("read", "credentials"))
    url = f"/api/v1/channels/{channel.id}/credentials"
    answer = client.get(url, headers=keyed)  # no credentials yet: 400, counted all the same
    assert answer.status_code == 400
    assert set(answer.headers["RateLimit-Policy"].split(", ")) == {
        '"api";q=3;w=3600',
        '"credentials";q=1;w=3600',
    }
    assert left(answer) == {"api": (2, left(answer)["api"][1]),
                            "credentials": (0, left(answer)["credentials"][1])}  # fmt: skip
    again = client.get(url, headers=keyed)
    assert again.status_code == 429 and "Retry-After" in again.headers
    assert client.get(f"/api/v1/channels/{channel.id}", headers=keyed).status_code == 200


def test_pages_are_not_limited(client, session, limits):
    for _ in range(5):
        page = client.get("/login")
        assert page.status_code == 200 and "RateLimit" not in page.headers
    assert "RateLimit" not in client.get("/api/v1/openapi.json").headers


def test_the_openapi_document_describes_the_fields_and_the_429(client):
    document = client.get("/api/v1/openapi.json").json
    components = document["components"]
    assert {"RateLimit", "RateLimit-Policy"} <= set(components["headers"])
    assert "Retry-After" in components["responses"]["RATE_LIMITED"]["headers"]
    operation = document["paths"]["/api/v1/companies"]["get"]
    assert operation["responses"]["429"] == {"$ref": "#/components/responses/RATE_LIMITED"}
    assert set(operation["responses"]["200"]["headers"]) == {"RateLimit", "RateLimit-Policy"}


def test_limits_and_their_storage_are_settings():
    settings = read_settings({})
    assert settings.api_rate_limit == "600 per minute"
    assert settings.ratelimit_storage_url == "memory://"
    broker = read_settings({"CELERY_BROKER_URL": "redis://queue:6379/0"})
    assert broker.ratelimit_storage_url == "redis://queue:6379/0"  # the workers' Redis
    own = read_settings({"CELERY_BROKER_URL": "redis://queue:6379/0",
                         "RATELIMIT_STORAGE_URL": "redis://limits:6379/2"})  # fmt: skip
    assert own.ratelimit_storage_url == "redis://limits:6379/2"
    for name, value in (("API_RATE_LIMIT", "lots"), ("API_RATE_LIMIT", "1/second;5/minute"),
                        ("API_CREDENTIALS_RATE_LIMIT", "0 per minute"),
                        ("RATELIMIT_STORAGE_URL", "ftp://x")):  # fmt: skip
        with pytest.raises(ConfigError, match=name):
            read_settings({name: value})
