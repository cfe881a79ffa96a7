"""A number's life after onboarding (issue 17): the PIN being set, a stale PIN, the
register calls made.

Revision ID: 17a0b1c2d3e4
Revises: 16a0b1c2d3e4
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "17a0b1c2d3e4"
down_revision = "16a0b1c2d3e4"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("meta_whatsapp_phone_numbers") as batch:
        batch.add_column(sa.Column("pin_pending", sa.Text(), nullable=True))
        batch.add_column(sa.Column("pin_stale_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("register_calls", sa.JSON(), nullable=False, server_default="[]")
        )


def downgrade():
    with op.batch_alter_table("meta_whatsapp_phone_numbers") as batch:
        batch.drop_column("register_calls")
        batch.drop_column("pin_stale_at")
        batch.drop_column("pin_pending")
