"""10DLC brand types: sole proprietor, low-volume standard, standard (issue 18 item 3).

The business profile and every brand snapshot carry a ``brand_type``; a brand also keeps
its identity status, trust score and the sole proprietor's verification text.

Revision ID: 18c0d1e2f3a5
Revises: 18b0c1d2e3f4
Create Date: 2026-12-06
"""

import importlib.util
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "18c0d1e2f3a5"
down_revision = "18b0c1d2e3f4"
branch_labels = None
depends_on = None

BRAND_COLUMNS = ("identity_status", "brand_score", "otp_sent_at", "otp_resends")
SNAPSHOT_ADDED = ("brand_type",)  # frozen once approved, with c9626e0be5d2's SNAPSHOT


def _a2p_migration():
    """The migration that created the snapshot's immutability trigger (its functions)."""
    path = Path(__file__).with_name("c9626e0be5d2_a2p.py")
    spec = importlib.util.spec_from_file_location("a2p_guard_c9626e0be5d2", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _guard(with_brand_type: bool) -> None:
    """Recreate the trigger with (or without) ``brand_type`` among the frozen columns."""
    guard = _a2p_migration()
    if with_brand_type:
        guard.SNAPSHOT = (*guard.SNAPSHOT, *SNAPSHOT_ADDED)
    guard.drop_immutability_guard()
    guard.create_immutability_guard()


def upgrade():
    # Plain ADD COLUMNs (no table rebuild): SQLite keeps the snapshot's immutability
    # triggers. The server defaults fill the rows that exist.
    for table in ("tenant_business_info", "tenant_10dlc_brands"):
        op.add_column(
            table,
            sa.Column(
                "brand_type", sa.String(length=30), nullable=False, server_default="STANDARD"
            ),
        )
    op.add_column("tenant_10dlc_brands", sa.Column("identity_status", sa.String(40)))
    op.add_column("tenant_10dlc_brands", sa.Column("brand_score", sa.Integer()))
    op.add_column("tenant_10dlc_brands", sa.Column("otp_sent_at", sa.DateTime(timezone=True)))
    op.add_column(
        "tenant_10dlc_brands",
        sa.Column("otp_resends", sa.Integer(), nullable=False, server_default="0"),
    )
    _guard(with_brand_type=True)  # an approved brand's type is part of its snapshot


def downgrade():
    _guard(with_brand_type=False)
    for name in BRAND_COLUMNS:
        op.drop_column("tenant_10dlc_brands", name)
    for table in ("tenant_business_info", "tenant_10dlc_brands"):
        op.drop_column(table, "brand_type")
