"""Registering a WhatsApp sender on Twilio through the portal."""

from __future__ import annotations

import json
import re
from html import unescape

import pytest
from sqlalchemy import select

from portal.demo import META_APP
from provisioning.partners import Provider
from provisioning.tenancy import Role
from provisioning.twilio.models import TwilioWhatsAppSender


@pytest.fixture
def sandbox(connected_sandbox):
    return connected_sandbox(24, Provider.META, Provider.TWILIO)


@pytest.fixture
def acme(make):
    company = make.company("Acme")
    return company, make.user(company, Role.ADMIN)


def page_config(html: str) -> dict:
    return json.loads(unescape(re.search(r"data-config='([^']+)'", html).group(1)))


def register(client, company, sandbox, phone="+14155550200", name="Acme Retail"):
    url = f"/c/{company.slug}/whatsapp-senders/"
    config = page_config(client.get(url).get_data(as_text=True))
    assert config["setup"]["solutionID"].startswith("SOL")
    headers = {"X-CSRFToken": config["csrf"]}
    state = client.post(config["launchUrl"], headers=headers).get_json()["state"]
    signup = sandbox.meta.control_complete_signup(
        app_id=META_APP["app_id"], solution_id=config["setup"]["solutionID"]
    )
    body = {"state": state, "code": signup["code"], "event": signup["event"],
            "sender-phone": phone, "sender-name": name}  # fmt: skip
    return client.post(config["completeUrl"], json=body, headers=headers)


def test_a_sender_is_registered_verified_and_followed(client, auth, sandbox, acme, session):
    company, admin = acme
    auth.login(admin)
    response = register(client, company, sandbox)
    assert response.status_code == 200, response.get_json()
    row = session.scalars(select(TwilioWhatsAppSender)).one()
    assert row.waba_id and row.company_id == company.id
    url = f"/c/{company.slug}/whatsapp-senders/"
    sandbox.advance(5)
    auth.post(f"{url}{row.id}/refresh", form_page=url)
    session.refresh(row)
    assert row.status == "PENDING_VERIFICATION"
    otp = sandbox.twilio.control_get_sender_otp(sender_sid=row.sender_sid)["otp"]
    auth.post(f"{url}{row.id}/verify", {"code": otp}, form_page=url)
    sandbox.advance(5)
    auth.post(f"{url}{row.id}/refresh", form_page=url)
    session.refresh(row)
    assert row.status == "ONLINE"
    assert "ONLINE" in client.get(f"/c/{company.slug}/").get_data(as_text=True)


def test_bad_input_and_cancelled_signups_create_nothing(client, auth, sandbox, acme, session):
    company, admin = acme
    auth.login(admin)
    assert register(client, company, sandbox, phone="415-555").status_code == 400
    url = f"/c/{company.slug}/whatsapp-senders/"
    config = page_config(client.get(url).get_data(as_text=True))
    headers = {"X-CSRFToken": config["csrf"]}
    state = client.post(config["launchUrl"], headers=headers).get_json()["state"]
    cancel = {"type": "WA_EMBEDDED_SIGNUP", "event": "CANCEL", "data": {"current_step": "x"}}
    response = client.post(
        config["completeUrl"],
        headers=headers,
        json={"state": state, "event": cancel, "sender-phone": "+14155550201", "sender-name": "A"},
    )
    assert response.status_code == 400
    assert session.scalars(select(TwilioWhatsAppSender)).all() == []


def test_other_companies_cannot_touch_a_sender(client, auth, sandbox, acme, session, make):
    company, admin = acme
    auth.login(admin)
    register(client, company, sandbox)
    row = session.scalars(select(TwilioWhatsAppSender)).one()
    auth.logout()
    other = make.company("Other")
    auth.login(make.user(other, Role.ADMIN))
    url = f"/c/{other.slug}/whatsapp-senders/"
    assert auth.post(f"{url}{row.id}/verify", {"code": "123456"}, form_page=url).status_code == 404
    assert auth.post(f"{url}{row.id}/refresh", form_page=url).status_code == 404


def test_an_old_session_cookie_cannot_spend_the_launch_again(client, auth, sandbox, acme, session):
    """The nonce once lived in the signed cookie: a copy taken before the completion
    brought it back, and a second sender was created with the spent launch."""
    company, admin = acme
    auth.login(admin)
    url = f"/c/{company.slug}/whatsapp-senders/"
    config = page_config(client.get(url).get_data(as_text=True))
    headers = {"X-CSRFToken": config["csrf"]}
    state = client.post(config["launchUrl"], headers=headers).get_json()["state"]
    old_cookie = client.get_cookie("portal_session", domain="portal.test").value
    signup = sandbox.meta.control_complete_signup(
        app_id=META_APP["app_id"], solution_id=config["setup"]["solutionID"]
    )
    body = {"state": state, "code": signup["code"], "event": signup["event"],
            "sender-phone": "+14155550210", "sender-name": "Acme Retail"}  # fmt: skip
    assert client.post(config["completeUrl"], json=body, headers=headers).status_code == 200
    client.set_cookie("portal_session", old_cookie, domain="portal.test")
    replay = client.post(
        config["completeUrl"], json=body | {"sender-phone": "+14155550211"}, headers=headers
    )
    assert replay.status_code == 400 and "already used" in replay.get_json()["error"]
    assert [r.sender_id for r in session.scalars(select(TwilioWhatsAppSender))] == [
        "whatsapp:+14155550210"
    ]


def test_a_display_name_on_two_lines_is_refused(client, auth, sandbox, acme, session):
    company, admin = acme
    auth.login(admin)
    response = register(client, company, sandbox, name="Acme\r\nBcc: collector@evil.test")
    assert response.status_code == 400 and "one line" in response.get_json()["error"]
    assert session.scalars(select(TwilioWhatsAppSender)).all() == []


def test_an_offline_sender_shows_its_reasons_in_plain_words(client, auth, sandbox, acme, session):
    company, admin = acme
    auth.login(admin)
    register(client, company, sandbox)
    row = session.scalars(select(TwilioWhatsAppSender)).one()
    sandbox.twilio.control_set_sender_status(
        sender_sid=row.sender_sid, status="OFFLINE", offline_reasons=[{"code": 63062}]
    )
    url = f"/c/{company.slug}/whatsapp-senders/"
    auth.post(f"{url}{row.id}/refresh", form_page=url)
    page = unescape(client.get(url).get_data(as_text=True))
    assert "The sender cannot send messages" in page
    assert "63062: The business has not accepted Meta's Terms of Service" in page
    notifications = unescape(client.get("/notifications/").get_data(as_text=True))
    assert "status is now OFFLINE" in notifications and "63062" in notifications
