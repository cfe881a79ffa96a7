"""Meta as it behaves in December 2026, through the portal against the sandbox: portfolio
limits, throughput events, partner events keyed by the business, health_status, asset
discovery without granular scopes, two-step webhook subscription, the display name's
certificate, coexistence and Graph versions (issue 13 items 1-9)."""

from __future__ import annotations

import json
from html import unescape

import pytest
from sqlalchemy import func, select

from portal.demo import META_APP
from portal.jobs.sync import run_sync
from provisioning import runs
from provisioning.audit import SYSTEM
from provisioning.channels import Channel
from provisioning.events import WebhookEvent
from provisioning.health import Alert, Notification
from provisioning.meta.models import (
    MetaBusinessPortfolio,
    MetaWhatsAppClient,
    MetaWhatsAppPhoneNumber,
)
from provisioning.meta.onboarding import EMBEDDED_SIGNUP, UNSUPPORTED_FINISHES, phone_fields
from provisioning.partners import Provider
from provisioning.runs import RunStatus
from provisioning.tenancy import Role

APP_ID = META_APP["app_id"]


@pytest.fixture
def sandbox(connected_sandbox):
    return connected_sandbox(41, Provider.META, webhooks_to_app=True)


@pytest.fixture
def company(make):
    return make.company("Acme")


@pytest.fixture
def owner(make, company):
    return make.user(company, Role.ADMIN)


@pytest.fixture
def connect(app, session, sandbox, company):
    """Run a signup through the provisioning flow, as the job does; returns the signup."""

    def run_signup(expect: RunStatus = RunStatus.COMPLETED, **choices):
        signup = sandbox.meta.control_complete_signup(app_id=APP_ID, **choices)
        app.extensions["job_runner"].drain()  # the PARTNER_APP_INSTALLED webhook
        run = runs.start_run(
            session, SYSTEM, EMBEDDED_SIGNUP, company.id,
            partner_configuration_id=sandbox.configs[Provider.META].id,
            context={"event": signup["event"]}, secret_input={"code": signup["code"]},
        )  # fmt: skip
        session.commit()
        status = runs.execute(session, run.id, session.commit, {"transport": sandbox.transport()})
        assert status is expect, [(s.name, s.error_message) for s in run.steps]
        app.extensions["job_runner"].drain()
        signup["run"] = run
        return signup

    return run_signup


def sync(app):
    with app.app_context():
        run_sync([Provider.META])


def channel_of(session, phone_number_id: str) -> Channel:
    channel = session.scalars(select(Channel).where(Channel.provider_ref == phone_number_id)).one()
    session.refresh(channel)
    return channel


def alerts(session) -> list[Alert]:
    return list(session.scalars(select(Alert).order_by(Alert.id)))


def channel_page(client, auth, user, company, channel) -> str:
    auth.login(user)
    response = client.get(f"/c/{company.slug}/fleet/channels/{channel.id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


# -- 2 and 3: portfolio limits and throughput -------------------------------------------
def test_a_throughput_upgrade_leaves_the_messaging_limit_alone(
    app, client, auth, session, sandbox, connect, company, owner
):
    """Before: the event's TIER_UNLIMITED was stored as the number's messaging limit, and
    the next sync, reading the portfolio's TIER_250, raised a false "limit dropped"."""
    signup = connect()
    phone = signup["phone_number_id"]
    sandbox.meta.control_set_throughput(phone_number_id=phone)
    app.extensions["job_runner"].drain()
    sync(app)
    channel = channel_of(session, phone)
    assert channel.messaging_limit == "TIER_250"
    number = session.scalars(select(MetaWhatsAppPhoneNumber)).one()
    session.refresh(number)
    assert number.throughput_level == "HIGH"
    assert alerts(session) == []
    page = channel_page(client, auth, owner, company, channel)
    assert "1,000 messages/s" in page and "TIER_250" in page


def test_a_portfolio_limit_change_shows_on_every_number_with_one_alert(
    app, client, auth, session, sandbox, connect, company, owner
):
    first = connect()
    second = connect(business_id=first["business_id"])  # another WABA of the portfolio
    assert second["waba_id"] != first["waba_id"]
    (portfolio,) = session.scalars(select(MetaBusinessPortfolio)).all()
    assert portfolio.business_id == first["business_id"] and len(portfolio.clients) == 2
    business = first["business_id"]
    sandbox.meta.control_set_portfolio_limit(business_id=business, tier="TIER_10K")
    app.extensions["job_runner"].drain()  # a raise: every number shows it, no alert
    assert alerts(session) == []
    sandbox.meta.control_set_portfolio_limit(business_id=business, tier="TIER_2K")
    app.extensions["job_runner"].drain()  # one business_capability_update per WABA
    sync(app)
    channels = [channel_of(session, s["phone_number_id"]) for s in (first, second)]
    assert [c.messaging_limit for c in channels] == ["TIER_2K", "TIER_2K"]
    (alert,) = alerts(session)
    assert alert.reasons == ["messaging limit dropped from TIER_10K to TIER_2K"]
    assert "shared by its 2 numbers" in alert.message
    assert session.scalar(
        select(func.count(Notification.id)).where(Notification.user_id == owner.id)
    ) == 1  # fmt: skip
    page = channel_page(client, auth, owner, company, channels[1])
    assert "shared by 2 numbers" in page and "TIER_2K" in page


# -- 4: partner events keyed by the business ---------------------------------------------
@pytest.mark.parametrize("event", ["PARTNER_REMOVED", "PARTNER_APP_UNINSTALLED"])
def test_a_customer_removing_the_partner_disconnects_its_numbers(
    app, client, auth, session, sandbox, connect, company, owner, event
):
    """Before: the event's entry id (the business) matched no WABA and nothing changed."""
    signup = connect()
    sandbox.meta.control_partner_event(waba_id=signup["waba_id"], event=event)
    app.extensions["job_runner"].drain()
    client_row = session.scalars(select(MetaWhatsAppClient)).one()
    session.refresh(client_row)
    assert client_row.status == "disconnected" and client_row.reauthorization_reason
    channel = channel_of(session, signup["phone_number_id"])
    assert (channel.status, channel.needs_reauthorization) == ("DISCONNECTED", True)
    (alert,) = alerts(session)
    assert "disconnected" in alert.reasons[0]
    sync(app)  # the disconnected client is not called again
    assert len(alerts(session)) == 1
    page = channel_page(client, auth, owner, company, channel)
    assert "reauthorize" in page and client_row.reauthorization_reason in unescape(page)


def test_reconnected_lifts_offboarded(app, session, sandbox, connect):
    signup = connect()
    sandbox.meta.control_offboard(waba_id=signup["waba_id"])
    app.extensions["job_runner"].drain()
    client_row = session.scalars(select(MetaWhatsAppClient)).one()
    session.refresh(client_row)
    assert client_row.status == "offboarded"
    assert channel_of(session, signup["phone_number_id"]).status == "OFFBOARDED"
    sandbox.meta.control_offboard(waba_id=signup["waba_id"], reconnect=True)
    app.extensions["job_runner"].drain()
    session.refresh(client_row)
    assert client_row.status == "active"
    assert channel_of(session, signup["phone_number_id"]).status == "CONNECTED"


def test_alerts_security_and_unknown_events_are_kept_and_shown(
    app, client, auth, session, sandbox, connect, company, owner
):
    signup = connect()
    waba, phone = signup["waba_id"], signup["phone_number_id"]
    sandbox.meta.control_account_alert(waba_id=waba, description="Eligible for more")
    sandbox.meta.control_security_event(phone_number_id=phone)
    sandbox.meta.control_emit(waba_id=waba, field="account_update",
                              value={"event": "SOMETHING_META_ADDS_LATER", "x": 1})  # fmt: skip
    app.extensions["job_runner"].drain()
    events = session.scalars(select(WebhookEvent)).all()
    assert all(e.processed_at is not None and e.error is None for e in events)
    client_row = session.scalars(select(MetaWhatsAppClient)).one()
    session.refresh(client_row)
    assert [n["field"] for n in client_row.notices] == [
        "account_alerts", "security", "account_update",
    ]  # fmt: skip
    number = session.scalars(select(MetaWhatsAppPhoneNumber)).one()
    session.refresh(number)
    assert number.pin and number.pin_stale_at is not None  # changed at Meta: ours is stale
    page = channel_page(client, auth, owner, company, channel_of(session, phone))
    assert "Eligible for more" in page and "SOMETHING_META_ADDS_LATER" in page


def test_an_inbound_message_with_a_user_id_is_stored(app, session, sandbox, connect):
    signup = connect()
    sandbox.meta.control_inbound_message(phone_number_id=signup["phone_number_id"], wa_id=None,
                                         username="ana")  # fmt: skip
    app.extensions["job_runner"].drain()
    (event,) = session.scalars(select(WebhookEvent).where(WebhookEvent.event_type == "messages"))
    (contact,) = json.loads(event.payload)["entry"][0]["changes"][0]["value"]["contacts"]
    assert contact["user_id"].startswith("US.") and "wa_id" not in contact
    assert event.error is None and event.processed_at is not None


# -- 3: health_status --------------------------------------------------------------------
def test_a_number_that_cannot_send_alerts_with_the_remediation(
    app, client, auth, session, sandbox, connect, company, owner
):
    signup = connect()
    phone = signup["phone_number_id"]
    sandbox.meta.phones[phone].status = "DISCONNECTED"  # deregistered at Meta
    sync(app)
    (alert,) = alerts(session)
    assert alert.reasons == [
        "cannot send messages: The phone number is not registered. "
        "(Register the phone number with Cloud API.)"
    ]
    page = channel_page(client, auth, owner, company, channel_of(session, phone))
    assert "BLOCKED" in page and "What to do: Register the phone number" in page
    sync(app)
    assert len(alerts(session)) == 1  # still blocked: no second alert


# -- 5: Embedded Signup v4 and coexistence -----------------------------------------------
def test_a_coexistence_number_connects_without_registration(
    app, client, auth, session, sandbox, connect, company, owner
):
    signup = connect(flow="FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING")
    assert set(signup["event"]["data"]) == {"waba_id"}  # Meta sends only the WABA
    number = session.scalars(select(MetaWhatsAppPhoneNumber)).one()
    assert number.is_on_biz_app and number.registered_at is None
    assert sandbox.meta.phones[number.phone_number_id].register_attempts == []
    channel = channel_of(session, number.phone_number_id)
    assert channel.status == "CONNECTED"
    page = channel_page(client, auth, owner, company, channel)
    assert "20 messages/s" in page


@pytest.mark.parametrize("kind", ["FINISH_OBO_MIGRATION", "FINISH_GRANT_ONLY_API_ACCESS"])
def test_other_finish_events_are_refused_in_words(client, auth, session, sandbox, company,
                                                  owner, kind):  # fmt: skip
    from tests.meta.test_connect import complete, launch

    auth.login(owner)
    state, token = launch(client, company)
    signup = sandbox.meta.control_complete_signup(app_id=APP_ID, flow=kind)
    response = complete(client, company, token, state=state, code=signup["code"],
                        event=signup["event"])  # fmt: skip
    assert response.status_code == 400
    assert response.get_json()["error"] == UNSUPPORTED_FINISHES[kind]
    assert session.scalars(select(runs.ProvisioningRun)).all() == []


# -- 6: finding the WABA without granular scopes -----------------------------------------
def test_the_waba_comes_from_the_partners_client_list(app, session, sandbox, connect):
    config = sandbox.configs[Provider.META]
    config.secrets = {**config.secrets,
                      "system_user_token": sandbox.meta.apps[APP_ID].system_user_token}  # fmt: skip
    session.commit()
    # no PARTNER webhook to fall back on: the client list must answer
    sandbox.meta.apps[APP_ID].fields.discard("account_update")
    signup = connect(omit_waba_id=True, scope_variant="no_targets")
    assert "waba_id" not in signup["event"]["data"]
    client_row = session.scalars(select(MetaWhatsAppClient)).one()
    assert client_row.waba_id == signup["waba_id"]


def test_the_waba_comes_from_the_partner_webhook(app, session, sandbox, connect):
    signup = connect(omit_waba_id=True, scope_variant="no_targets")
    assert session.scalars(select(MetaWhatsAppClient)).one().waba_id == signup["waba_id"]


def test_no_way_to_find_the_waba_says_so(app, session, sandbox, connect):
    sandbox.meta.apps[APP_ID].fields.discard("account_update")
    signup = connect(RunStatus.FAILED, omit_waba_id=True, scope_variant="no_targets")
    assert "no WhatsApp Business Account we can find" in signup["run"].error_message


# -- 7: webhook subscription in two steps ------------------------------------------------
def test_the_override_is_set_per_number_after_the_subscription(app, session, sandbox, connect):
    config = sandbox.configs[Provider.META]
    callback = "http://portal.test/webhooks/meta"
    config.settings = {**config.settings, "webhook_callback_url": callback}
    session.commit()
    signup = connect()
    waba = sandbox.meta.wabas[signup["waba_id"]]
    assert waba.subscribed_apps == {APP_ID: None}  # subscribed, no WABA-level override
    override = sandbox.meta.phones[signup["phone_number_id"]].webhook_override
    assert override["override_callback_uri"] == callback  # verified by a GET to the portal


def test_an_override_meta_refuses_is_explained(app, session, sandbox, connect):
    config = sandbox.configs[Provider.META]
    config.settings = {**config.settings, "webhook_callback_url": "http://portal.test/x"}
    session.commit()
    signup = connect(RunStatus.FAILED)  # Meta's GET to /x gets a 404: error 2200
    assert "could not verify the webhook callback URL" in signup["run"].error_message
    sandbox.meta.apps[APP_ID].fields.discard("messages")
    config.settings = {
        **config.settings,
        "webhook_callback_url": "http://portal.test/webhooks/meta",
    }
    session.commit()
    again = connect(RunStatus.FAILED)
    assert "not subscribed to receive messages" in again["run"].error_message


# -- 8: registration before the display name is ready ------------------------------------
def test_registration_waits_for_the_display_name(app, session, sandbox, connect):
    sandbox.meta.control_set_name_review(seconds=600)
    signup = connect(RunStatus.WAITING)
    run = signup["run"]
    step = next(s for s in run.steps if s.name == "register_numbers")
    assert "display name" in step.error_message and run.resume_at is not None
    assert sandbox.meta.phones[signup["phone_number_id"]].register_attempts == []
    sandbox.advance(601)
    status = runs.execute(session, run.id, session.commit, {"transport": sandbox.transport()})
    assert status is RunStatus.COMPLETED
    assert sandbox.meta.phones[signup["phone_number_id"]].status == "CONNECTED"


# -- 1: Graph versions ---------------------------------------------------------------------
def test_the_fields_asked_for_follow_the_configured_version(app, session, sandbox, connect):
    assert "messaging_limit_tier" not in phone_fields("v25.0")
    assert "whatsapp_business_manager_messaging_limit" not in phone_fields("v23.0")
    # an older configuration still works: it asks v23.0 only for what v23.0 has
    config = sandbox.configs[Provider.META]
    config.settings = {**config.settings, "graph_api_version": "v23.0"}
    session.commit()
    signup = connect()
    assert channel_of(session, signup["phone_number_id"]).messaging_limit == "TIER_250"
    sync(app)
    assert alerts(session) == []
