"""The Partner API client: both kinds of auth, paging, typed errors, against the sandbox."""

import pytest

from provisioning.dialog360.api import PartnerClient
from provisioning.errors import AuthError, Rejected
from provisioning.sandbox import Sandbox, SimClock


@pytest.fixture
def sandbox():
    sandbox = Sandbox(seed=12, clock=SimClock(start=1_767_225_600), record=True)
    sandbox.dialog360.control_seed_partner(
        partner_id="pidPA", api_key="k" * 32, username="p@x.example", password="pw", token_ttl=600
    )
    return sandbox


def client(sandbox, **auth) -> PartnerClient:
    return PartnerClient(
        f"{sandbox.base_url}/dialog360/hub/api/v2", "pidPA", transport=sandbox.transport(), **auth
    )


def test_api_key_and_paging_through_every_channel(sandbox):
    sandbox.dialog360.control_seed_channels(partner_id="pidPA", count=7)
    with client(sandbox, api_key="k" * 32) as api:
        assert api.get_partner()["id"] == "pidPA"
        ids = [c["id"] for c in api.channels(limit=3)]
    assert len(ids) == 7 == len(set(ids))
    pages = [e for e in sandbox.exchanges if "/channels" in e["path"]]
    assert len(pages) == 3


def test_the_legacy_token_is_cached_and_renewed(sandbox):
    with client(sandbox, username="p@x.example", password="pw") as api:
        api.get_partner()
        api.get_partner()
        logins = [e for e in sandbox.exchanges if e["path"].endswith("/token")]
        assert len(logins) == 1
        sandbox.advance(3600)  # the token expired at the provider
        api._token_expires = float("inf")  # ...while the client still trusts it: a 401 renews
        assert api.get_partner()["id"] == "pidPA"
    assert len([e for e in sandbox.exchanges if e["path"].endswith("/token")]) == 2


def test_errors_are_typed(sandbox):
    with client(sandbox, api_key="wrong") as api, pytest.raises(AuthError):
        api.get_partner()
    with client(sandbox, api_key="k" * 32) as api, pytest.raises(Rejected) as refused:
        api.generate_api_key("noSuchCH")
    assert refused.value.http_status == 404
