"""Each case's summary of its open steps and unmet deadlines, kept on its ``cases`` row.

Managers' lists rank every case in their scope (a head of service: the whole authority). Working
the ranking out by aggregating every open step and deadline grew with the authority (1.5 s at
100,000 cases, issue 18); with the summary on the row it is one indexed select over ``cases``.

The summary is kept by the session, never by the services: whatever changes a step (opened,
done, withdrawn, its due date moved, a reason for delay) or a deadline (met, cancelled, moved), or
a case's status, marks the case; before the transaction commits, one UPDATE recomputes the marked
cases' summaries from their rows, in the same transaction (so it can never disagree with them
once committed). ``risk_due`` is the soonest of the two that makes a case late (cases at risk are
ranked by it). Every write to steps and deadlines goes through the ORM; the migration that
added the columns, and a benchmark that writes rows by COPY, call :func:`refresh` themselves.

A service that has every open step and unmet deadline of a case in memory (the engine's sync
loads them under the case's row lock) says so with :func:`track`; the summary is then worked out
from those rows and written in the case's own UPDATE, with no statement of its own (issue 18).
It falls back to the UPDATE whenever the session holds a step or deadline of that case, counted
in the summary, that the service did not have in hand.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from typing import Any, cast

from sqlalchemy import Connection, Table, and_, case, event, func, inspect, select, update
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.base import NO_VALUE

from engine.persistence.models import Case, Deadline, HumanTask

_WATCHED: dict[type, tuple[str, ...]] = {
    HumanTask: ("status", "due_date", "delay_reason", "created_at", "case_id"),
    Deadline: ("status", "met_at", "due_date", "delay_reason", "case_id"),
    Case: ("status",),
}
_MARKED = "pathways.summary_marked"
_KNOWN = "pathways.summary_known"
RUNNING = ("running", "waiting")  # domain.states: a case that moves on
ACTIVE = ("running", "waiting", "error", "suspended")
UNMET = ("running", "breached")


def _statement(case_ids: list[int] | None) -> Any:
    tasks, deadlines = HumanTask.__table__, Deadline.__table__
    cases = cast(Table, Case.__table__)
    open_step = and_(tasks.c.case_id == cases.c.id, tasks.c.status == "open")
    unmet = and_(deadlines.c.case_id == cases.c.id, deadlines.c.status.in_(UNMET), deadlines.c.met_at.is_(None))
    step_due = select(func.min(tasks.c.due_date)).where(open_step).scalar_subquery()
    deadline_due = select(func.min(deadlines.c.due_date)).where(unmet).scalar_subquery()
    late_step = case((cases.c.status.in_(RUNNING), step_due), else_=None)
    late_deadline = case((cases.c.status.in_(ACTIVE), deadline_due), else_=None)
    statement = update(cases).values(
        next_step_due=step_due,
        next_deadline_due=deadline_due,
        risk_due=case((late_step.is_(None), late_deadline), (late_deadline.is_(None), late_step),
                      (late_step < late_deadline, late_step), else_=late_deadline),
        waiting_since=select(func.min(tasks.c.created_at)).where(open_step).scalar_subquery(),
        # counts, not EXISTS: PostgreSQL plans an EXISTS under OR as a scan of the whole table per case
        delay_noted=case(
            (select(func.count()).where(open_step, tasks.c.delay_reason.is_not(None)).scalar_subquery()
             + select(func.count()).where(unmet, deadlines.c.delay_reason.is_not(None)).scalar_subquery() > 0, True),
            else_=False,
        ),
    )  # fmt: skip
    return statement if case_ids is None else statement.where(cases.c.id.in_(case_ids))


def refresh(conn: Connection | Session, case_ids: list[int] | None = None) -> None:
    """Recompute the summaries of ``case_ids`` (every case: None) from their steps and deadlines."""
    if case_ids is None or case_ids:
        conn.execute(_statement(sorted(case_ids) if case_ids is not None else None))


def _changed(obj: Any) -> bool:
    """Whether a watched column was given a different value (from the values the object had when read:
    what its attribute history says, without building the history of every attribute; issue 18)."""
    state = inspect(obj)
    before, now = state.committed_state, state.dict
    return any(name in before and (before[name] is NO_VALUE or before[name] != now.get(name))
               for name in _WATCHED[type(obj)])  # fmt: skip


def _mark(session: Session, flush_context: Any, instances: Any) -> None:
    marked: list[Any] = session.info.setdefault(_MARKED, [])
    for obj in session.new:
        if type(obj) in _WATCHED:
            marked.append(obj)
    for obj in session.dirty:
        if type(obj) in _WATCHED and _changed(obj):
            marked.append(obj)


def _case_id(obj: Any) -> int | None:
    return obj.id if isinstance(obj, Case) else obj.case_id


def track(session: Session, case: Case, members: Callable[[], Iterable[Any]]) -> None:
    """``members()`` gives, at commit, every step and deadline of ``case`` that can count in its summary."""
    if case.id is not None:
        session.info.setdefault(_KNOWN, {})[case.id] = (case, members)


def _counted(obj: Any) -> bool:
    if isinstance(obj, HumanTask):
        return obj.status == "open"
    return isinstance(obj, Deadline) and obj.status in UNMET and obj.met_at is None


def _earliest(values: Iterable[Any]) -> Any:
    return min((v for v in values if v is not None), default=None)


def risk_due(status: str, step_due: date | None, deadline_due: date | None) -> date | None:
    """The soonest date a case is late from: its soonest step's while it moves on, its soonest
    deadline's while it is open (running, waiting, in error or suspended)."""
    return _earliest([step_due if status in RUNNING else None, deadline_due if status in ACTIVE else None])


def _settle(session: Session, marked: list[Any]) -> set[int]:
    """Write the summary of each tracked case from its rows in hand; the ids settled so."""
    known: dict[int, tuple[Case, Callable[[], Iterable[Any]]]] = session.info.pop(_KNOWN, {})
    if not known:
        return set()
    held = {case_id: {id(obj): obj for obj in members()} for case_id, (_case, members) in known.items()}
    others = [o for o in (*session.new, *session.dirty, *marked) if type(o) in (HumanTask, Deadline) and _counted(o)]
    if any(o.case_id is None for o in others):  # a row not yet tied to its case: cannot tell whose
        return set()
    unsure = {o.case_id for o in others if o.case_id in held and id(o) not in held[o.case_id]}
    settled = set()
    for case_id, (row, _members) in known.items():
        if case_id in unsure or row not in session:
            continue
        rows = [o for o in held[case_id].values() if _counted(o)]
        tasks = [o for o in rows if isinstance(o, HumanTask)]
        deadlines = [o for o in rows if isinstance(o, Deadline)]
        step_due, deadline_due = _earliest(t.due_date for t in tasks), _earliest(d.due_date for d in deadlines)
        values = {
            "next_step_due": step_due,
            "next_deadline_due": deadline_due,
            "risk_due": risk_due(row.status, step_due, deadline_due),
            "waiting_since": _earliest(t.created_at for t in tasks),
            "delay_noted": any(o.delay_reason is not None for o in rows),
        }
        for name, value in values.items():
            if getattr(row, name) != value:
                setattr(row, name, value)
        settled.add(case_id)
    return settled


def _apply(session: Session) -> None:
    settled = _settle(session, session.info.get(_MARKED, []))
    session.flush()  # the last changes first: their rows are what the summary is worked out from
    marked = session.info.pop(_MARKED, [])
    ids = sorted({i for i in (_case_id(obj) for obj in marked) if i is not None} - settled)
    if ids:
        refresh(session.connection(), ids)


def _forget(session: Session, *_: Any) -> None:
    session.info.pop(_MARKED, None)
    session.info.pop(_KNOWN, None)


def install(sessions: sessionmaker[Session]) -> None:
    """Keep the summaries in every session these make."""
    event.listen(sessions, "before_flush", _mark)
    event.listen(sessions, "before_commit", _apply)
    event.listen(sessions, "after_rollback", _forget)
    event.listen(sessions, "after_soft_rollback", lambda session, _previous: session.info.pop(_KNOWN, None))
