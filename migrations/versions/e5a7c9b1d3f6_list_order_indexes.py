"""Partial indexes in the order of the postings and pairings lists, one for the active
(open-ended) set and one for the ended: the lists read a page from one set at a time
(core.paging._fetch), so PostgreSQL reads it along the index and stops at its last row
instead of joining and sorting a province's postings (40,000) for every page

Revision ID: e5a7c9b1d3f6
Revises: c4e8a2f6b0d1
"""
import sqlalchemy as sa
from alembic import op

revision = "e5a7c9b1d3f6"
down_revision = "c4e8a2f6b0d1"
branch_labels = None
depends_on = None

SETS = (("active", "end_date IS NULL"), ("ended", "end_date IS NOT NULL"))
PAIRING_SETS = (("open", "end_date IS NULL"), ("ended", "end_date IS NOT NULL"))


def upgrade():
    for name, where in SETS:
        op.create_index(f"ix_posting_list_{name}", "posting",
                        [sa.text("start_date DESC"), "region_code", "role", "person_id", "id"],
                        sqlite_where=sa.text(where), postgresql_where=sa.text(where))
    for name, where in PAIRING_SETS:
        op.create_index(f"ix_pairing_list_{name}", "pairing", [sa.text("start_date DESC"), sa.text("id DESC"), "region_code"],
                        sqlite_where=sa.text(where), postgresql_where=sa.text(where))
    bind = op.get_bind()
    if bind.dialect.name == "sqlite" and bind.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'"
    ).scalar():
        bind.exec_driver_sql("ANALYZE posting")  # a new index without statistics misleads the planner
        bind.exec_driver_sql("ANALYZE pairing")


def downgrade():
    for name, _where in PAIRING_SETS:
        op.drop_index(f"ix_pairing_list_{name}", table_name="pairing")
    for name, _where in SETS:
        op.drop_index(f"ix_posting_list_{name}", table_name="posting")
