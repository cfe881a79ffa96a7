"""jobs reliability: sync pass owners and heartbeats, coalesced Meta WABA refreshes

Revision ID: 11a0b1c2d3e1
Revises: 11a0b1c2d3e3
Create Date: 2026-12-04 20:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '11a0b1c2d3e1'
down_revision = '11a0b1c2d3e3'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('quality_sync_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True))

    op.create_table('meta_waba_refreshes',
    sa.Column('client_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('listed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('company_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['meta_whatsapp_clients.id'], name=op.f('fk_meta_waba_refreshes_client_id_meta_whatsapp_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['company_id'], ['companies.id'], name=op.f('fk_meta_waba_refreshes_company_id_companies'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('client_id', name=op.f('pk_meta_waba_refreshes'))
    )
    with op.batch_alter_table('meta_waba_refreshes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_meta_waba_refreshes_company_id'), ['company_id'], unique=False)


def downgrade():
    with op.batch_alter_table('meta_waba_refreshes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_meta_waba_refreshes_company_id'))

    op.drop_table('meta_waba_refreshes')
    with op.batch_alter_table('quality_sync_runs', schema=None) as batch_op:
        batch_op.drop_column('heartbeat_at')
        batch_op.drop_column('owner')
