"""Toll-free verifications (issue 18 item 1).

Revision ID: 18a0b1c2d3e4
Revises: 17d0e1f2a3b5
Create Date: 2026-12-06
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "18a0b1c2d3e4"
down_revision = "17d0e1f2a3b5"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
