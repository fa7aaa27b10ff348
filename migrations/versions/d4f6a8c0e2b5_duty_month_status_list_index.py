"""duty_month: an index of the list's order within a status (status, month descending,
place, id), so a page of the duty list stops at its last row instead of sorting a
province's months

Revision ID: d4f6a8c0e2b5
Revises: b7d9f1a3c5e8
"""
import sqlalchemy as sa
from alembic import op

revision = "d4f6a8c0e2b5"
down_revision = "b7d9f1a3c5e8"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_duty_month_status_list", "duty_month", ["status", sa.text("month DESC"), "region_code", "id"])
    bind = op.get_bind()
    if bind.dialect.name == "sqlite" and bind.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'"
    ).scalar():
        bind.exec_driver_sql("ANALYZE duty_month")  # a new index without statistics misleads the planner


def downgrade():
    op.drop_index("ix_duty_month_status_list", table_name="duty_month")
