"""task drafts, saved inbox filters, and indexes for the inbox

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tasks') as batch:
        batch.add_column(sa.Column('draft', sa.JSON(), nullable=True))
        batch.add_column(sa.Column('draft_saved_by', sa.String(length=200), nullable=True))
        batch.add_column(sa.Column('draft_saved_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table('saved_filters',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('query', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('username', 'name')
    )
    op.create_index('ix_saved_filters_username', 'saved_filters', ['username'])
    op.create_index('ix_escalations_task', 'escalations', ['task_id'])
    op.create_index('ix_notifications_user', 'notifications', ['recipient_user', 'status'])


def downgrade() -> None:
    op.drop_index('ix_notifications_user', table_name='notifications')
    op.drop_index('ix_escalations_task', table_name='escalations')
    op.drop_index('ix_saved_filters_username', table_name='saved_filters')
    op.drop_table('saved_filters')
    with op.batch_alter_table('tasks') as batch:
        batch.drop_column('draft_saved_at')
        batch.drop_column('draft_saved_by')
        batch.drop_column('draft')
