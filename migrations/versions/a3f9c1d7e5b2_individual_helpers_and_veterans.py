"""individual helpers (个人) and veterans: a partial index of the people marked 退役军人

An individual helper is an ``organization`` row of kind ``individual`` with one ``person``
(no new table: ``kind`` is a free string column). The coverage page's veteran filter
finds veterans through ``ix_person_veteran``.

Revision ID: a3f9c1d7e5b2
Revises: a7b82fc230dc
Create Date: 2026-12-05 01:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a3f9c1d7e5b2'
down_revision = "a7b82fc230dc"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.create_index('ix_person_veteran', ['organization_id', 'id'], unique=False,
                              sqlite_where=sa.text('is_veteran = 1'), postgresql_where=sa.text('is_veteran'))


def downgrade():
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_index('ix_person_veteran', sqlite_where=sa.text('is_veteran = 1'),
                            postgresql_where=sa.text('is_veteran'))
