"""Regulatory compliance bundles and their documents (issue 18 item 2).

Revision ID: 18b0c1d2e3f4
Revises: 18a0b1c2d3e4
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "18b0c1d2e3f4"
down_revision = "18a0b1c2d3e4"
branch_labels = None
depends_on = None

BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
BUNDLES, DOCUMENTS = "twilio_regulatory_bundles", "twilio_regulatory_documents"


def _when(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=True)


def _stamps() -> list[sa.Column]:
    return [
        sa.Column(name, sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)
        for name in ("created_at", "updated_at")
    ]


def _company(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["company_id"],
        ["companies.id"],
        name=op.f(f"fk_{table}_company_id_companies"),
        ondelete="CASCADE",
    )


def upgrade():
    op.create_table(
        BUNDLES,
        sa.Column("id", BIGID, nullable=False),
        sa.Column("company_id", BIGID, nullable=False),
        sa.Column("iso_country", sa.String(length=2), nullable=False),
        sa.Column("number_type", sa.String(length=20), nullable=False),
        sa.Column("end_user_type", sa.String(length=20), nullable=False),
        sa.Column("regulation_sid", sa.String(length=34), nullable=False),
        sa.Column("friendly_name", sa.String(length=120), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("bundle_sid", sa.String(length=34), nullable=True),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("failure_reasons", sa.JSON(), nullable=False),
        _when("valid_until"),
        sa.Column("end_user_sid", sa.String(length=34), nullable=True),
        sa.Column("address_sid", sa.String(length=34), nullable=True),
        sa.Column("item_sids", sa.JSON(), nullable=False),
        sa.Column("provider_ids", sa.JSON(), nullable=False),
        sa.Column("end_user_attributes", sa.Text(), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("copy_of_id", BIGID, nullable=True),
        sa.Column("run_id", BIGID, nullable=True),
        _when("approved_at"),
        *_stamps(),
        _company(BUNDLES),
        sa.ForeignKeyConstraint(
            ["copy_of_id"],
            [f"{BUNDLES}.id"],
            name=op.f(f"fk_{BUNDLES}_copy_of_id_{BUNDLES}"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["provisioning_runs.id"],
            name=op.f(f"fk_{BUNDLES}_run_id_provisioning_runs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{BUNDLES}")),
        sa.UniqueConstraint("bundle_sid", name=op.f(f"uq_{BUNDLES}_bundle_sid")),
    )
    with op.batch_alter_table(BUNDLES) as batch:
        batch.create_index(batch.f(f"ix_{BUNDLES}_company_id"), ["company_id"], unique=False)
        batch.create_index(batch.f(f"ix_{BUNDLES}_status"), ["status"], unique=False)
    op.create_table(
        DOCUMENTS,
        sa.Column("id", BIGID, nullable=False),
        sa.Column("company_id", BIGID, nullable=False),
        sa.Column("bundle_id", BIGID, nullable=False),
        sa.Column("requirement_name", sa.String(length=120), nullable=False),
        sa.Column("document_type", sa.String(length=120), nullable=False),
        sa.Column("attributes", sa.Text(), nullable=True),
        sa.Column("file_name", sa.String(length=255), nullable=True),
        sa.Column("mime_type", sa.String(length=100), nullable=True),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("content_b64", sa.Text(), nullable=True),
        sa.Column("document_sid", sa.String(length=34), nullable=True),
        *_stamps(),
        _company(DOCUMENTS),
        sa.ForeignKeyConstraint(
            ["bundle_id"],
            [f"{BUNDLES}.id"],
            name=op.f(f"fk_{DOCUMENTS}_bundle_id_{BUNDLES}"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{DOCUMENTS}")),
    )
    with op.batch_alter_table(DOCUMENTS) as batch:
        batch.create_index(batch.f(f"ix_{DOCUMENTS}_company_id"), ["company_id"], unique=False)
        batch.create_index(batch.f(f"ix_{DOCUMENTS}_bundle_id"), ["bundle_id"], unique=False)


def downgrade():
    with op.batch_alter_table(DOCUMENTS) as batch:
        batch.drop_index(batch.f(f"ix_{DOCUMENTS}_bundle_id"))
        batch.drop_index(batch.f(f"ix_{DOCUMENTS}_company_id"))
    op.drop_table(DOCUMENTS)
    with op.batch_alter_table(BUNDLES) as batch:
        batch.drop_index(batch.f(f"ix_{BUNDLES}_status"))
        batch.drop_index(batch.f(f"ix_{BUNDLES}_company_id"))
    op.drop_table(BUNDLES)
