"""The Meta template tests' fixtures: a sandbox delivering its webhooks to the app, and
the admin of a company with a connected WhatsApp account."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from provisioning.meta.models import MetaWhatsAppClient
from provisioning.partners import Provider
from provisioning.tenancy import Company, Role
from tests.meta.test_webhooks import connected  # noqa: F401 (fixture)


@pytest.fixture
def sandbox(connected_sandbox):
    return connected_sandbox(43, Provider.META, webhooks_to_app=True)


@pytest.fixture
def owner(session, make, connected):  # noqa: F811 (the fixture above)
    client = session.scalars(select(MetaWhatsAppClient)).one()
    company = session.get(Company, client.company_id)
    user = make.user(company, Role.ADMIN, email="owner@tpl.example")
    return user, client
