"""rate_limits: the sign-in, inbound event and API request counts, shared by every web process;
team_mailboxes: a shared address an administrator set for a role in a team;
calendar_feeds: the secret calendar addresses of people and of teams;
users.sso_subject and sso_group_maps: single sign-on (OpenID Connect)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'rate_limits',
        sa.Column('key', sa.String(length=300), nullable=False),
        sa.Column('hits', sa.Integer(), nullable=False),
        sa.Column('expires_at', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('key'),
    )
    op.create_index('ix_rate_limits_expires_at', 'rate_limits', ['expires_at'])
    op.create_table(
        'team_mailboxes',
        sa.Column('team', sa.String(length=100), nullable=False),
        sa.Column('role', sa.String(length=100), nullable=False),
        sa.Column('address', sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(['team'], ['teams.name']),
        sa.PrimaryKeyConstraint('team', 'role'),
    )
    op.create_table(
        'calendar_feeds',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('username', sa.String(length=100), nullable=False),
        sa.Column('team', sa.String(length=100), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('revoked_by', sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token_hash'),
    )
    op.create_index('ix_calendar_feeds_username', 'calendar_feeds', ['username'])
    op.create_table(
        'sso_group_maps',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('group_id', sa.String(length=200), nullable=False),
        sa.Column('role', sa.String(length=100), nullable=False),
        sa.Column('team', sa.String(length=100), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by', sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(['team'], ['teams.name']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('group_id', 'role', 'team', name='uq_sso_group_maps'),
    )
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('sso_subject', sa.String(length=400), nullable=True))
        batch.create_unique_constraint('uq_users_sso_subject', ['sso_subject'])


def downgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.drop_constraint('uq_users_sso_subject', type_='unique')
        batch.drop_column('sso_subject')
    op.drop_table('sso_group_maps')
    op.drop_index('ix_calendar_feeds_username', table_name='calendar_feeds')
    op.drop_table('calendar_feeds')
    op.drop_table('team_mailboxes')
    op.drop_index('ix_rate_limits_expires_at', table_name='rate_limits')
    op.drop_table('rate_limits')
