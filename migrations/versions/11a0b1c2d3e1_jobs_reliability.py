"""jobs reliability: sync pass owners and heartbeats

Revision ID: 11a0b1c2d3e1
Revises: 0bb658bb1cdd
Create Date: 2026-12-04 20:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '11a0b1c2d3e1'
down_revision = '0bb658bb1cdd'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('quality_sync_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('quality_sync_runs', schema=None) as batch_op:
        batch_op.drop_column('heartbeat_at')
        batch_op.drop_column('owner')
