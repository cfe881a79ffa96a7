"""Meta Embedded Signup runs against the sandbox: happy paths, reauthorization, faults."""

from __future__ import annotations

import datetime as dt
import re

import httpx
import pytest
from sqlalchemy import select

from portal.demo import META_APP, partner_values
from portal.sandbox_seed import seed_sandbox
from provisioning import partners, runs
from provisioning.audit import SYSTEM
from provisioning.channels import Channel
from provisioning.db import utcnow
from provisioning.meta.models import MetaWhatsAppClient, MetaWhatsAppPhoneNumber
from provisioning.meta.onboarding import EMBEDDED_SIGNUP
from provisioning.partners import Environment, Provider
from provisioning.runs import RunStatus
from provisioning.sandbox import Sandbox, SimClock
from tests.conftest import offline

APP_ID = META_APP["app_id"]


@pytest.fixture
def sandbox():
    sandbox = Sandbox(
        seed=5, clock=SimClock(start=1_767_225_600), record=True, outbound_transport=offline()
    )
    seed_sandbox(sandbox, "http://portal.test")
    return sandbox


@pytest.fixture
def config(session, sandbox):
    values = partner_values(sandbox.base_url, "http://portal.test")[Provider.META]
    config = partners.create_configuration(
        session, SYSTEM, Provider.META, Environment.SANDBOX, "Meta", values
    )
    session.commit()
    return config


@pytest.fixture
def company(make):
    return make.company()


def start(session, company, config, signup) -> runs.ProvisioningRun:
    run = runs.start_run(
        session,
        SYSTEM,
        EMBEDDED_SIGNUP,
        company.id,
        partner_configuration_id=config.id,
        context={"event": signup["event"]},
        secret_input={"code": signup["code"]},
    )
    session.commit()
    return run


def resignup(sandbox, first):
    """The same business, WABA and number go through the popup again."""
    return sandbox.meta.control_complete_signup(
        app_id=APP_ID,
        business_id=first["business_id"],
        waba_id=first["waba_id"],
        phone_number_id=first["phone_number_id"],
    )


def execute(session, run, sandbox):
    return runs.execute(session, run.id, session.commit, {"transport": sandbox.transport()})


def test_finish_connects_the_number_with_its_quality_and_limit(session, sandbox, config, company):
    signup = sandbox.meta.control_complete_signup(app_id=APP_ID)
    run = start(session, company, config, signup)
    assert execute(session, run, sandbox) is RunStatus.COMPLETED
    client = session.scalars(select(MetaWhatsAppClient)).one()
    assert client.waba_id == signup["waba_id"] and client.access_token
    number = session.scalars(select(MetaWhatsAppPhoneNumber)).one()
    assert number.status == "CONNECTED" and number.pin and len(number.pin) == 6
    channel = session.get(Channel, number.channel_id)
    assert channel.company_id == company.id and channel.quality_rating == number.quality_rating
    assert channel.messaging_limit and channel.phone_number.startswith("+")
    assert run.secret_input is None


def test_finish_only_waba_connects_the_client_without_numbers(session, sandbox, config, company):
    signup = sandbox.meta.control_complete_signup(app_id=APP_ID, flow="FINISH_ONLY_WABA")
    run = start(session, company, config, signup)
    assert execute(session, run, sandbox) is RunStatus.COMPLETED
    assert session.scalars(select(MetaWhatsAppClient)).one().waba_id == signup["waba_id"]
    assert session.scalars(select(Channel)).all() == []


def test_coexistence_numbers_are_found_and_never_registered(session, sandbox, config, company):
    signup = sandbox.meta.control_complete_signup(
        app_id=APP_ID, flow="FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING"
    )
    assert "phone_number_id" not in signup["event"]["data"]
    run = start(session, company, config, signup)
    assert execute(session, run, sandbox) is RunStatus.COMPLETED
    number = session.scalars(select(MetaWhatsAppPhoneNumber)).one()
    assert number.registered_at is None and number.pin is None


def test_reonboarding_swaps_the_token_and_keeps_the_channel(session, sandbox, config, company):
    first = sandbox.meta.control_complete_signup(app_id=APP_ID)
    execute(session, start(session, company, config, first), sandbox)
    token = session.scalars(select(MetaWhatsAppClient)).one().access_token
    again = resignup(sandbox, first)
    assert execute(session, start(session, company, config, again), sandbox) is RunStatus.COMPLETED
    clients = session.scalars(select(MetaWhatsAppClient)).all()
    assert len(clients) == 1 and clients[0].access_token != token
    assert len(session.scalars(select(Channel)).all()) == 1


def test_a_wabas_of_another_company_is_refused(session, sandbox, config, company, make):
    signup = sandbox.meta.control_complete_signup(app_id=APP_ID)
    execute(session, start(session, company, config, signup), sandbox)
    again = resignup(sandbox, signup)
    run = start(session, make.company(), config, again)
    assert execute(session, run, sandbox) is RunStatus.FAILED
    assert "another company" in run.error_message


def test_a_reused_code_fails_clearly(session, sandbox, config, company):
    signup = sandbox.meta.control_complete_signup(app_id=APP_ID)
    execute(session, start(session, company, config, signup), sandbox)
    run = start(session, company, config, signup)
    assert execute(session, run, sandbox) is RunStatus.FAILED
    assert run.step("exchange_code").error_provider == "meta"


STEP_PATHS = {
    "find_assets": ("GET", r"^/graph/v[\d.]+/\d+$"),
    "subscribe_webhooks": ("POST", r"/subscribed_apps$"),
    "register_numbers": ("POST", r"/register$"),
    "read_numbers": ("GET", r"^/graph/v[\d.]+/\d+$"),
}


@pytest.mark.parametrize("kind", ["server_error", "timeout", "drop", "throttle"])
@pytest.mark.parametrize("step", list(STEP_PATHS))
def test_a_fault_at_any_step_still_ends_with_one_of_everything(
    session, sandbox, config, company, step, kind
):
    signup = sandbox.meta.control_complete_signup(app_id=APP_ID)
    run = start(session, company, config, signup)
    method, path = STEP_PATHS[step]
    sandbox.faults.add(kind, provider="meta", method=method, path=path, times=1)
    for _ in range(6):
        if execute(session, run, sandbox) is not RunStatus.WAITING:
            break
    assert run.status is RunStatus.COMPLETED, (run.status, run.error_message)
    assert len(session.scalars(select(MetaWhatsAppClient)).all()) == 1
    assert len(session.scalars(select(Channel)).all()) == 1
    number = session.scalars(select(MetaWhatsAppPhoneNumber)).one()
    assert number.status == "CONNECTED"
    registrations = [
        e for e in sandbox.exchanges if e["path"].endswith("/register") and e["status"] == 200
    ]
    assert len(registrations) <= 1  # a dropped answer is the one success, never a second


def test_credential_errors_flag_the_client_for_reauthorization(session, sandbox, config, company):
    signup = sandbox.meta.control_complete_signup(app_id=APP_ID)
    execute(session, start(session, company, config, signup), sandbox)
    again = resignup(sandbox, signup)
    run = start(session, company, config, again)
    sandbox.faults.add("timeout", provider="meta", path="subscribed_apps", times=3)
    # Parked after the client's own retries ran out; the token is already swapped in.
    assert execute(session, run, sandbox) is RunStatus.WAITING
    client = session.scalars(select(MetaWhatsAppClient)).one()
    sandbox.meta.control_revoke_token(token=client.access_token)
    for _ in range(5):
        if execute(session, run, sandbox) is not RunStatus.WAITING:
            break
    assert run.status is RunStatus.FAILED
    assert run.step("subscribe_webhooks").error_code == "190"
    session.refresh(client)
    assert client.status == "reauthorization_required"
    assert session.scalars(select(Channel)).one().needs_reauthorization is True


@pytest.mark.parametrize("kind", ["server_error", "timeout"])
def test_an_unanswered_code_exchange_is_retried_with_the_same_code(
    session, sandbox, config, company, kind
):
    signup = sandbox.meta.control_complete_signup(app_id=APP_ID)
    run = start(session, company, config, signup)
    sandbox.faults.add(kind, provider="meta", path="oauth/access_token", times=1)
    assert execute(session, run, sandbox) is RunStatus.WAITING
    assert execute(session, run, sandbox) is RunStatus.COMPLETED


def test_a_lost_code_exchange_answer_asks_for_a_new_signup(session, sandbox, config, company):
    signup = sandbox.meta.control_complete_signup(app_id=APP_ID)
    run = start(session, company, config, signup)
    sandbox.faults.add("drop", provider="meta", path="oauth/access_token", times=1)
    assert execute(session, run, sandbox) is RunStatus.WAITING
    assert execute(session, run, sandbox) is RunStatus.FAILED
    assert "already used or expired" in run.step("exchange_code").error_message
    assert session.scalars(select(MetaWhatsAppClient)).all() == []


def test_every_number_of_a_shared_waba_is_connected(session, sandbox, config, company):
    seeded = sandbox.meta.control_seed_waba(app_id=APP_ID, numbers=3)
    signup = sandbox.meta.control_complete_signup(
        app_id=APP_ID,
        business_id=seeded["business_id"],
        waba_id=seeded["waba_id"],
        phone_number_id=seeded["phone_number_ids"][1],
    )
    run = start(session, company, config, signup)
    assert execute(session, run, sandbox) is RunStatus.COMPLETED
    assert run.context["phone_number_ids"][0] == seeded["phone_number_ids"][1]
    channels = session.scalars(select(Channel)).all()
    assert len(channels) == 3 and {c.company_id for c in channels} == {company.id}


class WorkerKilled(BaseException):
    """The worker process died here: nothing after this point ran or committed."""


class KilledAfter(httpx.BaseTransport):
    """Passes requests to the sandbox; the worker dies once the matching call has acted."""

    def __init__(self, inner: httpx.BaseTransport, method: str, path: str) -> None:
        self.inner, self.method, self.path = inner, method, re.compile(path)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.method == self.method and self.path.search(request.url.path):
            raise WorkerKilled(request.url.path)
        return response


def die_during(session, run, transport) -> None:
    """Execute until the worker dies; its uncommitted work is lost and its lease lapses."""
    with pytest.raises(WorkerKilled):
        runs.execute(session, run.id, session.commit, {"transport": transport})
    session.rollback()
    run.lease_expires_at = utcnow() - dt.timedelta(seconds=1)
    session.commit()


def test_the_pin_is_stored_before_meta_registers_the_number(session, sandbox, config, company):
    signup = sandbox.meta.control_complete_signup(app_id=APP_ID)
    run = start(session, company, config, signup)
    die_during(session, run, KilledAfter(sandbox.transport(), "POST", r"/register$"))
    phone = sandbox.meta.phones[signup["phone_number_id"]]
    assert phone.registered and phone.pin is not None  # Meta acted: the PIN is set there
    assert execute(session, run, sandbox) is RunStatus.COMPLETED
    number = session.scalars(select(MetaWhatsAppPhoneNumber)).one()
    assert number.pin == phone.pin  # the portal holds the PIN Meta holds
    assert len(phone.register_attempts) == 1  # and registered the number once
    assert number.registered_at is not None


def test_a_lost_register_answer_is_checked_at_meta_not_repeated(session, sandbox, config, company):
    signup = sandbox.meta.control_complete_signup(app_id=APP_ID)
    run = start(session, company, config, signup)
    sandbox.faults.add("drop", provider="meta", method="POST", path="/register$", times=1)
    assert execute(session, run, sandbox) is RunStatus.WAITING
    assert execute(session, run, sandbox) is RunStatus.COMPLETED
    phone = sandbox.meta.phones[signup["phone_number_id"]]
    number = session.scalars(select(MetaWhatsAppPhoneNumber)).one()
    assert len(phone.register_attempts) == 1 and number.pin == phone.pin
    step = run.step("register_numbers")
    assert step.effect_intended_at is not None and step.effect_confirmed_at is not None
    assert number.registered_at is not None


def test_a_number_not_registered_after_a_lost_answer_is_registered_with_the_same_pin(
    session, sandbox, config, company
):
    signup = sandbox.meta.control_complete_signup(app_id=APP_ID)
    run = start(session, company, config, signup)
    sandbox.faults.add("timeout", provider="meta", method="POST", path="/register$", times=1)
    assert execute(session, run, sandbox) is RunStatus.WAITING
    pin = session.scalars(select(MetaWhatsAppPhoneNumber)).one().pin
    assert pin is not None
    assert execute(session, run, sandbox) is RunStatus.COMPLETED
    phone = sandbox.meta.phones[signup["phone_number_id"]]
    assert phone.pin == pin and len(phone.register_attempts) == 1


class Recording(httpx.BaseTransport):
    """The sandbox's transport, keeping every request the platform sends."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner, self.requests = inner, []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.inner.handle_request(request)


def test_access_tokens_travel_in_the_authorization_header_never_in_urls(
    session, sandbox, config, company
):
    """Onboarding, the quality sync and Test connection: no token in any URL, where
    proxies and access logs would keep it."""
    from provisioning.partner_checks import check_configuration
    from provisioning.sync import SyncPolicy, sync_quality

    recording = Recording(sandbox.transport())
    signup = sandbox.meta.control_complete_signup(app_id=APP_ID)
    run = start(session, company, config, signup)
    assert runs.execute(session, run.id, session.commit, {"transport": recording}) is (
        RunStatus.COMPLETED
    )
    policy = SyncPolicy(workers=1, backoff=0.01, max_pause=1.0, max_spacing=0.0)
    (sync_run,) = sync_quality(session, session.commit, providers=[Provider.META],
                               transport=recording, policy=policy)  # fmt: skip
    assert sync_run.status == "succeeded" and sync_run.seen
    assert check_configuration(config, recording)[0]
    token = session.scalars(select(MetaWhatsAppClient)).one().access_token
    urls = [str(r.url) for r in recording.requests]
    assert not any("access_token=" in url or token in url for url in urls), urls
    bearer = [
        r for r in recording.requests if r.headers.get("Authorization", "").startswith("Bearer")
    ]
    assert {r.url.path.rsplit("/", 1)[-1] for r in bearer} >= {"phone_numbers", "register"}
    assert any(r.headers["Authorization"] == f"Bearer {token}" for r in bearer)
