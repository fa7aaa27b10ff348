"""inspections (督查): plans, inspections, visits, findings (rectification tasks) and their evidence

``inspection_plan``: one per inspecting jurisdiction and year; ``inspection``: one inspected party
(a region, or a provincial department) of a plan; ``inspection_visit``: a visit with its team;
``inspection_finding``: a problem by item with a deadline and the 待整改 → 整改中 → 已销号 state (it
repeats its inspection's year, inspecting region and inspected party, for the scope rule, the
worklists and the yearly figure); ``finding_evidence``: the finding's files, kept like a record's.

Revision ID: a7b82fc230dc
Revises: c4d8e2a6b913
Create Date: 2026-12-05 00:47:21.394093

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a7b82fc230dc'
down_revision = 'c4d8e2a6b913'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('inspection_plan',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('is_demo', sa.Boolean(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_inspection_plan_created_by_id_user_account')),
    sa.ForeignKeyConstraint(['region_code'], ['region.code'], name=op.f('fk_inspection_plan_region_code_region')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inspection_plan')),
    sa.UniqueConstraint('region_code', 'year', name='uq_inspection_plan_region_year')
    )
    with op.batch_alter_table('inspection_plan', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inspection_plan_region_code'), ['region_code'], unique=False)

    op.create_table('inspection',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('inspector_region_code', sa.String(length=12), nullable=False),
    sa.Column('target_kind', sa.String(length=12), nullable=False),
    sa.Column('target_key', sa.String(length=40), nullable=False),
    sa.Column('target_region_code', sa.String(length=12), nullable=True),
    sa.Column('target_organization_id', sa.Integer(), nullable=True),
    sa.Column('focus', sa.Text(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('is_demo', sa.Boolean(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_inspection_created_by_id_user_account')),
    sa.ForeignKeyConstraint(['inspector_region_code'], ['region.code'], name=op.f('fk_inspection_inspector_region_code_region')),
    sa.ForeignKeyConstraint(['plan_id'], ['inspection_plan.id'], name=op.f('fk_inspection_plan_id_inspection_plan')),
    sa.ForeignKeyConstraint(['target_organization_id'], ['organization.id'], name=op.f('fk_inspection_target_organization_id_organization')),
    sa.ForeignKeyConstraint(['target_region_code'], ['region.code'], name=op.f('fk_inspection_target_region_code_region')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inspection')),
    sa.UniqueConstraint('plan_id', 'target_key', name='uq_inspection_plan_target')
    )
    with op.batch_alter_table('inspection', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inspection_inspector_region_code'), ['inspector_region_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_inspection_plan_id'), ['plan_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inspection_target_organization_id'), ['target_organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inspection_target_region_code'), ['target_region_code'], unique=False)
        batch_op.create_index('ix_inspection_year_target', ['year', 'target_region_code'], unique=False)

    op.create_table('inspection_visit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('inspection_id', sa.Integer(), nullable=False),
    sa.Column('visited_on', sa.Date(), nullable=False),
    sa.Column('team', sa.Text(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('is_demo', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_inspection_visit_created_by_id_user_account')),
    sa.ForeignKeyConstraint(['inspection_id'], ['inspection.id'], name=op.f('fk_inspection_visit_inspection_id_inspection')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inspection_visit'))
    )
    with op.batch_alter_table('inspection_visit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inspection_visit_inspection_id'), ['inspection_id'], unique=False)

    op.create_table('inspection_finding',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('inspection_id', sa.Integer(), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=True),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('inspector_region_code', sa.String(length=12), nullable=False),
    sa.Column('target_kind', sa.String(length=12), nullable=False),
    sa.Column('target_region_code', sa.String(length=12), nullable=True),
    sa.Column('target_organization_id', sa.Integer(), nullable=True),
    sa.Column('item', sa.String(length=20), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('deadline', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('rectify_note', sa.Text(), nullable=True),
    sa.Column('rectify_at', sa.DateTime(), nullable=True),
    sa.Column('rectified_by_id', sa.Integer(), nullable=True),
    sa.Column('close_note', sa.Text(), nullable=True),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('is_demo', sa.Boolean(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['closed_by_id'], ['user_account.id'], name=op.f('fk_inspection_finding_closed_by_id_user_account')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_inspection_finding_created_by_id_user_account')),
    sa.ForeignKeyConstraint(['inspection_id'], ['inspection.id'], name=op.f('fk_inspection_finding_inspection_id_inspection')),
    sa.ForeignKeyConstraint(['inspector_region_code'], ['region.code'], name=op.f('fk_inspection_finding_inspector_region_code_region')),
    sa.ForeignKeyConstraint(['rectified_by_id'], ['user_account.id'], name=op.f('fk_inspection_finding_rectified_by_id_user_account')),
    sa.ForeignKeyConstraint(['target_organization_id'], ['organization.id'], name=op.f('fk_inspection_finding_target_organization_id_organization')),
    sa.ForeignKeyConstraint(['target_region_code'], ['region.code'], name=op.f('fk_inspection_finding_target_region_code_region')),
    sa.ForeignKeyConstraint(['visit_id'], ['inspection_visit.id'], name=op.f('fk_inspection_finding_visit_id_inspection_visit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inspection_finding'))
    )
    with op.batch_alter_table('inspection_finding', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inspection_finding_inspection_id'), ['inspection_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inspection_finding_inspector_region_code'), ['inspector_region_code'], unique=False)
        batch_op.create_index('ix_inspection_finding_status_deadline', ['status', 'deadline'], unique=False)
        batch_op.create_index(batch_op.f('ix_inspection_finding_target_organization_id'), ['target_organization_id'], unique=False)
        batch_op.create_index('ix_inspection_finding_target_year', ['target_region_code', 'year', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_inspection_finding_visit_id'), ['visit_id'], unique=False)

    op.create_table('finding_evidence',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('finding_id', sa.Integer(), nullable=False),
    sa.Column('stage', sa.String(length=16), nullable=False),
    sa.Column('original_name', sa.String(length=255), nullable=False),
    sa.Column('stored_name', sa.String(length=64), nullable=False),
    sa.Column('content_type', sa.String(length=50), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.Column('uploaded_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['finding_id'], ['inspection_finding.id'], name=op.f('fk_finding_evidence_finding_id_inspection_finding')),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['user_account.id'], name=op.f('fk_finding_evidence_uploaded_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_finding_evidence')),
    sa.UniqueConstraint('stored_name', name=op.f('uq_finding_evidence_stored_name'))
    )
    with op.batch_alter_table('finding_evidence', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_finding_evidence_finding_id'), ['finding_id'], unique=False)



def downgrade():
    with op.batch_alter_table('finding_evidence', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_finding_evidence_finding_id'))

    op.drop_table('finding_evidence')
    with op.batch_alter_table('inspection_finding', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inspection_finding_visit_id'))
        batch_op.drop_index('ix_inspection_finding_target_year')
        batch_op.drop_index(batch_op.f('ix_inspection_finding_target_organization_id'))
        batch_op.drop_index('ix_inspection_finding_status_deadline')
        batch_op.drop_index(batch_op.f('ix_inspection_finding_inspector_region_code'))
        batch_op.drop_index(batch_op.f('ix_inspection_finding_inspection_id'))

    op.drop_table('inspection_finding')
    with op.batch_alter_table('inspection_visit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inspection_visit_inspection_id'))

    op.drop_table('inspection_visit')
    with op.batch_alter_table('inspection', schema=None) as batch_op:
        batch_op.drop_index('ix_inspection_year_target')
        batch_op.drop_index(batch_op.f('ix_inspection_target_region_code'))
        batch_op.drop_index(batch_op.f('ix_inspection_target_organization_id'))
        batch_op.drop_index(batch_op.f('ix_inspection_plan_id'))
        batch_op.drop_index(batch_op.f('ix_inspection_inspector_region_code'))

    op.drop_table('inspection')
    with op.batch_alter_table('inspection_plan', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inspection_plan_region_code'))

    op.drop_table('inspection_plan')
