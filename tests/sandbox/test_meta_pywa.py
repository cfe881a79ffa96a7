"""Every webhook the Meta simulator sends, read by a parser we did not write: pywa.

Each delivery goes through pywa's own entry points: ``webhook_update_validator`` checks
``X-Hub-Signature-256`` with the app secret (Meta's algorithm, pywa's code) and
``webhook_update_handler`` parses it as pywa's server would. Fields pywa models
(``account_update``, ``messages``) must build their typed update with no ``UNKNOWN``
enum (pywa maps a value it does not know to UNKNOWN instead of failing, so a wrong enum
would otherwise slip through); the others reach pywa's raw-update handler with the
envelope pywa reads (``entry[0].id``, the field, the value). Inbound messages are also
validated against the Meta spec's webhook schema (``POST /whatsapp/webhooks``).
"""

from __future__ import annotations

import enum
import json

import httpx
import pytest
from pywa import WhatsApp
from pywa.handlers import AccountUpdateHandler, MessageHandler, RawUpdateHandler

from provisioning.sandbox import Sandbox
from tests.sandbox.openapi import validate_request_body

APP_ID, SECRET = "1234567890123456", "app-secret-0001"
G = "/meta/graph/v25.0"
# Fields pywa has no model for: it hands them to the raw-update handler.
RAW_FIELDS = {
    "phone_number_quality_update",
    "business_capability_update",
    "account_alerts",
    "security",
    "phone_number_name_update",
    "account_review_update",
}


class Parsed:
    """A pywa client with a handler for each kind of update, recording what it built."""

    def __init__(self) -> None:
        self.typed: list[object] = []
        self.raw: list[dict] = []
        self.wa = WhatsApp(token="unused", app_secret=SECRET, filter_updates=False,
                           skip_duplicate_updates=False)  # fmt: skip
        self.wa.add_handlers(
            AccountUpdateHandler(lambda _, update: self.typed.append(update)),
            MessageHandler(lambda _, update: self.typed.append(update)),
            RawUpdateHandler(lambda _, update: self.raw.append(update)),
        )

    def read(self, request: httpx.Request) -> tuple[object | None, dict]:
        """pywa's verdict on one delivery: its typed update (None for a raw-only field)."""
        signature = request.headers["X-Hub-Signature-256"]
        assert self.wa.webhook_update_validator(request.content, signature) is None
        typed_before = len(self.typed)
        assert self.wa.webhook_update_handler(request.content) == ("ok", 200)
        raw = self.raw[-1]
        typed = self.typed[typed_before] if len(self.typed) > typed_before else None
        return typed, raw


def unknown_enums(value: object, path: str = "update") -> list[str]:
    """Paths of every enum pywa could not map (its UNKNOWN member)."""
    found = []
    if isinstance(value, enum.Enum) and value.name == "UNKNOWN":
        found.append(path)
    elif isinstance(value, tuple):
        for i, item in enumerate(value):
            found += unknown_enums(item, f"{path}[{i}]")
    elif hasattr(value, "__dataclass_fields__") and not isinstance(value, type):
        for name in value.__dataclass_fields__:
            if not name.startswith("_") and name not in ("raw", "shared_data"):
                found += unknown_enums(getattr(value, name, None), f"{path}.{name}")
    return found


@pytest.fixture
def customer(sandbox: Sandbox, http: httpx.Client) -> dict:
    sandbox.meta.control_seed_app(app_id=APP_ID, app_secret=SECRET,
                                  webhook_url="https://portal.test/wh/meta")  # fmt: skip
    signup = sandbox.meta.control_complete_signup(app_id=APP_ID, verified_name="Café Ñandú")
    token = http.get(
        f"{G}/oauth/access_token",
        params={"client_id": APP_ID, "client_secret": SECRET, "code": signup["code"]},
    ).json()["access_token"]
    subscribe = f"{G}/{signup['waba_id']}/subscribed_apps"
    auth = {"Authorization": f"Bearer {token}"}
    assert http.post(subscribe, headers=auth).json() == {"success": True}
    return signup


def every_webhook(sandbox: Sandbox, customer: dict) -> None:
    """Every control that makes the Meta simulator send a webhook."""
    meta, waba, phone = sandbox.meta, customer["waba_id"], customer["phone_number_id"]
    meta.control_set_throughput(phone_number_id=phone, event="ONBOARDING")
    meta.control_set_throughput(phone_number_id=phone)
    meta.control_set_portfolio_limit(business_id=customer["business_id"], tier="TIER_10K")
    meta.control_set_messaging_limit(phone_number_id=phone, tier="TIER_UNLIMITED")
    meta.control_ban_waba(waba_id=waba, state="SCHEDULE_FOR_DISABLE")
    meta.control_ban_waba(waba_id=waba, state="REINSTATE")
    meta.control_restrict_waba(waba_id=waba)
    meta.control_violation(waba_id=waba, violation_type="SCAM")
    meta.control_offboard(waba_id=waba)
    meta.control_offboard(waba_id=waba, reconnect=True)
    meta.control_account_alert(waba_id=waba)
    meta.control_account_alert(waba_id=waba, entity_type="BUSINESS", severity="CRITICAL")
    meta.control_security_event(phone_number_id=phone)
    meta.control_inbound_message(phone_number_id=phone, text="Olá, ñandú")
    meta.control_inbound_message(phone_number_id=phone, wa_id=None, username="ana.b")
    meta.control_emit(waba_id=waba, field="account_review_update", value={"decision": "APPROVED"})
    meta.control_emit(waba_id=waba, field="phone_number_name_update", value={
        "display_phone_number": meta.phones[phone].number, "decision": "APPROVED",
        "requested_verified_name": "Café", "rejection_reason": None,
    })  # fmt: skip
    meta.control_partner_event(waba_id=waba, event="PARTNER_ADDED")
    meta.control_partner_event(waba_id=waba, event="PARTNER_APP_UNINSTALLED")
    meta.control_partner_event(waba_id=waba, event="PARTNER_REMOVED")


def test_every_meta_webhook_parses_with_pywa(sandbox, captured, customer):
    every_webhook(sandbox, customer)
    deliveries = [r for r in captured.requests if r.method == "POST"]
    parsed, seen = Parsed(), set()
    for request in deliveries:
        body = json.loads(request.content)
        field = body["entry"][0]["changes"][0]["field"]
        seen.add(field)
        typed, raw = parsed.read(request)
        assert raw.field == field and raw.value == body["entry"][0]["changes"][0]["value"]
        if field in RAW_FIELDS:
            assert typed is None, field  # pywa models none of these: raw is all it reads
            assert raw.id == customer["waba_id"]
            continue
        assert typed is not None, f"pywa could not build a {field} update: {body}"
        assert unknown_enums(typed) == [], (field, unknown_enums(typed))
        if field == "messages":
            validate_request_body("meta", "POST /whatsapp/webhooks", request.content)
    assert seen == RAW_FIELDS | {"account_update", "messages"}


def test_pywa_reads_the_2026_shapes(sandbox, captured, customer):
    """The details issue 13 names, as pywa reads them."""
    meta, waba, phone = sandbox.meta, customer["waba_id"], customer["phone_number_id"]
    meta.control_inbound_message(phone_number_id=phone, wa_id=None, username="ana.b")
    meta.control_ban_waba(waba_id=waba, state="DISABLE")
    meta.control_partner_event(waba_id=waba, event="PARTNER_REMOVED")
    parsed = Parsed()
    posts = [r for r in captured.requests if r.method == "POST"]
    message, ban, removed = (parsed.read(r)[0] for r in posts[-3:])
    assert ban.ban_info.date.isoformat() == "2026-01-01"  # "January 1, 2026"
    # partner events: keyed by the business portfolio, the WABA in waba_info
    assert removed.id == customer["business_id"] and removed.waba_info.id == waba
    # a user with a username: the business-scoped user id, no phone number
    assert message.from_user.bsuid.startswith("US.") and message.from_user.wa_id is None
    assert message.from_user.username == "ana.b"


def test_a_legacy_shape_would_fail(sandbox):
    """The check has teeth: the ban date the simulator used to send does not parse."""
    body = json.dumps({"object": "whatsapp_business_account", "entry": [{
        "id": "1", "time": 1767225600, "changes": [{"field": "account_update", "value": {
            "event": "DISABLED_UPDATE",
            "ban_info": {"waba_ban_state": "DISABLE", "waba_ban_date": "2026-01-01"},
        }}],
    }]}).encode()  # fmt: skip
    parsed = Parsed()
    parsed.wa.webhook_update_handler(body)
    assert parsed.typed == [] and len(parsed.raw) == 1
