"""posting: a partial index of active postings by start (with place, role, person and
planned end), so a page of the gaps worklist in that order is read along it and stops at
its last line instead of sorting every active posting of a province

Revision ID: e6a8c0d2f4b7
Revises: d4f6a8c0e2b5
"""
import sqlalchemy as sa
from alembic import op

revision = "e6a8c0d2f4b7"
down_revision = "d4f6a8c0e2b5"
branch_labels = None
depends_on = None

ACTIVE = sa.text("end_date IS NULL")


def upgrade():
    op.create_index("ix_posting_active_start", "posting", ["start_date", "region_code", "role", "person_id", "planned_end"],
                    sqlite_where=ACTIVE, postgresql_where=ACTIVE)
    bind = op.get_bind()
    if bind.dialect.name == "sqlite" and bind.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'"
    ).scalar():
        bind.exec_driver_sql("ANALYZE posting")  # a new index without statistics misleads the planner


def downgrade():
    op.drop_index("ix_posting_active_start", table_name="posting")
