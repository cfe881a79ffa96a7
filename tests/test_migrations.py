"""Migrations: one head, a full round trip, and no drift from the models (both databases)."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

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


def test_restricting_partner_configuration_deletes_keeps_every_row(scratch_app):
    """SQLite rebuilds the four tables: their child rows (numbers, steps) must survive."""
    upgrade(revision="0bb658bb1cdd")
    statements = [
        "INSERT INTO companies (id, name, slug, is_active, is_demo, public_id)"
        " VALUES (1, 'Old', 'old', 1=1, 1=0, 'co_old')",
        "INSERT INTO partner_configurations (id, provider, environment, name, is_enabled,"
        " settings, secrets, created_at, updated_at) VALUES (1, 'meta', 'sandbox', 'Meta',"
        " 1=1, '{}', '', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
        "INSERT INTO meta_whatsapp_clients (id, company_id, partner_configuration_id, waba_id,"
        " name, status, restriction, created_at, updated_at)"
        " VALUES (1, 1, 1, '100', '', 'active', '{}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
        "INSERT INTO meta_whatsapp_phone_numbers (id, company_id, client_id, phone_number_id,"
        " display_phone_number, verified_name, health_status, created_at, updated_at)"
        " VALUES (1, 1, 1, '200', '', '', '{}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
        "INSERT INTO provisioning_runs (id, company_id, flow, provider, partner_configuration_id,"
        " status, context, created_at, updated_at) VALUES (1, 1, 'f', 'meta', 1, 'completed',"
        " '{}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
        "INSERT INTO provisioning_steps (id, run_id, position, name, status, attempts,"
        " provider_ids) VALUES (1, 1, 0, 's', 'done', 1, '{}')",
    ]
    with db.engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
    upgrade()
    with db.engine.connect() as conn:
        counts = {
            table: conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table in ("meta_whatsapp_clients", "meta_whatsapp_phone_numbers",
                          "provisioning_runs", "provisioning_steps")
        }  # fmt: skip
    assert set(counts.values()) == {1}, counts
    with pytest.raises(IntegrityError), db.engine.begin() as conn:
        conn.execute(text("DELETE FROM partner_configurations"))


def test_upgrading_a_database_with_data_keeps_the_rows_of_rebuilt_tables(scratch_app):
    """The 360dialog migration rebuilds ``companies`` on SQLite: memberships must survive."""
    upgrade(revision="0b6a3916de09")
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO companies (id, name, slug, is_active, is_demo)"
                " VALUES (1, 'A', 'a', 1=1, 1=0)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO users (id, email, name, is_platform_admin, is_active, session_version)"
                " VALUES (1, 'a@example.com', '', 1=0, 1=1, 1)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO memberships (id, user_id, company_id, role, is_active)"
                " VALUES (1, 1, 1, 'admin', 1=1)"
            )
        )
    upgrade()
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM memberships")).scalar_one() == 1


def test_reset_links_the_old_job_never_sent_are_dropped_and_sent_ones_kept(scratch_app):
    """Migration 12f0a1b2c3d4: reset links move to the outbox. A queued link of the old job
    had no token yet (none can be sent now); a sent one still works until it expires."""
    upgrade(revision="12b1a2c3d4e5")
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (id, email, name, is_platform_admin, is_active)"
                " VALUES (1, 'a@example.com', '', 1=0, 1=1)"
            )
        )
        for row_id, token_hash, status in ((1, None, "pending"), (2, "ab" * 32, "sent")):
            conn.execute(
                text(
                    "INSERT INTO password_resets (id, user_id, token_hash, requested_at,"
                    " expires_at, email_status) VALUES (:id, 1, :hash, CURRENT_TIMESTAMP,"
                    " CURRENT_TIMESTAMP, :status)"
                ),
                {"id": row_id, "hash": token_hash, "status": status},
            )
    upgrade()
    with db.engine.connect() as conn:
        rows = conn.execute(text("SELECT id, token_hash FROM password_resets")).all()
    assert [tuple(row) for row in rows] == [(2, "ab" * 32)]
