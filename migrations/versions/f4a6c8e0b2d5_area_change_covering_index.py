"""area_change: an index of (area, version), so the coverage API's change marker (the sum of
a region's counters) is read from the index alone

Revision ID: f4a6c8e0b2d5
Revises: a7c3e9f1b5d2
"""
from alembic import op

revision = "f4a6c8e0b2d5"
down_revision = "a7c3e9f1b5d2"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_area_change_area_version", "area_change", ["area", "version"])


def downgrade():
    op.drop_index("ix_area_change_area_version", table_name="area_change")
