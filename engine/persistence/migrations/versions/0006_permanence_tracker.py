"""permanence tracker: one row per child after the second review; job watermarks

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_cases_updated_at', 'cases', ['updated_at'])
    op.create_table('tracker_children',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ref', sa.String(length=100), nullable=False),
    sa.Column('team', sa.String(length=100), nullable=True),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('second_review_date', sa.Date(), nullable=False),
    sa.Column('permanence_option', sa.String(length=40), nullable=False),
    sa.Column('contingency_plan', sa.String(length=40), nullable=True),
    sa.Column('derived_route', sa.String(length=40), nullable=True),
    sa.Column('derived_on', sa.Date(), nullable=True),
    sa.Column('derived_from', sa.String(length=300), nullable=True),
    sa.Column('route', sa.String(length=40), nullable=True),
    sa.Column('achieved_on', sa.Date(), nullable=True),
    sa.Column('assessments_done', sa.Boolean(), nullable=True),
    sa.Column('with_long_term_carer', sa.Boolean(), nullable=True),
    sa.Column('legal_security', sa.Text(), nullable=True),
    sa.Column('seen_alone_on', sa.Date(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('recorded_by', sa.String(length=200), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('recorded_revision', sa.Integer(), nullable=False),
    sa.Column('refreshed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id']),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('ref')
    )
    op.create_index(op.f('ix_tracker_children_team'), 'tracker_children', ['team'])
    op.create_table('job_runs',
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('watermark', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('name')
    )


def downgrade() -> None:
    op.drop_table('job_runs')
    op.drop_index(op.f('ix_tracker_children_team'), table_name='tracker_children')
    op.drop_table('tracker_children')
    op.drop_index('ix_cases_updated_at', table_name='cases')
