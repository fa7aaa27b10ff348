"""login sessions kept on the server, named API tokens, disabled accounts

The session cookie now carries the key of a ``login_session`` row instead of the user's
id and session version, so ``user_account.session_version`` goes (every cookie issued
before this migration stops working: everyone logs in again once). Each user's single
``api_token_hash`` becomes a row of ``api_token`` with the same digest, so the tokens
in use keep working.

Revision ID: e5a1c3d7f9b2
Revises: d7b51ec946ca
Create Date: 2026-12-08 10:00:00.000000

"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e5a1c3d7f9b2'
down_revision = "707985985e13"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('login_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('key_digest', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(), nullable=False),
    sa.Column('ended_at', sa.DateTime(), nullable=True),
    sa.Column('ended_reason', sa.String(length=20), nullable=True),
    sa.Column('address', sa.String(length=45), nullable=False),
    sa.Column('user_agent', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_login_session_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_session')),
    sa.UniqueConstraint('key_digest', name=op.f('uq_login_session_key_digest'))
    )
    with op.batch_alter_table('login_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_session_user_id'), ['user_id'], unique=False)

    api_token = op.create_table('api_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_used_at', sa.DateTime(), nullable=True),
    sa.Column('expires_at', sa.DateTime(), nullable=True),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.Column('revoked_reason', sa.String(length=20), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_api_token_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_token')),
    sa.UniqueConstraint('digest', name=op.f('uq_api_token_digest'))
    )
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_token_user_id'), ['user_id'], unique=False)

    # the one token each user had: same digest, so it keeps working
    conn = op.get_bind()
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    rows = conn.execute(sa.text(
        "SELECT id, api_token_hash FROM user_account WHERE api_token_hash IS NOT NULL ORDER BY id")).all()
    if rows:
        op.bulk_insert(api_token, [{"user_id": user_id, "name": "原有令牌", "digest": digest, "created_at": now}
                                   for user_id, digest in rows])

    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('disabled_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('disabled_reason', sa.String(length=200), nullable=True))
        batch_op.drop_constraint(batch_op.f('uq_user_account_api_token_hash'), type_='unique')
        batch_op.drop_column('api_token_hash')
        batch_op.drop_column('session_version')


def downgrade():
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), nullable=False, server_default='1'))
        batch_op.add_column(sa.Column('api_token_hash', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_user_account_api_token_hash'), ['api_token_hash'])
        batch_op.drop_column('disabled_reason')
        batch_op.drop_column('disabled_at')

    # each user's newest live token goes back into user_account (one token a user there)
    conn = op.get_bind()
    rows = conn.execute(sa.text(
        "SELECT user_id, digest FROM api_token WHERE revoked_at IS NULL ORDER BY user_id, created_at, id")).all()
    for user_id, digest in {user_id: digest for user_id, digest in rows}.items():
        conn.execute(sa.text("UPDATE user_account SET api_token_hash = :digest WHERE id = :id"),
                     {"digest": digest, "id": user_id})

    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_token_user_id'))
    op.drop_table('api_token')
    with op.batch_alter_table('login_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_session_user_id'))
    op.drop_table('login_session')
