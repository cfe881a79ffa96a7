"""partner configurations in use cannot be deleted

Every foreign key to partner_configurations restricts the delete (it set the reference
to NULL, orphaning every client, subaccount and run of the configuration).

SQLite changes a foreign key by rebuilding the table, and dropping the old copy with
foreign keys enforced would delete (cascade) the rows of its child tables: phone
numbers, channels, senders, run steps. Enforcement is off during the rebuild (the
pragma only takes effect outside a transaction) and checked again afterwards.

Revision ID: 11a0b1c2d3e3
Revises: 11a0b1c2d3e2
Create Date: 2026-12-10 09:00:00.000000

"""
from contextlib import contextmanager

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


def _sqlite_foreign_keys(state):
    """Set enforcement; the pragma is ignored inside a transaction, so the one the engine's
    begin hook opens is ended first (what ran before is committed, as in any autocommit
    block)."""
    with op.get_context().autocommit_block():
        raw = op.get_bind().connection.dbapi_connection
        if raw.in_transaction:
            raw.execute('COMMIT')
        raw.execute(f'PRAGMA foreign_keys={state}')


@contextmanager
def _sqlite_foreign_keys_off():
    if op.get_bind().dialect.name != 'sqlite':
        yield
        return
    _sqlite_foreign_keys('OFF')
    try:
        yield
        problems = op.get_bind().exec_driver_sql('PRAGMA foreign_key_check').fetchall()
        if problems:
            raise RuntimeError(f'foreign keys broken by the rebuild: {problems}')
    finally:
        _sqlite_foreign_keys('ON')


def upgrade():
    with _sqlite_foreign_keys_off():
        _set_ondelete('RESTRICT')


def downgrade():
    with _sqlite_foreign_keys_off():
        _set_ondelete('SET NULL')
