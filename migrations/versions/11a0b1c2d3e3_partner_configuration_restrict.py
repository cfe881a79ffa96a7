"""partner configurations in use cannot be deleted

Every foreign key to partner_configurations restricts the delete (it set the reference
to NULL, orphaning every client, subaccount and run of the configuration).

SQLite changes a foreign key by rebuilding the table; migrations/env.py turns foreign key
enforcement off while migrations run, so the child rows (numbers, run steps) survive.

Revision ID: 11a0b1c2d3e3
Revises: 11a0b1c2d3e2
Create Date: 2026-12-10 09:00:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '11a0b1c2d3e3'
down_revision = '11a0b1c2d3e2'
branch_labels = None
depends_on = None

TABLES = ('meta_whatsapp_clients', 'dialog_360_clients', 'twilio_subaccounts', 'provisioning_runs')


def _set_ondelete(ondelete):
    for table in TABLES:
        # op.f: PostgreSQL gets the name shortened as the naming convention shortened it
        name = op.f(f'fk_{table}_partner_configuration_id_partner_configurations')
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(name, type_='foreignkey')
            batch_op.create_foreign_key(
                name, 'partner_configurations', ['partner_configuration_id'], ['id'],
                ondelete=ondelete,
            )


def upgrade():
    _set_ondelete('RESTRICT')


def downgrade():
    _set_ondelete('SET NULL')
