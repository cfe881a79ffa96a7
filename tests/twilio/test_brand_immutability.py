"""An approved 10DLC brand cannot change: the database refuses, on SQLite and PostgreSQL."""

import importlib.util
from pathlib import Path

import pytest
from sqlalchemy import delete, update
from sqlalchemy.exc import DBAPIError

from provisioning.db import utcnow
from provisioning.twilio.models import SNAPSHOT_COLUMNS, Tenant10DLCBrand


@pytest.fixture
def brand(session, make):
    company = make.company()
    row = Tenant10DLCBrand(company_id=company.id, legal_business_name="Acme LLC")
    session.add(row)
    session.commit()
    return row


def test_a_pending_brand_can_still_change(session, brand):
    brand.legal_business_name = "Acme Holdings LLC"
    session.commit()


def test_an_approved_brand_refuses_changes_and_deletion(session, brand):
    brand.provider_brand_id, brand.provider_approved_at = "BN" + "1" * 32, utcnow()
    session.commit()
    with pytest.raises(DBAPIError, match="immutable"):
        session.execute(
            update(Tenant10DLCBrand)
            .where(Tenant10DLCBrand.id == brand.id)
            .values(legal_business_name="Changed LLC")
        )
    session.rollback()
    with pytest.raises(DBAPIError, match="immutable"):
        session.execute(delete(Tenant10DLCBrand).where(Tenant10DLCBrand.id == brand.id))
    session.rollback()
    # the status and the deactivation may still change
    session.execute(
        update(Tenant10DLCBrand)
        .where(Tenant10DLCBrand.id == brand.id)
        .values(is_active=False, deprecation_reason="new business details", campaign_status="X")
    )
    session.commit()


def test_the_trigger_guards_every_snapshot_column():
    """The migration keeps its own copy of the list (migrations never import models)."""
    path = Path(__file__).resolve().parents[2] / "migrations" / "versions" / "c9626e0be5d2_a2p.py"
    spec = importlib.util.spec_from_file_location("a2p_migration", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    later = path.with_name("18c0d1e2f3a5_brand_types.py")  # recreates it with brand_type
    spec = importlib.util.spec_from_file_location("brand_types_migration", later)
    brand_types = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(brand_types)
    assert set(module.SNAPSHOT) | set(brand_types.SNAPSHOT_ADDED) == set(SNAPSHOT_COLUMNS)
