"""inbound events from case-management systems: senders, events, per-child ordering

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

from alembic import op
import sqlalchemy as sa

from engine.persistence.ddl import allow_delete, refuse_delete


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('webhook_senders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('secrets', sa.JSON(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('inbound_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sender', sa.String(length=100), nullable=False),
    sa.Column('event_id', sa.String(length=200), nullable=False),
    sa.Column('webhook_id', sa.String(length=200), nullable=False),
    sa.Column('type', sa.String(length=100), nullable=False),
    sa.Column('child_ref', sa.String(length=100), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('action', sa.String(length=300), nullable=True),
    sa.Column('case_ids', sa.JSON(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('replayed_by', sa.String(length=200), nullable=True),
    sa.Column('replayed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sender', 'event_id')
    )
    op.create_index('ix_inbound_events_status', 'inbound_events', ['status', 'received_at'])
    op.create_index('ix_inbound_events_child', 'inbound_events', ['child_ref', 'occurred_at'])
    op.create_table('event_children',
    sa.Column('child_ref', sa.String(length=100), nullable=False),
    sa.Column('last_occurred_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_event_id', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('child_ref')
    )
    refuse_delete(op, 'inbound_events')


def downgrade() -> None:
    allow_delete(op, 'inbound_events')
    op.drop_table('event_children')
    op.drop_index('ix_inbound_events_child', table_name='inbound_events')
    op.drop_index('ix_inbound_events_status', table_name='inbound_events')
    op.drop_table('inbound_events')
    op.drop_table('webhook_senders')
