"""Migrations: one head, a full round trip, and no drift from the models (both databases)."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from portal.extensions import db

ROOT = Path(__file__).resolve().parent.parent


def test_a_single_head():
    script = ScriptDirectory(str(ROOT / "migrations"))
    assert len(script.get_heads()) == 1


def test_upgrade_downgrade_upgrade_round_trip(scratch_app):
    # scratch_app (conftest) keeps an app context pushed on an empty database
    upgrade()
    tables = set(inspect(db.engine).get_table_names())
    assert {"companies", "users", "memberships", "partner_configurations", "audit_log"} <= tables
    downgrade(revision="base")
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    upgrade()
    assert set(inspect(db.engine).get_table_names()) == tables


def test_models_and_migrations_do_not_drift(scratch_app):
    upgrade()
    with db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "render_as_batch": True}
        )
        diff = compare_metadata(context, db.metadata)
    assert diff == [], f"models differ from migrations: {diff}"


def test_existing_companies_get_a_public_id(scratch_app):
    upgrade(revision="0b6a3916de09")
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO companies (name, slug, is_active, is_demo)"
                " VALUES ('Old', 'old', 1=1, 1=0)"
            )
        )
    upgrade()
    with db.engine.connect() as conn:
        public_id = conn.execute(text("SELECT public_id FROM companies")).scalar_one()
    assert public_id.startswith("co_") and len(public_id) == 27
