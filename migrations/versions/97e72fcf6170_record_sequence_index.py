"""The index of a unit's 编号 by year and number, highest first: the next 编号 a filing
takes (``records.models.highest_sequence``) is read from its first rows, instead of sorting
every 编号 of the unit while the filing holds the write lock (1 ms at 1,000 records a year,
5 ms at 5,000, on SQLite)

Revision ID: 97e72fcf6170
Revises: e5a7c9b1d3f6
"""
import sqlalchemy as sa
from alembic import op

revision = "97e72fcf6170"
down_revision = "e5a7c9b1d3f6"
branch_labels = None
depends_on = None

NUMBER = "ltrim(substr(reference, 6), '0')"  # the 编号's number after "2026-", without leading zeros


def upgrade():
    op.create_index("ix_support_record_sequence", "support_record",
                    ["organization_id", sa.text("substr(reference, 1, 5)"), sa.text(f"length({NUMBER}) DESC"),
                     sa.text(f"{NUMBER} DESC"), "reference"])
    bind = op.get_bind()
    if bind.dialect.name == "sqlite" and bind.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'"
    ).scalar():
        bind.exec_driver_sql("ANALYZE support_record")  # a new index without statistics misleads the planner


def downgrade():
    op.drop_index("ix_support_record_sequence", table_name="support_record")
