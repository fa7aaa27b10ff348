"""support_record: the partial index of pending records (ix_support_record_pending) also
holds the category, so the overdue list's count per category is read from the index alone
(at province scale it otherwise looks up every overdue record's row)

Revision ID: b7d9f1a3c5e8
Revises: b8d2f4a6c1e3
"""
import sqlalchemy as sa
from alembic import op

revision = "b7d9f1a3c5e8"
down_revision = "b8d2f4a6c1e3"
branch_labels = None
depends_on = None

PENDING = sa.text("status = 'submitted'")


def upgrade():
    op.drop_index("ix_support_record_pending", table_name="support_record")
    op.create_index("ix_support_record_pending", "support_record", ["village_code", "submitted_at", "category"],
                    sqlite_where=PENDING, postgresql_where=PENDING)
    _refresh_sqlite_statistics()


def _refresh_sqlite_statistics():
    """A new index without statistics beside others with them misleads SQLite's planner
    (it scanned the whole ix_support_record_village_list instead)."""
    bind = op.get_bind()
    if bind.dialect.name == "sqlite" and bind.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'"
    ).scalar():
        bind.exec_driver_sql("ANALYZE support_record")


def downgrade():
    op.drop_index("ix_support_record_pending", table_name="support_record")
    op.create_index("ix_support_record_pending", "support_record", ["village_code", "submitted_at"],
                    sqlite_where=PENDING, postgresql_where=PENDING)
    _refresh_sqlite_statistics()
