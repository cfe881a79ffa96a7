"""A WhatsApp Business app number's contacts and history sync (issue 17 item 4): one row
per number, for the onboarding Meta last reported.

Revision ID: 17d0e1f2a3b5
Revises: 17c0d1e2f3a4
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "17d0e1f2a3b5"
down_revision = "17c0d1e2f3a4"
branch_labels = None
depends_on = None

BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _when(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=True)


def upgrade():
    op.create_table(
        "meta_coexistence_syncs",
        sa.Column("id", BIGID, nullable=False),
        sa.Column("number_id", BIGID, nullable=False),
        _when("onboarded_at"),
        _when("window_closes_at"),
        _when("window_warned_at"),
        _when("contacts_requested_at"),
        _when("contacts_confirmed_at"),
        sa.Column("contacts_request_id", sa.String(length=64), nullable=True),
        sa.Column("contacts_count", sa.Integer(), nullable=False),
        _when("history_requested_at"),
        _when("history_confirmed_at"),
        sa.Column("history_request_id", sa.String(length=64), nullable=True),
        sa.Column("history_progress", sa.Integer(), nullable=True),
        sa.Column("history_phase", sa.Integer(), nullable=True),
        sa.Column("history_messages", sa.Integer(), nullable=False),
        sa.Column("history_declined", sa.Boolean(), nullable=False),
        _when("history_completed_at"),
        _when("last_event_at"),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("company_id", BIGID, nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_meta_coexistence_syncs_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["number_id"],
            ["meta_whatsapp_phone_numbers.id"],
            name=op.f("fk_meta_coexistence_syncs_number_id_meta_whatsapp_phone_numbers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meta_coexistence_syncs")),
        sa.UniqueConstraint("number_id", name=op.f("uq_meta_coexistence_syncs_number_id")),
    )
    with op.batch_alter_table("meta_coexistence_syncs") as batch:
        batch.create_index(
            batch.f("ix_meta_coexistence_syncs_company_id"), ["company_id"], unique=False
        )
        batch.create_index("ix_meta_coexistence_syncs_window", ["window_closes_at"], unique=False)


def downgrade():
    with op.batch_alter_table("meta_coexistence_syncs") as batch:
        batch.drop_index("ix_meta_coexistence_syncs_window")
        batch.drop_index(batch.f("ix_meta_coexistence_syncs_company_id"))
    op.drop_table("meta_coexistence_syncs")
