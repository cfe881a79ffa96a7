"""Meta's number client (``provisioning.meta.numbers``) against the Meta simulator: a number
added and found again, its code requested and verified (never retried), the PIN (retried:
harmless), deregistration, a display name change followed to its decision, the badge, and
a migration refused in plain words, then done."""

from __future__ import annotations

import httpx
import pytest

from provisioning.errors import AuthError, Rejected, Retryable
from provisioning.meta import numbers
from provisioning.meta.api import GraphClient
from provisioning.sandbox import Sandbox, SimClock

APP_ID = "1234567890123456"


@pytest.fixture
def sandbox() -> Sandbox:
    answered = httpx.MockTransport(lambda request: httpx.Response(200))
    return Sandbox(seed=17, clock=SimClock(start=1_767_225_600.0), outbound_transport=answered,
                   record=True)  # fmt: skip


@pytest.fixture
def waba(sandbox: Sandbox) -> dict:
    sandbox.meta.control_seed_app(app_id=APP_ID, webhook_url="https://portal.test/wh")
    return sandbox.meta.control_seed_waba(app_id=APP_ID, subscribe=True, verified=False)


@pytest.fixture
def graph(sandbox: Sandbox):
    with GraphClient(f"{sandbox.base_url}/meta/graph", "v25.0", transport=sandbox.transport(),
                     sleep=lambda seconds: None) as client:  # fmt: skip
        yield client


def calls(sandbox: Sandbox, suffix: str) -> int:
    return sum(1 for e in sandbox.exchanges if e["method"] == "POST" and e["path"].endswith(suffix))


def test_a_number_is_added_and_found_again(waba, graph):
    token = waba["access_token"]
    phone_id = numbers.add_number(graph, waba["waba_id"], token, cc="1",
                                  phone_number="5550104444", verified_name="Nova Shop")  # fmt: skip
    assert numbers.find_number(graph, waba["waba_id"], token, "+1 555-010-4444") == phone_id
    assert numbers.find_number(graph, waba["waba_id"], token, "15550109999") is None
    with pytest.raises(Rejected) as refused:
        numbers.add_number(graph, waba["waba_id"], token, cc="1", phone_number="5550104444",
                           verified_name="Nova Shop")  # fmt: skip
    assert refused.value.subcode == numbers.ALREADY_PRESENT
    assert isinstance(refused.value, numbers.MigrationRefused)  # same code, plain words too
    assert refused.value.explanation == numbers.MIGRATION_REFUSALS["already_present"]


def test_a_code_is_requested_once_and_verified_as_typed(sandbox, waba, graph):
    phone_id, token = waba["phone_number_ids"][0], waba["access_token"]
    sandbox.faults.add("server_error", provider="meta", path="/request_code$", times=1)
    with pytest.raises(Retryable):
        numbers.request_code(graph, phone_id, token, method="voice")
    assert calls(sandbox, "/request_code") == 1  # never retried: each call sends a message
    numbers.request_code(graph, phone_id, token, method="voice", language="es_ES")
    sent = sandbox.meta.control_last_code(phone_number_id=phone_id)
    assert (sent["code_method"], sent["language"]) == ("VOICE", "es_ES")
    with pytest.raises(Rejected) as too_soon:
        numbers.request_code(graph, phone_id, token)
    assert too_soon.value.code == numbers.CODE_TOO_SOON
    with pytest.raises(Rejected) as wrong:
        numbers.verify_code(graph, phone_id, token, "000-000")
    assert wrong.value.code == numbers.WRONG_CODE
    code = sent["code"]
    numbers.verify_code(graph, phone_id, token, f"{code[:3]}-{code[3:]}")
    assert sandbox.meta.phones[phone_id].code_verification_status == "VERIFIED"


def test_the_pin_is_retried_and_deregistration_is_not(sandbox, waba, graph):
    phone_id, token = waba["phone_number_ids"][0], waba["access_token"]
    sandbox.faults.add("server_error", provider="meta", method="POST", path=f"/{phone_id}$",
                       times=1)  # fmt: skip
    numbers.set_pin(graph, phone_id, token, "246810")
    assert sandbox.meta.phones[phone_id].pin == "246810" and calls(sandbox, f"/{phone_id}") == 2
    sandbox.faults.add("server_error", provider="meta", path="/deregister$", times=1)
    with pytest.raises(Retryable):
        numbers.deregister(graph, phone_id, token)
    assert calls(sandbox, "/deregister") == 1
    numbers.deregister(graph, phone_id, token)
    assert sandbox.meta.phones[phone_id].status == "DISCONNECTED"


def test_a_display_name_change_is_followed_to_its_decision(sandbox, waba, graph):
    phone_id, token = waba["phone_number_ids"][0], waba["access_token"]
    sandbox.meta.phones[phone_id].status = "CONNECTED"
    numbers.request_display_name(graph, phone_id, token, "Café Nova")
    pending = numbers.display_name_status(graph, phone_id, token)
    assert pending.change_pending and pending.new_display_name == "Café Nova"
    with pytest.raises(Rejected):
        numbers.request_display_name(graph, phone_id, token, "Other")
    sandbox.advance(60)
    approved = numbers.display_name_status(graph, phone_id, token)
    assert approved.change_approved and not approved.declined
    numbers.request_display_name(graph, phone_id, token, "Best Deals!!!")
    sandbox.meta.control_reject_display_name(phone_number_id=phone_id, now=True)
    assert numbers.display_name_status(graph, phone_id, token).declined
    assert numbers.name_rejection("NAME_FORMAT_UNACCEPTABLE").startswith("The name's format")
    assert numbers.name_rejection("SOMETHING_NEW") == "Meta's reason: SOMETHING_NEW."


def test_the_badge_is_requested_and_its_status_read(sandbox, waba, graph):
    phone_id, token = waba["phone_number_ids"][0], waba["access_token"]
    assert numbers.oba_status(graph, phone_id, token) == numbers.ObaStatus(None, None)
    ask = {
        "business_website_url": "https://nova.example",
        "primary_country_of_operation": "US",
        "primary_language": "en_US",
        "supporting_links": ["https://news.example/a", ""],
    }
    with pytest.raises(Rejected, match="Two-step verification"):
        numbers.request_oba(graph, phone_id, token, **ask)
    numbers.set_pin(graph, phone_id, token, "246810")
    assert numbers.request_oba(graph, phone_id, token, **ask).status == "PENDING"
    assert calls(sandbox, "/official_business_account") == 2
    sandbox.advance(120)
    assert numbers.oba_status(graph, phone_id, token).status == "APPROVED"


def test_a_refused_migration_says_why_then_the_number_moves(sandbox, waba, graph):
    held = sandbox.meta.control_seed_number_elsewhere(verified_name="Moving Co")
    token, national = waba["access_token"], held["number"][2:]
    with pytest.raises(numbers.MigrationRefused) as refused:
        numbers.migrate_number(graph, waba["waba_id"], token, cc="1", phone_number=national)
    assert refused.value.reason == "two_step_enabled"
    assert "Two-step verification is still on" in refused.value.explanation
    sandbox.meta.control_set_old_provider(number=held["number"], two_step=False)
    moved = numbers.migrate_number(graph, waba["waba_id"], token, cc="1", phone_number=national,
                                   verified_name="Moving Co")  # fmt: skip
    assert sandbox.meta.phones[moved].verified_name == "Moving Co"
    assert calls(sandbox, "/phone_numbers") == 2


def test_credential_errors_stay_auth_errors(sandbox, waba, graph):
    sandbox.meta.control_revoke_token(token=waba["access_token"])
    with pytest.raises(AuthError):
        numbers.display_name_status(graph, waba["phone_number_ids"][0], waba["access_token"])
