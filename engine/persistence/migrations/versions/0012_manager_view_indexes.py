"""each case's summary of its open steps and deadlines, and indexes for the manager views and API lists (issue 18)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

# engine.persistence.summary keeps these from here on; this fills them for the cases already here
BACKFILL = """
UPDATE cases SET
  next_step_due = (SELECT min(t.due_date) FROM tasks t WHERE t.case_id = cases.id AND t.status = 'open'),
  next_deadline_due = (SELECT min(d.due_date) FROM deadlines d WHERE d.case_id = cases.id
                       AND d.status IN ('running', 'breached') AND d.met_at IS NULL),
  waiting_since = (SELECT min(t.created_at) FROM tasks t WHERE t.case_id = cases.id AND t.status = 'open'),
  delay_noted = CASE WHEN (SELECT count(*) FROM tasks t WHERE t.case_id = cases.id AND t.status = 'open'
                           AND t.delay_reason IS NOT NULL)
                        + (SELECT count(*) FROM deadlines d WHERE d.case_id = cases.id
                           AND d.status IN ('running', 'breached') AND d.met_at IS NULL
                           AND d.delay_reason IS NOT NULL) > 0 THEN true ELSE false END
"""


def upgrade() -> None:
    op.add_column('cases', sa.Column('next_step_due', sa.Date(), nullable=True))
    op.add_column('cases', sa.Column('next_deadline_due', sa.Date(), nullable=True))
    op.add_column('cases', sa.Column('waiting_since', sa.DateTime(timezone=True), nullable=True))
    op.add_column('cases', sa.Column('delay_noted', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_index('ix_cases_next_step_due', 'cases', ['next_step_due'], unique=False)
    op.create_index('ix_cases_next_deadline_due', 'cases', ['next_deadline_due'], unique=False)
    op.get_bind().execute(sa.text(BACKFILL))
    # the open step a declared deadline waits on (cases at risk, reasons for delay): one lookup, not a scan
    op.create_index('ix_tasks_deadline', 'tasks', ['deadline_id'], unique=False)
    # the API's step list in its order (soonest due first, undated last), for any scope
    op.create_index('ix_tasks_status_due_id', 'tasks', ['status', 'due_date', 'id'], unique=False)
    # the panel figures: a few kinds of completed step, by when they were done
    op.create_index('ix_tasks_element_status_done', 'tasks', ['element', 'status', 'completed_at'], unique=False)
    # the tracker's table of children in its order
    op.create_index('ix_tracker_children_order', 'tracker_children', ['second_review_date', 'ref'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_tracker_children_order', table_name='tracker_children')
    op.drop_index('ix_tasks_element_status_done', table_name='tasks')
    op.drop_index('ix_tasks_status_due_id', table_name='tasks')
    op.drop_index('ix_tasks_deadline', table_name='tasks')
    op.drop_index('ix_cases_next_deadline_due', table_name='cases')
    op.drop_index('ix_cases_next_step_due', table_name='cases')
    with op.batch_alter_table('cases') as batch:
        batch.drop_column('delay_noted')
        batch.drop_column('waiting_since')
        batch.drop_column('next_deadline_due')
        batch.drop_column('next_step_due')
