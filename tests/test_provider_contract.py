"""One contract for the three providers' clients: the same scenarios, run over Meta's Graph
client, 360dialog's Partner API client and Twilio's API, each built from its partner
configuration by ``provisioning.clients`` against the sandbox.

What every client must do: a read succeeds and parses; refused credentials are an
``AuthError``; a throttle or a 5xx is ``Retryable`` (with the provider's Retry-After when
it sends one); no answer is ``Unreachable``; a request the provider refuses is ``Rejected``
with the provider's status; a listing is read to its end, a page per call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from provisioning import clients
from provisioning.dialog360.api import PartnerClient
from provisioning.errors import AuthError, Rejected, Retryable, Unreachable
from provisioning.partners import PartnerConfiguration, Provider
from provisioning.twilio.api import connect


@dataclass(frozen=True)
class Contract:
    """How one provider's client is driven through the shared scenarios."""

    provider: Provider
    build: Callable[[PartnerConfiguration, Any], Any]
    read: Callable[[Any, PartnerConfiguration], str]  # an id the answer carries
    expected_id: Callable[[PartnerConfiguration], str]
    wrong_credentials: Callable[[PartnerConfiguration, Any], Any]  # a read with them
    refused: Callable[[Any, PartnerConfiguration], Any]  # a request the provider refuses
    listing: Callable[[Any, PartnerConfiguration, httpx.BaseTransport], Iterable[Any]]


class Counting(httpx.BaseTransport):
    """The sandbox's transport, counting the requests that go through it."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner, self.requests = inner, 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        return self.inner.handle_request(request)


def _meta_listing(sandbox, config, transport) -> Iterable[Any]:
    seeded = sandbox.meta.control_seed_waba(app_id=config.value("app_id"), numbers=5)
    api = clients.meta_graph(config, transport, max_attempts=1)
    return api.phone_numbers(seeded["waba_id"], seeded["access_token"], limit=2)


def _dialog360_listing(sandbox, config, transport) -> Iterable[Any]:
    sandbox.dialog360.control_seed_channels(count=5)
    return clients.dialog360_partner(config, transport, max_attempts=1).channels(limit=2)


def _twilio_listing(sandbox, config, transport) -> Iterable[Any]:
    [sub] = sandbox.twilio.control_seed_subaccounts(count=1, senders_per_account=5)
    own = connect(
        sub["account_sid"], sub["auth_token"],
        base_url=config.value("api_base_url"), transport=transport,
    )  # fmt: skip
    return [sender for page in own.whatsapp_sender_pages(2, lambda: None) for sender in page]


CONTRACTS = [
    Contract(
        Provider.META,
        build=lambda config, transport: clients.meta_graph(config, transport, max_attempts=1),
        read=lambda api, config: api.check_app(config.value("app_id"), config.value("app_secret"))[
            "id"
        ],
        expected_id=lambda config: config.value("app_id"),
        wrong_credentials=lambda config, transport: clients.meta_graph(
            config, transport, max_attempts=1
        ).check_app(config.value("app_id"), "not-the-app-secret"),
        refused=lambda api, config: api.get(
            "/no-such-object", f"{config.value('app_id')}|{config.value('app_secret')}"
        ),
        listing=_meta_listing,
    ),
    Contract(
        Provider.DIALOG360,
        build=lambda config, transport: clients.dialog360_partner(
            config, transport, max_attempts=1
        ),
        read=lambda api, config: api.get_partner()["id"],
        expected_id=lambda config: config.value("partner_id"),
        wrong_credentials=lambda config, transport: PartnerClient(
            config.value("api_base_url"),
            config.value("partner_id"),
            api_key="not-the-partner-key",
            transport=transport,
            max_attempts=1,
        ).get_partner(),
        refused=lambda api, config: api.call(
            "GET", f"/partners/{api.partner_id}/channels/unknown/x"
        ),
        listing=_dialog360_listing,
    ),
    Contract(
        Provider.TWILIO,
        build=lambda config, transport: clients.twilio_master(config, transport),
        read=lambda api, config: api.fetch_account(config.value("account_sid")).sid,
        expected_id=lambda config: config.value("account_sid"),
        wrong_credentials=lambda config, transport: connect(
            config.value("account_sid"),
            "not-the-auth-token",
            base_url=config.value("api_base_url"),
            transport=transport,
        ).fetch_account(config.value("account_sid")),
        refused=lambda api, config: api.available_numbers("ZZ", "local"),
        listing=_twilio_listing,
    ),
]


@pytest.fixture(params=CONTRACTS, ids=lambda c: c.provider.value)
def world(request, connected_sandbox):
    contract: Contract = request.param
    sandbox = connected_sandbox(57, contract.provider)
    config = sandbox.configs[contract.provider]
    return contract, sandbox, config, contract.build(config, sandbox.transport())


def test_a_read_succeeds_and_parses(world):
    contract, _, config, api = world
    assert contract.read(api, config) == contract.expected_id(config)


def test_refused_credentials_are_an_auth_error(world):
    contract, sandbox, config, _ = world
    with pytest.raises(AuthError) as refused:
        contract.wrong_credentials(config, sandbox.transport())
    assert refused.value.provider == contract.provider.value
    assert refused.value.http_status in (400, 401, 403)


@pytest.mark.parametrize(
    ("fault", "error", "statuses"),
    [
        ("throttle", Retryable, {429}),
        ("server_error", Retryable, {500, 502, 503}),
        ("timeout", Unreachable, {None}),
        ("drop", Unreachable, {None}),
    ],
)
def test_a_failed_call_is_typed_by_what_the_caller_may_do(world, fault, error, statuses):
    contract, sandbox, config, api = world
    sandbox.faults.add(fault, provider=contract.provider.value, times=1)
    with pytest.raises(error) as failed:
        contract.read(api, config)
    assert isinstance(failed.value, error) and failed.value.http_status in statuses
    assert failed.value.provider == contract.provider.value
    if fault == "throttle":
        assert failed.value.retry_after is None or failed.value.retry_after > 0
    assert contract.read(api, config) == contract.expected_id(config)  # the fault is spent


def test_a_refused_request_is_rejected_with_the_providers_status(world):
    contract, _, config, api = world
    with pytest.raises(Rejected) as refused:
        contract.refused(api, config)
    assert refused.value.provider == contract.provider.value
    assert 400 <= (refused.value.http_status or 0) < 500
    assert refused.value.http_status != 429


def test_a_listing_is_read_to_its_end_a_page_per_call(world):
    contract, sandbox, config, _ = world
    transport = Counting(sandbox.transport())
    found = list(contract.listing(sandbox, config, transport))
    assert len(found) == 5
    assert len({repr(item) for item in found}) == 5  # no item read twice
    assert transport.requests == 3  # pages of 2, 2 and 1
