"""The Meta simulator's numbers after onboarding (issue 17): a number added to a WABA, its
verification code (sent to the phone, expiring, not resent too soon), the two-step PIN and a
PIN changed elsewhere, display name changes reviewed on the clock, the Official Business
Account badge, and numbers migrated in from another provider. Graph nodes are read with
pywa's ``BusinessPhoneNumber``, errors with pywa's ``WhatsAppError`` (and its catalogue of
Meta's phone migration codes), webhooks with pywa's own webhook entry points."""

from __future__ import annotations

import json

import httpx
import pytest
from pywa import WhatsApp
from pywa.errors import CannotMigratePhoneNumber, PhoneNumberAlreadyExists, WhatsAppError
from pywa.handlers import RawUpdateHandler
from pywa.types.others import BusinessPhoneNumber

from provisioning.sandbox import Sandbox

APP_ID, SECRET = "1234567890123456", "app-secret-0001"
G = "/meta/graph/v25.0"
PHONE_FIELDS = (
    "id,display_phone_number,verified_name,name_status,new_display_name,new_name_status,"
    "code_verification_status,status,is_pin_enabled,is_official_business_account,health_status"
)
OBA = {"business_website_url": "https://nova.example", "primary_country_of_operation": "US",
       "primary_language": "en_US", "supporting_links": ["https://news.example/nova"]}  # fmt: skip


@pytest.fixture
def texts(sandbox: Sandbox, monkeypatch) -> list[tuple[str, str, str]]:
    """What reached the numbers' phones through ``Sandbox.deliver_text``."""
    sent: list[tuple[str, str, str]] = []

    def deliver_text(to: str, body: str, channel: str) -> bool:
        sent.append((to, body, channel))
        return False

    monkeypatch.setattr(sandbox, "deliver_text", deliver_text, raising=False)
    return sent


@pytest.fixture
def app(sandbox: Sandbox) -> dict:
    return sandbox.meta.control_seed_app(app_id=APP_ID, app_secret=SECRET,
                                         webhook_url="https://portal.test/wh/meta")  # fmt: skip


@pytest.fixture
def customer(sandbox: Sandbox, app: dict) -> dict:
    return sandbox.meta.control_seed_waba(app_id=APP_ID, subscribe=True, verified=False)


def auth(customer: dict) -> dict:
    return {"Authorization": f"Bearer {customer['access_token']}"}


def phone(http, customer, phone_id: str | None = None) -> BusinessPhoneNumber:
    phone_id = phone_id or customer["phone_number_ids"][0]
    body = http.get(f"{G}/{phone_id}", params={"fields": PHONE_FIELDS}, headers=auth(customer))
    assert body.status_code == 200, body.text
    return BusinessPhoneNumber.from_dict(body.json())


def error(response: httpx.Response, status: int = 400) -> WhatsAppError:
    assert response.status_code == status, response.text
    return WhatsAppError.from_dict(response.json()["error"])


def register(http, customer, phone_id: str, pin: str = "123456") -> httpx.Response:
    return http.post(f"{G}/{phone_id}/register", json={"messaging_product": "whatsapp", "pin": pin},
                     headers=auth(customer))  # fmt: skip


def webhook_values(captured, field: str) -> list[dict]:
    """The values of one field's webhooks, as pywa's webhook entry points read them."""
    raw: list[dict] = []
    wa = WhatsApp(token="unused", app_secret=SECRET, filter_updates=False,
                  skip_duplicate_updates=False)  # fmt: skip
    wa.add_handlers(RawUpdateHandler(lambda _, update: raw.append(update)))
    for request in (r for r in captured.requests if r.method == "POST"):
        signature = request.headers["X-Hub-Signature-256"]
        assert wa.webhook_update_validator(request.content, signature) is None
        assert wa.webhook_update_handler(request.content) == ("ok", 200)
    changes = [c for update in raw for e in update["entry"] for c in e["changes"]]
    return [c["value"] for c in changes if c["field"] == field]


# -- verification ---------------------------------------------------------------------------
def test_an_unverified_number_verifies_a_code_sent_to_it_before_registering(
    sandbox, http, customer, texts
):
    phone_id = customer["phone_number_ids"][0]
    assert error(register(http, customer, phone_id)).code == 133006
    sent = http.post(f"{G}/{phone_id}/request_code", json={"code_method": "SMS",
                     "language": "en_US"}, headers=auth(customer))  # fmt: skip
    assert sent.json() == {"success": True}
    code = sandbox.meta.control_last_code(phone_number_id=phone_id)["code"]
    number = "+" + customer["display_phone_numbers"][0]
    assert texts == [(number, f"Your WhatsApp Business code is {code[:3]}-{code[3:]}", "SMS")]
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    refused = error(http.post(f"{G}/{phone_id}/verify_code", json={"code": wrong},
                              headers=auth(customer)))  # fmt: skip
    assert (refused.code, refused.details) == (136025, "The code you entered is incorrect.")
    assert phone(http, customer).code_verification_status == "NOT_VERIFIED"
    ok = http.post(f"{G}/{phone_id}/verify_code", json={"code": code}, headers=auth(customer))
    assert ok.json() == {"success": True}
    assert phone(http, customer).code_verification_status == "VERIFIED"
    with pytest.raises(LookupError):
        sandbox.meta.control_last_code(phone_number_id=phone_id)
    assert register(http, customer, phone_id).json() == {"success": True}


def test_codes_expire_are_not_resent_too_soon_and_die_after_five_wrong_tries(
    sandbox, http, customer, texts
):
    phone_id, headers = customer["phone_number_ids"][0], auth(customer)
    url = f"{G}/{phone_id}/request_code"
    assert http.post(url, json={"code_method": "VOICE", "language": "pt_BR"},
                     headers=headers).status_code == 200  # fmt: skip
    assert texts[-1][2] == "VOICE"
    again = error(http.post(url, json={"code_method": "SMS", "language": "en_US"}, headers=headers))
    assert again.code == 136024 and "Wait 60 seconds" in again.details
    sandbox.advance(60)
    assert http.post(url, json={"code_method": "SMS", "language": "en_US"},
                     headers=headers).status_code == 200  # fmt: skip
    code = sandbox.meta.control_last_code(phone_number_id=phone_id)["code"]
    sandbox.advance(601)
    expired = error(http.post(f"{G}/{phone_id}/verify_code", json={"code": code}, headers=headers))
    assert (expired.code, expired.details) == (136025, "The code has expired: request a new code.")
    # five wrong codes void the one sent
    assert http.post(url, json={"code_method": "SMS", "language": "en_US"},
                     headers=headers).status_code == 200  # fmt: skip
    code = sandbox.meta.control_last_code(phone_number_id=phone_id)["code"]
    wrong = f"{(int(code) + 7) % 1_000_000:06d}"
    answers = [
        error(http.post(f"{G}/{phone_id}/verify_code", json={"code": wrong}, headers=headers))
        for _ in range(5)
    ]
    assert answers[-1].details == "Too many wrong codes: request a new code."
    voided = error(http.post(f"{G}/{phone_id}/verify_code", json={"code": code}, headers=headers))
    assert voided.code == 136025 and "request one first" in voided.details
    # parameters Graph refuses
    for body in ({"code_method": "FAX", "language": "en_US"}, {"code_method": "SMS"}):
        assert error(http.post(url, json=body, headers=headers)).code == 100
    short = http.post(f"{G}/{phone_id}/verify_code", json={"code": "12345"}, headers=headers)
    assert error(short).code == 100


def test_the_pin_is_set_over_graph_and_a_pin_changed_elsewhere_is_told(
    sandbox, http, captured, app
):
    customer = sandbox.meta.control_seed_waba(app_id=APP_ID, subscribe=True)
    phone_id, headers = customer["phone_number_ids"][0], auth(customer)
    assert error(http.post(f"{G}/{phone_id}", json={"pin": "12ab56"}, headers=headers)).code == 100
    assert http.post(f"{G}/{phone_id}", json={"pin": "246810"}, headers=headers).json() == {
        "success": True
    }
    assert phone(http, customer).is_pin_enabled is True
    assert error(register(http, customer, phone_id, "000000")).code == 133005
    changed = sandbox.meta.control_pin_changed_elsewhere(phone_number_id=phone_id, pin="135790")
    assert changed["pin"] == "135790"
    number = customer["display_phone_numbers"][0]
    assert webhook_values(captured, "security") == [
        {"display_phone_number": number, "event": "PIN_CHANGED"}
    ]
    assert error(register(http, customer, phone_id, "246810")).code == 133005
    assert register(http, customer, phone_id, "135790").json() == {"success": True}


# -- display names ----------------------------------------------------------------------------
def test_a_name_change_is_reviewed_on_the_clock_and_applies_at_the_next_registration(
    sandbox, http, captured, app
):
    customer = sandbox.meta.control_seed_waba(app_id=APP_ID, subscribe=True,
                                              business_name="Nova Shop")  # fmt: skip
    phone_id, headers = customer["phone_number_ids"][0], auth(customer)
    assert register(http, customer, phone_id).json() == {"success": True}
    asked = http.post(f"{G}/{phone_id}", json={"messaging_product": "whatsapp",
                      "new_display_name": "Café Nova"}, headers=headers)  # fmt: skip
    assert asked.json() == {"success": True}
    pending = phone(http, customer)
    assert (pending.verified_name, pending.new_name_status) == ("Nova Shop", "PENDING_REVIEW")
    raw = http.get(f"{G}/{phone_id}", params={"fields": "new_display_name"}, headers=headers)
    assert raw.json() == {"new_display_name": "Café Nova", "id": phone_id}
    twice = error(http.post(f"{G}/{phone_id}", json={"new_display_name": "Other"}, headers=headers))
    assert twice.user_title == "Display name under review"
    sandbox.advance(59)
    assert webhook_values(captured, "phone_number_name_update") == []
    sandbox.advance(1)
    assert webhook_values(captured, "phone_number_name_update") == [{
        "display_phone_number": customer["display_phone_numbers"][0], "decision": "APPROVED",
        "requested_verified_name": "Café Nova", "rejection_reason": None,
    }]  # fmt: skip
    approved = phone(http, customer)
    assert (approved.verified_name, approved.new_name_status) == ("Nova Shop", "APPROVED")
    assert register(http, customer, phone_id).json() == {"success": True}
    renamed = phone(http, customer)
    assert (renamed.verified_name, renamed.name_status) == ("Café Nova", "APPROVED")
    assert renamed.new_name_status is None  # pywa does not model new_display_name: read raw
    raw = http.get(f"{G}/{phone_id}", params={"fields": "new_display_name"}, headers=headers)
    assert raw.json() == {"id": phone_id}
    too_long = {"new_display_name": "x" * 76}
    assert error(http.post(f"{G}/{phone_id}", json=too_long, headers=headers)).code == 100


def test_a_rejected_change_keeps_the_old_name_with_meta_s_reason(sandbox, http, captured, app):
    customer = sandbox.meta.control_seed_waba(app_id=APP_ID, subscribe=True)
    phone_id = customer["phone_number_ids"][0]
    http.post(f"{G}/{phone_id}", json={"new_display_name": "Best Deals!!!"}, headers=auth(customer))
    with pytest.raises(ValueError):
        sandbox.meta.control_reject_display_name(phone_number_id=phone_id, reason="UGLY")
    reason = "NAME_FORMAT_UNACCEPTABLE"
    queued = sandbox.meta.control_reject_display_name(phone_number_id=phone_id, reason=reason)
    assert queued["decided"] is False
    sandbox.advance(60)
    (value,) = webhook_values(captured, "phone_number_name_update")
    assert (value["decision"], value["rejection_reason"]) == ("REJECTED", reason)
    assert value["requested_verified_name"] == "Best Deals!!!"
    kept = phone(http, customer)
    assert (kept.name_status, kept.new_name_status) == ("APPROVED", "DECLINED")


def test_a_new_number_s_name_review_ends_with_a_webhook_and_a_declined_name_costs(
    sandbox, http, captured, app
):
    sandbox.meta.control_set_name_review(seconds=600)
    customer = sandbox.meta.control_seed_waba(app_id=APP_ID, subscribe=True, numbers=2)
    first, second = customer["phone_number_ids"]
    sandbox.meta.control_reject_display_name(phone_number_id=second, reason="NAME_NOT_CONSISTENT")
    sandbox.advance(600)
    decisions = webhook_values(captured, "phone_number_name_update")
    assert [(v["display_phone_number"], v["decision"]) for v in decisions] == [
        (customer["display_phone_numbers"][0], "APPROVED"),
        (customer["display_phone_numbers"][1], "REJECTED"),
    ]
    assert phone(http, customer, first).name_status == "APPROVED"
    assert phone(http, customer, second).name_status == "DECLINED"
    assert error(register(http, customer, second)).code == 2388001
    # a new name, approved at once here, lets the number register
    sandbox.meta.control_set_display_name_review(seconds=0)
    http.post(f"{G}/{second}", json={"new_display_name": "Nova Shop"}, headers=auth(customer))
    assert phone(http, customer, second).verified_name == "Nova Shop"
    assert register(http, customer, second).json() == {"success": True}
    # the verification Meta runs on a registered number's name: declined, sending limited
    assert register(http, customer, first).json() == {"success": True}
    sandbox.meta.control_reject_display_name(phone_number_id=first, now=True)
    health = phone(http, customer, first).health_status
    entity = next(e for e in health["entities"] if e["entity_type"] == "PHONE_NUMBER")
    assert (health["can_send_message"], entity["errors"][0]["error_code"]) == ("LIMITED", 131037)


# -- Official Business Account -------------------------------------------------------------------
def test_the_badge_is_asked_for_reviewed_on_the_clock_and_refusals_wait_30_days(sandbox, http, app):
    customer = sandbox.meta.control_seed_waba(app_id=APP_ID, subscribe=True, numbers=2)
    first, second = customer["phone_number_ids"]
    headers = auth(customer)
    url = f"{G}/{first}/official_business_account"
    assert http.get(url, headers=headers).json() == {"id": first}  # never asked
    no_pin = error(http.post(url, json=OBA, headers=headers))
    assert "Two-step verification" in no_pin.user_msg
    for phone_id in (first, second):
        http.post(f"{G}/{phone_id}", json={"pin": "246810"}, headers=headers)
    no_site = {k: v for k, v in OBA.items() if k != "business_website_url"}
    assert error(http.post(url, json=no_site, headers=headers)).code == 100
    asked = http.post(url, json=OBA, headers=headers).json()
    assert asked["success"] is True and asked["updated_status"]["oba_status"] == "PENDING"
    assert error(http.post(url, json=OBA, headers=headers)).user_title == "Request already made"
    sandbox.advance(120)
    assert http.get(url, params={"fields": "oba_status"}, headers=headers).json() == {
        "oba_status": "APPROVED", "id": first,
    }  # fmt: skip
    assert phone(http, customer, first).is_official_business_account is True
    # refused: the reason is the status message, and a new request waits 30 days
    other = f"{G}/{second}/official_business_account"
    http.post(other, json=OBA, headers=headers)
    sandbox.meta.control_reject_oba(phone_number_id=second, reason="Not notable enough.")
    sandbox.advance(120)
    assert http.get(other, headers=headers).json()["status_message"] == "Not notable enough."
    assert "30 days" in error(http.post(other, json=OBA, headers=headers)).user_msg
    sandbox.advance(30 * 86400)
    # the spec's action form: submit, then withdraw
    body = {
        "action": "SUBMIT_APPLICATION",
        "application_data": {"website_url": "https://n.example"},
    }
    assert http.post(other, json=body, headers=headers).status_code == 200
    withdrawn = http.post(other, json={"action": "WITHDRAW_APPLICATION"}, headers=headers).json()
    assert withdrawn["updated_status"]["oba_status"] == "CANCELLED"


# -- adding and migrating numbers -----------------------------------------------------------------
def test_a_number_is_added_to_a_waba_unverified(sandbox, http, app):
    customer = sandbox.meta.control_seed_waba(app_id=APP_ID, numbers=0, subscribe=True)
    url, headers = f"{G}/{customer['waba_id']}/phone_numbers", auth(customer)
    body = {"cc": "1", "phone_number": "5550101234", "verified_name": "Nova Shop"}
    added = http.post(url, json=body, headers=headers).json()
    number = phone(http, customer, added["id"])
    assert (number.display_phone_number, number.code_verification_status, number.status) == (
        "+1 555-010-1234", "NOT_VERIFIED", "PENDING",
    )  # fmt: skip
    international = {"cc": "1", "phone_number": "15550103333", "verified_name": "Nova Shop"}
    other = http.post(url, json=international, headers=headers).json()["id"]
    assert phone(http, customer, other).display_phone_number == "+1 555-010-3333"
    again = error(http.post(url, json=body, headers=headers))
    assert again.subcode == 2388012 and 2388012 in PhoneNumberAlreadyExists.__error_codes__
    assert error(http.post(url, json={"cc": "1", "phone_number": "5550109999"},
                           headers=headers)).code == 100  # fmt: skip
    held = sandbox.meta.control_seed_number_elsewhere()
    in_use = {"cc": "1", "phone_number": held["number"][2:], "verified_name": "Nova"}
    assert error(http.post(url, json=in_use, headers=headers)).user_title == "Phone number in use"


def test_a_number_migrates_in_once_the_old_provider_allows_it(sandbox, http, app, texts):
    held = sandbox.meta.control_seed_number_elsewhere(verified_name="Moving Co",
                                                      pending_name="Moving Company")  # fmt: skip
    customer = sandbox.meta.control_seed_waba(app_id=APP_ID, numbers=0)
    url, headers = f"{G}/{customer['waba_id']}/phone_numbers", auth(customer)
    body = {"cc": held["cc"], "phone_number": held["number"][2:], "migrate_phone_number": True}

    def refusal() -> str:
        refused = error(http.post(url, json=body, headers=headers))
        assert (refused.code, refused.subcode) == (100, 2388103)
        assert 2388103 in CannotMigratePhoneNumber.__error_codes__
        return refused.user_msg

    assert refusal().startswith("Webhooks have not been set up")
    http.post(f"{G}/{customer['waba_id']}/subscribed_apps", headers=headers)
    assert "under review" in refusal()
    sandbox.meta.control_set_old_provider(number=held["number"], pending_name="",
                                          name_status="PENDING_REVIEW")  # fmt: skip
    assert refusal() == "The business phone number must have an approved display name."
    sandbox.meta.control_set_old_provider(number=held["number"], name_status="APPROVED")
    assert refusal() == "Two-step authentication must be disabled for this phone number."
    sandbox.meta.control_set_old_provider(number=held["number"], two_step=False)
    moved = http.post(url, json=body, headers=headers).json()["id"]
    assert error(http.post(url, json=body, headers=headers)).subcode == 2388012
    arriving = phone(http, customer, moved)
    assert (arriving.verified_name, arriving.name_status) == ("Moving Co", "APPROVED")
    assert arriving.code_verification_status == "NOT_VERIFIED"
    assert error(register(http, customer, moved)).code == 133006
    http.post(f"{G}/{moved}/request_code", json={"code_method": "SMS", "language": "en_US"},
              headers=headers)  # fmt: skip
    assert texts[-1][0] == held["number"]
    code = sandbox.meta.control_last_code(phone_number_id=moved)["code"]
    http.post(f"{G}/{moved}/verify_code", json={"code": code}, headers=headers)
    assert register(http, customer, moved).json() == {"success": True}
    assert sandbox.meta.phones[held["phone_number_id"]].status == "MIGRATED"
    nobody = {"cc": "1", "phone_number": "5550107777", "migrate_phone_number": True}
    assert "added directly" in error(http.post(url, json=nobody, headers=headers)).user_msg


def test_the_graph_errors_keep_meta_s_envelope(sandbox, http, customer):
    """Every refusal above is Graph's ``{"error": {...}}`` with a trace id (spot check)."""
    phone_id = customer["phone_number_ids"][0]
    body = http.post(f"{G}/{phone_id}/verify_code", json={"code": "123456"},
                     headers=auth(customer)).json()  # fmt: skip
    assert set(body) == {"error"} and body["error"]["fbtrace_id"]
    assert json.loads(json.dumps(body))["error"]["error_data"]["messaging_product"] == "whatsapp"
