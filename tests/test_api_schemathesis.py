"""Schemathesis against /api/v1/openapi.json, in process: no 5xx, every answer as the
document says, and nothing answered without a key."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode, checks

from provisioning import api_keys, health
from provisioning.audit import SYSTEM
from provisioning.partners import Provider


@pytest.fixture
def api_schema(app, session, make):
    company = make.company("Acme")
    health.upsert_channel(
        session, company.id, Provider.META, "pn-1", phone_number="+15550001111",
        status="CONNECTED", quality_rating="GREEN", messaging_limit="TIER_1K",
    )  # fmt: skip
    session.commit()
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


@pytest.fixture(autouse=True)
def unlimited(app, monkeypatch):
    """The contract, not the budget: one key makes every call here (the rate limits have
    their own tests, tests/test_api_ratelimit.py)."""
    for setting in ("API_RATE_LIMIT", "API_CREDENTIALS_RATE_LIMIT"):
        monkeypatch.setitem(app.config, setting, "1000000 per minute")


@pytest.fixture
def platform_key(session) -> str:
    _, token = api_keys.create_key(session, SYSTEM, "schemathesis", ["read", "write"])
    session.commit()
    return token


def test_the_api_keeps_its_contract(api_schema, platform_key):
    """Every operation, with valid and with invalid data, under schemathesis's checks:
    no 5xx, status codes, content types, bodies and headers as documented, invalid data
    refused, authentication not ignored. Not "valid data accepted": the domain refuses
    some schema-valid bodies with a 400 problem (a name of format characters only, a slug
    another company has), as it does on the pages."""
    headers = {"Authorization": f"Bearer {platform_key}"}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 5
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(max_examples=25, deadline=None, derandomize=True,
                      suppress_health_check=list(HealthCheck), database=None)  # fmt: skip
            @given(case=operation.as_strategy(generation_mode=mode))
            def conforms(case):
                case.call_and_validate(
                    headers=headers, excluded_checks=[checks.positive_data_acceptance]
                )

            conforms()
