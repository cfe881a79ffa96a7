"""The company's Connect WhatsApp flow through the portal: nonce, run, job, channels."""

from __future__ import annotations

import json
import re
from html import unescape

import pytest
from sqlalchemy import select

from portal.boundary import message_of, status_of
from portal.demo import META_APP
from portal.onboarding import nonces
from provisioning.audit import SYSTEM
from provisioning.channels import Channel
from provisioning.errors import DomainError, Unreachable
from provisioning.launches import OnboardingLaunch
from provisioning.partners import Provider
from provisioning.runs import ProvisioningRun, RunStatus
from provisioning.tenancy import Role

APP_ID = META_APP["app_id"]


@pytest.fixture
def sandbox(connected_sandbox):
    return connected_sandbox(8, Provider.META)


@pytest.fixture
def acme(make):
    company = make.company("Acme")
    return company, make.user(company, Role.ADMIN), make.user(company, Role.MEMBER)


def signup_config(html: str) -> dict:
    """The launcher's configuration, as the page's script reads it."""
    raw = re.search(r"data-config='([^']+)'", html).group(1)
    return json.loads(unescape(raw))


def launch(client, company) -> tuple[str, str]:
    page = client.get(f"/c/{company.slug}/connect/meta").get_data(as_text=True)
    token = signup_config(page)["csrf"]
    state = client.post(
        f"/c/{company.slug}/connect/meta/launch", headers={"X-CSRFToken": token}
    ).get_json()["state"]
    return state, token


def complete(client, company, token, **body):
    return client.post(
        f"/c/{company.slug}/connect/meta/complete", json=body, headers={"X-CSRFToken": token}
    )


def test_a_company_admin_connects_a_number_end_to_end(app, client, auth, sandbox, acme, session):
    company, admin, _ = acme
    auth.login(admin)
    page = client.get(f"/c/{company.slug}/connect/meta").get_data(as_text=True)
    assert "http://sandbox.test/meta/connect/en_US/sdk.js" in page
    config = signup_config(page)
    assert config["dialogOrigin"] == "http://sandbox.test" and config["appId"] == APP_ID
    state, token = launch(client, company)
    signup = sandbox.meta.control_complete_signup(app_id=APP_ID)
    response = complete(client, company, token, state=state, code=signup["code"],
                        event=signup["event"])  # fmt: skip
    assert response.status_code == 200
    run_url = response.get_json()["run_url"]
    run = session.scalars(select(ProvisioningRun)).one()
    assert run.status is RunStatus.STARTED  # nothing ran inside the request
    app.extensions["job_runner"].drain()
    session.expire_all()
    assert run.status is RunStatus.COMPLETED, [(s.name, s.error_message) for s in run.steps]
    assert b"completed" in client.get(run_url).data
    dashboard = client.get(f"/c/{company.slug}/").get_data(as_text=True)
    channel = session.scalars(select(Channel)).one()
    assert channel.phone_number in dashboard and channel.quality_rating in dashboard
    detail = client.get(f"/c/{company.slug}/channels/{channel.id}").get_data(as_text=True)
    assert channel.messaging_limit in detail


def test_nonces_are_required_single_use_and_bound_to_the_company(
    client, auth, sandbox, acme, make, session, app
):
    company, admin, _ = acme
    auth.login(admin)
    state, token = launch(client, company)
    signup = sandbox.meta.control_complete_signup(app_id=APP_ID)
    body = {"code": signup["code"], "event": signup["event"]}
    assert complete(client, company, token, **body).status_code == 400  # missing
    assert complete(client, company, token, state="forged", **body).status_code == 400
    first = complete(client, company, token, state=state, **body)
    assert first.status_code == 200
    # the same admin in a new session repeats the completion: the first run, nothing new
    auth.logout()
    auth.login(admin)
    token = launch(client, company)[1]
    again = complete(client, company, token, state=state, **body)
    assert again.status_code == 200 and again.get_json() == first.get_json()
    # another admin of the company cannot use it at all
    auth.logout()
    auth.login(make.user(company, Role.ADMIN))
    token = launch(client, company)[1]
    stranger = complete(client, company, token, state=state, **body)
    assert stranger.status_code == 400 and "already used" in stranger.get_json()["error"]
    assert len(session.scalars(select(ProvisioningRun)).all()) == 1
    assert [n for n, _ in app.extensions["job_runner"].queue] == ["provisioning.execute_run"]


def test_launch_nonces_are_kept_server_side_as_hashes(client, auth, sandbox, acme, session):
    from provisioning.launches import OnboardingLaunch, digest

    company, admin, _ = acme
    auth.login(admin)
    state, _ = launch(client, company)
    row = session.scalars(select(OnboardingLaunch)).one()
    assert (row.company_id, row.provider, row.user_id) == (company.id, "meta", admin.id)
    assert row.nonce_hash == digest(state) and row.spent_at is None
    cookie = client.get_cookie("portal_session", domain="portal.test").value
    assert state not in cookie  # nothing about the launch rides in the cookie


@pytest.mark.parametrize(
    "failure", [DomainError("The signup is incomplete."), Unreachable("meta", "no answer")]
)
def test_a_launch_stays_spent_whatever_its_completion_raises(
    client, auth, sandbox, acme, session, monkeypatch, failure
):
    """A launch serves one completion: a refused or failed one spends it all the same."""
    company, admin, _ = acme
    auth.login(admin)
    state, token = launch(client, company)

    def fail(*args, **kwargs):
        raise failure

    monkeypatch.setattr("portal.onboarding.routes.record_embedded_signup", fail)
    refused = complete(client, company, token, state=state)
    assert refused.status_code == status_of(failure)
    assert refused.get_json() == {"error": message_of(failure)}
    assert session.scalars(select(OnboardingLaunch)).one().spent_at is not None
    assert session.scalars(select(ProvisioningRun)).all() == []
    monkeypatch.undo()
    again = complete(client, company, token, state=state)
    assert again.status_code == 400 and "already used" in again.get_json()["error"]


def test_an_old_session_cookie_cannot_replay_a_spent_nonce(client, auth, sandbox, acme, session):
    """A copy of the cookie taken before the completion once carried the nonce unspent."""
    company, admin, _ = acme
    auth.login(admin)
    state, token = launch(client, company)
    old_cookie = client.get_cookie("portal_session", domain="portal.test").value
    refused = complete(client, company, token, state=state, code="x", event={"type": "other"})
    assert refused.status_code == 400  # a refused completion spends the launch all the same
    client.set_cookie("portal_session", old_cookie, domain="portal.test")
    signup = sandbox.meta.control_complete_signup(app_id=APP_ID)
    replay = complete(client, company, token, state=state, code=signup["code"],
                      event=signup["event"])  # fmt: skip
    assert replay.status_code == 400 and "already used" in replay.get_json()["error"]
    assert session.scalars(select(ProvisioningRun)).all() == []


def test_a_nonce_of_another_company_is_refused(client, auth, sandbox, make, session):
    a, b = make.company("A"), make.company("B")
    user = make.user(a, Role.ADMIN)
    from provisioning import accounts

    accounts.set_membership(session, SYSTEM, user, b, Role.ADMIN)
    session.commit()
    auth.login(user)
    state, token = launch(client, a)
    response = complete(client, b, token, state=state, code="x", event={})
    assert response.status_code == 400 and "another company" in response.get_json()["error"]


def test_an_expired_nonce_is_refused(client, auth, sandbox, acme, monkeypatch):
    import datetime as dt

    from provisioning.db import utcnow

    company, admin, _ = acme
    auth.login(admin)
    state, token = launch(client, company)
    monkeypatch.setattr(nonces, "now", lambda: utcnow() + dt.timedelta(minutes=16))
    response = complete(client, company, token, state=state, code="x", event={})
    assert response.status_code == 400 and "expired" in response.get_json()["error"]


def test_cancel_is_recorded_and_shown(client, auth, sandbox, acme, session):
    company, admin, _ = acme
    auth.login(admin)
    state, token = launch(client, company)
    event = {"type": "WA_EMBEDDED_SIGNUP", "event": "CANCEL",
             "data": {"current_step": "PHONE_NUMBER_SETUP"}}  # fmt: skip
    response = complete(client, company, token, state=state, event=event)
    run = session.scalars(select(ProvisioningRun)).one()
    assert run.status is RunStatus.CANCELLED
    assert b"PHONE_NUMBER_SETUP" in client.get(response.get_json()["run_url"]).data


def test_members_cannot_connect_and_other_companies_cannot_see_runs(
    client, auth, sandbox, acme, make, app, session
):
    company, admin, member = acme
    auth.login(member)
    assert client.get(f"/c/{company.slug}/connect/meta").status_code == 403
    auth.logout()
    auth.login(admin)
    state, token = launch(client, company)
    signup = sandbox.meta.control_complete_signup(app_id=APP_ID)
    complete(client, company, token, state=state, code=signup["code"], event=signup["event"])
    app.extensions["job_runner"].drain()
    run = session.scalars(select(ProvisioningRun)).one()
    channel = session.scalars(select(Channel)).one()
    auth.logout()
    other = make.company("Other")
    auth.login(make.user(other, Role.ADMIN))
    assert client.get(f"/c/{other.slug}/runs/{run.id}").status_code == 404
    assert client.get(f"/c/{other.slug}/channels/{channel.id}").status_code == 404
    assert client.get(f"/c/{company.slug}/runs/{run.id}").status_code == 404


def test_a_failed_run_can_be_retried_from_the_page(app, client, auth, sandbox, acme, session):
    company, admin, _ = acme
    auth.login(admin)
    state, token = launch(client, company)
    signup = sandbox.meta.control_complete_signup(app_id=APP_ID)
    sandbox.faults.add("server_error", provider="meta", path="/register$", times=1)
    sandbox.faults.add("throttle", provider="meta", path="/register$", times=10)
    complete(client, company, token, state=state, code=signup["code"], event=signup["event"])
    runner = app.extensions["job_runner"]
    run = session.scalars(select(ProvisioningRun)).one()
    for _ in range(8):
        runner.drain()
        session.expire_all()
        if run.status is not RunStatus.WAITING:
            break
        run.resume_at = None
        session.commit()
        runner.enqueue("provisioning.execute_run", run.id)
    assert run.status is RunStatus.FAILED
    sandbox.faults.clear()
    page = client.get(f"/c/{company.slug}/runs/{run.id}").get_data(as_text=True)
    assert "Retry" in page
    auth.post(
        f"/c/{company.slug}/runs/{run.id}/retry", form_page=f"/c/{company.slug}/runs/{run.id}"
    )
    runner.drain()
    session.expire_all()
    assert run.status is RunStatus.COMPLETED


def session_cookie(client) -> str:
    return client.get_cookie("portal_session", domain="portal.test").value


def test_a_double_submitted_completion_starts_one_run(app, client, auth, sandbox, acme, session):
    company, admin, _ = acme
    auth.login(admin)
    state, token = launch(client, company)
    signup = sandbox.meta.control_complete_signup(app_id=APP_ID)
    body = {"state": state, "code": signup["code"], "event": signup["event"]}
    cookie = session_cookie(client)  # what both submits carry when sent at once
    first = complete(client, company, token, **body)
    client.set_cookie("portal_session", cookie, domain="portal.test")
    at_once = complete(client, company, token, **body)  # the cookie plays no part now
    after = complete(client, company, token, **body)  # after the first answer
    assert [r.status_code for r in (first, at_once, after)] == [200, 200, 200]
    assert first.get_json() == at_once.get_json() == after.get_json()
    run = session.scalars(select(ProvisioningRun)).one()
    assert first.get_json()["run_url"].endswith(f"/runs/{run.id}")
    assert [name for name, _ in app.extensions["job_runner"].queue] == ["provisioning.execute_run"]
