"""Offboarding through the portal, against the sandbox (issue 17 item 6): a company with a
Meta WhatsApp account (two numbers, their webhooks overridden to the portal), a 360dialog
channel and a Twilio subaccount with a bought number and a WhatsApp sender is offboarded
with one confirmation, and no simulator lists anything of it still pointing at the portal.
A fault mid-way leaves the runs resumable and nothing is done twice; Meta's refusal fails a
run in plain words and a Retry resumes it; one number goes alone when asked."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from portal.demo import META_APP
from provisioning import offboarding, runs
from provisioning.audit import SYSTEM
from provisioning.channels import Channel
from provisioning.dialog360.models import Dialog360Channel, Dialog360Client
from provisioning.dialog360.onboarding import INTEGRATED_ONBOARDING
from provisioning.meta.models import MetaWhatsAppClient, MetaWhatsAppPhoneNumber
from provisioning.meta.onboarding import EMBEDDED_SIGNUP
from provisioning.partners import Provider
from provisioning.runs import ProvisioningRun, RunStatus
from provisioning.tenancy import Company, Role
from provisioning.twilio.models import SmsPhoneNumber, TwilioSubaccount, TwilioWhatsAppSender
from provisioning.twilio.numbers import (
    buy_number,
    ensure_subaccount,
    search_numbers,
    subaccount_client,
)
from provisioning.twilio.senders import create_sender, refresh_sender
from tests.conftest import PUBLIC
from tests.sandbox.openapi import assert_conforms
from tests.sandbox.test_dialog360_conformance import check

HOST = "portal.test"  # PUBLIC_BASE_URL's host: what must no longer receive anything
APP_ID = META_APP["app_id"]


@pytest.fixture
def sandbox(connected_sandbox):
    sandbox = connected_sandbox(71, webhooks_to_app=True)  # Meta verifies overrides: a GET
    sandbox.record = True
    return sandbox


@pytest.fixture
def company(make):
    return make.company("Acme Offboarding")


@pytest.fixture
def owner(make, company):
    return make.user(company, Role.ADMIN)


def execute(session, run_id: int, sandbox) -> RunStatus:
    services = {"transport": sandbox.transport(), "public_base_url": PUBLIC}
    return runs.execute(session, run_id, session.commit, services)


def connect_meta(app, session, sandbox, company) -> dict:
    """Embedded Signup with two numbers, each with its webhooks overridden to the portal."""
    config = sandbox.configs[Provider.META]
    config.settings = {**config.settings, "webhook_callback_url": f"{PUBLIC}/webhooks/meta"}
    session.commit()
    signup = sandbox.meta.control_complete_signup(app_id=APP_ID)
    waba = sandbox.meta.wabas[signup["waba_id"]]
    second = sandbox.meta.new_phone(waba, verified_name="Acme Two")
    app.extensions["job_runner"].drain()  # the partner webhook
    run = runs.start_run(
        session, SYSTEM, EMBEDDED_SIGNUP, company.id, partner_configuration_id=config.id,
        context={"event": signup["event"]}, secret_input={"code": signup["code"]},
    )  # fmt: skip
    session.commit()
    assert execute(session, run.id, sandbox) is RunStatus.COMPLETED
    app.extensions["job_runner"].drain()
    phones = [signup["phone_number_id"], second.id]
    assert all(sandbox.meta.phones[p].registered for p in phones)
    assert all(sandbox.meta.phones[p].webhook_override for p in phones)
    return {"waba_id": signup["waba_id"], "phones": phones}


def connect_dialog360(app, session, sandbox, company) -> str:
    """Integrated Onboarding of one number, its webhook on the portal."""
    outcome = sandbox.dialog360.control_complete_onboarding(
        partner_payload=company.public_id, numbers=["+4915100000071"]
    )
    run = runs.start_run(
        session, SYSTEM, INTEGRATED_ONBOARDING, company.id,
        partner_configuration_id=sandbox.configs[Provider.DIALOG360].id,
        context={"client_id": outcome["client_id"], "channel_ids": outcome["channel_ids"]},
    )  # fmt: skip
    session.commit()
    for _ in range(40):
        if execute(session, run.id, sandbox) is not RunStatus.WAITING:
            break
        sandbox.advance(600)
    assert run.status is RunStatus.COMPLETED
    app.extensions["job_runner"].drain()
    return outcome["channel_ids"][0]


def connect_twilio(session, sandbox, company) -> dict:
    """A subaccount with a bought number (its SMS to the portal) and a WhatsApp sender on
    it (its callbacks to the portal)."""
    config = sandbox.configs[Provider.TWILIO]
    sub = ensure_subaccount(session, SYSTEM, company, config, sandbox.transport(),
                            commit=session.commit)  # fmt: skip
    api = subaccount_client(sub, config, sandbox.transport())
    offered = search_numbers(api, "US", "local")[0]["phone_number"]
    number = buy_number(session, SYSTEM, company, sub, api, offered, session.commit,
                        sms_url=f"{PUBLIC}/webhooks/twilio/messages")  # fmt: skip
    sender = create_sender(
        session, SYSTEM, company, sub, api, phone_number=offered, waba_id="123456789012345",
        profile_name="Acme", callback_url=f"{PUBLIC}/webhooks/twilio/messages",
        status_callback_url=f"{PUBLIC}/webhooks/twilio/status", commit=session.commit,
    )  # fmt: skip
    sandbox.advance(5)
    refresh_sender(session, sender, api)
    session.commit()
    return {"sub": sub, "number": number, "sender": sender}


@pytest.fixture
def connected(app, session, sandbox, company):
    world = {
        "meta": connect_meta(app, session, sandbox, company),
        "dialog360": connect_dialog360(app, session, sandbox, company),
        "twilio": connect_twilio(session, sandbox, company),
    }
    assert routes_to_portal(sandbox) == {"meta": 3, "dialog360": 1, "twilio": 3}
    sandbox.exchanges.clear()
    return world


def routes_to_portal(sandbox, include_closed: bool = False) -> dict[str, int]:
    """How many webhook routes of the customers' accounts each simulator still points at
    the portal (the providers' own partner-level URLs are listed apart, and not counted)."""
    return {
        "meta": sandbox.meta.control_routes_to(host=HOST)["routes"],
        "dialog360": sandbox.dialog360.control_routes_to(host=HOST)["routes"],
        "twilio": sandbox.twilio.control_routes_to(host=HOST, include_closed=include_closed)[
            "routes"
        ],
    }


def calls(sandbox, provider: str, method: str, pattern: str) -> int:
    return sum(
        1
        for e in sandbox.exchanges
        if e["provider"] == provider and e["method"] == method and re.search(pattern, e["path"])
    )


def drain(app) -> None:
    app.extensions["job_runner"].drain()


def company_runs(session, company) -> list[ProvisioningRun]:
    session.expire_all()
    return offboarding.runs_of(session, company.id)


def confirm_company(auth, company, **extra):
    page = f"/c/{company.slug}/offboard"
    data = {"confirmation": company.slug, **extra}
    return auth.post(page, data, form_page=page)


# -- the whole company ----------------------------------------------------------------------
def test_a_company_is_offboarded_with_one_confirmation(
    app, client, auth, session, sandbox, company, owner, connected
):
    auth.login(owner)
    page = client.get(f"/c/{company.slug}/offboard")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for shown in ("meta-numbers", "dialog360-channel-", "twilio-sender-", "twilio-number-"):
        assert shown in html
    refused = auth.post(f"/c/{company.slug}/offboard", {"confirmation": "acme"},
                        form_page=f"/c/{company.slug}/offboard")  # fmt: skip
    assert refused.status_code == 303 and company_runs(session, company) == []

    answer = confirm_company(auth, company)
    assert answer.status_code == 303
    started = company_runs(session, company)
    assert sorted(r.provider.value for r in started) == ["dialog360", "meta", "twilio"]
    drain(app)

    finished = company_runs(session, company)
    assert [r.status for r in finished] == [RunStatus.COMPLETED] * 3, [
        (r.flow, [(s.name, s.error_message) for s in r.steps]) for r in finished
    ]
    # Nothing of the company points at the portal any more, at any provider...
    assert routes_to_portal(sandbox, include_closed=True) == {"meta": 0, "dialog360": 0,
                                                              "twilio": 0}  # fmt: skip
    meta = connected["meta"]
    assert not any(sandbox.meta.phones[p].registered for p in meta["phones"])
    assert sandbox.meta.wabas[meta["waba_id"]].subscribed_apps == {}
    chid = connected["dialog360"]
    assert not any(k.channel_id == chid and not k.revoked
                   for k in sandbox.dialog360.store.api_keys.values())  # fmt: skip
    twilio = connected["twilio"]
    assert sandbox.twilio.accounts[twilio["sub"].account_sid]["status"] == "closed"
    assert twilio["sender"].sender_sid not in sandbox.twilio.senders
    # ...and the Twilio subaccount was closed after everything else.
    teardown = [i for i, e in enumerate(sandbox.exchanges) if e["method"] != "GET"]
    closing = sandbox.exchanges[teardown[-1]]
    assert closing["provider"] == "twilio" and closing["method"] == "POST"
    assert closing["path"].endswith(f"Accounts/{twilio['sub'].account_sid}.json")

    # Every answer the portal read conforms: the providers' specs, the 360dialog fact sheet.
    hints = {meta["waba_id"]: "WABA-ID", **{p: "Phone-Number-ID" for p in meta["phones"]}}
    covered = assert_conforms(sandbox.exchanges, hints=hints)
    assert {
        "POST /{Version}/{Phone-Number-ID}/deregister",
        "POST /{Version}/{Phone-Number-ID}",
        "DELETE /{Version}/{WABA-ID}/subscribed_apps",
        "DELETE /2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers/{Sid}.json",
        "POST /2010-04-01/Accounts/{Sid}.json",
        "DELETE /v2/Channels/Senders/{Sid}",
    } <= covered, covered
    d360 = {check(e) for e in sandbox.exchanges if e["provider"] == "dialog360"}
    assert r"^/hub/api/v2/partners/\w+/channels/\w+/api_keys$" in d360
    assert r"^/waba/v1/configs/webhook$" in d360

    # The platform's record: every channel offboarded, no credential kept, the company closed.
    channels = session.scalars(select(Channel).where(Channel.company_id == company.id)).all()
    assert len(channels) == 4 and {c.status for c in channels} == {"OFFBOARDED"}
    client_row = session.scalars(select(MetaWhatsAppClient)).one()
    assert client_row.status == "offboarded" and client_row.access_token is None
    assert all(n.pin is None for n in session.scalars(select(MetaWhatsAppPhoneNumber)))
    d360 = session.scalars(select(Dialog360Channel)).one()
    assert d360.api_key is None and d360.webhook_token_digest is None and d360.revoked_at
    assert session.scalars(select(Dialog360Client)).one().status == "offboarded"
    sub = session.get(TwilioSubaccount, twilio["sub"].id)
    assert sub.status == "closed" and sub.auth_token is None and sub.events_token_hash is None
    assert session.get(SmsPhoneNumber, twilio["number"].id).status == "retired"
    assert session.get(TwilioWhatsAppSender, twilio["sender"].id).status == "OFFBOARDED"
    assert session.get(Company, company.id).is_active is False
    # Each step says what it did.
    meta_run = next(r for r in finished if r.provider is Provider.META)
    assert sorted(meta_run.step("deregister_numbers").provider_ids["deregistered"]) == sorted(
        meta["phones"]
    )
    assert meta_run.step("unsubscribe_app").provider_ids == {"unsubscribed": meta["waba_id"]}


def test_a_fault_mid_way_resumes_without_doing_anything_twice(
    app, auth, session, sandbox, company, owner, connected
):
    lost = [  # the provider acts, then its answer is lost (a dropped call is not recorded)
        ("meta", "POST", "/deregister$"),
        ("dialog360", "DELETE", "/api_keys$"),
        ("twilio", "DELETE", "/Senders/"),
        ("twilio", "DELETE", "/IncomingPhoneNumbers/"),
        ("twilio", "POST", r"/Accounts/AC\w+\.json$"),
    ]
    faults = {
        call: sandbox.faults.add("drop", provider=call[0], method=call[1], path=call[2], times=1)
        for call in lost
    }
    auth.login(owner)
    confirm_company(auth, company)
    drain(app)
    stopped = company_runs(session, company)
    assert {r.status for r in stopped} == {RunStatus.WAITING}  # nothing failed for good

    for _ in range(3):  # the sweeps pick them up again (the test does not wait for them)
        for run in company_runs(session, company):
            if run.status.runnable:
                app.extensions["job_runner"].enqueue("provisioning.execute_run", run.id)
        drain(app)
    assert {r.status for r in company_runs(session, company)} == {RunStatus.COMPLETED}
    assert routes_to_portal(sandbox, include_closed=True) == {"meta": 0, "dialog360": 0,
                                                              "twilio": 0}  # fmt: skip
    # Each one-shot call was made once: a lost answer was looked up, not repeated.
    assert {fault.hits for fault in faults.values()} == {1}  # every answer was lost once
    made = {call: calls(sandbox, *call) + faults[call].hits for call in lost}
    assert made == {**{call: 1 for call in lost}, lost[0]: 2}, made  # two numbers, once each
    assert session.get(Company, company.id).is_active is False


def test_meta_refusing_a_deregistration_fails_the_run_and_a_retry_resumes_it(
    app, client, auth, session, sandbox, company, owner, connected
):
    first = connected["meta"]["phones"][0]
    now = sandbox.clock.time()
    sandbox.meta.phones[first].register_attempts = [now] * 10  # Meta's 10 calls in 72 hours
    auth.login(owner)
    number = session.scalars(
        select(MetaWhatsAppPhoneNumber).where(MetaWhatsAppPhoneNumber.phone_number_id == first)
    ).one()
    answer = auth.post(f"/c/{company.slug}/offboard/whatsapp-numbers/{number.id}",
                       form_page=f"/c/{company.slug}/offboard")  # fmt: skip
    assert answer.status_code == 303 and "/runs/" in answer.location
    drain(app)
    (run,) = company_runs(session, company)
    assert run.status is RunStatus.FAILED
    assert run.error_message.startswith("meta: Meta allows 10 register and deregister calls")
    assert run.step("deregister_numbers").error_code == "133016"
    shown = client.get(answer.location).get_data(as_text=True)
    assert "Meta allows 10 register and deregister calls" in shown

    sandbox.advance(72 * 3600)  # the window passes
    retry = auth.post(f"/c/{company.slug}/runs/{run.id}/retry", form_page=answer.location)
    assert retry.status_code in (302, 303)
    drain(app)
    session.refresh(run)
    assert run.status is RunStatus.COMPLETED
    assert not sandbox.meta.phones[first].registered
    assert calls(sandbox, "meta", "POST", "/deregister$") == 2  # refused once, then done


def test_one_meta_number_goes_and_the_others_stay(
    app, auth, session, sandbox, company, owner, connected
):
    first, second = connected["meta"]["phones"]
    rows = {row.phone_number_id: row for row in session.scalars(select(MetaWhatsAppPhoneNumber))}
    auth.login(owner)
    auth.post(f"/c/{company.slug}/offboard/whatsapp-numbers/{rows[first].id}",
              form_page=f"/c/{company.slug}/offboard")  # fmt: skip
    drain(app)
    (run,) = company_runs(session, company)
    assert run.status is RunStatus.COMPLETED
    assert run.step("unsubscribe_app").provider_ids["unsubscribed"].startswith("no")
    meta = sandbox.meta
    assert not meta.phones[first].registered and meta.phones[first].webhook_override is None
    assert meta.phones[second].registered and meta.phones[second].webhook_override
    assert APP_ID in meta.wabas[connected["meta"]["waba_id"]].subscribed_apps
    routes = meta.control_routes_to(host=HOST)["wabas"][connected["meta"]["waba_id"]]["routes"]
    assert {r.get("phone_number_id") for r in routes} == {None, second}
    session.expire_all()
    assert session.get(Channel, rows[first].channel_id).status == "OFFBOARDED"
    assert session.get(Channel, rows[second].channel_id).status == "CONNECTED"
    assert rows[first].pin is None and rows[second].pin
    client_row = rows[second].client
    assert client_row.status == "active" and client_row.access_token
    assert session.get(Company, company.id).is_active is True


def test_a_channel_a_sender_and_a_number_go_one_at_a_time(
    app, auth, session, sandbox, company, owner, connected
):
    chid, twilio = connected["dialog360"], connected["twilio"]
    channel = session.scalars(select(Dialog360Channel)).one()
    page = f"/c/{company.slug}/offboard"
    auth.login(owner)
    auth.post(f"{page}/360dialog-channels/{channel.id}", form_page=page)
    auth.post(f"{page}/twilio-senders/{twilio['sender'].id}", form_page=page)
    auth.post(f"{page}/twilio-numbers/{twilio['number'].id}", {"return_to_pool": "y"},
              form_page=page)  # fmt: skip
    drain(app)
    assert {r.status for r in company_runs(session, company)} == {RunStatus.COMPLETED}
    assert routes_to_portal(sandbox) == {"meta": 3, "dialog360": 0, "twilio": 0}
    assert sandbox.dialog360.store.channels[chid].webhook is None
    # The number went back to the platform's pool: the master holds it, its hooks cleared.
    master = sandbox.configs[Provider.TWILIO].value("account_sid")
    pooled = session.get(SmsPhoneNumber, twilio["number"].id)
    assert (pooled.company_id, pooled.account_sid, pooled.status) == (None, master, "active")
    held = next(
        n for n in sandbox.twilio.numbers.values() if n["phone_number"] == pooled.phone_number
    )
    assert held["account_sid"] == master and held["sms_url"] is None
    # The subaccount stays open: only a whole company's offboarding closes it.
    assert session.get(TwilioSubaccount, twilio["sub"].id).status == "active"
    assert sandbox.twilio.accounts[twilio["sub"].account_sid]["status"] == "active"


def test_the_pages_ask_for_the_typed_address_and_are_for_admins(
    auth, client, session, company, make
):
    member = make.user(company, Role.MEMBER)
    auth.login(member)
    assert client.get(f"/c/{company.slug}/offboard").status_code == 403
    auth.logout()
    auth.login(make.user(company, Role.ADMIN))
    answer = auth.post(f"/c/{company.slug}/offboard", {"confirmation": "nope"},
                       form_page=f"/c/{company.slug}/offboard", follow_redirects=True)  # fmt: skip
    assert f"type its address, {company.slug}" in answer.get_data(as_text=True)
    assert session.get(Company, company.id).is_active is True
    # A company with nothing connected is closed at once.
    confirm_company(auth, company)
    session.expire_all()
    assert session.get(Company, company.id).is_active is False
