"""The census finds what it counts: one planted duplicate of each kind, one each.

Planted after the small storm, in its sandbox and database (the storm's own census was
taken before). Twilio's duplicates are copies of real objects under a new sid (the
sandbox refuses some of them over its API); the 360dialog key and the Meta registration
are real second calls to the sandbox.
"""

from __future__ import annotations

import copy
from collections import Counter

import httpx
import pytest
from sqlalchemy import select

from portal.extensions import db
from provisioning.dialog360.models import Dialog360Channel
from provisioning.dialog360.onboarding import partner_client
from provisioning.events import WebhookEvent
from provisioning.meta.api import GraphClient
from provisioning.meta.models import MetaWhatsAppPhoneNumber
from provisioning.partners import PartnerConfiguration
from provisioning.runs import ProvisioningRun, RunStatus
from provisioning.sandbox.outbound import Delivery

from . import census

TWILIO_STORES = {  # finding -> the sandbox store holding that kind of object
    "twilio subaccounts": "accounts",
    "twilio numbers": "numbers",
    "twilio senders": "senders",
    "trusthub customer profiles": "profiles",
    "trusthub trust products": "trust_products",
    "trusthub end users": "end_users",
    "trusthub supporting documents": "documents_store",
    "trusthub entity assignments": "assignments_store",
    "addresses": "addresses_store",
    "messaging services": "services",
    "event sinks": "sinks",
    "event subscriptions": "subscriptions_store",
    "a2p brands": "brands",
    "a2p campaigns": "campaigns",
}


def plant_copy(store: dict, sandbox) -> None:
    """A second object with the identity of one the storm made (a subaccount, a
    secondary profile: never the ISV's own account or primary profile)."""
    record = next(
        r for r in store.values()
        if not r.get("_isv") and r.get("owner_account_sid", "") != r["sid"]
    )  # fmt: skip
    twin = copy.deepcopy(record)
    twin["sid"] = sandbox.ids.sid(record["sid"][:2])
    store[twin["sid"] if "messaging_service_sid" not in twin else sandbox.ids.sid("MG")] = twin


def regenerate_a_key_blindly(storm) -> None:
    """What issue 11 saw: a new key for a channel whose key the portal holds."""
    row = db.session.scalars(
        select(Dialog360Channel).where(Dialog360Channel.api_key_id.is_not(None))
    ).first()
    storm.sandbox.advance(31)  # 360dialog allows one key per 30 s
    config = db.session.get(PartnerConfiguration, row.client.partner_configuration_id)
    with partner_client(config, unfaulted(storm)) as api:
        api.generate_api_key(row.dialog_channel_id)


def register_again(storm) -> None:
    """A second /register of a registered number, with the PIN the portal stored."""
    row = db.session.scalars(select(MetaWhatsAppPhoneNumber).where(
        MetaWhatsAppPhoneNumber.registered_at.is_not(None)
    )).first()  # fmt: skip
    config = db.session.get(PartnerConfiguration, row.client.partner_configuration_id)
    graph = GraphClient(
        config.value("graph_base_url"), config.value("graph_api_version"),
        transport=unfaulted(storm),
    )  # fmt: skip
    with graph:
        graph.register(row.phone_number_id, row.client.access_token, row.pin)


def unfaulted(storm) -> httpx.BaseTransport:
    return httpx.WSGITransport(app=storm.sandbox.wsgi_app)


def plant_portal_problems(storm) -> None:
    """A run left running, a failed run saying only an exception's repr, an event never
    applied, and a webhook the portal answered with a 500."""
    completed = db.session.scalars(
        select(ProvisioningRun).where(ProvisioningRun.status == RunStatus.COMPLETED)
    ).all()
    completed[0].status = RunStatus.RUNNING
    completed[1].status, completed[1].error_message = RunStatus.FAILED, "KeyError('waba_id')"
    event = db.session.scalars(select(WebhookEvent)).first()
    event.processed_at = None
    db.session.commit()
    storm.sandbox.outbound.deliveries.append(
        Delivery("meta", "POST", "http://portal.test/webhooks/meta", b"{}", {}, 1, 500)
    )


def test_a_planted_duplicate_of_each_kind_is_counted_once(small_storm):
    storm = small_storm.storm
    told = ["no answer: ReadTimeout"]
    with storm.app.app_context():
        before = census.take(storm.sandbox, db.session, [], []).counts()
        for store in TWILIO_STORES.values():
            plant_copy(getattr(storm.sandbox.twilio, store), storm.sandbox)
        regenerate_a_key_blindly(storm)
        register_again(storm)
        plant_portal_problems(storm)
        after = census.take(storm.sandbox, db.session, ["500 GET /c/x/"], told).counts()
        db.session.remove()
    found = Counter(after) - Counter(before)
    assert found == dict.fromkeys(
        [
            *TWILIO_STORES,
            "360dialog blind key regenerations",
            "360dialog stored keys revoked",
            "meta repeated registrations",
            "runs stuck",
            "failed runs without a clear message",
            "webhook events not applied",
            "unclear messages to people",
        ],
        1,
    ) | {"http 500 answers": 2}  # the one a person got, the one the sandbox's webhook got


@pytest.mark.parametrize(
    ("message", "clear"),
    [
        ("Twilio did not complete the request (no answer: ReadTimeout): try again.", True),
        ("A registration is already in progress for this company.", True),
        ("no answer: ReadTimeout", False),
        ("KeyError('waba_id')", False),
        ("'customer_profile_sid'", False),
        ("HTTPStatusError: Server error '503 Service Unavailable'", False),
        ("Traceback (most recent call last):\n  File ...", False),
        ("", False),
    ],
)
def test_a_message_is_clear_when_a_person_can_act_on_it(message, clear):
    assert census.unclear(message) is not clear
