"""Onboarding runs through the API (/api/v1/runs, /api/v1/companies/{id}/runs): list,
steps, retry, server-side starts, run.completed and run.failed, tenancy and scopes."""

from __future__ import annotations

import json

import httpx
import pytest
from sqlalchemy import select

from provisioning import api_keys, platform_events, runs
from provisioning.audit import SYSTEM
from provisioning.errors import Rejected
from provisioning.partners import Provider
from provisioning.platform_events import PlatformEvent
from provisioning.runs import Flow, RunStatus
from tests.test_runs import Script
from tests.twilio.test_a2p import PROFILE

PROBLEM = "application/problem+json"


def token(session, scopes, company=None) -> dict[str, str]:
    _, secret = api_keys.create_key(session, SYSTEM, "crm", scopes, company)
    session.commit()
    return {"Authorization": f"Bearer {secret}"}


def events(session, event_type: str) -> list[dict]:
    rows = session.scalars(
        select(PlatformEvent).where(PlatformEvent.type == event_type).order_by(PlatformEvent.id)
    )
    return [json.loads(row.payload) | {"ordering_key": row.ordering_key} for row in rows]


@pytest.fixture
def script():
    return Script()


@pytest.fixture
def flow(script):
    flow = runs.register_flow(
        Flow(name="api_test_flow", provider=Provider.META, max_attempts=2,
             steps=(("first", script.step("first")), ("last", script.step("last"))))
    )  # fmt: skip
    yield flow
    runs.FLOWS.pop(flow.name)


@pytest.fixture
def world(app, session, make, flow, monkeypatch):
    delivered: list[str] = []
    receiver = httpx.MockTransport(
        lambda request: delivered.append(json.loads(request.content)["type"]) or httpx.Response(204)
    )
    monkeypatch.setitem(app.config, "EVENTS_TRANSPORT", receiver)  # deliveries run in drains
    acme, globex = make.company("Acme"), make.company("Globex")
    platform_events.add_endpoint(session, SYSTEM, "https://platform.example/events",
                                 check_url=lambda url: None,
                                 event_types=["run.completed", "run.failed"])  # fmt: skip
    started = [
        runs.start_run(session, SYSTEM, flow, company.id, secret_input={"code": "s3cret-code"})
        for company in (acme, acme, acme, globex)
    ]
    session.commit()
    return {
        "acme": acme, "globex": globex, "runs": started,
        "read": token(session, ("read",), acme), "write": token(session, ("write",), acme),
        "delivered": delivered,
    }  # fmt: skip


def execute(session, run_id: int) -> RunStatus:
    return runs.execute(session, run_id, session.commit)


def test_runs_are_listed_in_reach_with_filters_a_page_at_a_time(client, session, world):
    acme_runs = [r.id for r in world["runs"][:3]]
    listed = client.get("/api/v1/runs?limit=2", headers=world["read"]).json
    assert [r["id"] for r in listed["data"]] == acme_runs[:2] and listed["next_cursor"]
    rest = client.get(f"/api/v1/runs?limit=2&cursor={listed['next_cursor']}",
                      headers=world["read"]).json  # fmt: skip
    assert [r["id"] for r in rest["data"]] == acme_runs[2:] and rest["next_cursor"] is None
    assert rest["data"][0]["company"] == world["acme"].public_id
    every = client.get("/api/v1/runs", headers=token(session, ("read",))).json["data"]
    assert len(every) == 4  # a platform key reaches every company
    execute(session, acme_runs[0])
    done = client.get("/api/v1/runs?status=completed&provider=meta&flow=api_test_flow",
                      headers=world["read"]).json["data"]  # fmt: skip
    assert [r["id"] for r in done] == [acme_runs[0]]
    assert client.get("/api/v1/runs?provider=twilio", headers=world["read"]).json["data"] == []
    foreign = client.get(f"/api/v1/runs?company={world['globex'].public_id}",
                         headers=world["read"])  # fmt: skip
    assert foreign.status_code == 404 and foreign.content_type == PROBLEM
    bad = client.get("/api/v1/runs?status=sleeping&provider=fax", headers=world["read"])
    assert bad.status_code == 422 and {"status", "provider"} <= set(bad.json["errors"]["query"])


def test_a_run_shows_its_steps_and_never_its_secrets(client, session, script, world):
    run = world["runs"][0]
    script.plan["last"] = [Rejected("meta", "The number is banned", 400, "131031", trace_id="T1")]
    assert execute(session, run.id) is RunStatus.FAILED
    answer = client.get(f"/api/v1/runs/{run.id}", headers=world["read"])
    assert answer.status_code == 200
    body = answer.json
    assert body["status"] == "failed" and "banned" in body["error"]
    first, last = body["steps"]
    assert first["name"] == "first" and first["status"] == "done" and first["last_error"] is None
    assert last["status"] == "failed" and last["attempts"] == 1
    assert last["last_error"] == {
        "provider": "meta", "http_status": 400, "code": "131031", "subcode": None,
        "message": "The number is banned", "trace_id": "T1",
    }  # fmt: skip
    text = answer.get_data(as_text=True)
    assert "s3cret-code" not in text and run.state_nonce not in text
    assert not {"context", "secret_input", "state_nonce", "lease_owner"} & set(body)


def test_a_failed_run_is_retried_to_completion_and_each_outcome_announced_once(
    app, client, session, script, world
):
    run = world["runs"][0]
    script.plan["first"] = [Rejected("meta", "Not yet", 400, "100")]
    execute(session, run.id)
    [failed] = events(session, "run.failed")
    assert failed["data"] == {
        "company": world["acme"].public_id,
        "run": {"id": run.id, "flow": "api_test_flow", "provider": "meta", "status": "failed",
                "error": run.error_message, "failed_step": "first"},
    }  # fmt: skip
    assert "Not yet" in run.error_message
    assert failed["ordering_key"] == f"run:{run.id}"
    url = f"/api/v1/runs/{run.id}/retry"
    assert client.post(url, headers=world["read"]).status_code == 403
    retried = client.post(url, headers=world["write"])
    assert retried.status_code == 202 and retried.json["status"] == "started"
    app.extensions["job_runner"].drain()  # the retry's job runs the run
    session.refresh(run)
    assert run.status is RunStatus.COMPLETED
    assert world["delivered"] == ["run.failed", "run.completed"]  # woken by the run's job
    [completed] = events(session, "run.completed")
    assert completed["data"]["run"]["status"] == "completed"
    assert completed["data"]["run"]["failed_step"] is None
    assert len(events(session, "run.failed")) == 1
    again = client.post(url, headers=world["write"])
    assert again.status_code == 400 and "Only a failed run" in again.json["detail"]


def test_a_company_key_reaches_no_run_of_another_company(client, session, script, world):
    theirs = world["runs"][3]
    script.plan["first"] = [Rejected("meta", "No", 400)]
    execute(session, theirs.id)
    headers = token(session, ("read", "write"), world["acme"])
    routes = (("GET", f"/api/v1/runs/{theirs.id}"), ("POST", f"/api/v1/runs/{theirs.id}/retry"),
              ("POST", f"/api/v1/companies/{world['globex'].public_id}/runs"))  # fmt: skip
    for method, url in routes:
        answer = client.open(url, method=method, json={"flow": "twilio_a2p_10dlc"},
                             headers=headers)  # fmt: skip
        assert answer.status_code == 404 and answer.content_type == PROBLEM, url
    session.refresh(theirs)
    assert theirs.status is RunStatus.FAILED


def test_meta_needs_the_browser_and_bad_starts_are_problems(client, session, world):
    url = f"/api/v1/companies/{world['acme'].public_id}/runs"
    meta = client.post(url, json={"flow": "meta_embedded_signup"}, headers=world["write"])
    assert meta.status_code == 422 and meta.content_type == PROBLEM
    assert "onboarding-links" in meta.json["detail"]
    unknown = client.post(url, json={"flow": "carrier_pigeon"}, headers=world["write"])
    assert unknown.status_code == 422 and "flow" in unknown.json["errors"]["json"]
    no_ids = client.post(url, json={"flow": "dialog360_integrated_onboarding"},
                         headers=world["write"])  # fmt: skip
    assert no_ids.status_code == 422 and "client_id" in no_ids.json["errors"]["json"]
    bad_ids = client.post(url, json={"flow": "dialog360_integrated_onboarding",
                                     "client_id": "a b", "channel_ids": ["../x"]},
                          headers=world["write"])  # fmt: skip
    assert bad_ids.status_code == 422
    not_set_up = client.post(url, json={"flow": "dialog360_integrated_onboarding",
                                        "client_id": "c1", "channel_ids": ["ch1"]},
                             headers=world["write"])  # fmt: skip
    assert not_set_up.status_code == 409 and "360dialog" in not_set_up.json["detail"]
    read_only = client.post(url, json={"flow": "twilio_a2p_10dlc"}, headers=world["read"])
    assert read_only.status_code == 403


def test_the_10dlc_registration_starts_from_the_saved_profile(
    client, session, connected_sandbox, world
):
    connected_sandbox(42, Provider.TWILIO)
    url = f"/api/v1/companies/{world['acme'].public_id}"
    early = client.post(f"{url}/runs", json={"flow": "twilio_a2p_10dlc"}, headers=world["write"])
    assert early.status_code == 400 and "Complete and save" in early.json["detail"]
    client.put(f"{url}/a2p/profile", json=PROFILE, headers=world["write"])
    started = client.post(f"{url}/runs", json={"flow": "twilio_a2p_10dlc"},
                          headers=world["write"])  # fmt: skip
    assert started.status_code == 201 and started.json["flow"] == "twilio_a2p_10dlc"
    assert started.json["steps"][0]["name"] == "customer_profile"
    brands = client.get(f"{url}/a2p/brands", headers=world["read"]).json["data"]
    assert [b["run_id"] for b in brands] == [started.json["id"]]


def test_a_360dialog_run_starts_once_the_client_consented_and_once_only(
    app, client, session, connected_sandbox, world
):
    sandbox = connected_sandbox(43, Provider.DIALOG360)
    acme, globex = world["acme"], world["globex"]
    consent = sandbox.dialog360.control_complete_onboarding(
        partner_payload=acme.public_id, numbers=["+4915100000401"]
    )
    body = {"flow": "dialog360_integrated_onboarding", "client_id": consent["client_id"],
            "channel_ids": consent["channel_ids"]}  # fmt: skip
    url = f"/api/v1/companies/{acme.public_id}/runs"
    started = client.post(url, json=body, headers=world["write"])
    assert started.status_code == 201, started.json
    again = client.post(url, json=body, headers=world["write"])  # no key: same input, same run
    assert again.status_code == 200 and again.json["id"] == started.json["id"]
    app.extensions["job_runner"].drain()
    detail = client.get(f"/api/v1/runs/{started.json['id']}", headers=world["read"]).json
    assert detail["steps"][0] == detail["steps"][0] | {"name": "read_client", "status": "done"}
    # a client made for another company is never linked: its run fails, announced
    theirs = sandbox.dialog360.control_complete_onboarding(
        partner_payload=globex.public_id, numbers=["+4915100000402"]
    )
    body |= {"client_id": theirs["client_id"], "channel_ids": theirs["channel_ids"]}
    hijack = client.post(url, json=body, headers=world["write"])
    assert hijack.status_code == 201
    app.extensions["job_runner"].drain()
    failed = client.get(f"/api/v1/runs/{hijack.json['id']}", headers=world["read"]).json
    assert failed["status"] == "failed" and "partner payload" in failed["error"]
    assert [e["data"]["run"]["id"] for e in events(session, "run.failed")] == [hijack.json["id"]]
