"""The demo's sandbox page drives the simulators through their control API."""

import httpx
import pytest


@pytest.fixture
def sandbox(connected_sandbox):
    return connected_sandbox(3)


def test_the_page_shows_state_and_both_onboarding_launchers(client, auth, make, sandbox):
    auth.login(make.admin())
    html = client.get("/admin/sandbox/").get_data(as_text=True)
    assert "Demo Partner App" in html
    assert "http://sandbox.test/meta/connect/en_US/sdk.js" in html
    assert "http://sandbox.test/dialog360/hub-ui/dashboard/app/demoPA/permissions?" in html


def test_actions_and_the_clock_reach_the_sandbox(client, auth, make, sandbox):
    auth.login(make.admin())
    waba = sandbox.meta.control_seed_waba(app_id="1000000000001", numbers=1)
    phone_id = waba["phone_number_ids"][0]
    response = auth.post(
        "/admin/sandbox/action",
        {
            "provider": "meta",
            "action": "set_quality",
            "params": f'{{"phone_number_id": "{phone_id}", "quality_rating": "RED"}}',
        },
        form_page="/admin/sandbox/",
        follow_redirects=True,
    )
    assert response.status_code == 200 and b"meta.set_quality" in response.data
    before = sandbox.clock.time()
    auth.post("/admin/sandbox/advance", {"seconds": "3600"}, form_page="/admin/sandbox/")
    assert sandbox.clock.time() - before == pytest.approx(3600)


def test_bad_parameters_are_a_clear_error(client, auth, make, sandbox):
    auth.login(make.admin())
    response = auth.post(
        "/admin/sandbox/action",
        {"provider": "meta", "action": "set_quality", "params": "[1, 2"},
        form_page="/admin/sandbox/",
        follow_redirects=True,
    )
    assert b"Parameters:" in response.data
    response = auth.post(
        "/admin/sandbox/action",
        {"provider": "meta", "action": "set_quality", "params": "[1, 2]"},
        form_page="/admin/sandbox/",
    )
    assert response.status_code == 303 and response.location == "/admin/sandbox/"
    assert b"Parameters: give a JSON object" in client.get("/admin/sandbox/").data
    response = auth.post(
        "/admin/sandbox/action",
        {"provider": "meta", "action": "no_such_action", "params": "{}"},
        form_page="/admin/sandbox/",
        follow_redirects=True,
    )
    assert b"The sandbox refused" in response.data


def test_the_page_is_absent_in_production(client, auth, make, app, monkeypatch):
    monkeypatch.setitem(app.config, "PROVIDER_ENVIRONMENT", "production")
    monkeypatch.setitem(app.config, "PROVIDER_TRANSPORT", httpx.MockTransport(lambda r: None))
    auth.login(make.admin())
    assert client.get("/admin/sandbox/").status_code == 404
