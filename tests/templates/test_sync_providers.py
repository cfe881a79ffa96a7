"""The template sync over 360dialog's Partner API and Twilio's Content API: every page, a
malformed template skipped and recorded, and a second pass that writes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from provisioning.audit import SYSTEM
from provisioning.dialog360.models import Dialog360Channel, Dialog360Client
from provisioning.partners import Provider
from provisioning.templates.models import MessageTemplate, TemplateAccount, TemplateChange
from provisioning.templates.sync import sync_templates
from provisioning.twilio import numbers
from tests.dialog360.test_templates import DEMO_PID


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def sync(session, sandbox, provider: str) -> dict:
    summary = sync_templates(
        session, session.commit, transport=sandbox.transport(), providers=(provider,)
    )
    return summary.as_dict()


@pytest.fixture
def dialog360(session, make, connected_sandbox):
    sandbox = connected_sandbox(61, Provider.DIALOG360)
    company = make.company("Sync 360")
    wid = sandbox.dialog360.control_seed_channels(partner_id=DEMO_PID)["waba_account_id"]
    client = Dialog360Client(
        company_id=company.id, client_id="cl-sync", name="Sync 360",
        partner_configuration_id=sandbox.configs[Provider.DIALOG360].id,
    )  # fmt: skip
    session.add(client)
    session.flush()
    session.add(Dialog360Channel(company_id=company.id, client_id=client.id,
                                 dialog_channel_id="ch-sync", waba_account_id=wid))  # fmt: skip
    session.commit()
    return sandbox, wid


def test_360dialog_templates_are_listed_to_the_end(session, dialog360):
    sandbox, wid = dialog360
    sandbox.dialog360.control_seed_templates(waba_account_id=wid, count=1500)
    sandbox.dialog360.control_add_malformed_template(waba_account_id=wid)
    first = sync(session, sandbox, "dialog360")
    assert (first["accounts"], first["created"], first["skipped_templates"]) == (1, 1500, 1)
    account = session.scalars(select(TemplateAccount)).one()
    assert account.provider == "dialog360" and account.account_key == wid
    assert len(account.skipped) == 1 and account.last_synced_at is not None
    changes = count(session, TemplateChange)
    again = sync(session, sandbox, "dialog360")
    assert (again["unchanged"], again["created"], again["changed"]) == (1500, 0, 0)
    assert count(session, TemplateChange) == changes


@pytest.fixture
def twilio(session, make, connected_sandbox):
    sandbox = connected_sandbox(62, Provider.TWILIO)
    company = make.company("Sync Twilio")
    sub = numbers.ensure_subaccount(
        session, SYSTEM, company, sandbox.configs[Provider.TWILIO], sandbox.transport(),
        commit=session.commit,
    )  # fmt: skip
    return sandbox, sub.account_sid


def test_twilio_content_templates_are_listed_to_the_end(session, twilio):
    sandbox, sid = twilio
    sandbox.twilio.control_seed_contents(account_sid=sid, count=600)
    sandbox.twilio.control_add_malformed_content(account_sid=sid)
    first = sync(session, sandbox, "twilio")
    assert (first["accounts"], first["created"], first["skipped_templates"]) == (1, 600, 1)
    assert count(session, MessageTemplate) == 600
    again = sync(session, sandbox, "twilio")
    assert (again["unchanged"], again["created"], again["changed"]) == (600, 0, 0)


def test_a_closed_partner_configuration_skips_its_accounts_and_says_so(session, twilio):
    sandbox, _ = twilio
    config = sandbox.configs[Provider.TWILIO]
    config.is_enabled = False
    session.commit()
    summary = sync(session, sandbox, "twilio")
    assert summary["accounts"] == 0 and "deactivated" in summary["errors"][0]
