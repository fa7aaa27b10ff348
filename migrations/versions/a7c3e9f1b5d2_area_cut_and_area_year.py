"""area cuts and area years: the coverage page's filters and past years from summaries

Revision ID: a7c3e9f1b5d2
Revises: d3f5a7c9e1b4
Create Date: 2026-12-05 04:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a7c3e9f1b5d2'
down_revision = 'd3f5a7c9e1b4'
branch_labels = None
depends_on = None

FIGURES = ('villages', 'key_villages', 'first_secretary', 'first_secretary_key', 'backing_unit', 'backing_unit_key',
           'enterprise', 'enterprise_key', 'support_12m', 'support_12m_key', 'teams_under_min', 'posted_people',
           'trained_people', 'months_under_min')


def upgrade():
    op.create_table('area_cut',
    sa.Column('cut', sa.String(length=10), nullable=False),
    sa.Column('value', sa.String(length=20), nullable=False),
    sa.Column('area', sa.String(length=12), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('settings', sa.String(length=40), nullable=False),
    sa.Column('computed_on', sa.Date(), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=False),
    *(sa.Column(name, sa.Integer(), nullable=False) for name in FIGURES),
    sa.PrimaryKeyConstraint('cut', 'value', 'area', name=op.f('pk_area_cut'))
    )
    with op.batch_alter_table('area_cut', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_area_cut_valid_until'), ['valid_until'], unique=False)
    op.create_table('area_year',
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('area', sa.String(length=12), nullable=False),
    sa.Column('settings', sa.String(length=40), nullable=False),
    sa.Column('trained_people', sa.Integer(), nullable=False),
    sa.Column('months_under_min', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('year', 'area', name=op.f('pk_area_year'))
    )
    # filled by the next `flask dashboard rebuild` (or refresh); until then the page computes live


def downgrade():
    op.drop_table('area_year')
    with op.batch_alter_table('area_cut', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_area_cut_valid_until'))
    op.drop_table('area_cut')
