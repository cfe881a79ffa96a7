"""Toll-free verifications (issue 18 item 1): one row per submission for a toll-free
number, at most one active per number.

Revision ID: 18a0b1c2d3e4
Revises: 17d0e1f2a3b5
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "18a0b1c2d3e4"
down_revision = "17d0e1f2a3b5"
branch_labels = None
depends_on = None

BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TABLE = "twilio_tollfree_verifications"


def _when(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=True)


def upgrade():
    op.create_table(
        TABLE,
        sa.Column("id", BIGID, nullable=False),
        sa.Column("company_id", BIGID, nullable=False),
        sa.Column("number_id", BIGID, nullable=False),
        sa.Column("verification_sid", sa.String(length=34), nullable=True),
        sa.Column("external_reference_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("rejection_reason", sa.Text(), nullable=True),
        sa.Column("rejection_reasons", sa.JSON(), nullable=False),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.Column("edit_allowed", sa.Boolean(), nullable=False),
        _when("edit_expiration"),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        _when("requested_at"),
        _when("submitted_at"),
        _when("decided_at"),
        _when("last_synced_at"),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_twilio_tollfree_verifications_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["number_id"],
            ["sms_phone_pool.id"],
            name=op.f("fk_twilio_tollfree_verifications_number_id_sms_phone_pool"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_twilio_tollfree_verifications")),
        sa.UniqueConstraint(
            "verification_sid", name=op.f("uq_twilio_tollfree_verifications_verification_sid")
        ),
        sa.UniqueConstraint(
            "external_reference_id",
            name=op.f("uq_twilio_tollfree_verifications_external_reference_id"),
        ),
    )
    with op.batch_alter_table(TABLE) as batch:
        batch.create_index(batch.f("ix_twilio_tollfree_verifications_company_id"), ["company_id"])
        batch.create_index(batch.f("ix_twilio_tollfree_verifications_number_id"), ["number_id"])
        batch.create_index(
            "uq_twilio_tollfree_verifications_active_number_id",
            ["number_id"],
            unique=True,
            postgresql_where=sa.text("is_active"),
            sqlite_where=sa.text("is_active"),
        )


def downgrade():
    with op.batch_alter_table(TABLE) as batch:
        batch.drop_index("uq_twilio_tollfree_verifications_active_number_id")
        batch.drop_index(batch.f("ix_twilio_tollfree_verifications_number_id"))
        batch.drop_index(batch.f("ix_twilio_tollfree_verifications_company_id"))
    op.drop_table(TABLE)
