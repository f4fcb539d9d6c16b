"""rate_limits: the sign-in, inbound event and API request counts, shared by every web process;
team_mailboxes: a shared address an administrator set for a role in a team

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


def downgrade() -> None:
    op.drop_table('team_mailboxes')
    op.drop_index('ix_rate_limits_expires_at', table_name='rate_limits')
    op.drop_table('rate_limits')
