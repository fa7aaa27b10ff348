"""support record: the region whose staff filed it on the unit's behalf (代为填报)

Revision ID: e5a1c7b3d902
Revises: d7b51ec946ca
Create Date: 2026-12-06 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e5a1c7b3d902'
down_revision = "e5a1c3d7f9b2"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('support_record', schema=None) as batch_op:
        batch_op.add_column(sa.Column('on_behalf_region_code', sa.String(length=12), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_support_record_on_behalf_region_code_region'), 'region',
                                    ['on_behalf_region_code'], ['code'])


def downgrade():
    with op.batch_alter_table('support_record', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_support_record_on_behalf_region_code_region'), type_='foreignkey')
        batch_op.drop_column('on_behalf_region_code')
