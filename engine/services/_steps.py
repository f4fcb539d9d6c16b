"""After every engine run: bring task, deadline and case rows in line with the workflow.

This is where the audit trail of a pathway is written: steps opened, completed and withdrawn,
deadlines opened, met and breached, the pathway moving on, errors and completion.
"""

from __future__ import annotations

import ast
import functools
import logging
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import and_, bindparam, func, literal, select, union_all
from sqlalchemy.orm import Session, lazyload

from engine import clock
from engine.bootstrap import Runtime
from engine.bpmn.definition import DeadlineSpec, ElementInfo
from engine.bpmn.runtime import StepError, StepResult
from engine.calendar import as_date
from engine.domain.states import CaseStatus, DeadlineKind, DeadlineStatus, TaskStatus
from engine.errors import PathwaysError
from engine.persistence import summary
from engine.persistence.database import flush_count
from engine.persistence.models import AuditEvent, Case, Deadline, HumanTask, Notification
from engine.services import outbox
from engine.services._common import SYSTEM, audit, element, jsonable, recorded_answers
from engine.services.recipients import email_recipients

log = logging.getLogger(__name__)
_QUIET_KINDS = {"exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway"}
LIVE_CLOCKS = (DeadlineStatus.RUNNING, DeadlineStatus.BREACHED, DeadlineStatus.EXPECTED, DeadlineStatus.GATE)


class _DueError(PathwaysError):  # a PathwaysError: callers outside sync report its message
    def __init__(self, element_id: str, message: str) -> None:
        super().__init__(message)
        self.element_id = element_id


@dataclass
class _Answers:
    """The stored answers of a batch's cases, read at the first end event that needs them, for all at once.

    Read without flushing; read again if anything was flushed since (what was pending is then stored)."""

    case_ids: list[int]
    read: dict[int, list[tuple[int, Any]]] | None = None
    flushes: int = -1

    def stored(self, session: Session, case_id: int) -> list[tuple[int, Any]]:
        if self.read is None or self.flushes != flush_count(session):
            with session.no_autoflush:
                found = session.execute(
                    select(HumanTask.case_id, HumanTask.id, HumanTask.data)
                    .where(HumanTask.case_id.in_(self.case_ids), HumanTask.status == TaskStatus.COMPLETED)
                    .order_by(HumanTask.case_id, HumanTask.completed_at, HumanTask.id)
                ).all()  # fmt: skip
            self.read, self.flushes = {i: [] for i in self.case_ids}, flush_count(session)
            for owner, task_id, values in found:
                self.read[owner].append((task_id, values))
        return self.read.get(case_id, [])


@dataclass
class _Rows:
    """The case's open steps and unmet deadlines, loaded once per sync and changed in memory."""

    open_tasks: dict[str, HumanTask]
    deadlines: list[Deadline]
    answers: _Answers  # shared by a batch's cases
    loaded: list[HumanTask | Deadline] = field(default_factory=list)  # as read: the summary's rows in hand

    def in_hand(self) -> list[HumanTask | Deadline]:
        """Every open step and unmet deadline of the case, whatever this sync did to them."""
        return [*self.loaded, *self.open_tasks.values(), *self.deadlines]

    @classmethod
    def load(cls, session: Session, case: Case) -> _Rows:
        return cls.load_many(session, [case.id])[case.id]

    @classmethod
    def load_many(cls, session: Session, case_ids: list[int]) -> dict[int, _Rows]:
        """One query on PostgreSQL (two on SQLite) for any number of cases (a timer batch loads at once)."""
        # No autoflush: pending inserts (audit rows) then go to the database in one batch at commit.
        # Rows changed in this session but not yet flushed are filtered on their in-memory state.
        answers = _Answers(list(case_ids))
        found = {case_id: cls(open_tasks={}, deadlines=[], answers=answers) for case_id in case_ids}
        dialect = session.get_bind().dialect.name
        with session.no_autoflush:  # the cases are loaded already: never join them (and their diagrams) again
            if dialect == "postgresql":
                both = session.execute(_rows_select(dialect)[0], {"case_ids": list(case_ids)}).all()
                tasks = [task for task, _ in both if task is not None]
                deadlines = [deadline for _, deadline in both if deadline is not None]
            else:  # no round trips on SQLite: two plain selects cost less there
                open_steps, live = _rows_select(dialect)
                tasks = list(session.scalars(open_steps, {"case_ids": list(case_ids)}))
                deadlines = list(session.scalars(live, {"case_ids": list(case_ids)}))
        in_hand: list[HumanTask | Deadline] = [*tasks, *deadlines]
        for row in in_hand:
            found[row.case_id].loaded.append(row)
        for task in tasks:
            if task.status == TaskStatus.OPEN:
                found[task.case_id].open_tasks[task.spiff_id] = task
        for deadline in deadlines:
            if deadline.met_at is None:
                found[deadline.case_id].deadlines.append(deadline)
        return found


@functools.cache  # built once per dialect: building them cost more than a round trip (issue 18)
def _rows_select(dialect: str) -> tuple[Any, ...]:
    """A case's open steps and live clocks: one select on PostgreSQL, two on SQLite (bound by ``case_ids``)."""
    case_ids: Any = bindparam("case_ids", expanding=True)
    open_steps = and_(HumanTask.case_id.in_(case_ids), HumanTask.status == TaskStatus.OPEN)
    live = and_(Deadline.case_id.in_(case_ids), Deadline.met_at.is_(None), Deadline.status.in_(LIVE_CLOCKS))
    if dialect != "postgresql":
        return select(HumanTask).where(open_steps).options(lazyload(HumanTask.case)), select(Deadline).where(live)
    # one select for both, a round trip less on every completion (issue 18): a row per open step and
    # per live clock, each joined to its own one of two constant rows
    kinds = union_all(select(literal(1).label("n")), select(literal(2).label("n"))).subquery("kinds")
    both = (
        select(HumanTask, Deadline).select_from(kinds)
        .outerjoin(HumanTask, and_(kinds.c.n == 1, open_steps))
        .outerjoin(Deadline, and_(kinds.c.n == 2, live))
        .options(lazyload(HumanTask.case))
    )  # fmt: skip
    return (both,)


def preload(session: Session, case_ids: list[int]) -> dict[int, _Rows]:
    return _Rows.load_many(session, case_ids)


def sync(
    rt: Runtime, session: Session, case: Case, workflow: Any, result: StepResult, actor: str, rows: _Rows | None = None
) -> None:
    """Record what ``result`` did to ``case`` and save the workflow state (``rows``: preloaded by a batch)."""
    rows = rows or _Rows.load(session, case)
    summary.track(session, case, rows.in_hand)
    live = rt.bpmn.live(workflow)
    data = live.data
    error = result.error
    try:
        _record_completions(rt, session, case, rows, result.completed, data, actor)
        _sync_human_tasks(rt, session, case, rows, live.ready, actor)
        if result.completed:
            _refresh_expected(rt, session, case, rows, data, actor)
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
        _meet_deadlines(session, case, rows, element_id, data, actor)
        _end_deadlines(session, case, rows, element_id, actor)
        info = element(case.definition, element_id)
        if info is not None and info.kind == "boundaryEvent" and info.message and info.attached_to:
            _done_by_message(session, case, rows, info, data, actor)
        if info is not None and info.own_event:
            _event_happened(session, case, info, data, actor)
        if info is not None and info.kind != "userTask":
            _open_deadlines(rt, session, case, rows, info, data, actor)
        if info is not None and info.kind == "endEvent":
            _record_outcome(rt, session, case, rows, info, data, actor)
        if info is not None and info.alert_roles:
            _raise_alert(rt, session, case, info, actor)
    infos = [element(case.definition, e) for e in named]
    shown = [i.id for i in infos if i is not None and i.kind != "userTask" and i.kind not in _QUIET_KINDS]
    if shown:
        audit(session, case.id, actor, "pathway.advanced", detail=" -> ".join(shown), after={"elements": shown})


def _done_by_message(session: Session, case: Case, rows: _Rows, info: ElementInfo, data: dict, actor: str) -> None:
    """A message on a step (a case-system event) did that step: it is completed, not withdrawn, and meets its clocks."""
    assert info.attached_to is not None
    _meet_deadlines(session, case, rows, info.attached_to, data, actor)
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


def _event_happened(session: Session, case: Case, info: ElementInfo, data: dict, actor: str) -> None:
    """An event of its own (a withdrawal of consent after placement) is kept as a done step with the
    date it records, so the plan, the history and later forms' date checks know when it happened."""
    values = {f.id: data.get(f.id) for f in info.form}
    now = clock.utcnow()
    session.add(HumanTask(case_id=case.id, key=case.key, spiff_id=str(uuid.uuid4()), element=info.id, title=info.name,
                          lane=info.lane, role=info.role, team=case.team, status=TaskStatus.COMPLETED,
                          created_at=now, completed_at=now, completed_by=actor, data=jsonable(values)))  # fmt: skip
    audit(session, case.id, actor, "task.completed", element=info.id, detail=info.name,
          after={"status": TaskStatus.COMPLETED, "data": values, "message": info.message})  # fmt: skip


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
    own_due = evaluate_date(rt, element_id, props.get("due"), data)
    serves = _served_clock(rows, element_id, own_due)
    row = HumanTask(
        case_id=case.id,
        key=case.key,
        spiff_id=spiff_id,
        element=element_id,
        title=info.name,
        lane=info.lane,
        role=info.role,
        team=case.team,
        due_date=own_due if own_due is not None or serves is None else serves.due_date,
        not_before=evaluate_date(rt, element_id, props.get("not_before"), data),
        not_before_source=props.get("not_before_source"),
        status=TaskStatus.OPEN,
        created_at=clock.utcnow(),
        serves=serves,
    )
    session.add(row)
    rows.open_tasks[spiff_id] = row
    audit(
        session, case.id, actor, "task.opened", element=element_id, detail=info.name,
        after={"role": row.role, "due": row.due_date, "not_before": row.not_before},
    )  # fmt: skip
    outbox.emit(session, "task.created", case, task=row, element=element_id, title=info.name, role=row.role,
                team=row.team, due_date=row.due_date)  # fmt: skip
    _open_deadlines(rt, session, case, rows, info, data, actor, skip_own=serves is not None)


def _served_clock(rows: _Rows, element_id: str, own_due: date | None) -> Deadline | None:
    """The live declared deadline a step meets on the same date (or the step has no date of its own).

    The step then has no clock of its own: one clock, one row, one ladder, one reason for delay
    (issue 16: "First CLA review" and "Hold the first CLA review" were both breached and escalated).
    A step with a different date of its own (a 5-day target inside a longer statutory clock) keeps it."""
    served = [d for d in rows.deadlines if d.key != d.element and d.kind == DeadlineKind.DEADLINE
              and element_id in (d.met_by or []) and d.status != DeadlineStatus.EXPECTED
              and (own_due is None or d.due_date == own_due)]  # fmt: skip
    return min(served, key=lambda d: d.due_date) if served else None


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
    rt: Runtime,
    session: Session,
    case: Case,
    rows: _Rows,
    info: ElementInfo,
    data: dict,
    actor: str,
    skip_own: bool = False,
) -> None:
    for spec in info.deadlines():
        if skip_own and spec.key == info.id:
            continue
        due, note = plan_date(rt, case, rows, info.id, spec, data)
        if due is None:
            continue
        _move_earlier(session, case, rows, spec.key, due, info.id, actor)
        row = _deadline_row(case, info, spec, due, note)
        session.add(row)
        rows.deadlines.append(row)
        audit(session, case.id, actor, "deadline.opened", element=info.id, detail=spec.name,
              after={"key": spec.key, "due": due, "source": spec.source, "status": spec.status,
                     "clock": row.status, "expected_from": note})  # fmt: skip


def _free_names(expression: str) -> set[str]:
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError:
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


_PRODUCERS: dict[tuple[int, str], dict[str, ElementInfo]] = {}  # a published definition never changes


def _producers(case: Case) -> dict[str, ElementInfo]:
    """Case dates recorded by a step (its event date field), by field: what an expected clock waits for."""
    cache_key = (case.definition.id, case.definition.checksum)
    if cache_key in _PRODUCERS:
        return _PRODUCERS[cache_key]
    found: dict[str, ElementInfo] = {}
    for raw in case.definition.info["elements"].values():
        if raw.get("kind") == "userTask":
            info = ElementInfo.from_dict(raw)
            if info.event_field:
                found.setdefault(info.event_field, info)
    if len(_PRODUCERS) > 200:
        _PRODUCERS.clear()
    _PRODUCERS[cache_key] = found
    return found


def plan_date(rt: Runtime, case: Case, rows: _Rows, element_id: str, spec: DeadlineSpec, data: dict,
              depth: int = 0) -> tuple[date | None, str | None]:  # fmt: skip
    """A clock's date, and (for an expected one) what it is worked out from; (None, None): not this case's.

    A clock whose anchor is a step's date not yet recorded (the first review) is *expected*: the
    anchor is taken as that step's own due date (its clock's, if one is live), and the note says so."""
    waiting = sorted(n for n in _free_names(spec.due) if data.get(n) is None and n in _producers(case))
    if not waiting:
        return evaluate_date(rt, element_id, spec.due, data), None
    if spec.expected:
        return evaluate_date(rt, element_id, spec.expected, data), spec.expected_note or "expected"
    assumed, notes = dict(data), []
    for name in waiting:
        step = _producers(case)[name]
        day = _expected_day(rt, case, rows, step, data, depth)
        if day is None:
            return None, None  # its anchor cannot be foreseen yet: shown once it can
        assumed[name] = day
        notes.append(f"{step.name} by {day:%-d %B %Y}")
    try:
        due = rt.bpmn.evaluate(spec.due, assumed)
    except Exception:
        return None, None
    return (as_date(due) if due is not None else None), "expected: " + "; ".join(notes)


def _expected_day(rt: Runtime, case: Case, rows: _Rows, step: ElementInfo, data: dict, depth: int) -> date | None:
    """When a step not yet done is due: the live clock it meets, else its own due rule (itself perhaps expected)."""
    live = [d.due_date for d in rows.deadlines if step.id in (d.met_by or []) and d.kind == DeadlineKind.DEADLINE]
    if live:
        return min(live)
    own = next((s for s in step.deadlines() if s.key == step.id), None)
    if own is None or depth >= 3:
        return None
    try:
        return plan_date(rt, case, rows, step.id, own, data, depth + 1)[0]
    except _DueError:  # that step's own date cannot be worked out for this case (it may never come)
        return None


def spec_of(case: Case, row: Deadline) -> DeadlineSpec | None:
    """The diagram's rule for a clock row (where it was opened, by its key)."""
    info = element(case.definition, row.element)
    return next((s for s in info.deadlines() if s.key == row.key), None) if info is not None else None


def _refresh_expected(rt: Runtime, session: Session, case: Case, rows: _Rows, data: dict, actor: str) -> None:
    """After a step: an expected clock whose event has happened becomes firm; the others are re-worked out."""
    for row in [d for d in rows.deadlines if d.status == DeadlineStatus.EXPECTED]:
        spec = spec_of(case, row)
        if spec is None:
            continue
        due, note = plan_date(rt, case, rows, row.element, spec, data)
        if due is None:
            continue
        before = {"due": row.due_date, "clock": row.status}
        if note is None:
            row.status = DeadlineStatus.GATE if row.kind == DeadlineKind.GATE else DeadlineStatus.RUNNING
            row.due_date, row.expected_note = due, None
            audit(session, case.id, actor, "deadline.firm", element=row.element, detail=row.name, before=before,
                  after={"due": due, "clock": row.status})  # fmt: skip
        elif due != row.due_date:
            row.due_date, row.expected_note = due, note
            audit(session, case.id, actor, "deadline.expected_moved", element=row.element, detail=row.name,
                  before=before, after={"due": due, "expected_from": note})  # fmt: skip


def _move_earlier(session: Session, case: Case, rows: _Rows, key: str, due: date, element_id: str, actor: str) -> None:
    """Reaching a deadline's element again recomputes it: the running row is replaced, not reset."""
    for old in [d for d in rows.deadlines if d.key == key]:
        old.status = DeadlineStatus.MOVED
        rows.deadlines.remove(old)
        audit(session, case.id, actor, "deadline.moved", element=element_id, detail=old.name,
              before={"due": old.due_date}, after={"due": due})  # fmt: skip


def _deadline_row(case: Case, info: ElementInfo, spec: DeadlineSpec, due: date, note: str | None) -> Deadline:
    gate = spec.kind == DeadlineKind.GATE
    status = DeadlineStatus.EXPECTED if note else (DeadlineStatus.GATE if gate else DeadlineStatus.RUNNING)
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
        status=status,
        started_at=clock.utcnow(),
        kind=DeadlineKind.GATE if gate else DeadlineKind.DEADLINE,
        expected_note=note,
    )


def event_day(case: Case, element_id: str, data: dict) -> date | None:
    """The date ``element_id``'s event happened, as its form (or the message standing in for it) records it."""
    info = element(case.definition, element_id)
    name = info.event_field if info is not None else None
    value = data.get(name) if name else None
    try:
        return as_date(value) if value else None
    except (TypeError, ValueError):
        return None


def _meet_deadlines(session: Session, case: Case, rows: _Rows, element_id: str, data: dict, actor: str) -> None:
    """Clocks met by ``element_id``, judged by the date its event happened, not the day it was typed."""
    today = clock.london_today()
    happened = event_day(case, element_id, data) or today
    for deadline in [d for d in rows.deadlines if element_id in d.met_by]:
        late = happened > deadline.due_date and deadline.kind == DeadlineKind.DEADLINE
        first_breach = late and deadline.status in (DeadlineStatus.RUNNING, DeadlineStatus.EXPECTED)
        before = deadline.status
        deadline.met_at, deadline.met_on = clock.utcnow(), happened
        deadline.status = DeadlineStatus.MET_LATE if late else DeadlineStatus.MET
        deadline.expected_note = None
        rows.deadlines.remove(deadline)
        if first_breach:  # met late before the sweep saw it pass: still a breach for subscribers
            breached(session, case, deadline)
        audit(session, case.id, actor, f"deadline.{deadline.status}", element=element_id, detail=deadline.name,
              before={"clock": before},
              after={"due": deadline.due_date, "met_on": happened, "recorded_on": today})  # fmt: skip


def _end_deadlines(session: Session, case: Case, rows: _Rows, element_id: str, actor: str) -> None:
    """Clocks ``element_id`` makes no longer owed (``ends_by``: placed before the not-placed review was due)."""
    for deadline in list(rows.deadlines):
        spec = spec_of(case, deadline)
        if spec is None or element_id not in spec.ends_by:
            continue
        before, deadline.status = deadline.status, DeadlineStatus.CANCELLED
        rows.deadlines.remove(deadline)
        step = element(case.definition, element_id)
        audit(session, case.id, actor, "deadline.cancelled", element=element_id,
              detail=f"{deadline.name}: no longer owed ({step.name if step else element_id})",
              before={"clock": before}, after={"clock": DeadlineStatus.CANCELLED})  # fmt: skip


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
            _tell_of_error(session, case, error)
        return
    case.error_message = case.error_element = None
    if rt.bpmn.is_completed(workflow):
        _complete_case(session, case, rows, result, actor)
        return
    case.status = CaseStatus.RUNNING if rows.open_tasks else CaseStatus.WAITING
    case.next_timer_due = rt.bpmn.next_timer_due(workflow)


def _tell_of_error(session: Session, case: Case, error: StepError) -> None:
    """A case in error is never silent: the log names the case, and the team's managers are told in the app."""
    step = element(case.definition, error.element) if error.element else None
    where = f" at '{step.name}'" if step is not None else ""
    log.warning("event=case_error case=%s key=%s id=%s element=%s message=%r", case.ref, case.key, case.id,
                error.element or "-", error.message)  # fmt: skip
    errors_so_far = session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.case_id == case.id, AuditEvent.action == "case.error")) or 0  # fmt: skip
    session.add(Notification(
        key=f"case:{case.id}:error:{errors_so_far + 1}", case_id=case.id, channel="in_app",
        recipient_role="team_manager", recipient_team=case.team, subject=f"Problem: {case.ref} stopped{where}",
        body=f"{case.ref}'s {case.definition.name} pathway stopped{where}: {error.message}. "
             "Retry it from the case page once the cause is fixed; nothing recorded is lost.",
        link=f"/cases/{case.id}", status="unread", attempts=0, created_at=clock.utcnow(),
    ))  # fmt: skip


def _raise_alert(rt: Runtime, session: Session, case: Case, info: ElementInfo, actor: str) -> None:
    """An alert the diagram raises (property ``alert``: the roles told), in the app and by email to
    each role of the case's team, at once; audited. Each passage through the element is one alert:
    the key counts the alerts already raised there, and the case row is locked while it is counted."""
    raised = session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.case_id == case.id, AuditEvent.action == "alert.raised",
        AuditEvent.element == info.id)) or 0  # fmt: skip
    number = raised + 1
    title = info.properties.get("alert_subject", "").strip() or info.name
    subject = f"Alert: {case.ref} {title}"
    source = info.properties.get("alert_source", "").strip()
    link = f"{rt.settings.app_url}/cases/{case.id}"
    body = (f"Child {case.ref} ({case.definition.name}): {title}.\n{info.documentation}\n"
            + (f"Source: {source}.\n" if source else "") + f"{link}\n")  # fmt: skip
    now = clock.utcnow()
    for role in info.alert_roles:
        key = f"alert:{case.id}:{info.id}:{number}"
        session.add(Notification(
            key=f"{key}:in_app:{role}", case_id=case.id, channel="in_app", recipient_role=role,
            recipient_team=case.team, subject=subject, body=body, link=link, status="unread", attempts=0,
            created_at=now,
        ))  # fmt: skip
        for to in email_recipients(session, role, case.team):
            session.add(Notification(
                key=f"{key}:email:{role}:{to.who}", case_id=case.id, channel="email", recipient_role=role,
                recipient_team=case.team, recipient_user=to.user, recipient_address=to.address, subject=subject,
                body=body, link=link, status="pending", attempts=0, next_attempt_at=now, created_at=now,
            ))  # fmt: skip
    told = ", ".join(info.alert_roles)
    audit(session, case.id, actor, "alert.raised", element=info.id, detail=f"{title}: told {told}",
          after={"roles": list(info.alert_roles), "number": number})  # fmt: skip


def _record_outcome(
    rt: Runtime, session: Session, case: Case, rows: _Rows, info: ElementInfo, data: dict, actor: str
) -> None:
    props = info.properties
    if not (props.get("outcome") or props.get("start_pathway")):
        return
    # A branch that ended (the reviews beside the adoption track) leaves the workflow's data, not the
    # case's record: an answer the data has lost is taken from the steps that recorded it.
    data = {**data, **{k: v for k, v in _answers_so_far(session, case, rows).items() if data.get(k) is None}}
    if props.get("outcome"):
        detail = _evaluate(rt, info.id, props.get("outcome_detail"), data)
        case.outcome = f"{props['outcome']}: {detail}" if detail else props["outcome"]
        audit(session, case.id, actor, "case.outcome", element=info.id, detail=case.outcome)
    if props.get("start_pathway"):
        when = props.get("start_pathway_when")
        if when and not _evaluate(rt, info.id, when, data):  # e.g. never accommodated: no follow-on to start
            why = props.get("start_pathway_when_not", when)
            audit(session, case.id, actor, "case.follow_on_not_needed", element=info.id,
                  detail=f"{props['start_pathway']} not started: {why}")  # fmt: skip
            return
        follow_on = _evaluate(rt, info.id, props.get("start_pathway_data"), data) or {}
        _start_follow_on(rt, session, case, props["start_pathway"], follow_on, info.id, actor)


def _answers_so_far(session: Session, case: Case, rows: _Rows) -> dict[str, Any]:
    """``recorded_answers`` including this transaction's steps, without flushing it: a timer sweep
    writes a whole batch of cases in one flush at commit, not one case at a time (issue 18)."""
    mine = [o for o in (*session.new, *session.dirty) if isinstance(o, HumanTask) and o.case_id == case.id]
    stored = rows.answers.stored(session, case.id)
    changed = {o.id for o in mine if o.id is not None}
    done = sorted((o for o in mine if o.status == TaskStatus.COMPLETED), key=lambda o: o.completed_at or clock.utcnow())
    read = [values for task_id, values in stored if task_id not in changed] + [o.data for o in done]
    return recorded_answers(session, case, read)


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
