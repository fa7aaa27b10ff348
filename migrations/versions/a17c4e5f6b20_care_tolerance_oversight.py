"""care for frontline cadres (care_record), fault tolerance (fault_tolerance_case), and the
body a supervising account belongs to (user_account.oversight_body)

Revision ID: a17c4e5f6b20
Revises: a1c3e5f7b9d2
Create Date: 2026-12-05 01:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a17c4e5f6b20'
down_revision = "a1c3e5f7b9d2"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'care_record',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('person_id', sa.Integer(), nullable=False),
        sa.Column('posting_id', sa.Integer(), nullable=False),
        sa.Column('organization_id', sa.Integer(), nullable=False),
        sa.Column('region_code', sa.String(length=12), nullable=False),
        sa.Column('provider_region_code', sa.String(length=12), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('item', sa.String(length=30), nullable=False),
        sa.Column('start_date', sa.Date(), nullable=False),
        sa.Column('end_date', sa.Date(), nullable=True),
        sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column('provider_name', sa.String(length=100), nullable=True),
        sa.Column('reference', sa.String(length=100), nullable=True),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('cancel_reason', sa.Text(), nullable=True),
        sa.Column('cancelled_at', sa.DateTime(), nullable=True),
        sa.Column('cancelled_by_id', sa.Integer(), nullable=True),
        sa.Column('recorded_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('is_demo', sa.Boolean(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['cancelled_by_id'], ['user_account.id'], name=op.f('fk_care_record_cancelled_by_id_user_account')),
        sa.ForeignKeyConstraint(['organization_id'], ['organization.id'], name=op.f('fk_care_record_organization_id_organization')),
        sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_care_record_person_id_person')),
        sa.ForeignKeyConstraint(['posting_id'], ['posting.id'], name=op.f('fk_care_record_posting_id_posting')),
        sa.ForeignKeyConstraint(['provider_region_code'], ['region.code'], name=op.f('fk_care_record_provider_region_code_region')),
        sa.ForeignKeyConstraint(['recorded_by_id'], ['user_account.id'], name=op.f('fk_care_record_recorded_by_id_user_account')),
        sa.ForeignKeyConstraint(['region_code'], ['region.code'], name=op.f('fk_care_record_region_code_region')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_care_record')),
    )
    with op.batch_alter_table('care_record', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_care_record_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_care_record_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_care_record_posting_id'), ['posting_id'], unique=False)
        batch_op.create_index('ix_care_record_person_kind', ['person_id', 'kind', 'status', 'start_date'], unique=False)
        batch_op.create_index('ix_care_record_region', ['region_code', 'kind', 'start_date'], unique=False)

    op.create_table(
        'fault_tolerance_case',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('subject_kind', sa.String(length=20), nullable=False),
        sa.Column('subject_id', sa.Integer(), nullable=False),
        sa.Column('subject_key', sa.String(length=40), nullable=False),
        sa.Column('subject_title', sa.String(length=200), nullable=False),
        sa.Column('person_id', sa.Integer(), nullable=True),
        sa.Column('organization_id', sa.Integer(), nullable=False),
        sa.Column('region_code', sa.String(length=12), nullable=False),
        sa.Column('decider_region_code', sa.String(length=12), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('grounds', sa.String(length=20), nullable=False),
        sa.Column('facts', sa.Text(), nullable=False),
        sa.Column('applicant_id', sa.Integer(), nullable=True),
        sa.Column('applied_at', sa.DateTime(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('decision_reason', sa.Text(), nullable=True),
        sa.Column('document_number', sa.String(length=100), nullable=True),
        sa.Column('correction', sa.Text(), nullable=True),
        sa.Column('effect', sa.String(length=300), nullable=True),
        sa.Column('decided_by_id', sa.Integer(), nullable=True),
        sa.Column('decided_at', sa.DateTime(), nullable=True),
        sa.Column('is_demo', sa.Boolean(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['applicant_id'], ['user_account.id'], name=op.f('fk_fault_tolerance_case_applicant_id_user_account')),
        sa.ForeignKeyConstraint(['decided_by_id'], ['user_account.id'], name=op.f('fk_fault_tolerance_case_decided_by_id_user_account')),
        sa.ForeignKeyConstraint(['decider_region_code'], ['region.code'], name=op.f('fk_fault_tolerance_case_decider_region_code_region')),
        sa.ForeignKeyConstraint(['organization_id'], ['organization.id'], name=op.f('fk_fault_tolerance_case_organization_id_organization')),
        sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_fault_tolerance_case_person_id_person')),
        sa.ForeignKeyConstraint(['region_code'], ['region.code'], name=op.f('fk_fault_tolerance_case_region_code_region')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_fault_tolerance_case')),
    )
    with op.batch_alter_table('fault_tolerance_case', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fault_tolerance_case_decider_region_code'), ['decider_region_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_fault_tolerance_case_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_fault_tolerance_case_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_fault_tolerance_case_region_code'), ['region_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_fault_tolerance_case_subject_key'), ['subject_key'], unique=False)
        batch_op.create_index('ix_fault_tolerance_case_status', ['status', 'subject_kind'], unique=False)

    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('oversight_body', sa.String(length=20), nullable=True))


def downgrade():
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_column('oversight_body')
    with op.batch_alter_table('fault_tolerance_case', schema=None) as batch_op:
        batch_op.drop_index('ix_fault_tolerance_case_status')
        batch_op.drop_index(batch_op.f('ix_fault_tolerance_case_subject_key'))
        batch_op.drop_index(batch_op.f('ix_fault_tolerance_case_region_code'))
        batch_op.drop_index(batch_op.f('ix_fault_tolerance_case_person_id'))
        batch_op.drop_index(batch_op.f('ix_fault_tolerance_case_organization_id'))
        batch_op.drop_index(batch_op.f('ix_fault_tolerance_case_decider_region_code'))
    op.drop_table('fault_tolerance_case')
    with op.batch_alter_table('care_record', schema=None) as batch_op:
        batch_op.drop_index('ix_care_record_region')
        batch_op.drop_index('ix_care_record_person_kind')
        batch_op.drop_index(batch_op.f('ix_care_record_posting_id'))
        batch_op.drop_index(batch_op.f('ix_care_record_person_id'))
        batch_op.drop_index(batch_op.f('ix_care_record_organization_id'))
    op.drop_table('care_record')
