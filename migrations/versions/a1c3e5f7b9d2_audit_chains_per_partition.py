"""audit chains per partition: each event's chain (a city, or "" for the province and
the system) and its place there (seq); ids from a sequence on PostgreSQL

The events already stored form the root chain ("") in their id order (seq = id), their
hashes unchanged. On PostgreSQL the append-only trigger is switched off while seq is
filled in, and ``audit_event.id`` gets a sequence starting after the largest id.

Revision ID: a1c3e5f7b9d2
Revises: dc4e284f929f
Create Date: 2026-12-05 01:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = "a1c3e5f7b9d2"
down_revision = "dc4e284f929f"
branch_labels = None
depends_on = None


def upgrade():
    postgres = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("audit_event") as batch:
        batch.add_column(sa.Column("chain", sa.String(length=4), server_default="", nullable=False))
        batch.add_column(sa.Column("seq", sa.Integer(), nullable=True))
    if postgres:
        op.execute("ALTER TABLE audit_event DISABLE TRIGGER audit_event_no_update_or_delete")
    op.execute("UPDATE audit_event SET seq = id")
    if postgres:
        op.execute("ALTER TABLE audit_event ENABLE TRIGGER audit_event_no_update_or_delete")
    with op.batch_alter_table("audit_event") as batch:
        batch.alter_column("seq", existing_type=sa.Integer(), nullable=False)
        batch.create_index("uq_audit_event_chain_seq", ["chain", "seq"], unique=True)
    if postgres:
        op.execute("CREATE SEQUENCE IF NOT EXISTS audit_event_id_seq OWNED BY audit_event.id")
        op.execute("SELECT setval('audit_event_id_seq', COALESCE((SELECT MAX(id) FROM audit_event), 0) + 1, false)")
        op.execute("ALTER TABLE audit_event ALTER COLUMN id SET DEFAULT nextval('audit_event_id_seq')")


def downgrade():
    # only a trail that is still one chain can go back (seq = id in the root chain)
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("ALTER TABLE audit_event ALTER COLUMN id DROP DEFAULT")
        op.execute("DROP SEQUENCE IF EXISTS audit_event_id_seq")
    with op.batch_alter_table("audit_event") as batch:
        batch.drop_index("uq_audit_event_chain_seq")
        batch.drop_column("seq")
        batch.drop_column("chain")
