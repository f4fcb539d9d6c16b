"""sibling groups: children planned for together, each child in at most one group at a time

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

from engine.persistence.ddl import allow_delete, refuse_delete

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

CURRENT = "removed_at IS NULL"


def upgrade() -> None:
    op.create_table('sibling_groups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('sibling_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('child_ref', sa.String(length=100), nullable=False),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('added_by', sa.String(length=200), nullable=False),
    sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('removed_by', sa.String(length=200), nullable=True),
    sa.Column('removed_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['group_id'], ['sibling_groups.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_sibling_links_group', 'sibling_links', ['group_id'], unique=False)
    op.create_index('ux_sibling_links_current', 'sibling_links', ['child_ref'], unique=True,
                    sqlite_where=sa.text(CURRENT), postgresql_where=sa.text(CURRENT))
    refuse_delete(op, 'sibling_groups')
    refuse_delete(op, 'sibling_links')


def downgrade() -> None:
    allow_delete(op, 'sibling_links')
    allow_delete(op, 'sibling_groups')
    op.drop_index('ux_sibling_links_current', table_name='sibling_links')
    op.drop_index('ix_sibling_links_group', table_name='sibling_links')
    op.drop_table('sibling_links')
    op.drop_table('sibling_groups')
