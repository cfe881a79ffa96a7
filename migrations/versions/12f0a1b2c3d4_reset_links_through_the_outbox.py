"""password reset links sent through the mail outbox; outbox messages with a deadline

Reset links are queued in outgoing_mail like every other e-mail, so password_resets no
longer tracks delivery (email_status goes) and every row has its token's hash from the
start. Rows without a hash were links the removed job had not sent (or could not send):
no token exists for them, so they are deleted; whoever asked for one asks again.
outgoing_mail.send_before: a message still pending then is expired, never sent.

Revision ID: 12f0a1b2c3d4
Revises: 12a0c4e7b9d1
Create Date: 2026-12-06 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '12f0a1b2c3d4'
down_revision = '12a0c4e7b9d1'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outgoing_mail', schema=None) as batch_op:
        batch_op.add_column(sa.Column('send_before', sa.DateTime(timezone=True), nullable=True))

    op.execute("DELETE FROM password_resets WHERE token_hash IS NULL")
    with op.batch_alter_table('password_resets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_password_resets_email_status'))
        batch_op.drop_column('email_status')
        batch_op.alter_column('token_hash', existing_type=sa.String(length=64), nullable=False)


def downgrade():
    with op.batch_alter_table('password_resets', schema=None) as batch_op:
        batch_op.alter_column('token_hash', existing_type=sa.String(length=64), nullable=True)
        batch_op.add_column(
            sa.Column('email_status', sa.String(length=16), server_default='sent', nullable=False)
        )
        batch_op.create_index(batch_op.f('ix_password_resets_email_status'), ['email_status'], unique=False)
    with op.batch_alter_table('password_resets', schema=None) as batch_op:  # as the model had it
        batch_op.alter_column('email_status', existing_type=sa.String(length=16), server_default=None)

    with op.batch_alter_table('outgoing_mail', schema=None) as batch_op:
        batch_op.drop_column('send_before')
