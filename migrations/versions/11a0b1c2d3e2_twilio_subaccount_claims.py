"""twilio claims: a pending subaccount row, one active 10DLC brand per company

Revision ID: 11a0b1c2d3e2
Revises: 0bb658bb1cdd
Create Date: 2026-12-04 12:00:00.000000

A company's subaccount row is written (``pending``, no SID or token yet) and committed
before Twilio is asked to create it, so a second request finds the claim instead of
creating a second subaccount. A unique partial index keeps one active brand submission
per company when two requests submit at once (older duplicates are deactivated first).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '11a0b1c2d3e2'
down_revision = '0bb658bb1cdd'
branch_labels = None
depends_on = None


ACTIVE = sa.text('is_active')


def upgrade():
    with op.batch_alter_table('twilio_subaccounts', schema=None) as batch_op:
        batch_op.alter_column('account_sid', existing_type=sa.String(length=34), nullable=True)
        batch_op.alter_column('auth_token', existing_type=sa.Text(), nullable=True)

    # Concurrent submissions may have left two active brands: keep each company's newest.
    op.execute(
        "UPDATE tenant_10dlc_brands SET is_active = false, "
        "deprecation_reason = 'A concurrent duplicate submission.' "
        "WHERE is_active AND id NOT IN "
        "(SELECT MAX(id) FROM tenant_10dlc_brands WHERE is_active GROUP BY company_id)"
    )
    with op.batch_alter_table('tenant_10dlc_brands', schema=None) as batch_op:
        batch_op.create_index(
            'uq_tenant_10dlc_brands_active_company_id', ['company_id'], unique=True,
            postgresql_where=ACTIVE, sqlite_where=ACTIVE,
        )


def downgrade():
    with op.batch_alter_table('tenant_10dlc_brands', schema=None) as batch_op:
        batch_op.drop_index('uq_tenant_10dlc_brands_active_company_id')

    # Claims whose subaccount was never created cannot be kept without a SID.
    op.execute("DELETE FROM twilio_subaccounts WHERE account_sid IS NULL OR auth_token IS NULL")
    with op.batch_alter_table('twilio_subaccounts', schema=None) as batch_op:
        batch_op.alter_column('auth_token', existing_type=sa.Text(), nullable=False)
        batch_op.alter_column('account_sid', existing_type=sa.String(length=34), nullable=False)
