"""village_status: a partial index of the priority villages (key or poverty-exited) by
code, with what the gaps worklist's village lines test (first secretaries, team size,
latest confirmed support, resident pairings while they hold): a province counts its
7,000 priority villages' entries instead of reading every village's row

Revision ID: a7c9e1b3d5f8
Revises: e6a8c0d2f4b7
"""
import sqlalchemy as sa
from alembic import op

revision = "a7c9e1b3d5f8"
down_revision = "e6a8c0d2f4b7"
branch_labels = None
depends_on = None

# the predicate as each engine renders ``definitions.status_priority()``, so the planner matches it
SQLITE_PRIORITY = sa.text("is_key IS 1 OR is_poor IS 1")
POSTGRESQL_PRIORITY = sa.text("is_key IS true OR is_poor IS true")


def upgrade():
    op.create_index("ix_village_status_priority", "village_status",
                    ["code", "first_secretaries", "team_size", "last_confirmed_on", "resident_pairings",
                     "pairings_valid_until"],
                    sqlite_where=SQLITE_PRIORITY, postgresql_where=POSTGRESQL_PRIORITY)
    bind = op.get_bind()
    if bind.dialect.name == "sqlite" and bind.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'"
    ).scalar():
        bind.exec_driver_sql("ANALYZE village_status")  # a new index without statistics misleads the planner


def downgrade():
    op.drop_index("ix_village_status_priority", table_name="village_status")
