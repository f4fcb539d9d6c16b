"""diagram_drafts.scenario_run and failing_reason: the scenario tests as they ran at submit, and why any
failing one should fail; scenario_documents: scenario tests changed by process owners in the app (issue 21)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('diagram_drafts') as batch:
        batch.add_column(sa.Column('scenario_run', sa.JSON(), nullable=True))
        batch.add_column(sa.Column('failing_reason', sa.Text(), nullable=True))
    op.create_table(
        'scenario_documents',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('draft_id', sa.Integer(), nullable=True),
        sa.Column('document', sa.JSON(), nullable=False),
        sa.Column('saved_by', sa.String(length=200), nullable=False),
        sa.Column('saved_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['draft_id'], ['diagram_drafts.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_scenario_documents_key_state', 'scenario_documents', ['key', 'state'])
    op.create_index('ix_scenario_documents_draft_id', 'scenario_documents', ['draft_id'])


def downgrade() -> None:
    op.drop_index('ix_scenario_documents_draft_id', table_name='scenario_documents')
    op.drop_index('ix_scenario_documents_key_state', table_name='scenario_documents')
    op.drop_table('scenario_documents')
    with op.batch_alter_table('diagram_drafts') as batch:
        batch.drop_column('failing_reason')
        batch.drop_column('scenario_run')
