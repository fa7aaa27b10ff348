"""counts by day (day_count): records awaiting confirmation by the day they were
submitted, active postings by their planned end, per area and per county, city and
province, so overdue and ending-soon counts read a few rows instead of scanning; the
duty months' status index carries the month; the corrections' index holds corrections only

Revision ID: a7d3f1c9e5b2
Revises: b7e3f1a9c5d2
Create Date: 2026-12-05 01:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a7d3f1c9e5b2'
down_revision = "b7e3f1a9c5d2"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('day_count',
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('level', sa.String(length=10), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('kind', 'level', 'region_code', 'day', name=op.f('pk_day_count'))
    )
    # The rows of the data already there (what `flask dashboard rebuild` writes): the
    # areas' from the records and postings, then each level's from the areas'.
    op.execute("INSERT INTO day_count (kind, level, region_code, day, count) "
               "SELECT 'submitted', 'area', substr(village_code, 1, 9) || '000', date(submitted_at), count(*) "
               "FROM support_record WHERE status = 'submitted' AND submitted_at IS NOT NULL "
               "GROUP BY substr(village_code, 1, 9), date(submitted_at)")
    op.execute("INSERT INTO day_count (kind, level, region_code, day, count) "
               "SELECT 'ends', 'area', substr(region_code, 1, 9) || '000', planned_end, count(*) "
               "FROM posting WHERE end_date IS NULL AND planned_end IS NOT NULL "
               "GROUP BY substr(region_code, 1, 9), planned_end")
    for level, n in (("county", 6), ("city", 4), ("province", 2)):
        op.execute(f"INSERT INTO day_count (kind, level, region_code, day, count) "
                   f"SELECT kind, '{level}', substr(region_code, 1, {n}) || '{'0' * (12 - n)}', day, sum(count) "
                   f"FROM day_count WHERE level = 'area' GROUP BY kind, substr(region_code, 1, {n}), day")


    # the oldest duty months awaiting a check (home pages) ordered from the index alone
    with op.batch_alter_table('duty_month', schema=None) as batch_op:
        batch_op.drop_index('ix_duty_month_status_region')
        batch_op.create_index('ix_duty_month_status_region', ['status', 'region_code', 'month'], unique=False)
    # corrections only: an index of every record's NULL misleads SQLite's statistics
    with op.batch_alter_table('support_record', schema=None) as batch_op:
        batch_op.drop_index('ix_support_record_supersedes_id')
        batch_op.create_index('ix_support_record_supersedes_id', ['supersedes_id'], unique=False,
                              sqlite_where=sa.text('supersedes_id IS NOT NULL'),
                              postgresql_where=sa.text('supersedes_id IS NOT NULL'))


def downgrade():
    with op.batch_alter_table('support_record', schema=None) as batch_op:
        batch_op.drop_index('ix_support_record_supersedes_id')
        batch_op.create_index('ix_support_record_supersedes_id', ['supersedes_id'], unique=False)
    with op.batch_alter_table('duty_month', schema=None) as batch_op:
        batch_op.drop_index('ix_duty_month_status_region')
        batch_op.create_index('ix_duty_month_status_region', ['status', 'region_code'], unique=False)
    op.drop_table('day_count')
