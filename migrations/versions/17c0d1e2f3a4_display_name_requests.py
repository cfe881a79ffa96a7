"""A number's display name change (issue 17 item 3): the name asked for, Meta's status of
it, the reason of a rejection, when it was asked.

Revision ID: 17c0d1e2f3a4
Revises: 17a0b1c2d3e4
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "17c0d1e2f3a4"
down_revision = "17a0b1c2d3e4"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("meta_whatsapp_phone_numbers") as batch:
        batch.add_column(sa.Column("new_display_name", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("new_name_status", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("name_rejection_reason", sa.String(length=60), nullable=True))
        batch.add_column(sa.Column("name_requested_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("meta_whatsapp_phone_numbers") as batch:
        batch.drop_column("name_requested_at")
        batch.drop_column("name_rejection_reason")
        batch.drop_column("new_name_status")
        batch.drop_column("new_display_name")
