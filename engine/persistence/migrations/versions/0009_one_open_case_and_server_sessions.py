"""one open case per child and pathway (a partial unique index) and server-side web sessions

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa

from engine.persistence.ddl import allow_delete, refuse_delete


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

OPEN = "status IN ('running', 'waiting', 'error', 'suspended')"


def upgrade() -> None:
    duplicates = op.get_bind().execute(sa.text(
        f"SELECT ref, key, COUNT(*) FROM cases WHERE {OPEN} GROUP BY ref, key HAVING COUNT(*) > 1")).all()
    if duplicates:  # never resolved silently: an administrator cancels the extra case first
        listed = ", ".join(f"{ref} ({key}: {count} open)" for ref, key, count in duplicates)
        raise RuntimeError(f"these children have more than one open case of one pathway: {listed}. "
                           "Cancel the extra cases (pathways cases cancel), then run the upgrade again.")
    op.create_index('ux_cases_one_open', 'cases', ['ref', 'key'], unique=True,
                    sqlite_where=sa.text(OPEN), postgresql_where=sa.text(OPEN))
    op.create_table('web_sessions',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('username', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_by', sa.String(length=200), nullable=True),
    sa.Column('revoked_reason', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_web_sessions_username', 'web_sessions', ['username'], unique=False)
    refuse_delete(op, 'web_sessions')


def downgrade() -> None:
    allow_delete(op, 'web_sessions')
    op.drop_index('ix_web_sessions_username', table_name='web_sessions')
    op.drop_table('web_sessions')
    op.drop_index('ux_cases_one_open', table_name='cases')
