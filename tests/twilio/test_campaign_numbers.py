"""10DLC numbers join their company's campaign service: once, after a lost answer too, and
never toll-free numbers or another company's."""

from __future__ import annotations

import pytest

from provisioning import clients
from provisioning.audit import SYSTEM
from provisioning.errors import DomainError
from provisioning.twilio import campaign_numbers, numbers, sending
from provisioning.twilio.models import Tenant10DLCBrand, TwilioSubaccount
from tests.twilio import test_a2p
from tests.twilio.test_a2p import register_campaign

sandbox, config = test_a2p.sandbox, test_a2p.config  # the A2P tests' fixtures


@pytest.fixture
def registered(session, sandbox, config, make):
    """A company whose 10DLC campaign exists, and its subaccount's client."""
    company = make.company("Acme Dental")
    brand = register_campaign(session, sandbox, config, company)
    sub = session.query(TwilioSubaccount).filter_by(company_id=company.id).one()
    service = brand.provider_config_json["messaging_service_sid"]
    return company, sub, subaccount_api(config, sub, sandbox), service


def subaccount_api(config, sub, sandbox):
    """The subaccount's own API (its credentials), against the sandbox."""
    return clients.twilio_subaccount(config, sub.account_sid, sub.auth_token, sandbox.transport())


def buy(session, company, sub, client, area: str):
    found = numbers.search_numbers(client, "US", "toll_free" if area[0] == "8" else "local",
                                   area_code=area)  # fmt: skip
    return numbers.buy_number(session, SYSTEM, company, sub, client, found[0]["phone_number"],
                              session.commit)  # fmt: skip


def in_service(sandbox, service: str) -> set[str]:
    return {pn for (mg, pn) in sandbox.twilio.service_numbers if mg == service}


def test_local_numbers_join_the_campaign_service_once(session, sandbox, registered):
    company, sub, client, service = registered
    local, toll_free = buy(session, company, sub, client, "415"), buy(session, company, sub,
                                                                      client, "888")  # fmt: skip
    assert campaign_numbers.is_10dlc(local) and not campaign_numbers.is_10dlc(toll_free)
    assert campaign_numbers.attach_all(session, SYSTEM, company.id, client) == [local]
    assert local.messaging_service_sid == service and toll_free.messaging_service_sid is None
    assert in_service(sandbox, service) == {local.provider_phone_id}
    assert campaign_numbers.attach_all(session, SYSTEM, company.id, client) == []


def test_a_lost_answer_is_settled_by_reading_the_service(session, sandbox, registered):
    company, sub, client, service = registered
    local = buy(session, company, sub, client, "512")
    sandbox.faults.add("drop", provider="twilio", method="POST", path=r"/PhoneNumbers$", times=1)
    assert campaign_numbers.attach_all(session, SYSTEM, company.id, client) == [local]
    assert in_service(sandbox, service) == {local.provider_phone_id}
    assert all(f.hits == f.times for f in sandbox.faults.list())


def test_a_number_of_another_service_is_explained(session, sandbox, registered):
    company, sub, client, service = registered
    local = buy(session, company, sub, client, "206")
    other = client.messaging_service("Elsewhere", "notifications").run().sid
    client.service_number(other, local.provider_phone_id).run()
    with pytest.raises(DomainError, match="another Messaging Service"):
        campaign_numbers.attach(session, SYSTEM, local, client, service)
    assert local.messaging_service_sid is None


def test_a_number_bought_after_the_campaign_joins_it(session, sandbox, registered):
    company, sub, client, service = registered
    local = buy(session, company, sub, client, "305")
    assert campaign_numbers.join_after_purchase(session, SYSTEM, local, client) is None
    assert local.messaging_service_sid == service


def test_nothing_joins_before_the_campaign_exists(session, make):
    company = make.company("No Campaign")
    assert campaign_numbers.campaign_service(session, company.id) is None
    assert campaign_numbers.attach_all(session, SYSTEM, company.id, None) == []


def test_a_10dlc_number_sends_once_it_is_in_the_live_campaign(session, sandbox, registered):
    company, sub, client, _ = registered
    local = buy(session, company, sub, client, "617")
    assert "not joined the campaign" in sending.can_send(session, local).reason
    campaign_numbers.attach_all(session, SYSTEM, company.id, client)
    brand = session.query(Tenant10DLCBrand).filter_by(company_id=company.id).one()
    assert brand.campaign_status == "IN_PROGRESS"
    assert "in review" in sending.can_send(session, local).reason
    brand.campaign_status = "VERIFIED"
    assert sending.can_send(session, local) == sending.SendReadiness(
        True, "It sends for the company's registered 10DLC campaign."
    )
    brand.campaign_status = "SUSPENDED"
    assert "suspended" in sending.can_send(session, local).reason


def test_the_registration_run_adds_the_numbers_bought_before(session, sandbox, config, make):
    company = make.company("Early Numbers")
    sub = numbers.ensure_subaccount(session, SYSTEM, company, config, sandbox.transport(),
                                    commit=session.commit)  # fmt: skip
    client = subaccount_api(config, sub, sandbox)
    local = buy(session, company, sub, client, "303")
    brand = register_campaign(session, sandbox, config, company)
    service = brand.provider_config_json["messaging_service_sid"]
    assert local.messaging_service_sid == service
    assert in_service(sandbox, service) == {local.provider_phone_id}
