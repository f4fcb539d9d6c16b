"""subscriptions.revision: bumped by every change, so a process can keep the active subscriptions

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('subscriptions', sa.Column('revision', sa.Integer(), server_default='1', nullable=False))


def downgrade() -> None:
    op.drop_column('subscriptions', 'revision')  # SQLite 3.35+ drops a column in place (its trigger stays)
