"""sink tokens found by an indexed hash; webhook events know the company they came for

Revision ID: 12a0c4e7b9d1
Revises: 13a0b1c2d3e1
Create Date: 2026-12-10 09:00:00.000000

``twilio_subaccounts.events_token_hash`` is the SHA-256 of the subaccount's Event
Streams sink token (the token itself is derived from the subaccount's auth token): a
delivery finds its subaccount with one indexed lookup instead of decrypting every
subaccount's token. Existing subaccounts are hashed here, with the keyring the app runs
with, so sinks created before the upgrade keep working.

``webhook_events.company_id`` is the company whose own endpoint received the event (a
Twilio sink is per subaccount): applying it may change that company's rows only.
"""
import hashlib
import hmac

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '12a0c4e7b9d1'
down_revision = '13a0b1c2d3e1'
branch_labels = None
depends_on = None


def _sink_token_hash(auth_token):
    """As provisioning.twilio.models derives it (kept here: a migration is a snapshot)."""
    token = hmac.new(auth_token.encode(), b"event-streams-sink", hashlib.sha256).hexdigest()[:40]
    return hashlib.sha256(token.encode()).hexdigest()


def _hash_existing_sink_tokens():
    bind = op.get_bind()
    rows = bind.execute(
        sa.text("SELECT id, auth_token FROM twilio_subaccounts WHERE auth_token IS NOT NULL")
    ).all()
    if not rows:
        return
    from provisioning.crypto import active_keyring

    keyring = active_keyring()
    for row_id, stored in rows:
        auth_token = keyring.decrypt(stored, "twilio_subaccounts.auth_token")
        bind.execute(
            sa.text("UPDATE twilio_subaccounts SET events_token_hash = :hash WHERE id = :id"),
            {"hash": _sink_token_hash(auth_token), "id": row_id},
        )


def upgrade():
    with op.batch_alter_table('twilio_subaccounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('events_token_hash', sa.String(length=64), nullable=True))
    _hash_existing_sink_tokens()
    with op.batch_alter_table('twilio_subaccounts', schema=None) as batch_op:
        batch_op.create_unique_constraint(
            batch_op.f('uq_twilio_subaccounts_events_token_hash'), ['events_token_hash']
        )

    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                'company_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True
            )
        )
        batch_op.create_index(batch_op.f('ix_webhook_events_company_id'), ['company_id'], unique=False)
        batch_op.create_foreign_key(
            batch_op.f('fk_webhook_events_company_id_companies'), 'companies',
            ['company_id'], ['id'], ondelete='CASCADE',
        )


def downgrade():
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f('fk_webhook_events_company_id_companies'), type_='foreignkey'
        )
        batch_op.drop_index(batch_op.f('ix_webhook_events_company_id'))
        batch_op.drop_column('company_id')

    with op.batch_alter_table('twilio_subaccounts', schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f('uq_twilio_subaccounts_events_token_hash'), type_='unique'
        )
        batch_op.drop_column('events_token_hash')
