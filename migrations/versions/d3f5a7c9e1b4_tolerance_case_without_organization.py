"""fault_tolerance_case.organization_id nullable: a case about an inspection finding
against a region (督查问题) concerns no organization

Revision ID: d3f5a7c9e1b4
Revises: a7d3f1c9e5b2
Create Date: 2026-12-05 02:15:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd3f5a7c9e1b4'
down_revision = "a7d3f1c9e5b2"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('fault_tolerance_case', schema=None) as batch_op:
        batch_op.alter_column('organization_id', existing_type=sa.Integer(), nullable=True)


def downgrade():
    # a case without an organization (about a region's finding) has no place in the old
    # schema; refuse rather than delete an audited record
    left = op.get_bind().execute(sa.text(
        "SELECT count(*) FROM fault_tolerance_case WHERE organization_id IS NULL")).scalar()
    if left:
        raise RuntimeError(f"{left} fault-tolerance case(s) concern no organization (findings against a region); "
                           "cannot make organization_id NOT NULL")
    with op.batch_alter_table('fault_tolerance_case', schema=None) as batch_op:
        batch_op.alter_column('organization_id', existing_type=sa.Integer(), nullable=False)
