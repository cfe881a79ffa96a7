"""10DLC brand types: sole proprietor, low-volume standard, standard (issue 18 item 3).

Revision ID: 18c0d1e2f3a5
Revises: 18b0c1d2e3f4
Create Date: 2026-12-06
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "18c0d1e2f3a5"
down_revision = "18b0c1d2e3f4"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
