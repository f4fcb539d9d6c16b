"""kept tallies for the authority-wide figures, each case's soonest late date, and covering indexes (issue 18)

A head of service's pages counted or grouped the whole authority on every request (open steps by
element, cases by status, the tracker's figures), so they grew with it. From here on the
database keeps those counts itself: triggers on ``tasks``, ``cases`` and ``tracker_children``
append a +1/-1 row to ``tally_deltas`` in the same transaction as the change (no lock taken, no
round trip), for the row's team and for the whole authority (team '*'), and the worker folds the
deltas into ``tallies`` now and then. A count is the sum of both, so it is exact at any moment,
whatever the worker did.

``cases.risk_due`` is the soonest date a case is late from (a step while it moves on, or a deadline
while it is open); ``tasks.key`` is the pathway of the step's case, so the steps of a pathway are
counted without joining the cases. ``audit_events.batch_row`` lets SQLAlchemy insert a transaction's
audit rows in one statement on SQLite as it already did on PostgreSQL.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

RUNNING = "status IN ('running', 'waiting')"
OPEN_CASE = "status IN ('running', 'waiting', 'error', 'suspended')"

BACKFILL_RISK = """
UPDATE cases SET risk_due = CASE
  WHEN status IN ('running', 'waiting') AND next_step_due IS NOT NULL
       AND (next_deadline_due IS NULL OR next_step_due < next_deadline_due) THEN next_step_due
  WHEN status IN ('running', 'waiting', 'error', 'suspended') THEN next_deadline_due
  END
"""


def _month(column: str, dialect: str) -> str:
    return f"to_char({column}, 'YYYY-MM')" if dialect == "postgresql" else f"strftime('%Y-%m', {column})"


def _day(column: str, dialect: str) -> str:
    return f"to_char({column}, 'YYYY-MM-DD')" if dialect == "postgresql" else f"date({column})"


def _rows(alias: str, dialect: str) -> dict[str, tuple[str, str]]:
    """Per kind: the tally's keys (k1, k2, k3) from row ``alias``, and when the row counts."""
    a = alias
    route = f"coalesce({a}.route, {a}.derived_route)"
    achieved = f"CASE WHEN {a}.route IS NOT NULL THEN {a}.achieved_on ELSE {a}.derived_on END"
    return {
        "open_steps": (f"{a}.key, {a}.element, coalesce({a}.role, '')", f"{a}.status = 'open'"),
        "open_due": (f"{a}.key, {a}.element, coalesce({_day(f'{a}.due_date', dialect)}, '')", f"{a}.status = 'open'"),
        "cases": (f"{a}.key, {a}.status, ''", "1 = 1"),
        "tracker_cross": (f"{a}.permanence_option, coalesce({route}, ''), ''", "1 = 1"),
        "tracker_reviewed": (f"{a}.permanence_option, coalesce({_month(f'{a}.second_review_date', dialect)}, ''), ''",
                             "1 = 1"),
        "tracker_achieved": (f"{route}, coalesce({_month(achieved, dialect)}, ''), ''", f"{route} IS NOT NULL"),
    }  # fmt: skip


def _teams(alias: str) -> tuple[str, str]:
    """Each row counts twice: for its own team ('' for none) and for the whole authority ('*')."""
    return f"coalesce({alias}.team, '')", "'*'"


TABLES = {  # table -> (its kinds, the columns whose change moves a row between tallies)
    "tasks": (("open_steps", "open_due"), ("status", "team", "key", "element", "role", "due_date")),
    "cases": (("cases",), ("team", "key", "status")),
    "tracker_children": (("tracker_cross", "tracker_reviewed", "tracker_achieved"),
                         ("team", "permanence_option", "route", "derived_route", "achieved_on", "derived_on",
                          "second_review_date")),
}  # fmt: skip


def _inserts(table: str, alias: str, sign: int, dialect: str) -> list[str]:
    kinds, _ = TABLES[table]
    rows = _rows(alias, dialect)
    found = []
    for kind in kinds:
        keys, when = rows[kind]
        both = " UNION ALL ".join(f"SELECT '{kind}', {team}, {keys}, {sign} WHERE {when}" for team in _teams(alias))
        found.append(f"INSERT INTO tally_deltas (kind, team, k1, k2, k3, n) {both};")
    return found


def _changed(table: str) -> str:
    _, columns = TABLES[table]
    return " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in columns)


def _triggers_postgresql(table: str) -> list[str]:
    body = "\n".join([
        "IF TG_OP <> 'INSERT' THEN", *_inserts(table, "OLD", -1, "postgresql"), "END IF;",
        "IF TG_OP <> 'DELETE' THEN", *_inserts(table, "NEW", 1, "postgresql"), "END IF;",
    ])  # fmt: skip
    columns = ", ".join(TABLES[table][1])
    return [
        f"CREATE FUNCTION tally_{table}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN\n{body}\nRETURN NULL; END $$",
        f"CREATE TRIGGER tally_{table}_insert AFTER INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION tally_{table}()",
        f"CREATE TRIGGER tally_{table}_delete AFTER DELETE ON {table} FOR EACH ROW EXECUTE FUNCTION tally_{table}()",
        f"CREATE TRIGGER tally_{table}_update AFTER UPDATE OF {columns} ON {table} FOR EACH ROW "
        f"WHEN ({_changed(table)}) EXECUTE FUNCTION tally_{table}()",
    ]  # fmt: skip


def _triggers_sqlite(table: str) -> list[str]:
    columns = ", ".join(TABLES[table][1])
    changed = _changed(table).replace("IS DISTINCT FROM", "IS NOT")
    new, old = " ".join(_inserts(table, "NEW", 1, "sqlite")), " ".join(_inserts(table, "OLD", -1, "sqlite"))
    return [
        f"CREATE TRIGGER tally_{table}_insert AFTER INSERT ON {table} BEGIN {new} END",
        f"CREATE TRIGGER tally_{table}_delete AFTER DELETE ON {table} BEGIN {old} END",
        f"CREATE TRIGGER tally_{table}_update AFTER UPDATE OF {columns} ON {table} WHEN {changed} "
        f"BEGIN {old} {new} END",
    ]


def _backfill(dialect: str) -> list[str]:
    found = []
    for table, (kinds, _) in TABLES.items():
        rows = _rows("t", dialect)
        for kind in kinds:
            keys, when = rows[kind]
            for team in _teams("t"):
                found.append(f"INSERT INTO tallies (kind, team, k1, k2, k3, n) SELECT '{kind}', {team}, {keys}, "
                             f"count(*) FROM {table} t WHERE {when} GROUP BY 1, 2, 3, 4, 5")  # fmt: skip
    return found


def upgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    op.add_column('cases', sa.Column('risk_due', sa.Date(), nullable=True))
    bind.execute(sa.text(BACKFILL_RISK))
    op.add_column('tasks', sa.Column('key', sa.String(200), server_default='', nullable=False))
    # a transaction's audit rows in one INSERT on SQLite too (SQLAlchemy matches the ids back by it)
    op.add_column('audit_events', sa.Column('batch_row', sa.Integer(), nullable=True))
    bind.execute(sa.text("UPDATE tasks SET key = (SELECT c.key FROM cases c WHERE c.id = tasks.case_id)"))
    op.create_table(
        'tallies',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(40), nullable=False),
        sa.Column('team', sa.String(100), nullable=False),
        sa.Column('k1', sa.String(200), nullable=False),
        sa.Column('k2', sa.String(200), nullable=False),
        sa.Column('k3', sa.String(200), nullable=False),
        sa.Column('n', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('kind', 'team', 'k1', 'k2', 'k3', name='uq_tallies_kind_team_keys'),
    )
    op.create_table(
        'tally_deltas',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('kind', sa.String(40), nullable=False),
        sa.Column('team', sa.String(100), nullable=False),
        sa.Column('k1', sa.String(200), nullable=False),
        sa.Column('k2', sa.String(200), nullable=False),
        sa.Column('k3', sa.String(200), nullable=False),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_tally_deltas_kind_team', 'tally_deltas', ['kind', 'team'], unique=False)
    for statement in _backfill(dialect):
        bind.execute(sa.text(statement))
    for table in TABLES:
        for statement in (_triggers_postgresql if dialect == "postgresql" else _triggers_sqlite)(table):
            op.execute(statement)
    # cases at risk: each reason counted from its own covering index, the page read in index order
    op.drop_index('ix_cases_next_step_due', table_name='cases')
    op.drop_index('ix_cases_next_deadline_due', table_name='cases')
    keep = ['team', 'key', 'delay_noted']
    # overdue and past a deadline are both late: counted, and the page read in order, from this index alone
    late = ['status', 'next_step_due', 'next_deadline_due', *keep, 'ref', 'id', 'waiting_since', 'updated_at']
    op.create_index('ix_cases_risk_due', 'cases', ['risk_due'], postgresql_include=late,
                    postgresql_where=sa.text("risk_due IS NOT NULL"), sqlite_where=sa.text("risk_due IS NOT NULL"))
    op.create_index('ix_cases_quiet', 'cases', ['updated_at'], postgresql_include=['risk_due', *keep],
                    postgresql_where=sa.text(RUNNING), sqlite_where=sa.text(RUNNING))  # fmt: skip
    op.create_index('ix_cases_open_ref', 'cases', ['ref', 'id'],
                    postgresql_where=sa.text(OPEN_CASE), sqlite_where=sa.text(OPEN_CASE))  # fmt: skip
    # where cases wait: a pathway's overdue steps, and the steps behind one badge in their order
    op.create_index('ix_tasks_open_key_due', 'tasks', ['key', 'due_date'], postgresql_include=['element', 'team'],
                    postgresql_where=sa.text("status = 'open'"), sqlite_where=sa.text("status = 'open'"))
    op.create_index('ix_tasks_open_key_element', 'tasks', ['key', 'element', 'due_date', 'id'],
                    postgresql_include=['team'],
                    postgresql_where=sa.text("status = 'open'"), sqlite_where=sa.text("status = 'open'"))


def downgrade() -> None:
    bind = op.get_bind()
    op.drop_index('ix_tasks_open_key_element', table_name='tasks')
    op.drop_index('ix_tasks_open_key_due', table_name='tasks')
    for name in ('ix_cases_open_ref', 'ix_cases_quiet', 'ix_cases_risk_due'):
        op.drop_index(name, table_name='cases')
    op.create_index('ix_cases_next_deadline_due', 'cases', ['next_deadline_due'], unique=False)
    op.create_index('ix_cases_next_step_due', 'cases', ['next_step_due'], unique=False)
    for table in TABLES:
        for event in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS tally_{table}_{event}" + (
                f" ON {table}" if bind.dialect.name == "postgresql" else ""))  # fmt: skip
        if bind.dialect.name == "postgresql":
            op.execute(f"DROP FUNCTION IF EXISTS tally_{table}()")
    op.drop_index('ix_tally_deltas_kind_team', table_name='tally_deltas')
    op.drop_table('tally_deltas')
    op.drop_table('tallies')
    op.drop_column('audit_events', 'batch_row')  # SQLite 3.35+ drops a column in place (its trigger stays)
    with op.batch_alter_table('tasks') as batch:
        batch.drop_column('key')
    with op.batch_alter_table('cases') as batch:
        batch.drop_column('risk_due')
