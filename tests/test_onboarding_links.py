"""Hosted onboarding links: the API, the company's pages, and the hosted page running Meta's
Embedded Signup and 360dialog's Integrated Onboarding against the sandbox, with no one
signed in."""

from __future__ import annotations

import datetime as dt
import json
import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import func, select, update
from standardwebhooks.webhooks import Webhook

from portal.demo import META_APP
from provisioning import api_keys, onboarding_links, platform_events
from provisioning.audit import SYSTEM, AuditEntry
from provisioning.channels import Channel
from provisioning.db import utcnow
from provisioning.errors import DomainError
from provisioning.onboarding_links import LinkState, OnboardingLink
from provisioning.partners import Provider
from provisioning.platform_events import PlatformEvent
from provisioning.runs import ProvisioningRun, RunStatus
from provisioning.tenancy import Role
from tests.conftest import csrf_token

PROBLEM = "application/problem+json"
SUCCESS = "https://platform.example/welcome?from=portal"
FAILURE = "https://platform.example/sorry"
APP_ID = META_APP["app_id"]


def bearer(session, scopes=("read", "write"), company=None) -> dict[str, str]:
    _, token = api_keys.create_key(session, SYSTEM, "platform", scopes, company)
    session.commit()
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def acme(make):
    return make.company("Acme")


@pytest.fixture
def platform(session):
    return bearer(session)


def create(client, headers, company, **body):
    body = {"options": ["meta"], "success_url": SUCCESS, "failure_url": FAILURE} | body
    return client.post(
        f"/api/v1/companies/{company.public_id}/onboarding-links", json=body, headers=headers
    )


def token_of(answer) -> str:
    return answer.json["url"].rsplit("/", 1)[1]


def link_row(session, answer) -> OnboardingLink:
    session.expire_all()
    return session.scalars(
        select(OnboardingLink).where(OnboardingLink.public_id == answer.json["id"])
    ).one()


# --- the API ------------------------------------------------------------------------------


def test_a_platform_creates_lists_gets_and_revokes_a_link(client, session, acme, platform):
    created = create(client, platform, acme, platform_name="Chatly",
                     logo_url="https://cdn.chatly.example/logo.png")  # fmt: skip
    assert created.status_code == 201 and created.headers["Cache-Control"] == "no-store"
    body = created.json
    assert body["id"].startswith("ol_") and body["company"] == acme.public_id
    assert body["state"] == "pending" and body["options"] == ["meta"]
    assert body["url"].startswith("http://portal.test/onboard/")
    row = link_row(session, created)
    assert token_of(created) not in (row.token_hash, row.public_id)  # only its digest
    assert row.token_hash == onboarding_links.digest(token_of(created))
    expires = dt.datetime.fromisoformat(body["expires_at"])
    assert dt.timedelta(days=6, hours=23) < expires - utcnow() <= dt.timedelta(days=7)
    got = client.get(f"/api/v1/onboarding-links/{body['id']}", headers=platform).json
    assert "url" not in got and got["platform_name"] == "Chatly"
    listed = client.get(f"/api/v1/companies/{acme.public_id}/onboarding-links",
                        headers=platform).json  # fmt: skip
    assert [link["id"] for link in listed["data"]] == [body["id"]]
    revoked = client.post(f"/api/v1/onboarding-links/{body['id']}/revoke", headers=platform)
    assert revoked.status_code == 200 and revoked.json["state"] == "revoked"
    again = client.post(f"/api/v1/onboarding-links/{body['id']}/revoke", headers=platform)
    assert again.status_code == 200  # revoking again changes nothing
    actions = session.scalars(
        select(AuditEntry.action).where(AuditEntry.target_type == "onboarding_links")
    ).all()
    assert actions == ["onboarding_link.create", "onboarding_link.revoke"]
    assert client.get(f"/onboard/{token_of(created)}").status_code == 410


def test_a_company_key_reaches_its_own_company_only(client, session, make, acme):
    globex = make.company("Globex")
    theirs = create(client, bearer(session), globex)
    mine = bearer(session, company=acme)
    assert create(client, mine, acme).status_code == 201
    assert create(client, mine, globex).status_code == 404
    hijack = client.post(f"/api/v1/companies/{globex.public_id}/onboarding-links",
                         json={"name": "Hijacked"}, headers=mine)  # fmt: skip
    assert hijack.status_code == 404  # the company first, never a 422 about the body
    for method, url in (
        ("GET", f"/api/v1/companies/{globex.public_id}/onboarding-links"),
        ("GET", f"/api/v1/onboarding-links/{theirs.json['id']}"),
        ("POST", f"/api/v1/onboarding-links/{theirs.json['id']}/revoke"),
    ):
        answer = client.open(url, method=method, headers=mine)
        assert answer.status_code == 404 and answer.content_type == PROBLEM, url
    assert link_row(session, theirs).status is LinkState.PENDING
    unkeyed = (
        ("GET", f"/api/v1/onboarding-links/{theirs.json['id']}"),
        ("POST", f"/api/v1/companies/{acme.public_id}/onboarding-links"),
    )
    for method, url in unkeyed:
        assert client.open(url, method=method, json={}).status_code == 401
    reader = bearer(session, ("read",), acme)
    assert create(client, reader, acme).status_code == 403


def test_creating_is_idempotent(client, session, acme, platform):
    headers = {**platform, "Idempotency-Key": "onboard-acme-1"}
    first, again = create(client, headers, acme), create(client, headers, acme)
    assert first.status_code == again.status_code == 201
    assert again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    assert session.scalar(select(func.count()).select_from(OnboardingLink)) == 1


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"options": []}, 422, "options"),
        ({"options": ["carrier-pigeon"]}, 422, "options"),
        ({"success_url": "javascript:alert(1)"}, 400, "success_url"),
        ({"failure_url": "https://exa mple.com/"}, 400, "failure_url"),
        ({"logo_url": "http://cdn.example/logo.png"}, 400, "https"),
        ({"expires_at": "2020-01-01T00:00:00Z"}, 400, "future"),
        ({"expires_at": (utcnow() + dt.timedelta(days=31)).isoformat()}, 400, "30 days"),
        ({"platform_name": "x" * 101}, 422, "platform_name"),
    ],
)
def test_bad_input_is_a_problem(client, acme, platform, body, status, words):
    answer = create(client, platform, acme, **body)
    assert answer.status_code == status and answer.content_type == PROBLEM
    assert words in json.dumps(answer.json)


def test_a_deactivated_company_gets_no_link(client, session, acme, platform):
    acme.is_active = False
    session.commit()
    answer = create(client, platform, acme)
    assert answer.status_code == 400 and "deactivated" in answer.json["detail"]


def test_expiry_is_read_from_the_time(client, session, acme, platform):
    soon = create(client, platform, acme, expires_at=(utcnow() + dt.timedelta(hours=1)).isoformat())
    later = create(client, platform, acme)
    session.execute(
        update(OnboardingLink)
        .where(OnboardingLink.public_id == soon.json["id"])
        .values(expires_at=utcnow() - dt.timedelta(seconds=1))
    )
    session.commit()
    url = f"/api/v1/companies/{acme.public_id}/onboarding-links"
    expired = client.get(f"{url}?state=expired", headers=platform).json["data"]
    pending = client.get(f"{url}?state=pending", headers=platform).json["data"]
    assert [e["id"] for e in expired] == [soon.json["id"]] and expired[0]["state"] == "expired"
    assert [p["id"] for p in pending] == [later.json["id"]]
    page = client.get(f"/onboard/{token_of(soon)}")
    assert page.status_code == 410 and b"expired" in page.data
    refused = client.post(f"/api/v1/onboarding-links/{soon.json['id']}/revoke", headers=platform)
    assert refused.status_code == 400 and "expired" in refused.json["detail"]
    assert client.get(f"{url}?state=soon", headers=platform).status_code == 422


def test_a_new_link_can_revoke_the_open_ones(client, session, acme, make, platform):
    first, second = create(client, platform, acme), create(client, platform, acme)
    other = create(client, platform, make.company("Globex"))
    third = create(client, platform, acme, revoke_others=True)
    assert third.status_code == 201
    states = {a.json["id"]: link_row(session, a).state() for a in (first, second, third, other)}
    assert states == {
        first.json["id"]: LinkState.REVOKED, second.json["id"]: LinkState.REVOKED,
        third.json["id"]: LinkState.PENDING, other.json["id"]: LinkState.PENDING,
    }  # fmt: skip


# --- the hosted page: Meta Embedded Signup ------------------------------------------------


@pytest.fixture
def sandbox(connected_sandbox):
    return connected_sandbox(12, Provider.META, Provider.DIALOG360, webhooks_to_app=True)


@pytest.fixture
def deliveries(app, monkeypatch) -> list[httpx.Request]:
    """What the platform's endpoint receives when a drain runs the delivery job."""
    got: list[httpx.Request] = []
    receive = httpx.MockTransport(lambda request: got.append(request) or httpx.Response(204))
    monkeypatch.setitem(app.config, "EVENTS_TRANSPORT", receive)
    return got


@pytest.fixture
def endpoint(session, deliveries):
    added = platform_events.add_endpoint(
        session, SYSTEM, "https://platform.example/events", check_url=lambda url: None,
        event_types=["link.completed", "link.failed", "channel.connected"],
    )  # fmt: skip
    session.commit()
    return added


def page_config(html: str, element: str) -> dict:
    raw = re.search(rf'id="{element}" data-config=\'([^\']+)\'', html).group(1)
    return json.loads(unescape(raw))


def meta_launch(client, token: str) -> tuple[str, dict]:
    page = client.get(f"/onboard/{token}")
    assert page.status_code == 200, page.data
    config = page_config(page.get_data(as_text=True), "embedded-signup")
    answer = client.post(config["launchUrl"], json={}, headers={"X-CSRFToken": config["csrf"]})
    assert answer.status_code == 200, answer.data
    return answer.json["state"], config


def meta_complete(client, config: dict, **body):
    return client.post(config["completeUrl"], json=body, headers={"X-CSRFToken": config["csrf"]})


def test_a_visitor_without_an_account_connects_a_number_through_meta(
    app, client, session, sandbox, acme, platform, endpoint, deliveries
):
    created = create(client, platform, acme, platform_name="Chatly")
    token = token_of(created)
    assert link_row(session, created).status is LinkState.PENDING
    state, config = meta_launch(client, token)
    link = link_row(session, created)
    assert link.status is LinkState.OPENED and link.launch_nonce_hash == onboarding_links.digest(
        state
    )
    signup = sandbox.meta.control_complete_signup(app_id=APP_ID)
    body = {"state": state, "code": signup["code"], "event": signup["event"]}
    done = meta_complete(client, config, **body)
    assert done.status_code == 200
    target = urlsplit(done.json["redirect"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == "https://platform.example/welcome"
    assert parse_qs(target.query) == {
        "from": ["portal"],
        "link": [created.json["id"]],
        "status": ["completed"],
    }
    run = session.scalars(select(ProvisioningRun)).one()
    assert (
        run.company_id == acme.id and run.status is RunStatus.STARTED and run.started_by_id is None
    )
    link = link_row(session, created)
    assert link.status is LinkState.COMPLETED and link.run_id == run.id and link.option == "meta"
    # the same completion again (a double submit, a reload): the same answer, nothing new
    assert meta_complete(client, config, **body).json == done.json
    app.extensions["job_runner"].drain()  # the run, then the delivery job it wakes
    session.expire_all()
    assert run.status is RunStatus.COMPLETED, [(s.name, s.error_message) for s in run.steps]
    assert session.scalar(select(func.count()).select_from(ProvisioningRun)) == 1
    channel = session.scalars(select(Channel).where(Channel.company_id == acme.id)).one()
    got = client.get(f"/api/v1/onboarding-links/{created.json['id']}", headers=platform).json
    assert got["state"] == "completed" and got["run"] == run.id and got["channels"] == [channel.id]
    events = session.scalars(select(PlatformEvent).order_by(PlatformEvent.id)).all()
    assert [e.type for e in events].count("link.completed") == 1
    completed = json.loads(next(e.payload for e in events if e.type == "link.completed"))
    assert completed["data"]["company"] == acme.public_id
    assert completed["data"]["link"] == {
        "id": created.json["id"], "state": "completed", "option": "meta", "run": run.id,
        "failure_reason": None,
    }  # fmt: skip
    received = [Webhook(endpoint.secret).verify(r.content, r.headers)["type"] for r in deliveries]
    assert sorted(received) == ["channel.connected", "link.completed"]
    actors = set(session.scalars(
        select(AuditEntry.actor_email).where(AuditEntry.action.like("onboarding_link.%"))
    ))  # fmt: skip
    assert f"onboarding-link:{created.json['id']}" in actors
    used = client.get(f"/onboard/{token}")
    assert used.status_code == 410 and b"already used" in used.data


def test_only_the_offered_kind_of_number_connects(client, session, sandbox, acme, platform):
    created = create(client, platform, acme, options=["meta_coexistence"])
    state, config = meta_launch(client, token_of(created))
    page = client.get(f"/onboard/{token_of(created)}").get_data(as_text=True)
    assert 'id="feature-meta_coexistence"' in page and 'id="feature-meta"' not in page
    standard = sandbox.meta.control_complete_signup(app_id=APP_ID)
    refused = meta_complete(client, config, state=state, code=standard["code"],
                            event=standard["event"])  # fmt: skip
    assert refused.status_code == 400 and "does not offer" in refused.json["error"]
    assert link_row(session, created).status is LinkState.OPENED  # still usable
    app_number = sandbox.meta.control_complete_signup(
        app_id=APP_ID, flow="FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING"
    )
    state, config = meta_launch(client, token_of(created))
    done = meta_complete(client, config, state=state, code=app_number["code"],
                         event=app_number["event"])  # fmt: skip
    assert done.status_code == 200 and "status=completed" in done.json["redirect"]
    assert link_row(session, created).option == "meta_coexistence"


def test_a_cancelled_signup_fails_the_link_and_goes_to_the_failure_url(
    client, session, sandbox, acme, platform, endpoint
):
    created = create(client, platform, acme)
    state, config = meta_launch(client, token_of(created))
    event = {"type": "WA_EMBEDDED_SIGNUP", "event": "CANCEL",
             "data": {"current_step": "PHONE_NUMBER_SETUP"}}  # fmt: skip
    done = meta_complete(client, config, state=state, event=event)
    assert done.status_code == 200
    assert done.json["redirect"] == (
        f"{FAILURE}?link={created.json['id']}&status=failed&reason=cancelled"
    )
    link = link_row(session, created)
    assert link.status is LinkState.FAILED and link.failure_reason == "cancelled"
    assert session.scalars(select(PlatformEvent.type)).all() == ["link.failed"]
    assert client.get(f"/onboard/{token_of(created)}").status_code == 410


def test_a_refused_completion_fails_the_link_with_a_plain_page_when_no_url_is_set(
    client, session, sandbox, acme, platform
):
    created = create(client, platform, acme, success_url="", failure_url="")
    state, config = meta_launch(client, token_of(created))
    done = meta_complete(client, config, state=state, code="x", event={"type": "other"})
    assert (
        done.status_code == 200 and done.json["redirect"] == f"/onboard/done/{created.json['id']}"
    )
    link = link_row(session, created)
    assert (link.status, link.failure_reason) == (LinkState.FAILED, "refused")
    assert session.scalars(select(ProvisioningRun)).all() == []
    page = client.get(done.json["redirect"])
    assert page.status_code == 200 and b"unexpected message" in page.data


def test_the_launch_nonce_is_required_and_single_use(client, session, sandbox, acme, platform):
    created = create(client, platform, acme)
    token = token_of(created)
    state, config = meta_launch(client, token)
    signup = sandbox.meta.control_complete_signup(app_id=APP_ID)
    body = {"code": signup["code"], "event": signup["event"]}
    assert meta_complete(client, config, **body).status_code == 400  # no state
    assert meta_complete(client, config, state="forged", **body).status_code == 400
    newer, config = meta_launch(client, token)  # a second launch replaces the first
    stale = meta_complete(client, config, state=state, **body)
    assert stale.status_code == 400 and "replaced" in stale.json["error"]
    assert link_row(session, created).status is LinkState.OPENED
    assert meta_complete(client, config, state=newer, **body).status_code == 200
    closed = client.post(config["launchUrl"], json={}, headers={"X-CSRFToken": config["csrf"]})
    assert closed.status_code == 410 and "already used" in closed.json["error"]
    assert session.scalar(select(func.count()).select_from(ProvisioningRun)) == 1


def test_a_completion_racing_a_revocation_finds_the_link_revoked(
    client, session, sandbox, acme, platform
):
    created = create(client, platform, acme)
    state, config = meta_launch(client, token_of(created))
    client.post(f"/api/v1/onboarding-links/{created.json['id']}/revoke", headers=platform)
    signup = sandbox.meta.control_complete_signup(app_id=APP_ID)
    late = meta_complete(client, config, state=state, code=signup["code"], event=signup["event"])
    assert late.status_code == 410 and "withdrawn" in late.json["error"]
    assert session.scalars(select(ProvisioningRun)).all() == []


def test_unknown_and_closed_links_answer_clear_pages(client, session, acme, platform):
    unknown = client.get("/onboard/not-a-token")
    assert unknown.status_code == 404 and b"not valid" in unknown.data
    assert client.post("/onboard/not-a-token/meta/complete", json={}).status_code in (400, 404)
    assert client.get("/onboard/done/ol_nothing").status_code == 404
    created = create(client, platform, acme)
    assert client.get(f"/onboard/done/{created.json['id']}").status_code == 404  # not finished


def test_the_page_shows_the_platform_and_allows_its_logo(client, session, sandbox, acme, platform):
    created = create(client, platform, acme, platform_name="Chatly",
                     logo_url="https://cdn.chatly.example:8443/logo.png")  # fmt: skip
    page = client.get(f"/onboard/{token_of(created)}")
    html = page.get_data(as_text=True)
    assert "Chatly" in html and "https://cdn.chatly.example:8443/logo.png" in html
    policy = page.headers["Content-Security-Policy"]
    assert "img-src 'self' https://cdn.chatly.example:8443" in policy
    assert "http://sandbox.test" in policy  # the SDK of the Meta configuration
    assert 'id="dialog360-connect"' not in html  # not offered


# --- the hosted page: 360dialog Integrated Onboarding --------------------------------------


def dialog360_launch(client, token: str) -> dict:
    page = client.get(f"/onboard/{token}").get_data(as_text=True)
    config = page_config(page, "dialog360-connect")
    answer = client.post(config["launchUrl"], headers={"X-CSRFToken": config["csrf"]})
    assert answer.status_code == 200, answer.data
    return answer.json


def through_hub(sandbox, launched: dict, numbers: list[str], **extra) -> str:
    query = {k: v[0] for k, v in parse_qs(urlsplit(launched["url"]).query).items()}
    outcome = sandbox.dialog360.control_complete_onboarding(
        numbers=numbers, partner_payload=query["partner"], redirect_url=query["redirect_url"],
        state=query["state"], **extra,
    )  # fmt: skip
    redirect = urlsplit(outcome["redirect_url"])
    return f"{redirect.path}?{redirect.query}"


def settle(app, sandbox, session, run, rounds=20):
    runner = app.extensions["job_runner"]
    for _ in range(rounds):
        runner.drain()
        session.expire_all()
        if run.status not in (RunStatus.STARTED, RunStatus.WAITING, RunStatus.RUNNING):
            return
        sandbox.advance(300)


def test_a_visitor_connects_numbers_through_360dialog(
    app, client, session, sandbox, acme, platform, endpoint
):
    created = create(client, platform, acme, options=["dialog360"])
    launched = dialog360_launch(client, token_of(created))
    assert parse_qs(urlsplit(launched["url"]).query)["partner"] == [acme.public_id]
    back = through_hub(sandbox, launched, ["+4915100000301", "+4915100000302"])
    assert back.startswith("/onboarding/360dialog/return?")
    first = client.get(back)  # nobody is signed in
    assert first.status_code == 200
    target = re.search(r'data-target="([^"]+)"', first.get_data(as_text=True)).group(1)
    assert unescape(target).startswith("https://platform.example/welcome?from=portal&link=ol_")
    assert client.get(back).status_code == 200  # a reload: the same run
    run = session.scalars(select(ProvisioningRun)).one()
    assert run.company_id == acme.id and run.flow == "dialog360_integrated_onboarding"
    settle(app, sandbox, session, run)
    assert run.status is RunStatus.COMPLETED
    got = client.get(f"/api/v1/onboarding-links/{created.json['id']}", headers=platform).json
    assert got["state"] == "completed" and got["option"] == "dialog360"
    assert len(got["channels"]) == 2
    assert session.scalar(select(func.count()).where(PlatformEvent.type == "link.completed")) == 1


def test_a_spent_360dialog_launch_cannot_be_replayed_for_another_client(
    client, session, sandbox, acme, platform
):
    created = create(client, platform, acme, options=["dialog360"])
    launched = dialog360_launch(client, token_of(created))
    assert client.get(through_hub(sandbox, launched, ["+4915100000303"])).status_code == 200
    other = through_hub(sandbox, launched, ["+4915100000304"], email="x@else.example")
    replay = client.get(other)
    assert replay.status_code == 410 and b"already used" in replay.data
    assert session.scalar(select(func.count()).select_from(ProvisioningRun)) == 1


def test_a_return_that_is_not_a_links_still_needs_a_signed_in_user(client, sandbox):
    answer = client.get("/onboarding/360dialog/return?state=abc&client=cl1&channels=[c1]")
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]


def test_a_link_offering_only_meta_refuses_a_360dialog_launch(
    client, session, sandbox, acme, platform
):
    created = create(client, platform, acme)
    page = client.get(f"/onboard/{token_of(created)}").get_data(as_text=True)
    csrf = page_config(page, "embedded-signup")["csrf"]
    answer = client.post(f"/onboard/{token_of(created)}/360dialog/launch",
                         headers={"X-CSRFToken": csrf, "Accept": "application/json"})  # fmt: skip
    assert answer.status_code == 400 and "does not offer" in answer.json["error"]


# --- the company's pages ------------------------------------------------------------------


def test_a_company_admin_creates_and_revokes_links_in_the_portal(client, auth, session, acme, make):
    admin, member = make.user(acme, Role.ADMIN), make.user(acme, Role.MEMBER)
    auth.login(admin)
    url = f"/c/{acme.slug}/onboarding-links"
    form = {"csrf_token": csrf_token(client, url), "options": ["meta", "dialog360"],
            "expires_in_days": "3", "platform_name": "Chatly", "success_url": SUCCESS}  # fmt: skip
    created = client.post(url, data=form)
    assert created.status_code == 201 and created.headers["Cache-Control"] == "no-store"
    link_url = re.search(r'id="new-link-url" type="text" readonly value="([^"]+)"',
                         created.get_data(as_text=True)).group(1)  # fmt: skip
    link = session.scalars(select(OnboardingLink)).one()
    assert link.token_hash == onboarding_links.digest(link_url.rsplit("/", 1)[1])
    assert link.options == ["meta", "dialog360"] and link.created_by == admin.email
    assert dt.timedelta(days=2, hours=23) < link.expires_at - utcnow() <= dt.timedelta(days=3)
    listed = client.get(url).get_data(as_text=True)
    assert link.public_id in listed and link_url not in listed and "pending" in listed
    bad = client.post(url, data={**form, "expires_in_days": "45"})
    assert bad.status_code == 303  # flashed back to the page
    revoked = client.post(f"{url}/{link.id}/revoke", data={"csrf_token": csrf_token(client, url)})
    assert revoked.status_code == 302
    session.refresh(link)
    assert link.status is LinkState.REVOKED
    auth.logout()
    auth.login(member)
    listed = client.get(url)  # members see the links and their state, and no form
    assert listed.status_code == 200 and b"revoked" in listed.data
    assert b'id="create-link"' not in listed.data
    form["csrf_token"] = csrf_token(client, url)
    assert client.post(url, data=form).status_code == 403


def test_another_companys_people_get_404_on_the_links_pages(client, auth, session, acme, make):
    link, _ = onboarding_links.create(session, SYSTEM, acme, ["meta"], check_url=lambda url: None)
    session.commit()
    globex = make.company("Globex")
    auth.login(make.user(globex, Role.ADMIN))
    assert client.get(f"/c/{acme.slug}/onboarding-links").status_code == 404
    own = f"/c/{globex.slug}/onboarding-links"
    token = csrf_token(client, own)
    assert client.post(f"{own}/{link.id}/revoke", data={"csrf_token": token}).status_code == 404
    session.refresh(link)
    assert link.status is LinkState.PENDING


def test_platform_admins_reach_a_companys_links_from_its_admin_page(client, auth, acme, make):
    auth.login(make.admin())
    detail = client.get(f"/admin/companies/{acme.id}").get_data(as_text=True)
    assert f"/c/{acme.slug}/onboarding-links" in detail
    assert client.get(f"/c/{acme.slug}/onboarding-links").status_code == 200


# --- the domain -------------------------------------------------------------------------


def test_access_markers(app):
    views = app.view_functions
    assert {views[e].access for e in views if e.startswith("hosted.")} == {"public"}
    assert views["onboarding_links.index"].access == "company_member"
    assert views["onboarding_links.create"].access == "company_admin"
    assert views["onboarding_links.revoke"].access == "company_admin"
    assert views["onboarding_return.dialog360_return"].access == "public"


def test_a_completed_link_cannot_be_revoked(session, acme):
    link, _ = onboarding_links.create(session, SYSTEM, acme, ["meta"], check_url=lambda url: None)
    link.status = LinkState.COMPLETED
    session.flush()
    with pytest.raises(DomainError, match="completed"):
        onboarding_links.revoke(session, SYSTEM, link)


# --- completions at the same moment (a real database, committing) ---------------------------


@pytest.fixture
def committing_app(scratch_database_url, tmp_path):
    """An app on its own migrated database, committing for real (threads see each other)."""
    from flask_migrate import upgrade

    from portal import create_app
    from portal.extensions import db
    from provisioning.crypto import Keyring

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": scratch_database_url, "SECRET_KEY": "x",
            "KEYRING": Keyring.generate(), "INSTANCE_PATH": str(tmp_path),
            "WTF_CSRF_ENABLED": False, "JOB_RUNNER": "manual", "SERVER_NAME": "portal.test",
        }
    )  # fmt: skip
    with app.app_context():
        upgrade()
        yield app
        db.session.remove()
        db.engine.dispose()


def test_completions_at_the_same_moment_start_one_run(committing_app):
    import threading

    from portal.demo import partner_values
    from portal.extensions import db
    from provisioning import companies, partners
    from provisioning.partners import Environment

    values = partner_values("http://sandbox.test", "http://portal.test")[Provider.META]
    partners.create_configuration(db.session, SYSTEM, Provider.META, Environment.SANDBOX, "",
                                  values)  # fmt: skip
    company = companies.create_company(db.session, SYSTEM, "Acme")
    platform_events.add_endpoint(db.session, SYSTEM, "https://platform.example/events",
                                 check_url=lambda url: None)  # fmt: skip
    link, token = onboarding_links.create(
        db.session, SYSTEM, company, ["meta"], check_url=lambda url: None, success_url=SUCCESS
    )
    state = onboarding_links.launch(db.session, link, Provider.META)
    db.session.commit()
    event = {"type": "WA_EMBEDDED_SIGNUP", "event": "FINISH",
             "data": {"waba_id": "1", "phone_number_id": "2"}}  # fmt: skip
    barrier, answers, lock = threading.Barrier(8), [], threading.Lock()

    def complete() -> None:
        client = committing_app.test_client()
        barrier.wait()
        answer = client.post(f"/onboard/{token}/meta/complete",
                             json={"state": state, "code": "code-1", "event": event})  # fmt: skip
        with lock:
            answers.append((answer.status_code, answer.get_json()))

    threads = [threading.Thread(target=complete) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {status for status, _ in answers} == {200}
    assert len({body["redirect"] for _, body in answers}) == 1
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(ProvisioningRun)) == 1
    types = db.session.scalars(select(PlatformEvent.type)).all()
    assert types.count("link.completed") == 1
    queued = committing_app.extensions["job_runner"].queue
    assert [name for name, _ in queued] == ["provisioning.execute_run", "events.deliver"]
