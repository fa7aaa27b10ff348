"""support record reference (编号), unique within the filing unit

Revision ID: 7a3e5c1d9b20
Revises: 1354efd6c8f1
Create Date: 2026-12-04 13:50:00

Adds the column, numbers the records already stored as the registry numbers new ones
(the year the record was filed, Hunan time, and its place among the unit's records of
that year, in the order they were filed: "2026-0001"), then makes it required and unique
per unit.
"""
from collections import defaultdict
from datetime import timedelta

import sqlalchemy as sa
from alembic import op

revision = '7a3e5c1d9b20'
down_revision = '1354efd6c8f1'
branch_labels = None
depends_on = None

HUNAN = timedelta(hours=8)  # created_at is UTC; the year is Hunan's (no daylight saving)


def upgrade():
    with op.batch_alter_table('support_record', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reference', sa.String(length=30), nullable=True))

    conn = op.get_bind()
    table = sa.table('support_record', sa.column('id', sa.Integer), sa.column('organization_id', sa.Integer),
                     sa.column('created_at', sa.DateTime), sa.column('record_date', sa.Date),
                     sa.column('reference', sa.String))
    rows = conn.execute(sa.select(table.c.id, table.c.organization_id, table.c.created_at, table.c.record_date)
                        .order_by(table.c.id)).all()
    counters = defaultdict(int)
    updates = []
    for record_id, organization_id, created_at, record_date in rows:
        year = (created_at + HUNAN).year if created_at is not None else record_date.year
        counters[organization_id, year] += 1
        updates.append({'rid': record_id, 'ref': f"{year}-{counters[organization_id, year]:04d}"})
    for start in range(0, len(updates), 5000):
        conn.execute(table.update().where(table.c.id == sa.bindparam('rid')).values(reference=sa.bindparam('ref')),
                     updates[start:start + 5000])

    with op.batch_alter_table('support_record', schema=None) as batch_op:
        batch_op.alter_column('reference', existing_type=sa.String(length=30), nullable=False)
        batch_op.create_unique_constraint('uq_support_record_organization_reference', ['organization_id', 'reference'])


def downgrade():
    with op.batch_alter_table('support_record', schema=None) as batch_op:
        batch_op.drop_constraint('uq_support_record_organization_reference', type_='unique')
        batch_op.drop_column('reference')
