"""the gaps worklist's lines about active postings by day (gap_day): per area, county,
city and province, so a province's pre-posting training, yearly training, insurance,
health check and ending-without-successor counts are the sums of a few rows. Empty here:
`flask dashboard rebuild` (or the daily `flask dashboard refresh`) fills it; until every
area of a region has its rows the worklist counts that region's lines live

Revision ID: c4e8a2f6b0d1
Revises: f1b3d5e7a9c2
"""
import sqlalchemy as sa
from alembic import op

revision = "c4e8a2f6b0d1"
down_revision = "f1b3d5e7a9c2"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "gap_day",
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "level", "region_code", "day", name=op.f("pk_gap_day")),
    )


def downgrade():
    op.drop_table("gap_day")
