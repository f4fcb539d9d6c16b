"""After every engine run: bring task, deadline and case rows in line with the workflow.

This is where the audit trail of a pathway is written: steps opened, completed and withdrawn,
deadlines opened, met and breached, the pathway moving on, errors and completion.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock
from engine.bootstrap import Runtime
from engine.bpmn.definition import DeadlineSpec, ElementInfo
from engine.bpmn.runtime import StepError, StepResult
from engine.calendar import as_date
from engine.domain.states import CaseStatus, DeadlineStatus, TaskStatus
from engine.errors import PathwaysError
from engine.persistence.models import Case, Deadline, HumanTask
from engine.services import outbox
from engine.services._common import SYSTEM, audit, element, jsonable

_QUIET_KINDS = {"exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway"}


class _DueError(PathwaysError):  # a PathwaysError: callers outside sync report its message
    def __init__(self, element_id: str, message: str) -> None:
        super().__init__(message)
        self.element_id = element_id


@dataclass
class _Rows:
    """The case's open steps and unmet deadlines, loaded once per sync and changed in memory."""

    open_tasks: dict[str, HumanTask]
    deadlines: list[Deadline]

    @classmethod
    def load(cls, session: Session, case: Case) -> _Rows:
        return cls.load_many(session, [case.id])[case.id]

    @classmethod
    def load_many(cls, session: Session, case_ids: list[int]) -> dict[int, _Rows]:
        """Two queries for any number of cases (the timer sweep loads a whole batch at once)."""
        # No autoflush: pending inserts (audit rows) then go to the database in one batch at commit.
        # Rows changed in this session but not yet flushed are filtered on their in-memory state.
        found = {case_id: cls(open_tasks={}, deadlines=[]) for case_id in case_ids}
        with session.no_autoflush:
            tasks = session.scalars(
                select(HumanTask).where(HumanTask.case_id.in_(case_ids), HumanTask.status == TaskStatus.OPEN)
            ).all()
            deadlines = session.scalars(
                select(Deadline).where(
                    Deadline.case_id.in_(case_ids),
                    Deadline.met_at.is_(None),
                    Deadline.status.in_((DeadlineStatus.RUNNING, DeadlineStatus.BREACHED)),
                )
            ).all()
        for task in tasks:
            if task.status == TaskStatus.OPEN:
                found[task.case_id].open_tasks[task.spiff_id] = task
        for deadline in deadlines:
            if deadline.met_at is None:
                found[deadline.case_id].deadlines.append(deadline)
        return found


def preload(session: Session, case_ids: list[int]) -> dict[int, _Rows]:
    return _Rows.load_many(session, case_ids)


def sync(
    rt: Runtime, session: Session, case: Case, workflow: Any, result: StepResult, actor: str, rows: _Rows | None = None
) -> None:
    """Record what ``result`` did to ``case`` and save the workflow state (``rows``: preloaded by a batch)."""
    rows = rows or _Rows.load(session, case)
    live = rt.bpmn.live(workflow)
    data = live.data
    error = result.error
    try:
        _record_completions(rt, session, case, rows, result.completed, data, actor)
        _sync_human_tasks(rt, session, case, rows, live.ready, actor)
    except _DueError as exc:
        error = error or StepError(element=exc.element_id, message=str(exc))
    _set_status(rt, session, case, rows, workflow, error or _failed(live), result, actor)
    case.state = rt.bpmn.dump(workflow)
    case.updated_at = clock.utcnow()


def _record_completions(
    rt: Runtime, session: Session, case: Case, rows: _Rows, completed: list[str], data: dict, actor: str
) -> None:
    named = [e for e in completed if e]
    for element_id in named:
        _meet_deadlines(session, case, rows, element_id, actor)
        info = element(case.definition, element_id)
        if info is not None and info.kind == "boundaryEvent" and info.message and info.attached_to:
            _done_by_message(session, case, rows, info, data, actor)
        if info is not None and info.kind != "userTask":
            _open_deadlines(rt, session, case, rows, info, data, actor)
        if info is not None and info.kind == "endEvent":
            _record_outcome(rt, session, case, info, data, actor)
    infos = [element(case.definition, e) for e in named]
    shown = [i.id for i in infos if i is not None and i.kind != "userTask" and i.kind not in _QUIET_KINDS]
    if shown:
        audit(session, case.id, actor, "pathway.advanced", detail=" -> ".join(shown), after={"elements": shown})


def _done_by_message(session: Session, case: Case, rows: _Rows, info: ElementInfo, data: dict, actor: str) -> None:
    """A message on a step (a case-system event) did that step: it is completed, not withdrawn, and meets its clocks."""
    assert info.attached_to is not None
    _meet_deadlines(session, case, rows, info.attached_to, actor)
    step = element(case.definition, info.attached_to)
    fields = [f.id for f in step.form] if step is not None else []
    for spiff_id, row in list(rows.open_tasks.items()):
        if row.element != info.attached_to:
            continue
        values = {name: data.get(name) for name in fields}
        row.status, row.completed_by, row.completed_at = TaskStatus.COMPLETED, actor, clock.utcnow()
        row.data = jsonable(values)
        del rows.open_tasks[spiff_id]
        audit(session, case.id, actor, "task.completed", element=row.element, detail=f"{row.title} ({info.name})",
              before={"status": TaskStatus.OPEN}, after={"status": TaskStatus.COMPLETED, "data": values,
                                                          "message": info.message})  # fmt: skip


def _failed(live: Any) -> StepError | None:
    return StepError(element="", message="a step failed") if live.has_errors else None


def _sync_human_tasks(rt: Runtime, session: Session, case: Case, rows: _Rows, ready_tasks: list, actor: str) -> None:
    ready = {str(t.id): t for t in ready_tasks}
    for spiff_id, row in list(rows.open_tasks.items()):
        if spiff_id not in ready:
            _withdraw(session, case, rows, row, actor)
    for spiff_id, task in ready.items():
        if spiff_id not in rows.open_tasks:
            _open_task(rt, session, case, rows, spiff_id, task.task_spec.bpmn_id, dict(task.data), actor)


def _open_task(
    rt: Runtime, session: Session, case: Case, rows: _Rows, spiff_id: str, element_id: str, data: dict, actor: str
) -> None:
    info = element(case.definition, element_id) or ElementInfo(element_id, "userTask", element_id, "")
    props = info.properties
    row = HumanTask(
        case_id=case.id,
        spiff_id=spiff_id,
        element=element_id,
        title=info.name,
        lane=info.lane,
        role=info.role,
        team=case.team,
        due_date=evaluate_date(rt, element_id, props.get("due"), data),
        not_before=evaluate_date(rt, element_id, props.get("not_before"), data),
        not_before_source=props.get("not_before_source"),
        status=TaskStatus.OPEN,
        created_at=clock.utcnow(),
    )
    session.add(row)
    rows.open_tasks[spiff_id] = row
    audit(
        session, case.id, actor, "task.opened", element=element_id, detail=info.name,
        after={"role": row.role, "due": row.due_date, "not_before": row.not_before},
    )  # fmt: skip
    outbox.emit(session, "task.created", case, task=row, element=element_id, title=info.name, role=row.role,
                team=row.team, due_date=row.due_date)  # fmt: skip
    _open_deadlines(rt, session, case, rows, info, data, actor)


def _withdraw(session: Session, case: Case, rows: _Rows, row: HumanTask, actor: str) -> None:
    row.status = TaskStatus.CANCELLED
    row.completed_at = clock.utcnow()
    del rows.open_tasks[row.spiff_id]
    audit(session, case.id, actor, "task.withdrawn", element=row.element, detail=row.title,
          before={"status": TaskStatus.OPEN}, after={"status": TaskStatus.CANCELLED})  # fmt: skip
    for deadline in [d for d in rows.deadlines if d.key == row.element and d.status == DeadlineStatus.RUNNING]:
        deadline.status = DeadlineStatus.CANCELLED
        rows.deadlines.remove(deadline)
        audit(session, case.id, actor, "deadline.cancelled", element=row.element, detail=deadline.name)


def evaluate_date(rt: Runtime, element_id: str, expression: str | None, data: dict) -> date | None:
    if not expression:
        return None
    try:
        value = rt.bpmn.evaluate(expression, data)
        return None if value is None else as_date(value)  # None: not applicable to this case
    except Exception as exc:
        raise _DueError(element_id, f"could not work out the date '{expression}' on {element_id}: {exc}") from None


def _open_deadlines(
    rt: Runtime, session: Session, case: Case, rows: _Rows, info: ElementInfo, data: dict, actor: str
) -> None:
    for spec in info.deadlines():
        due = evaluate_date(rt, info.id, spec.due, data)
        if due is None:
            continue
        _move_earlier(session, case, rows, spec.key, due, info.id, actor)
        row = _deadline_row(case, info, spec, due)
        session.add(row)
        rows.deadlines.append(row)
        audit(session, case.id, actor, "deadline.opened", element=info.id, detail=spec.name,
              after={"key": spec.key, "due": due, "source": spec.source, "status": spec.status})  # fmt: skip


def _move_earlier(session: Session, case: Case, rows: _Rows, key: str, due: date, element_id: str, actor: str) -> None:
    """Reaching a deadline's element again recomputes it: the running row is replaced, not reset."""
    for old in [d for d in rows.deadlines if d.key == key]:
        old.status = DeadlineStatus.MOVED
        rows.deadlines.remove(old)
        audit(session, case.id, actor, "deadline.moved", element=element_id, detail=old.name,
              before={"due": old.due_date}, after={"due": due})  # fmt: skip


def _deadline_row(case: Case, info: ElementInfo, spec: DeadlineSpec, due: date) -> Deadline:
    return Deadline(
        case_id=case.id,
        key=spec.key,
        name=spec.name,
        element=info.id,
        due_date=due,
        source=spec.source,
        rule_status=spec.status,
        anchor=spec.anchor,
        met_by=spec.met_by,
        status=DeadlineStatus.RUNNING,
        started_at=clock.utcnow(),
    )


def _meet_deadlines(session: Session, case: Case, rows: _Rows, element_id: str, actor: str) -> None:
    today = clock.london_today()
    for deadline in [d for d in rows.deadlines if element_id in d.met_by]:
        first_breach = deadline.status == DeadlineStatus.RUNNING and today > deadline.due_date
        deadline.met_at = clock.utcnow()
        deadline.status = DeadlineStatus.MET if today <= deadline.due_date else DeadlineStatus.BREACHED
        rows.deadlines.remove(deadline)
        if first_breach:  # met late before the sweep saw it pass: still a breach for subscribers
            breached(session, case, deadline)
        audit(session, case.id, actor, f"deadline.{deadline.status}", element=element_id, detail=deadline.name,
              after={"due": deadline.due_date, "met_on": today})  # fmt: skip


def breached(session: Session, case: Case, deadline: Deadline) -> None:
    """Tell subscribers of a declared deadline's breach (a step's own due date is its task.overdue)."""
    if deadline.key == deadline.element:
        return
    outbox.emit(session, "deadline.breached", case, deadline=deadline, key=deadline.key, name=deadline.name,
                element=deadline.element, due_date=deadline.due_date, source=deadline.source)  # fmt: skip


def _set_status(
    rt: Runtime,
    session: Session,
    case: Case,
    rows: _Rows,
    workflow: Any,
    error: StepError | None,
    result: StepResult,
    actor: str,
) -> None:
    before = case.status
    if error is not None:
        case.status, case.error_message, case.error_element = CaseStatus.ERROR, error.message, error.element
        case.next_timer_due = None
        if before != CaseStatus.ERROR:
            audit(session, case.id, actor, "case.error", element=error.element or None, detail=error.message,
                  before={"status": before}, after={"status": CaseStatus.ERROR})  # fmt: skip
        return
    case.error_message = case.error_element = None
    if rt.bpmn.is_completed(workflow):
        _complete_case(session, case, rows, result, actor)
        return
    case.status = CaseStatus.RUNNING if rows.open_tasks else CaseStatus.WAITING
    case.next_timer_due = rt.bpmn.next_timer_due(workflow)


def _record_outcome(rt: Runtime, session: Session, case: Case, info: ElementInfo, data: dict, actor: str) -> None:
    props = info.properties
    if props.get("outcome"):
        detail = _evaluate(rt, info.id, props.get("outcome_detail"), data)
        case.outcome = f"{props['outcome']}: {detail}" if detail else props["outcome"]
        audit(session, case.id, actor, "case.outcome", element=info.id, detail=case.outcome)
    if props.get("start_pathway"):
        follow_on = _evaluate(rt, info.id, props.get("start_pathway_data"), data) or {}
        _start_follow_on(rt, session, case, props["start_pathway"], follow_on, info.id, actor)


def _evaluate(rt: Runtime, element_id: str, expression: str | None, data: dict) -> Any:
    if not expression:
        return None
    try:
        return rt.bpmn.evaluate(expression, data)
    except Exception as exc:
        raise _DueError(element_id, f"could not work out '{expression}' on {element_id}: {exc}") from None


def _start_follow_on(
    rt: Runtime, session: Session, case: Case, key: str, data: dict, element_id: str, actor: str
) -> None:
    """Start the next pathway for the same child; a failure is recorded, never lost or fatal."""
    from engine.services.cases import open_case

    try:
        with session.begin_nested():
            started = open_case(rt, session, key, case.ref, jsonable(data), actor, team=case.team)
        audit(session, case.id, actor, "case.follow_on_started", element=element_id,
              detail=f"{key} started as case {started.id}", after={"key": key, "case": started.id})  # fmt: skip
    except PathwaysError as exc:
        audit(session, case.id, actor, "case.follow_on_failed", element=element_id,
              detail=f"{key} could not start: {exc.message}", after={"key": key, "data": data})  # fmt: skip


def _complete_case(session: Session, case: Case, rows: _Rows, result: StepResult, actor: str) -> None:
    before = case.status
    case.status, case.next_timer_due, case.ended_at = CaseStatus.COMPLETED, None, clock.utcnow()
    for deadline in [d for d in rows.deadlines if d.status == DeadlineStatus.RUNNING]:
        deadline.status = DeadlineStatus.CANCELLED
        audit(session, case.id, actor, "deadline.cancelled", element=deadline.element, detail=deadline.name)
    outbox.emit(session, "case.completed", case, outcome=case.outcome)
    audit(session, case.id, actor or SYSTEM, "case.completed", detail=case.outcome,
          before={"status": before}, after={"status": CaseStatus.COMPLETED, "outcome": case.outcome})  # fmt: skip
