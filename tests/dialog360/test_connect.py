"""Connect with 360dialog through the portal: launch, redirect back, webhooks, run, channels."""

from __future__ import annotations

import hashlib
import hmac
import json
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select

from portal.demo import D360_WEBHOOK_SECRET
from provisioning import partners
from provisioning.audit import SYSTEM
from provisioning.channels import Channel
from provisioning.dialog360.models import Dialog360Channel
from provisioning.events import WebhookEvent
from provisioning.partners import Provider
from provisioning.runs import ProvisioningRun, RunStatus
from provisioning.tenancy import Role

PUBLIC = "http://portal.test"


@pytest.fixture
def sandbox(connected_sandbox):
    return connected_sandbox(10, Provider.DIALOG360, webhooks_to_app=True)


@pytest.fixture
def acme(make):
    company = make.company("Acme")
    return company, make.user(company, Role.ADMIN)


def launch(client, company) -> dict:
    page = client.get(f"/c/{company.slug}/connect/360dialog").get_data(as_text=True)
    token = page.split("&#34;csrf&#34;: &#34;")[1].split("&#34;")[0]
    return client.post(
        f"/c/{company.slug}/connect/360dialog/launch", headers={"X-CSRFToken": token}
    ).get_json()


def go_through_hub(sandbox, launched: dict, numbers: list[str]) -> str:
    """What the permissions page does; returns the path + query it redirects to."""
    query = {k: v[0] for k, v in parse_qs(urlsplit(launched["url"]).query).items()}
    outcome = sandbox.dialog360.control_complete_onboarding(
        numbers=numbers,
        partner_payload=query["partner"],
        email=query["email"],
        redirect_url=query["redirect_url"],
        state=query["state"],
    )
    redirect = urlsplit(outcome["redirect_url"])
    return f"{redirect.path}?{redirect.query}"


def settle(app, sandbox, session, run, rounds=20):
    """Let simulated time pass: webhooks arrive, jobs run, until the run ends."""
    runner = app.extensions["job_runner"]
    for _ in range(rounds):
        runner.drain()
        session.expire_all()
        if run.status not in (RunStatus.STARTED, RunStatus.WAITING, RunStatus.RUNNING):
            return
        sandbox.advance(300)


def test_a_company_admin_connects_numbers_through_the_hub(
    app, client, auth, sandbox, acme, session
):
    company, admin = acme
    auth.login(admin)
    launched = launch(client, company)
    query = parse_qs(urlsplit(launched["url"]).query)
    assert query["partner"] == [company.public_id] and query["email"] == [admin.email]
    back = go_through_hub(sandbox, launched, ["+4915100000101", "+4915100000102"])
    response = client.get(back)
    assert response.status_code == 200 and b"return-continue" in response.data
    run = session.scalars(select(ProvisioningRun)).one()
    settle(app, sandbox, session, run)
    assert run.status is RunStatus.COMPLETED
    events = session.scalars(select(WebhookEvent)).all()
    assert {"channel_created", "channel_running"} <= {e.event_type for e in events}
    assert all(e.processed_at is not None for e in events)
    rows = session.scalars(select(Dialog360Channel)).all()
    assert len(rows) == 2 and all(r.api_key and r.webhook_url for r in rows)
    dashboard = client.get(f"/c/{company.slug}/").get_data(as_text=True)
    assert "+4915100000101" in dashboard and "360dialog" in dashboard
    assert all(r.api_key not in dashboard for r in rows)


def test_the_return_needs_the_nonce_and_valid_lists(client, auth, sandbox, acme, session):
    company, admin = acme
    auth.login(admin)
    assert client.get("/onboarding/360dialog/return?client=abcCL&channels=[x]").status_code == 400
    launched = launch(client, company)
    back = go_through_hub(sandbox, launched, ["+4915100000103"])
    bad = back.replace("channels=%5B", "channels=").replace("channels=[", "channels=")
    assert client.get(bad).status_code == 400  # not a bracketed list, and the nonce is spent
    assert client.get(back).status_code == 400  # replayed
    assert session.scalars(select(ProvisioningRun)).all() == []


def test_a_launch_of_another_company_cannot_be_completed_elsewhere(
    client, auth, sandbox, acme, make
):
    company, admin = acme
    auth.login(admin)
    launched = launch(client, company)
    back = go_through_hub(sandbox, launched, ["+4915100000104"])
    auth.logout()
    auth.login(make.user(make.company("Other"), Role.ADMIN))
    assert client.get(back).status_code == 400  # the nonce belongs to another session


def signed(body: dict) -> tuple[bytes, dict]:
    raw = json.dumps(body).encode()
    digest = hmac.new(D360_WEBHOOK_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    return raw, {"x-360dialog-signature": digest, "Content-Type": "application/json"}


def test_webhooks_need_the_signature_and_are_stored_once(app, client, sandbox, session):
    body, headers = signed({"id": "evt-1", "event": "client_created", "data": {"id": "aCL"}})
    assert client.post("/webhooks/360dialog", data=body).status_code == 403
    bad = dict(headers, **{"x-360dialog-signature": "0" * 64})
    assert client.post("/webhooks/360dialog", data=body, headers=bad).status_code == 403
    assert client.post("/webhooks/360dialog", data=body, headers=headers).get_json() == {
        "received": True,
        "duplicate": False,
    }
    again = client.post("/webhooks/360dialog", data=body, headers=headers).get_json()
    assert again["duplicate"] is True
    assert len(session.scalars(select(WebhookEvent)).all()) == 1
    garbage, garbage_headers = signed({"no": "event"})
    assert (
        client.post("/webhooks/360dialog", data=garbage, headers=garbage_headers).status_code == 400
    )


def test_a_replayed_status_event_changes_nothing(app, client, auth, sandbox, acme, session):
    company, admin = acme
    auth.login(admin)
    back = go_through_hub(sandbox, launch(client, company), ["+4915100000105"])
    client.get(back)
    run = session.scalars(select(ProvisioningRun)).one()
    settle(app, sandbox, session, run)
    channel = session.scalars(select(Channel)).one()
    before = (channel.status, channel.quality_rating, channel.updated_at)
    running = next(
        e for e in session.scalars(select(WebhookEvent)) if e.event_type == "channel_running"
    )
    headers = {"x-360dialog-signature": hmac.new(
        D360_WEBHOOK_SECRET.encode(), running.payload.encode(), hashlib.sha256
    ).hexdigest()}  # fmt: skip
    response = client.post("/webhooks/360dialog", data=running.payload.encode(), headers=headers)
    assert response.get_json()["duplicate"] is True
    app.extensions["job_runner"].drain()
    session.refresh(channel)
    assert (channel.status, channel.quality_rating, channel.updated_at) == before


@pytest.fixture
def running(app, client, auth, sandbox, acme, session, make):
    """A channel the company connected, and then a platform admin signed in."""

    def connect(number: str) -> Dialog360Channel:
        company, admin = acme
        auth.login(admin)
        client.get(go_through_hub(sandbox, launch(client, company), [number]))
        settle(app, sandbox, session, session.scalars(select(ProvisioningRun)).one())
        auth.logout()
        auth.login(make.admin())
        return session.scalars(select(Dialog360Channel)).one()

    return connect


def test_admins_see_channels_and_regenerate_a_key_with_confirmation(
    client, auth, sandbox, session, running
):
    row = running("+4915100000106")
    old_key = row.api_key
    page = client.get("/admin/360dialog/").get_data(as_text=True)
    assert "+4915100000106" in page and old_key not in page
    url = f"/admin/360dialog/channels/{row.id}/regenerate-key"
    refused = auth.post(url, {}, form_page="/admin/360dialog/", follow_redirects=True)
    assert b"old key will stop working" in refused.data
    session.refresh(row)
    assert row.api_key == old_key
    sandbox.advance(60)  # 360dialog allows one key per 30 s per channel
    auth.post(url, {"understood": "y"}, form_page="/admin/360dialog/")
    session.refresh(row)
    assert row.api_key != old_key
    with httpx.Client(transport=sandbox.transport(), base_url=sandbox.base_url) as http:
        health = "/dialog360/waba/health_status"
        assert http.get(health, headers={"D360-API-KEY": old_key}).status_code == 401
        assert http.get(health, headers={"D360-API-KEY": row.api_key}).status_code == 200


def test_a_new_key_whose_answer_is_lost_is_dropped_and_the_admin_told(
    client, auth, sandbox, session, running
):
    row = running("+4915100000108")
    old_key = row.api_key
    sandbox.advance(60)
    sandbox.faults.add("drop", provider="dialog360", method="POST", path="api_keys$", times=1)
    url = f"/admin/360dialog/channels/{row.id}/regenerate-key"
    response = auth.post(url, {"understood": "y"}, form_page="/admin/360dialog/")
    assert response.status_code == 303 and response.location == "/admin/360dialog/"
    assert "answer was lost" in client.get("/admin/360dialog/").get_data(as_text=True)
    session.refresh(row)
    assert row.api_key is None and row.api_key_id is None  # the revoked key no longer passes
    with httpx.Client(transport=sandbox.transport(), base_url=sandbox.base_url) as http:
        health = "/dialog360/waba/health_status"
        assert http.get(health, headers={"D360-API-KEY": old_key}).status_code == 401


def test_a_new_key_asked_too_soon_keeps_the_key_and_the_request_on_record(
    client, auth, sandbox, session, running
):
    row = running("+4915100000109")  # its first key was made just now
    old_key, asked_before = row.api_key, row.api_key_requested_at
    url = f"/admin/360dialog/channels/{row.id}/regenerate-key"
    response = auth.post(url, {"understood": "y"}, form_page="/admin/360dialog/",
                         follow_redirects=True)  # fmt: skip
    assert "try again in a moment" in response.get_data(as_text=True)
    session.refresh(row)
    assert row.api_key == old_key and row.api_key_requested_at > asked_before


def test_without_a_secret_the_webhook_url_needs_its_unguessable_token(client, sandbox, session):
    config = session.scalars(select(partners.PartnerConfiguration)).one()
    token = "t" * 40
    values = {f.name: config.value(f.name) for f in config.spec.fields if not f.secret}
    values["webhook_url"] = f"{PUBLIC}/webhooks/360dialog/{token}"
    partners.update_configuration(
        session, SYSTEM, config, config.environment, config.name, values,
        clear_secrets=("webhook_secret",),
    )  # fmt: skip
    session.commit()
    body = json.dumps({"id": "e2", "event": "client_created", "data": {}}).encode()
    assert client.post("/webhooks/360dialog", data=body).status_code == 403
    assert client.post("/webhooks/360dialog/guess", data=body).status_code == 403
    assert client.post(f"/webhooks/360dialog/{token}", data=body).status_code == 200


@pytest.mark.parametrize("echo_state", [True, False])
def test_a_repeated_return_starts_one_run(client, auth, sandbox, acme, session, app, echo_state):
    company, admin = acme
    sandbox.dialog360.control_configure_partner(echo_state=echo_state)
    auth.login(admin)
    back = go_through_hub(sandbox, launch(client, company), ["+4915100000107"])
    assert back.count("state=") == (2 if echo_state else 1)  # always inside redirect_url
    # what both loads carry when sent at once
    cookie = client.get_cookie("portal_session", domain="portal.test").value
    first = client.get(back)
    client.set_cookie("portal_session", cookie, domain="portal.test")
    at_once = client.get(back)  # the cookie plays no part: the launch is spent server-side
    after = client.get(back)  # a reload of the popup after the first answer
    assert [r.status_code for r in (first, at_once, after)] == [200, 200, 200]
    run = session.scalars(select(ProvisioningRun)).one()
    target = f"/c/{company.slug}/runs/{run.id}"
    assert all(target in r.get_data(as_text=True) for r in (first, at_once, after))
    queued = app.extensions["job_runner"].queue
    assert [args for name, args in queued if name == "provisioning.execute_run"] == [(run.id,)]


def test_a_return_without_state_never_falls_back_to_an_open_launch(
    client, auth, sandbox, acme, session
):
    """An attacker's own hub signup, returned to a victim who has a launch open, once
    linked the attacker's number into the victim's company."""
    company, admin = acme
    auth.login(admin)
    launch(client, company)  # the victim's launch is open
    attacker = sandbox.dialog360.control_complete_onboarding(
        numbers=["+4915100000190"], redirect_url=f"{PUBLIC}/onboarding/360dialog/return"
    )
    redirect = urlsplit(attacker["redirect_url"])
    response = client.get(f"{redirect.path}?{redirect.query}")
    assert response.status_code == 400 and b"carries no state" in response.data
    assert session.scalars(select(ProvisioningRun)).all() == []


def test_a_spent_launch_cannot_be_replayed_for_another_client(client, auth, sandbox, acme, session):
    company, admin = acme
    auth.login(admin)
    launched = launch(client, company)
    old_cookie = client.get_cookie("portal_session", domain="portal.test").value
    assert client.get(go_through_hub(sandbox, launched, ["+4915100000191"])).status_code == 200
    client.set_cookie("portal_session", old_cookie, domain="portal.test")
    query = {k: v[0] for k, v in parse_qs(urlsplit(launched["url"]).query).items()}
    other = sandbox.dialog360.control_complete_onboarding(  # another client, the same state
        numbers=["+4915100000192"], email="someone@else.example", partner_payload=None,
        redirect_url=query["redirect_url"], state=query["state"],
    )  # fmt: skip
    redirect = urlsplit(other["redirect_url"])
    response = client.get(f"{redirect.path}?{redirect.query}")
    assert response.status_code == 400 and b"already used" in response.data
    assert len(session.scalars(select(ProvisioningRun)).all()) == 1


def test_the_state_travels_inside_the_redirect_url(client, auth, sandbox, acme):
    company, admin = acme
    auth.login(admin)
    launched = launch(client, company)
    query = parse_qs(urlsplit(launched["url"]).query)
    redirect_query = parse_qs(urlsplit(query["redirect_url"][0]).query)
    assert redirect_query["state"] == [launched["state"]] == query["state"]
    forged = go_through_hub(sandbox, launched, ["+4915100000193"]) + "&state=forged"
    assert client.get(forged).status_code == 400  # two different states: refused
