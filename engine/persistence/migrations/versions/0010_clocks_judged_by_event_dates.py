"""clocks judged by the date the event happened: met_on, met_late, expected clocks, gates, one clock per step

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02

Existing rows migrate: a met deadline's event date is read from the answers of the step that met
it (the field its diagram names as the event date, else the step's first required date); where
no step recorded one, the day it was recorded stands. Met-late rows become ``met_late``, and a
deadline recorded late for an event held on time becomes ``met``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (no table rebuild): SQLite keeps its rows, indexes and foreign keys as they are.
    op.add_column('deadlines', sa.Column('met_on', sa.Date(), nullable=True))
    op.add_column('deadlines', sa.Column('kind', sa.String(length=20), server_default='deadline', nullable=False))
    op.add_column('deadlines', sa.Column('expected_note', sa.String(length=500), nullable=True))
    if op.get_bind().dialect.name == "sqlite":  # SQLite adds a column's foreign key only inline
        op.execute("ALTER TABLE tasks ADD COLUMN deadline_id INTEGER REFERENCES deadlines (id)")
    else:
        op.add_column('tasks', sa.Column('deadline_id', sa.Integer(), sa.ForeignKey('deadlines.id'), nullable=True))
    _judge_met_rows_by_event_date(op.get_bind())


def _event_field(info: dict[str, Any], element_id: str) -> str | None:
    raw = (info.get("elements") or {}).get(element_id) or {}
    props = raw.get("properties") or {}
    if props.get("event_date"):
        return str(props["event_date"]).strip()
    dates = [f for f in raw.get("form") or [] if f.get("type") == "date"]
    chosen = next((f for f in dates if f.get("required")), dates[0] if dates else None)
    return chosen["id"] if chosen else None


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def _json(value: Any) -> Any:
    import json

    return json.loads(value) if isinstance(value, str) else value


def _judge_met_rows_by_event_date(bind: Any) -> None:
    met = bind.execute(sa.text(
        "SELECT d.id, d.case_id, d.due_date, d.met_by, d.met_at, d.status, c.definition_id FROM deadlines d "
        "JOIN cases c ON c.id = d.case_id WHERE d.met_at IS NOT NULL AND d.status IN ('met', 'breached')"
    )).all()
    infos: dict[int, dict[str, Any]] = {}
    for row_id, case_id, due, met_by, met_at, status, definition_id in met:
        if definition_id not in infos:
            infos[definition_id] = _json(bind.execute(sa.text("SELECT info FROM definitions WHERE id = :i"),
                                                      {"i": definition_id}).scalar())  # fmt: skip
        info, due_day = infos[definition_id], _as_date(due)
        event_day = None
        tasks = bind.execute(sa.text(
            "SELECT element, data FROM tasks WHERE case_id = :c AND status = 'completed' ORDER BY completed_at DESC"
        ), {"c": case_id}).all()
        for element_id, data in tasks:
            if element_id in (_json(met_by) or []):
                name = _event_field(info, element_id)
                event_day = _as_date((_json(data) or {}).get(name)) if name else None
                if event_day:
                    break
        event_day = event_day or _as_date(met_at)
        new_status = "met" if due_day is None or event_day is None or event_day <= due_day else "met_late"
        bind.execute(sa.text("UPDATE deadlines SET met_on = :m, status = :s WHERE id = :i"),
                     {"m": event_day, "s": new_status, "i": row_id})  # fmt: skip


def downgrade() -> None:
    op.get_bind().execute(sa.text("UPDATE deadlines SET status = 'breached' WHERE status = 'met_late'"))
    op.get_bind().execute(sa.text("UPDATE deadlines SET status = 'cancelled' WHERE status IN ('expected', 'gate')"))
    with op.batch_alter_table('tasks') as batch:
        batch.drop_column('deadline_id')
    with op.batch_alter_table('deadlines') as batch:
        batch.drop_column('expected_note')
        batch.drop_column('kind')
        batch.drop_column('met_on')
