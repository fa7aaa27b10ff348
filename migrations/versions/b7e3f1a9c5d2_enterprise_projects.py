"""enterprise projects (万企兴万村 / 湘商回归): project, the villages it touches, dated
progress entries, each affected village's confirmation, and evidence files of an entry
(the files themselves are kept by the support records' evidence storage)

Revision ID: b7e3f1a9c5d2
Revises: a17c4e5f6b20
Create Date: 2026-12-05 00:47:38.547177

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7e3f1a9c5d2'
down_revision = "a17c4e5f6b20"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('project',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('is_xiangshang', sa.Boolean(), nullable=False),
    sa.Column('planned_investment', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('actual_investment', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('local_jobs', sa.Integer(), nullable=False),
    sa.Column('confirmed_investment', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('signed_on', sa.Date(), nullable=False),
    sa.Column('started_on', sa.Date(), nullable=True),
    sa.Column('operating_on', sa.Date(), nullable=True),
    sa.Column('terminated_on', sa.Date(), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('end_reason', sa.Text(), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('lead_village_code', sa.String(length=12), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('is_demo', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_project_created_by_id_user_account')),
    sa.ForeignKeyConstraint(['lead_village_code'], ['region.code'], name=op.f('fk_project_lead_village_code_region')),
    sa.ForeignKeyConstraint(['organization_id'], ['organization.id'], name=op.f('fk_project_organization_id_organization')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project'))
    )
    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.create_index('ix_project_org_status', ['organization_id', 'status'], unique=False)
        batch_op.create_index('ix_project_status_xiangshang', ['status', 'is_xiangshang'], unique=False)

    op.create_table('project_progress',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('entry_date', sa.Date(), nullable=False),
    sa.Column('status_from', sa.String(length=12), nullable=False),
    sa.Column('status_to', sa.String(length=12), nullable=True),
    sa.Column('actual_investment', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('local_jobs', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('is_demo', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_project_progress_created_by_id_user_account')),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_project_progress_project_id_project')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_progress'))
    )
    with op.batch_alter_table('project_progress', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_project_progress_project_id'), ['project_id'], unique=False)

    op.create_table('project_village',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('village_code', sa.String(length=12), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_project_village_project_id_project')),
    sa.ForeignKeyConstraint(['village_code'], ['region.code'], name=op.f('fk_project_village_village_code_region')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_village')),
    sa.UniqueConstraint('project_id', 'village_code', name='uq_project_village')
    )
    with op.batch_alter_table('project_village', schema=None) as batch_op:
        batch_op.create_index('ix_project_village_code_project', ['village_code', 'project_id'], unique=False)

    op.create_table('project_confirmation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('progress_id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('village_code', sa.String(length=12), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['decided_by_id'], ['user_account.id'], name=op.f('fk_project_confirmation_decided_by_id_user_account')),
    sa.ForeignKeyConstraint(['progress_id'], ['project_progress.id'], name=op.f('fk_project_confirmation_progress_id_project_progress')),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_project_confirmation_project_id_project')),
    sa.ForeignKeyConstraint(['village_code'], ['region.code'], name=op.f('fk_project_confirmation_village_code_region')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_confirmation')),
    sa.UniqueConstraint('progress_id', 'village_code', name='uq_project_confirmation_progress_village')
    )
    with op.batch_alter_table('project_confirmation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_project_confirmation_project_id'), ['project_id'], unique=False)
        batch_op.create_index('ix_project_confirmation_village_state', ['village_code', 'state'], unique=False)

    op.create_table('project_evidence',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('progress_id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('original_name', sa.String(length=255), nullable=False),
    sa.Column('stored_name', sa.String(length=64), nullable=False),
    sa.Column('content_type', sa.String(length=50), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.Column('uploaded_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['progress_id'], ['project_progress.id'], name=op.f('fk_project_evidence_progress_id_project_progress')),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_project_evidence_project_id_project')),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['user_account.id'], name=op.f('fk_project_evidence_uploaded_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_evidence')),
    sa.UniqueConstraint('stored_name', name=op.f('uq_project_evidence_stored_name'))
    )
    with op.batch_alter_table('project_evidence', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_project_evidence_progress_id'), ['progress_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_project_evidence_project_id'), ['project_id'], unique=False)



def downgrade():
    with op.batch_alter_table('project_evidence', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_project_evidence_project_id'))
        batch_op.drop_index(batch_op.f('ix_project_evidence_progress_id'))

    op.drop_table('project_evidence')
    with op.batch_alter_table('project_confirmation', schema=None) as batch_op:
        batch_op.drop_index('ix_project_confirmation_village_state')
        batch_op.drop_index(batch_op.f('ix_project_confirmation_project_id'))

    op.drop_table('project_confirmation')
    with op.batch_alter_table('project_village', schema=None) as batch_op:
        batch_op.drop_index('ix_project_village_code_project')

    op.drop_table('project_village')
    with op.batch_alter_table('project_progress', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_project_progress_project_id'))

    op.drop_table('project_progress')
    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.drop_index('ix_project_status_xiangshang')
        batch_op.drop_index('ix_project_org_status')

    op.drop_table('project')
