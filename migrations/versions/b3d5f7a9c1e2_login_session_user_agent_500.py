"""login_session.user_agent: 500 characters instead of 200, so that the account pages can
name the app a session signed in from. WeChat's, WeCom's and DingTalk's strings run to
220-300 characters and name the app at their end (``MicroMessenger/8.0.33``), which the
first 200 cut off, leaving only the Chrome they are built on.

Revision ID: b3d5f7a9c1e2
Revises: c90fd02459df
"""
import sqlalchemy as sa
from alembic import op

revision = "b3d5f7a9c1e2"
down_revision = "c90fd02459df"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("login_session", schema=None) as batch_op:
        batch_op.alter_column("user_agent", existing_type=sa.String(length=200), type_=sa.String(length=500),
                              existing_nullable=False)


def downgrade():
    with op.batch_alter_table("login_session", schema=None) as batch_op:
        batch_op.alter_column("user_agent", existing_type=sa.String(length=500), type_=sa.String(length=200),
                              existing_nullable=False)
