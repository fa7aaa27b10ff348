"""Indexes in the order of two home-page panels, so PostgreSQL reads their first rows
along an index and stops instead of sorting a province's rows: active postings by planned
end (ix_posting_active_end: the ending-soon panel) and the months of a status oldest
first (ix_duty_month_status_oldest: the months awaiting a check)

Revision ID: f1b3d5e7a9c2
Revises: a7c9e1b3d5f8
"""
import sqlalchemy as sa
from alembic import op

revision = "f1b3d5e7a9c2"
down_revision = "a7c9e1b3d5f8"
branch_labels = None
depends_on = None

ACTIVE = sa.text("end_date IS NULL")


def upgrade():
    op.create_index("ix_posting_active_end", "posting", ["planned_end", "id", "region_code"],
                    sqlite_where=ACTIVE, postgresql_where=ACTIVE)
    op.create_index("ix_duty_month_status_oldest", "duty_month", ["status", "month", "id", "region_code"])
    bind = op.get_bind()
    if bind.dialect.name == "sqlite" and bind.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'"
    ).scalar():
        bind.exec_driver_sql("ANALYZE posting")  # a new index without statistics misleads the planner
        bind.exec_driver_sql("ANALYZE duty_month")


def downgrade():
    op.drop_index("ix_duty_month_status_oldest", table_name="duty_month")
    op.drop_index("ix_posting_active_end", table_name="posting")
