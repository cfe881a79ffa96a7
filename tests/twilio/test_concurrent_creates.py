"""Two requests creating the same Twilio object at once: one creates, the other is told to wait.

A second "click" is made while the first one is about to call Twilio (the transport runs
it just before sending the first request's create), which interleaves the two requests
deterministically, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from provisioning.partners import Provider
from provisioning.tenancy import Role
from provisioning.twilio import claims
from provisioning.twilio.models import SmsPhoneNumber, TwilioSubaccount
from tests.conftest import Auth, csrf_token
from tests.twilio.interleave import Interleave

GOOD = "+15005550006"  # the sandbox's always-purchasable number


@pytest.fixture
def sandbox(connected_sandbox):
    return connected_sandbox(43, Provider.TWILIO)


@pytest.fixture
def acme(make, auth):
    company = make.company("Acme")
    admin = make.user(company, Role.ADMIN)
    auth.login(admin)
    return company, admin


@pytest.fixture
def second_tab(app, acme):
    """Another browser tab of the same admin: its click is sent when the test says."""
    _, admin = acme
    tab = app.test_client()
    Auth(tab).login(admin)
    return tab


def click_meanwhile(app, monkeypatch, sandbox, method, path, click):
    answers: list = []
    monkeypatch.setitem(
        app.config,
        "PROVIDER_TRANSPORT",
        Interleave(sandbox.transport(), method, path, lambda: answers.append(click())),
    )
    return answers


def subaccounts_at_twilio(sandbox) -> list[dict]:
    return [a for a in sandbox.twilio.accounts.values() if a["owner_account_sid"] != a["sid"]]


def test_two_buy_clicks_at_once_create_one_subaccount(
    app, client, auth, monkeypatch, sandbox, acme, second_tab, session
):
    company, _ = acme
    url = f"/c/{company.slug}/numbers/"
    token = csrf_token(second_tab, url)
    answers = click_meanwhile(app, monkeypatch, sandbox, "POST", r"/Accounts\.json$", lambda: (
        second_tab.post(f"{url}buy", data={"phone_number": GOOD, "csrf_token": token})
    ))  # fmt: skip
    first = auth.post(f"{url}buy", {"phone_number": GOOD}, form_page=url)
    assert first.status_code == 302  # bought
    [second] = answers
    assert second.status_code == 303
    assert "try again in a moment" in second_tab.get(url).get_data(as_text=True)
    [account] = subaccounts_at_twilio(sandbox)
    assert session.scalars(select(TwilioSubaccount.account_sid)).all() == [account["sid"]]
    assert session.scalars(select(SmsPhoneNumber.status)).all() == ["active"]


def test_two_buy_clicks_for_one_number_buy_it_once(
    app, client, auth, monkeypatch, sandbox, acme, second_tab, session
):
    company, _ = acme
    url = f"/c/{company.slug}/numbers/"
    auth.post(f"{url}buy", {"phone_number": "+15005550007"}, form_page=url)  # the subaccount
    token = csrf_token(second_tab, url)
    path = r"/IncomingPhoneNumbers\.json$"
    answers = click_meanwhile(app, monkeypatch, sandbox, "POST", path, lambda: (
        second_tab.post(f"{url}buy", data={"phone_number": GOOD, "csrf_token": token})
    ))  # fmt: skip
    assert auth.post(f"{url}buy", {"phone_number": GOOD}, form_page=url).status_code == 302
    [second] = answers
    assert second.status_code == 303
    assert "try again in a moment" in second_tab.get(url).get_data(as_text=True)
    row = session.scalars(select(SmsPhoneNumber).where(SmsPhoneNumber.phone_number == GOOD)).one()
    assert row.status == "active"
    assert [n for n in sandbox.twilio.numbers.values() if n["phone_number"] == GOOD]


def test_an_insert_racing_another_is_reread_not_a_500(session, sandbox, make):
    """The row another request committed between our read and our insert is returned."""
    company = make.company("Racing")
    theirs = TwilioSubaccount(company_id=company.id, friendly_name="theirs", status="pending")
    session.add(theirs)
    session.commit()
    ours = TwilioSubaccount(company_id=company.id, friendly_name="ours", status="pending")
    found = claims.insert_or_reread(session, ours, lambda: session.get(TwilioSubaccount, theirs.id))
    assert found is theirs
    session.commit()  # the session is usable: only the savepoint was rolled back
    assert session.scalars(select(TwilioSubaccount.friendly_name)).all() == ["theirs"]
