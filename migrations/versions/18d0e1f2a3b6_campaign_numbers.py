"""The Messaging Service an SMS number sends from (issue 18: a 10DLC number joins its
company's campaign service).

Revision ID: 18d0e1f2a3b6
Revises: 18c0d1e2f3a5
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "18d0e1f2a3b6"
down_revision = "18c0d1e2f3a5"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("sms_phone_pool") as batch:
        batch.add_column(sa.Column("messaging_service_sid", sa.String(34), nullable=True))


def downgrade():
    with op.batch_alter_table("sms_phone_pool") as batch:
        batch.drop_column("messaging_service_sid")
