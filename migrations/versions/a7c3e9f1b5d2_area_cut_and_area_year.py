"""area cuts and area years: the coverage page's filters and past years from summaries;
partial indexes of the rollup's year cells by organization kind and village flag; the
counts by day under each filter (a longer day_count.kind); the year's support totals by
one filter (support_cut_total)

Revision ID: a7c3e9f1b5d2
Revises: e8b2c4d6f1a3
Create Date: 2026-12-05 04:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a7c3e9f1b5d2'
down_revision = 'e8b2c4d6f1a3'
branch_labels = None
depends_on = None

FIGURES = ('villages', 'key_villages', 'first_secretary', 'first_secretary_key', 'backing_unit', 'backing_unit_key',
           'enterprise', 'enterprise_key', 'support_12m', 'support_12m_key', 'teams_under_min', 'posted_people',
           'trained_people', 'months_under_min')

ROLLUP_INDEXES = (('kind', 'org_kind'), ('key', 'is_key'), ('poor', 'is_poor'), ('relocation', 'is_relocation'))


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
    with op.batch_alter_table('support_rollup', schema=None) as batch_op:
        for name, column in ROLLUP_INDEXES:
            batch_op.create_index(f'ix_support_rollup_year_{name}', ['level', 'year', column, 'region_code'],
                                  unique=False, sqlite_where=sa.text('month = 0'),
                                  postgresql_where=sa.text('month = 0'))
    with op.batch_alter_table('support_total', schema=None) as batch_op:
        batch_op.create_index('ix_support_total_year', ['level', 'year', 'region_code'], unique=False,
                              sqlite_where=sa.text('month = 0'), postgresql_where=sa.text('month = 0'))
    op.create_table('support_cut_total',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.Column('level', sa.String(length=10), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('cut', sa.String(length=10), nullable=False),
    sa.Column('value', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('record_count', sa.Integer(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('amount_attracted', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('amount_in_kind', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_support_cut_total')),
    sa.UniqueConstraint('region_code', 'year', 'cut', 'value', 'status', name='uq_support_cut_total_cell')
    )
    with op.batch_alter_table('support_cut_total', schema=None) as batch_op:
        batch_op.create_index('ix_support_cut_total_children', ['level', 'year', 'cut', 'value', 'region_code'],
                              unique=False)
    # the counts by day under each filter have kinds of their own ('submitted:category=funds')
    with op.batch_alter_table('day_count', schema=None) as batch_op:
        batch_op.alter_column('kind', existing_type=sa.String(length=10), type_=sa.String(length=40),
                              existing_nullable=False)
    # filled by the next `flask dashboard rebuild` (or refresh); until then the page computes live


def downgrade():
    with op.batch_alter_table('support_cut_total', schema=None) as batch_op:
        batch_op.drop_index('ix_support_cut_total_children')
    op.drop_table('support_cut_total')
    with op.batch_alter_table('support_total', schema=None) as batch_op:
        batch_op.drop_index('ix_support_total_year')
    op.execute("DELETE FROM day_count WHERE kind NOT IN ('submitted', 'ends')")
    with op.batch_alter_table('day_count', schema=None) as batch_op:
        batch_op.alter_column('kind', existing_type=sa.String(length=40), type_=sa.String(length=10),
                              existing_nullable=False)
    with op.batch_alter_table('support_rollup', schema=None) as batch_op:
        for name, _column in ROLLUP_INDEXES:
            batch_op.drop_index(f'ix_support_rollup_year_{name}')
    op.drop_table('area_year')
    with op.batch_alter_table('area_cut', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_area_cut_valid_until'))
    op.drop_table('area_cut')
