"""hosted onboarding links

Revision ID: 15c0d1e2f3a4
Revises: 15b0c1d2e3f5
Create Date: 2026-12-07 10:12:31.402117

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '15c0d1e2f3a4'
down_revision = '15b0c1d2e3f5'
branch_labels = None
depends_on = None

BIGID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    op.create_table('onboarding_links',
    sa.Column('id', BIGID, nullable=False),
    sa.Column('public_id', sa.String(length=40), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('options', sa.JSON(), nullable=False),
    sa.Column('status', sa.Enum('pending', 'opened', 'completed', 'failed', 'expired', 'revoked', name='linkstate', native_enum=False, length=32), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('success_url', sa.String(length=2000), nullable=False),
    sa.Column('failure_url', sa.String(length=2000), nullable=False),
    sa.Column('platform_name', sa.String(length=100), nullable=False),
    sa.Column('logo_url', sa.String(length=2000), nullable=False),
    sa.Column('created_by', sa.String(length=254), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('option', sa.String(length=30), nullable=True),
    sa.Column('run_id', BIGID, nullable=True),
    sa.Column('failure_reason', sa.String(length=40), nullable=False),
    sa.Column('failure_message', sa.String(length=300), nullable=False),
    sa.Column('launch_nonce_hash', sa.String(length=64), nullable=True),
    sa.Column('launch_provider', sa.String(length=20), nullable=True),
    sa.Column('launch_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('company_id', BIGID, nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['companies.id'], name=op.f('fk_onboarding_links_company_id_companies'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_id'], ['provisioning_runs.id'], name=op.f('fk_onboarding_links_run_id_provisioning_runs'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_onboarding_links')),
    sa.UniqueConstraint('launch_nonce_hash', name=op.f('uq_onboarding_links_launch_nonce_hash')),
    sa.UniqueConstraint('public_id', name=op.f('uq_onboarding_links_public_id')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_onboarding_links_token_hash'))
    )
    with op.batch_alter_table('onboarding_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_onboarding_links_company_id'), ['company_id'], unique=False)


def downgrade():
    with op.batch_alter_table('onboarding_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_onboarding_links_company_id'))

    op.drop_table('onboarding_links')
