"""The A2P registration when every create's answer is lost: each object exists once.

Every create call the registration makes is faulted with ``drop`` (Twilio acts, then the
answer is lost). The objects are counted in the sandbox's own state, not in ours.
"""

from __future__ import annotations

import pytest

from provisioning import runs
from provisioning.audit import SYSTEM
from provisioning.partners import Provider
from provisioning.runs import RunStatus
from provisioning.twilio.a2p import save_business_info, submit_brand
from tests.twilio.test_a2p import PROFILE

# The path (under /twilio) of every create the registration sends, and how many it sends.
CREATES = {
    r"/api/2010-04-01/Accounts\.json$": 1,
    r"/trusthub/v1/CustomerProfiles$": 1,
    r"/trusthub/v1/EndUsers$": 3,
    r"/Addresses\.json$": 1,
    r"/trusthub/v1/SupportingDocuments$": 1,
    r"/EntityAssignments$": 6,
    r"/trusthub/v1/TrustProducts$": 1,
    r"/events/v1/Sinks$": 1,
    r"/events/v1/Subscriptions$": 1,
    r"/messaging/v1/a2p/BrandRegistrations$": 1,
    r"/messaging/v1/Services$": 1,
    r"/Compliance/Usa2p$": 1,
}
# The same lists answer the lookups after a lost answer.
LOOKUPS = [path for path in CREATES if "Accounts" not in path]


@pytest.fixture
def sandbox(connected_sandbox):
    sandbox = connected_sandbox(45, Provider.TWILIO)
    sandbox.config = sandbox.configs[Provider.TWILIO]
    return sandbox


def run_to(session, sandbox, brand, done) -> RunStatus:
    services = {"transport": sandbox.transport(), "public_base_url": "http://portal.test"}
    for _ in range(40):
        status = runs.execute(session, brand.run_id, session.commit, services)
        session.refresh(brand)
        if done() or status in (RunStatus.FAILED, RunStatus.COMPLETED):
            return status
        sandbox.advance(120)  # bundles move through review on the sandbox clock
    return status


def objects_in(sandbox, account_sid: str) -> dict[str, int]:
    twilio = sandbox.twilio

    def count(store, key="account_sid") -> int:
        return sum(1 for record in store.values() if record.get(key) == account_sid)

    return {
        "customer profiles": count(twilio.profiles),
        "trust products": count(twilio.trust_products),
        "end users": count(twilio.end_users),
        "addresses": count(twilio.addresses_store),
        "documents": count(twilio.documents_store),
        "assignments": count(twilio.assignments_store),
        "sinks": count(twilio.sinks, "_account"),
        "subscriptions": count(twilio.subscriptions_store, "_account"),
        "brands": count(twilio.brands),
        "messaging services": count(twilio.services),
        "campaigns": count(twilio.campaigns),
    }


ONCE_EACH = {
    "customer profiles": 1, "trust products": 1, "end users": 3, "addresses": 1,
    "documents": 1, "assignments": 6, "sinks": 1, "subscriptions": 1, "brands": 1,
    "messaging services": 1, "campaigns": 1,
}  # fmt: skip


@pytest.mark.parametrize("lookups_fail", [False, True], ids=["found-at-once", "found-next-time"])
def test_every_create_with_a_lost_answer_leaves_one_object(session, sandbox, make, lookups_fail):
    company = make.company("Acme Dental")
    save_business_info(session, SYSTEM, company, PROFILE)
    brand = submit_brand(session, SYSTEM, company, sandbox.config)
    session.commit()
    for path, times in CREATES.items():
        sandbox.faults.add("drop", provider="twilio", method="POST", path=path, times=times)
    if lookups_fail:  # the first lookup after each loss fails too: the next attempt finds it
        for path in LOOKUPS:
            sandbox.faults.add("server_error", provider="twilio", method="GET", path=path, times=1)
    assert run_to(session, sandbox, brand, lambda: brand.provider_brand_id) is RunStatus.WAITING
    sandbox.twilio.control_approve_brand(brand_sid=brand.provider_brand_id)
    assert run_to(session, sandbox, brand, lambda: False) is RunStatus.COMPLETED
    assert all(f.hits == f.times for f in sandbox.faults.list())  # every fault fired
    [sub] = [a for a in sandbox.twilio.accounts.values() if a["owner_account_sid"] != a["sid"]]
    assert objects_in(sandbox, sub["sid"]) == ONCE_EACH
    pairs = [(a.get("customer_profile_sid") or a.get("trust_product_sid"), a["object_sid"])
             for a in sandbox.twilio.assignments_store.values()]  # fmt: skip
    assert len(pairs) == len(set(pairs))
