"""Faults: the provider's own envelopes (conforming to the specs), seeded and replayable."""

import httpx
import pytest

from provisioning.sandbox import Sandbox
from tests.sandbox.openapi import assert_conforms

PATHS = {
    "meta": "/meta/graph/v23.0/123456789012345/phone_numbers",
    "twilio": "/twilio/api/2010-04-01/Accounts/AC" + "0" * 32 + ".json",
}


@pytest.mark.parametrize("kind", ["throttle", "server_error"])
@pytest.mark.parametrize("provider", ["meta", "twilio"])
def test_fault_responses_use_the_providers_envelope(sandbox, http, provider, kind):
    sandbox.faults.add(kind, provider=provider, times=1)
    response = http.get(PATHS[provider])
    assert response.status_code == (429 if kind == "throttle" else 500)
    covered = assert_conforms(sandbox.exchanges)
    assert covered, "the fault response matched no operation of the spec"


def test_timeouts_and_drops_raise_transport_errors(sandbox, http):
    sandbox.faults.add("timeout", provider="meta", times=1)
    with pytest.raises(httpx.ReadTimeout):
        http.get(PATHS["meta"])
    sandbox.faults.add("drop", provider="meta", times=1)
    with pytest.raises(httpx.RemoteProtocolError):
        http.get(PATHS["meta"])
    assert http.get(PATHS["meta"]).status_code in (400, 401)  # faults used up: a real answer


def test_error_rates_are_seeded_so_a_failing_run_replays():
    def outcomes(seed: int) -> list[int]:
        sandbox = Sandbox(seed=seed)
        sandbox.faults.add("server_error", provider="meta", probability=0.3)
        with httpx.Client(transport=sandbox.transport(), base_url=sandbox.base_url) as client:
            return [client.get(PATHS["meta"]).status_code for _ in range(40)]

    first = outcomes(99)
    assert first == outcomes(99)
    assert 500 in first and any(code != 500 for code in first)
