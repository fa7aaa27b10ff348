"""area_change: an index of (area, version), so the coverage API's change marker (the sum of
a region's counters) is read from the index alone

Revision ID: f4a6c8e0b2d5
Revises: e8b2c4d6f1a3
"""
from alembic import op

revision = "f4a6c8e0b2d5"
down_revision = "e8b2c4d6f1a3"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_area_change_area_version", "area_change", ["area", "version"])


def downgrade():
    op.drop_index("ix_area_change_area_version", table_name="area_change")
