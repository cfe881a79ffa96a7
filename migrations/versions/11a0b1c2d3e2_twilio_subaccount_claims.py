"""twilio subaccount claims: a pending row before the create call

Revision ID: 11a0b1c2d3e2
Revises: 0bb658bb1cdd
Create Date: 2026-12-04 12:00:00.000000

A company's subaccount row is written (``pending``, no SID or token yet) and committed
before Twilio is asked to create it, so a second request finds the claim instead of
creating a second subaccount.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '11a0b1c2d3e2'
down_revision = '0bb658bb1cdd'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('twilio_subaccounts', schema=None) as batch_op:
        batch_op.alter_column('account_sid', existing_type=sa.String(length=34), nullable=True)
        batch_op.alter_column('auth_token', existing_type=sa.Text(), nullable=True)


def downgrade():
    # Claims whose subaccount was never created cannot be kept without a SID.
    op.execute("DELETE FROM twilio_subaccounts WHERE account_sid IS NULL OR auth_token IS NULL")
    with op.batch_alter_table('twilio_subaccounts', schema=None) as batch_op:
        batch_op.alter_column('auth_token', existing_type=sa.Text(), nullable=False)
        batch_op.alter_column('account_sid', existing_type=sa.String(length=34), nullable=False)
