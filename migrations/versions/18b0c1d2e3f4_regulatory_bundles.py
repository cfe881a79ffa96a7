"""Regulatory compliance bundles and their documents (issue 18 item 2).

Revision ID: 18b0c1d2e3f4
Revises: 18a0b1c2d3e4
Create Date: 2026-12-06
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "18b0c1d2e3f4"
down_revision = "18a0b1c2d3e4"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
