"""audit chain keyed: key_id on every event; on PostgreSQL the table is append-only

Revision ID: 9c4e2a7f1d30
Revises: 7a3e5c1d9b20
Create Date: 2026-12-04 17:00:00

Events stored before this revision get key id 0: their hashes are plain SHA-256 and keep
verifying as they are (nothing is re-hashed). From now on each event's hash is an
HMAC-SHA256 under the key whose id it carries (``registry/audit/anchor.py``); the first
checkpoint written after the upgrade seals how far the unkeyed events go.

On PostgreSQL a trigger refuses UPDATE, DELETE and TRUNCATE on ``audit_event`` for every
role, the owner included, until someone with the right to alter the table drops it (see
README, "Audit trail"). On SQLite (development) nothing is added.
"""
import sqlalchemy as sa
from alembic import op

revision = '9c4e2a7f1d30'
down_revision = '7a3e5c1d9b20'
branch_labels = None
depends_on = None

FUNCTION = """
CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_event is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""


def upgrade():
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('key_id', sa.Integer(), server_default='0', nullable=False))
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute(FUNCTION)
    op.execute("CREATE TRIGGER audit_event_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_event "
               "FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()")
    op.execute("CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event "
               "FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()")


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_event")
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_update_or_delete ON audit_event")
        op.execute("DROP FUNCTION IF EXISTS audit_event_append_only()")
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_column('key_id')
