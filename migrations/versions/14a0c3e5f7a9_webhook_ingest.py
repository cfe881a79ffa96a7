"""partner configurations carry a version; pending webhook events have an index

partner_configurations.version: bumped by every UPDATE of the row (settings, secrets,
re-encryption, activation): webhooks cache a configuration's secrets per process and
store an event only while the row still has the version they verified with, so a
rotated secret takes effect at once without a lookup per request.
ix_webhook_events_pending: the events not yet applied, which the apply job claims.

Revision ID: 14a0c3e5f7a9
Revises: 12f0a1b2c3d4
Create Date: 2026-12-05 12:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '14a0c3e5f7a9'
down_revision = '12f0a1b2c3d4'
branch_labels = None
depends_on = None

PENDING = sa.text("processed_at IS NULL")


def upgrade():
    with op.batch_alter_table('partner_configurations', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('version', sa.Integer(), server_default='1', nullable=False)
        )
    op.create_index(
        'ix_webhook_events_pending', 'webhook_events', ['id'],
        postgresql_where=PENDING, sqlite_where=PENDING,
    )


def downgrade():
    op.drop_index('ix_webhook_events_pending', table_name='webhook_events')
    with op.batch_alter_table('partner_configurations', schema=None) as batch_op:
        batch_op.drop_column('version')
