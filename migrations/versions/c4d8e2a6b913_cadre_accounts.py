"""cadre accounts (驻村干部): an account bound to one person, activated by a one-time code

``user_account`` gains the person it belongs to (unique: one account a person) and the
digest and expiry of the activation code, and when it was activated.

Revision ID: c4d8e2a6b913
Revises: 37a7dacde2ce
Create Date: 2026-12-04 22:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c4d8e2a6b913'
down_revision = '37a7dacde2ce'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('person_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('activation_digest', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('activation_expires_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('activated_at', sa.DateTime(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_user_account_person_id'), ['person_id'])
        batch_op.create_unique_constraint(batch_op.f('uq_user_account_activation_digest'), ['activation_digest'])
        batch_op.create_foreign_key(batch_op.f('fk_user_account_person_id_person'), 'person', ['person_id'], ['id'])


def downgrade():
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_user_account_person_id_person'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_user_account_activation_digest'), type_='unique')
        batch_op.drop_constraint(batch_op.f('uq_user_account_person_id'), type_='unique')
        batch_op.drop_column('activated_at')
        batch_op.drop_column('activation_expires_at')
        batch_op.drop_column('activation_digest')
        batch_op.drop_column('person_id')
