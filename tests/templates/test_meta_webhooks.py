"""Meta's four template webhooks, posted signed to the portal, update the stored template
at once; their shapes are the ones pywa reads."""

from __future__ import annotations

import json

import pytest
from pywa.types.templates import (
    TemplateCategoryUpdate,
    TemplateComponentsUpdate,
    TemplateQualityUpdate,
    TemplateStatusUpdate,
)
from sqlalchemy import select

from provisioning.health import Alert
from provisioning.meta.models import MetaWhatsAppClient
from provisioning.partners import Provider
from provisioning.templates import core
from provisioning.templates.models import MessageTemplate
from provisioning.tenancy import Role
from tests.meta.test_webhooks import sign

WABA = "104996122399160"
TIME = 1_767_225_600


@pytest.fixture
def waba(session, make, connected_sandbox):
    connected_sandbox(41, Provider.META)
    company = make.company("Webhook Templates")
    make.user(company, Role.ADMIN)
    client = MetaWhatsAppClient(company_id=company.id, waba_id=WABA, name="Main", access_token="t")
    session.add(client)
    session.commit()
    return client


def post(app, client, field: str, value: dict, time: int = TIME) -> dict:
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA, "time": time, "changes": [{"field": field, "value": value}]}],
    }
    raw = json.dumps(body).encode()
    assert client.post("/webhooks/meta", data=raw, headers=sign(raw)).status_code == 200
    app.extensions["job_runner"].drain()
    return body


def named(**value) -> dict:
    return {
        "message_template_id": 12345678,
        "message_template_name": "order_update",
        "message_template_language": "en_US",
        **value,
    }


def template(session) -> MessageTemplate:
    row = session.scalars(select(MessageTemplate)).one()
    session.refresh(row)
    return row


def test_a_status_update_creates_an_unknown_template_and_moves_its_status(
    app, client, session, waba
):
    body = post(
        app,
        client,
        "message_template_status_update",
        named(event="APPROVED", reason="NONE", message_template_category="UTILITY"),
    )
    assert TemplateStatusUpdate.from_update(None, body).new_status == "APPROVED"
    row = template(session)
    assert (row.status, row.category, row.provider_template_id) == (
        "APPROVED",
        "UTILITY",
        "12345678",
    )
    assert row.account.account_key == WABA and row.fingerprint == ""  # the sync completes it
    post(
        app,
        client,
        "message_template_status_update",
        named(event="REJECTED", reason="INVALID_FORMAT"),
        TIME + 60,
    )
    row = template(session)
    assert (row.status, row.rejected_reason) == ("REJECTED", "INVALID_FORMAT")
    [alert] = session.scalars(select(Alert)).all()
    assert "was rejected" in alert.message and "format is invalid" in alert.message


def test_an_older_delivery_changes_nothing(app, client, session, waba):
    post(app, client, "message_template_status_update", named(event="PAUSED"), TIME + 100)
    post(app, client, "message_template_status_update", named(event="APPROVED"), TIME + 50)
    assert template(session).status == "PAUSED"


def test_quality_then_pause_gives_one_alert_and_reinstated_means_approved(
    app, client, session, waba
):
    body = post(
        app,
        client,
        "message_template_quality_update",
        named(previous_quality_score="GREEN", new_quality_score="RED"),
    )
    assert TemplateQualityUpdate.from_update(None, body).new_quality_score == "RED"
    post(
        app,
        client,
        "message_template_status_update",
        named(
            event="PAUSED",
            reason="NONE",
            other_info={"title": "FIRST_PAUSE", "description": "Paused for 3 hours."},
        ),
        TIME + 1,
    )
    row = template(session)
    assert (row.quality_score, row.status) == ("RED", "PAUSED")
    assert len(session.scalars(select(Alert)).all()) == 1
    assert "Paused for 3 hours." in core.history(session, row)[0].detail
    post(app, client, "message_template_status_update", named(event="REINSTATED"), TIME + 2)
    assert template(session).status == "APPROVED"


def test_a_category_change_is_announced_then_applied(app, client, session, waba):
    post(
        app,
        client,
        "message_template_status_update",
        named(event="APPROVED", message_template_category="UTILITY"),
    )
    body = post(
        app,
        client,
        "template_category_update",
        named(
            correct_category="MARKETING",
            new_category="UTILITY",
            category_update_timestamp=TIME + 86400,
        ),
        TIME + 10,
    )
    assert TemplateCategoryUpdate.from_update(None, body).correct_category == "MARKETING"
    row = template(session)
    assert (row.category, row.impending_category) == ("UTILITY", "MARKETING")
    assert int(row.category_change_at.timestamp()) == TIME + 86400
    body = post(
        app,
        client,
        "template_category_update",
        named(previous_category="UTILITY", new_category="MARKETING"),
        TIME + 86400,
    )
    assert TemplateCategoryUpdate.from_update(None, body).previous_category == "UTILITY"
    row = template(session)
    assert (row.category, row.previous_category, row.impending_category) == (
        "MARKETING",
        "UTILITY",
        None,
    )
    assert len(session.scalars(select(Alert)).all()) == 2


def test_a_components_update_replaces_the_content(app, client, session, waba):
    value = named(
        message_template_element="Your order {{1}} ships today.",
        message_template_title="Order update",
        message_template_footer="Reply STOP to opt out",
        message_template_buttons=[
            {
                "message_template_button_type": "URL",
                "message_template_button_text": "Track",
                "message_template_button_url": "https://example.com/t",
            }
        ],
    )
    body = post(app, client, "message_template_components_update", value)
    assert TemplateComponentsUpdate.from_update(None, body).template_footer.startswith("Reply")
    row = template(session)
    assert [c["type"] for c in row.components] == ["HEADER", "BODY", "FOOTER", "BUTTONS"]
    assert row.components[3]["buttons"] == [
        {"type": "URL", "text": "Track", "url": "https://example.com/t"}
    ]


def test_an_event_of_an_unknown_waba_is_stored_and_ignored(app, client, session, waba):
    body = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "999",
                "time": TIME,
                "changes": [
                    {"field": "message_template_status_update", "value": named(event="APPROVED")}
                ],
            }
        ],
    }
    raw = json.dumps(body).encode()
    assert client.post("/webhooks/meta", data=raw, headers=sign(raw)).status_code == 200
    app.extensions["job_runner"].drain()
    assert session.scalars(select(MessageTemplate)).all() == []
