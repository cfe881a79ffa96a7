"""360dialog channel messaging webhook: per-channel secret digest, stored deliveries,
template messaging state

Revision ID: 13b0c1d2e3f4
Revises: 12c0a1b2c3d4
Create Date: 2026-12-05 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '13b0c1d2e3f4'
down_revision = '12c0a1b2c3d4'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('dialog_360_channels', schema=None) as batch_op:
        batch_op.add_column(sa.Column('webhook_token_digest', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('template_messaging', sa.Boolean(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_dialog_360_channels_webhook_token_digest'), ['webhook_token_digest'])

    op.create_table('dialog_360_messaging_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('channel_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('webhook_event_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('summary', sa.String(length=200), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('company_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['channel_id'], ['dialog_360_channels.id'], name=op.f('fk_dialog_360_messaging_events_channel_id_dialog_360_channels'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['company_id'], ['companies.id'], name=op.f('fk_dialog_360_messaging_events_company_id_companies'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['webhook_event_id'], ['webhook_events.id'], name=op.f('fk_dialog_360_messaging_events_webhook_event_id_webhook_events'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dialog_360_messaging_events')),
    sa.UniqueConstraint('webhook_event_id', name=op.f('uq_dialog_360_messaging_events_webhook_event_id'))
    )
    with op.batch_alter_table('dialog_360_messaging_events', schema=None) as batch_op:
        batch_op.create_index('ix_dialog_360_messaging_events_channel_id_id', ['channel_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_dialog_360_messaging_events_company_id'), ['company_id'], unique=False)


def downgrade():
    with op.batch_alter_table('dialog_360_messaging_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dialog_360_messaging_events_company_id'))
        batch_op.drop_index('ix_dialog_360_messaging_events_channel_id_id')

    op.drop_table('dialog_360_messaging_events')
    with op.batch_alter_table('dialog_360_channels', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_dialog_360_channels_webhook_token_digest'), type_='unique')
        batch_op.drop_column('template_messaging')
        batch_op.drop_column('webhook_token_digest')
