"""A connected 360dialog channel's messaging webhook: served, authenticated per channel,
stored once, listed on the company's channel page (sandbox -> portal, in process)."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select

from provisioning.channels import Channel
from provisioning.dialog360.models import Dialog360Channel, Dialog360MessagingEvent
from provisioning.dialog360.onboarding import revoke_channel
from provisioning.dialog360.states import describe
from provisioning.events import WebhookEvent
from provisioning.health import Alert
from provisioning.partners import Provider
from provisioning.runs import ProvisioningRun, RunStatus
from provisioning.tenancy import Role
from provisioning.tokens import digest as token_digest
from tests.dialog360.test_connect import go_through_hub, launch, settle

ROUTE = "/webhooks/whatsapp/360dialog"


@pytest.fixture
def sandbox(connected_sandbox):
    return connected_sandbox(31, Provider.DIALOG360, webhooks_to_app=True)


@pytest.fixture
def connected(app, client, auth, sandbox, make, session):
    """Acme connects one number through the hub; returns (company, admin, channel row)."""
    company = make.company("Acme")
    admin = make.user(company, Role.ADMIN)
    auth.login(admin)
    client.get(go_through_hub(sandbox, launch(client, company), ["+4915100000301"]))
    run = session.scalars(select(ProvisioningRun)).one()
    settle(app, sandbox, session, run)
    assert run.status is RunStatus.COMPLETED
    row = session.scalars(select(Dialog360Channel)).one()
    return company, admin, row


def channel_webhook(sandbox, row) -> dict:
    return sandbox.dialog360.store.channels[row.dialog_channel_id].webhook


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_the_channel_webhook_carries_a_secret_only_its_digest_is_stored(sandbox, connected):
    _, _, row = connected
    hook = channel_webhook(sandbox, row)
    assert hook["url"] == f"http://portal.test{ROUTE}"
    scheme, _, token = hook["headers"]["Authorization"].partition(" ")
    assert scheme == "Bearer" and len(token) >= 40
    assert row.webhook_token_digest == token_digest(token) != token


def test_messages_and_statuses_arrive_once_and_are_listed(client, sandbox, connected, session):
    company, _, row = connected
    sim = sandbox.dialog360
    inbound = sim.control_inbound_message(channel_id=row.dialog_channel_id, text="Hi there")
    assert inbound["deliveries"] == [200]
    with httpx.Client(transport=sandbox.transport(), base_url=sandbox.base_url) as waba:
        sent = waba.post(
            "/dialog360/waba/messages",
            json={"messaging_product": "whatsapp", "to": "15550002222", "type": "text",
                  "text": {"body": "Hello"}},
            headers={"D360-API-KEY": row.api_key},
        ).json()  # fmt: skip
    status = sim.control_message_status(message_id=sent["messages"][0]["id"], status="delivered")
    assert status["deliveries"] == [200]
    # 360dialog retries what it believes was not received: the same body is a duplicate
    again = sandbox.outbound.deliveries[-1]
    response = client.post(ROUTE, data=again.body, headers=again.headers)
    assert response.status_code == 200 and response.get_json()["duplicate"] is True
    rows = session.scalars(select(Dialog360MessagingEvent).order_by(Dialog360MessagingEvent.id))
    assert [(r.kind, r.summary) for r in rows] == [
        ("messages", "text from 15550001111"),
        ("statuses", "delivered for 15550002222"),
    ]
    events = session.scalars(select(WebhookEvent).where(WebhookEvent.event_type != "")).all()
    messaging = [e for e in events if e.dedupe_key.startswith("messaging:")]
    assert len(messaging) == 2 and all(e.processed_at for e in messaging)
    channel = session.scalars(select(Channel).where(Channel.provider_ref == row.dialog_channel_id))
    page = client.get(f"/c/{company.slug}/channels/{channel.one().id}/messaging-events")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "text from 15550001111" in text and "delivered for 15550002222" in text


def test_deliveries_without_the_channels_secret_are_refused(client, sandbox, connected, session):
    _, _, row = connected
    body = b'{"object": "whatsapp_business_account", "entry": []}'
    before = count(session, WebhookEvent)
    assert client.post(ROUTE, data=body).status_code == 403
    wrong = {"Authorization": "Bearer " + "x" * 43}
    assert client.post(ROUTE, data=body, headers=wrong).status_code == 403
    basic = {"Authorization": "Basic dXNlcjpwYXNz"}
    assert client.post(ROUTE, data=body, headers=basic).status_code == 403
    good = channel_webhook(sandbox, row)["headers"]
    bad_json = client.post(ROUTE, data=b"{not json", headers=good)
    assert bad_json.status_code == 400 and "not JSON" in bad_json.get_json()["error"]
    empty = client.post(ROUTE, data=body, headers=good)
    assert empty.status_code == 400 and "no changes" in empty.get_json()["error"]
    assert count(session, WebhookEvent) == before
    assert count(session, Dialog360MessagingEvent) == 0


def test_a_revoked_channel_secret_no_longer_works(client, sandbox, connected, session):
    _, _, row = connected
    headers = channel_webhook(sandbox, row)["headers"]
    sandbox.dialog360.control_revoke_channel(channel_id=row.dialog_channel_id)
    revoke_channel(session, row)  # what a later hub visit reporting it revoked does
    session.commit()
    delivery = sandbox.outbound.deliveries[-1]
    assert client.post(ROUTE, data=delivery.body, headers=headers).status_code == 403


def test_the_events_page_is_the_companys_own(client, auth, sandbox, connected, make, session):
    company, _, row = connected
    sandbox.dialog360.control_inbound_message(channel_id=row.dialog_channel_id, text="Hi")
    channel = session.scalars(
        select(Channel).where(Channel.provider_ref == row.dialog_channel_id)
    ).one()
    auth.logout()
    member = make.user(company, Role.MEMBER)
    auth.login(member)
    url = f"/c/{company.slug}/channels/{channel.id}/messaging-events"
    assert "text from 15550001111" in client.get(url).get_data(as_text=True)
    detail = client.get(f"/c/{company.slug}/channels/{channel.id}").get_data(as_text=True)
    assert "channel-messaging-events" in detail
    auth.logout()
    other = make.company("Globex")
    auth.login(make.user(other, Role.ADMIN))
    assert client.get(url).status_code == 404
    assert client.get(f"/c/{other.slug}/channels/{channel.id}/messaging-events").status_code == 404


def test_channels_connected_before_the_secret_get_one_from_the_command(
    app, client, sandbox, connected, session
):
    _, _, row = connected
    # as a channel connected by an earlier release: webhook set, no secret
    sandbox.dialog360.store.channels[row.dialog_channel_id].webhook["headers"] = {}
    row.webhook_token_digest = None
    session.commit()
    result = app.test_cli_runner().invoke(args=["sync", "dialog360-webhooks"])
    assert result.exit_code == 0, result.output
    assert "1 channel webhook(s) pointed" in result.output
    session.refresh(row)
    assert row.webhook_token_digest
    inbound = sandbox.dialog360.control_inbound_message(channel_id=row.dialog_channel_id)
    assert inbound["deliveries"] == [200]
    again = app.test_cli_runner().invoke(args=["sync", "dialog360-webhooks"])
    assert "0 channel webhook(s) pointed" in again.output


def test_template_messaging_events_are_kept_and_losing_it_alerts_once(
    app, client, sandbox, connected, session
):
    company, _, row = connected
    sim, runner = sandbox.dialog360, app.extensions["job_runner"]
    channel = session.scalars(
        select(Channel).where(Channel.provider_ref == row.dialog_channel_id)
    ).one()
    page = f"/c/{company.slug}/channels/{channel.id}/messaging-events"
    assert "Not reported by 360dialog yet" in client.get(page).get_data(as_text=True)
    sim.control_template_messaging(channel_id=row.dialog_channel_id, enabled=True)
    runner.drain()
    session.refresh(row)
    assert row.template_messaging is True and count(session, Alert) == 0
    for _ in range(2):  # a second delivery of the news alerts nobody again
        sim.control_template_messaging(channel_id=row.dialog_channel_id, enabled=False)
        runner.drain()
    session.refresh(row)
    assert row.template_messaging is False
    (alert,) = session.scalars(select(Alert)).all()
    assert "disabled template messaging" in alert.message and alert.channel_id == channel.id
    text = client.get(page).get_data(as_text=True)
    assert "cannot send template messages" in text
    assert "running" in text and "Live: the number sends and receives messages." in text


def test_a_processed_cancellation_disconnects_the_channel(app, sandbox, connected, session):
    _, _, row = connected
    sandbox.dialog360.control_process_cancellation(channel_id=row.dialog_channel_id)
    app.extensions["job_runner"].drain()
    session.refresh(row)
    assert row.revoked_at is not None and row.api_key is None
    assert row.webhook_token_digest is None
    channel = session.scalars(
        select(Channel).where(Channel.provider_ref == row.dialog_channel_id)
    ).one()
    assert channel.status == "REVOKED"


@pytest.mark.parametrize(
    ("status", "words"),
    [
        ("unverified", "display name awaits verification"),
        ("verified", "Meta verified the display name"),
        ("ready", "Ready to be registered"),
        ("certificate_declined", "declined the display name"),
        ("pending_deletion", "360dialog reports pending_deletion"),
    ],
)
def test_channel_states_read_in_plain_words(status, words):
    assert words in describe(status)
