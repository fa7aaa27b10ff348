"""area_change: a counter per area raised by every committed change to its coverage
figures, the coverage API's change marker (ETag and server-side cache)

Revision ID: e8b2c4d6f1a3
Revises: d3f5a7c9e1b4
"""
import sqlalchemy as sa
from alembic import op

revision = "e8b2c4d6f1a3"
down_revision = "d3f5a7c9e1b4"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "area_change",
        sa.Column("area", sa.String(length=12), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("area", name=op.f("pk_area_change")),
    )


def downgrade():
    op.drop_table("area_change")
