"""Steps for people: list, claim, unclaim, assign and complete."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session, defer, lazyload
from sqlalchemy.orm.attributes import set_committed_value

from engine import clock
from engine.bootstrap import Runtime
from engine.bpmn.definition import ElementInfo
from engine.domain import forms
from engine.domain.access import Person
from engine.domain.states import CaseStatus, TaskStatus
from engine.errors import Conflict, FormInvalid, GateClosed, InvalidInput, NotAllowed, NotFound
from engine.persistence.models import Case, Definition, Escalation, HumanTask
from engine.services import _steps
from engine.services._common import (
    audit,
    commit,
    date_rules,
    element,
    jsonable,
    keep_stamps,
    recorded_column,
    refresh_calendar,
    spec_for,
    stamp_columns,
)
from engine.services.views import task_view


def list_tasks(
    rt: Runtime,
    user: str | None = None,
    role: str | None = None,
    ref: str | None = None,
    status: str = TaskStatus.OPEN,
    team: str | None = None,
) -> list[dict[str, Any]]:
    with rt.uow() as uow:
        query = select(HumanTask).join(Case).where(HumanTask.status == status)
        if user:
            query = query.where(HumanTask.assignee == user)
        if role:
            query = query.where(HumanTask.role == role)
        if ref:
            query = query.where(Case.ref == ref)
        if team:
            query = query.where(HumanTask.team == team)
        query = query.order_by(HumanTask.due_date.is_(None), HumanTask.due_date, HumanTask.id)
        return [task_view(t) for t in uow.session.scalars(query)]


@functools.cache  # built once per dialect: building it cost more than its round trip (issue 18)
def _open_task_select(dialect: str, answers: bool) -> tuple[Any, int]:
    """The select, and how many columns of answers it reads after the three rows (0 or 1)."""
    recorded = recorded_column(dialect, Case.id) if answers else None
    extra = [recorded] if recorded is not None else []
    return (
        select(HumanTask, Case, Definition, *extra, *stamp_columns())
        .join(Case, Case.id == HumanTask.case_id)
        .join(Definition, Definition.id == Case.definition_id)
        .where(HumanTask.id == bindparam("task_id"))
        .options(lazyload(HumanTask.case), lazyload(Case.definition), defer(Definition.info))
        .with_for_update(of=[HumanTask, Case])  # never the definition: that would queue every step of the pathway
    ), len(extra)  # the definition's JSON (100 KB for a pathway) is read only if not kept yet (_common._published)


def _open_task(session: Session, task_id: int, answers: bool = False) -> tuple[HumanTask, list[Any] | None]:
    """The open step, row-locked until the transaction ends: of two claims at once, the second waits and
    then sees the first one's claim (issue 15: both reported success, 77 of 100).

    The same select reads the stamps of what a process keeps and, with ``answers`` (a completion's
    date checks), the case's answers so far (None where that column is not read: SQLite)."""
    statement, extra = _open_task_select(session.get_bind().dialect.name, answers)
    found = session.execute(statement, {"task_id": task_id}).first()
    if found is None:
        raise NotFound(f"there is no step {task_id}")
    task, case, definition = found[:3]
    read = (found[3] or []) if extra else None
    keep_stamps(session, found[3 + extra :])
    set_committed_value(task, "case", case)  # loaded by the same select: no lazy load
    set_committed_value(case, "definition", definition)
    if task.status != TaskStatus.OPEN:
        who = f" by {task.completed_by}" if task.completed_by else ""
        raise Conflict(f"step {task_id} ({task.title}) is already {task.status}{who}")
    return task, read


def claim_task(rt: Runtime, task_id: int, user: str, person: Person | None = None) -> dict[str, Any]:
    return _assign(rt, task_id, user, user, "task.claimed", only_if_free=True, check=_may_act(person))


def unclaim_task(rt: Runtime, task_id: int, user: str, person: Person | None = None) -> dict[str, Any]:
    return _assign(rt, task_id, None, user, "task.unclaimed", only_if_free=False, check=_may_act(person))


def assign_task(rt: Runtime, task_id: int, assignee: str, actor: str, person: Person | None = None,
                colleague: Person | None = None) -> dict[str, Any]:  # fmt: skip
    """Assign a step; with ``colleague`` (the assignee's account), refuse someone who may not do it."""
    check = _may_assign(person, colleague)
    return _assign(rt, task_id, assignee, actor, "task.assigned", only_if_free=False, check=check)


def _may_act(person: Person | None) -> Callable[[HumanTask], None]:
    def check(task: HumanTask) -> None:
        if person is not None and not person.may_act_on(task.role, task.team):
            raise NotAllowed(f"step {task.id} belongs to another role or team")

    return check


def _may_assign(person: Person | None, colleague: Person | None) -> Callable[[HumanTask], None]:
    def check(task: HumanTask) -> None:
        if person is not None and not person.may_assign_in(task.team):
            raise NotAllowed(f"only a manager of team {task.team} can assign step {task.id}")
        if colleague is not None and not colleague.may_act_on(task.role, task.team):
            raise InvalidInput(f"{colleague.username} cannot do this task: it needs a {task.role} in team {task.team}")

    return check


def _assign(rt: Runtime, task_id: int, assignee: str | None, actor: str, action: str, only_if_free: bool,
            check: Callable[[HumanTask], None]) -> dict:  # fmt: skip
    with rt.uow() as uow:
        task, _ = _open_task(uow.session, task_id)
        check(task)
        if only_if_free and task.assignee not in (None, assignee):
            raise Conflict(f"step {task_id} is already claimed by {task.assignee}")
        before = task.assignee
        task.assignee = assignee
        audit(uow.session, task.case_id, actor, action, element=task.element, detail=task.title,
              before={"assignee": before}, after={"assignee": assignee})  # fmt: skip
        commit(uow, f"step {task_id}")
        return task_view(task)


def complete_task(
    rt: Runtime,
    task_id: int,
    data: dict[str, Any],
    user: str,
    expected_version: int | None = None,
    person: Person | None = None,
) -> dict[str, Any]:
    """Complete a step with the answers its form records, then run the pathway on.

    Raises FormInvalid (with every message and the data as entered), GateClosed before a gate
    date, NotAllowed when the case is paused or the step is someone else's, and Conflict (with
    the answers in ``details["data"]``) when someone else completed it or changed the case first.
    """
    try:
        return _complete(rt, task_id, data, user, expected_version, _may_act(person))
    except Conflict as exc:  # hand the answers back so nothing entered is lost
        raise Conflict(exc.message, data=dict(data)) from None


def complete_on_behalf(rt: Runtime, task_id: int, data: dict[str, Any], manager: Person, reason: str) -> dict[str, Any]:
    """A manager of the step's team records it for whoever holds it (a missed event), with a reason."""

    def check(task: HumanTask) -> None:
        if not manager.may_assign_in(task.team):
            raise NotAllowed(f"only a manager of team {task.team} can record step {task.id} on someone's behalf")

    return _complete(rt, task_id, data, manager.username, None, check, on_behalf=reason)


def _complete(rt: Runtime, task_id: int, data: dict[str, Any], user: str, expected_version: int | None,
              check: Callable[[HumanTask], None], on_behalf: str | None = None) -> dict:  # fmt: skip
    with rt.uow() as uow:
        session = uow.session
        task, answers = _open_task(session, task_id, answers=True)
        check(task)
        case = task.case
        _check_can_complete(case, task, None if on_behalf else user, expected_version)
        if on_behalf:
            audit(session, case.id, user, "case.event_recorded", element=task.element, detail=on_behalf,
                  before={"assignee": task.assignee, "role": task.role}, after={"recorded_by": user})  # fmt: skip
        info = element(case.definition, task.element)
        rules = date_rules(session, case, read=answers)
        values = forms.validate(info.form if info else [], data, rules)
        try:
            check_gate(task, _gate_day(info, values))
        except GateClosed as exc:  # the date given is before the gate: the practitioner corrects that box
            name = info.gate_field if info is not None else None
            if name and name in values:
                raise FormInvalid({name: exc.message}, dict(data)) from None
            raise
        refresh_calendar(rt, session)
        spec, declared = spec_for(rt, session, case.definition), [f.id for f in info.form] if info else []
        workflow, result = rt.bpmn.attempt(
            lambda: rt.bpmn.load(spec, case.state), lambda wf: rt.bpmn.complete(wf, task.spiff_id, values, declared)
        )
        task.status, task.completed_by, task.completed_at = TaskStatus.COMPLETED, user, clock.utcnow()
        task.data = jsonable(values)
        audit(session, case.id, user, "task.completed", element=task.element, detail=task.title,
              before={"status": TaskStatus.OPEN}, after={"status": TaskStatus.COMPLETED, "data": values})  # fmt: skip
        _steps.sync(rt, session, case, workflow, result, user)
        commit(uow, f"the case of step {task_id}")
        return task_view(task)


def _check_can_complete(case: Case, task: HumanTask, user: str | None, expected_version: int | None) -> None:
    """``user`` None: a manager recording on the holder's behalf (the assignee check does not apply)."""
    if case.status not in (CaseStatus.RUNNING, CaseStatus.WAITING):
        raise NotAllowed(f"case {case.ref} is {case.status}: steps cannot be completed until it is resumed")
    if user is not None and task.assignee and task.assignee != user:
        raise NotAllowed(f"step {task.id} is assigned to {task.assignee}")
    if expected_version is not None and case.version != expected_version:
        raise Conflict("the case changed since you opened this step: reload it; nothing you entered is lost")
    check_gate(task, clock.london_today())


def _gate_day(info: ElementInfo | None, values: dict[str, Any]) -> date:
    """The day a gate is judged on: the date the event happened (consent given, application made), else today."""
    name = info.gate_field if info is not None else None
    day = values.get(name) if name else None
    return day if isinstance(day, date) else clock.london_today()


def check_gate(task: HumanTask, day: date) -> None:
    """A step with an earliest date (a gate) cannot happen on a day before it, recorded by a person or an event.

    ``day`` is the date the event happened (the date consent was given), so a backdated entry is refused too."""
    if task.not_before and day < task.not_before:
        source = f" ({task.not_before_source})" if task.not_before_source else ""
        when = "" if day == clock.london_today() else f": the date given is {forms.long_date(day)}"
        raise GateClosed(
            f"'{task.title}' cannot happen before {forms.long_date(task.not_before)}{when}{source}",
            not_before=task.not_before.isoformat(),
        )


INBOX_TABS = ("mine", "team", "unassigned")


def inbox(
    rt: Runtime,
    person: Person,
    tab: str = "mine",
    pathway: str | None = None,
    overdue_only: bool = False,
    page: int = 1,
    per_page: int = 25,
    role: str | None = None,
) -> dict[str, Any]:
    """The inbox: my steps, my teams' steps, or those nobody has claimed; soonest due first.

    Practitioners see their own roles' steps in the team tabs; managers see every role's steps in
    their teams, so they can assign them.
    """
    if tab not in INBOX_TABS:
        raise InvalidInput(f"inbox tabs are {', '.join(INBOX_TABS)}")
    today = clock.london_today()
    where = [HumanTask.status == TaskStatus.OPEN]
    if tab == "mine":
        where.append(HumanTask.assignee == person.username)
    else:
        if not person.oversees:
            where.append(HumanTask.role.in_(person.step_roles))
        if not person.all_teams:
            where.append(HumanTask.team.in_(person.teams))
        if tab == "unassigned":
            where.append(HumanTask.assignee.is_(None))
    if role:
        where.append(HumanTask.role == role)
    if overdue_only:
        where.append(HumanTask.due_date < today)
    counted = select(func.count()).select_from(HumanTask)
    if pathway:
        where.append(Case.key == pathway)
        counted = counted.join(Case, HumanTask.case_id == Case.id)
    query = select(*_INBOX_COLUMNS).join(Case, HumanTask.case_id == Case.id).where(*where)
    with rt.reading() as uow:  # the page walks the (status, team|assignee, due) index and stops after it
        rows = uow.session.execute(
            query.order_by(HumanTask.due_date.asc().nulls_last(), HumanTask.id)
            .offset((max(page, 1) - 1) * per_page).limit(per_page)
        ).mappings().all()  # fmt: skip
        total = uow.session.scalar(counted.where(*where)) or 0
        levels = _escalation_levels(uow.session, [r["id"] for r in rows])
        return {"tab": tab, "page": max(page, 1), "per_page": per_page, "total": total,
                "rows": [_inbox_row(dict(r), today, levels.get(r["id"], 0)) for r in rows]}  # fmt: skip


# Only what an inbox row shows: never the case's state or its diagram.
_INBOX_COLUMNS = (
    HumanTask.id,
    Case.ref,
    HumanTask.case_id,
    Case.key,
    HumanTask.element,
    HumanTask.title,
    HumanTask.role,
    HumanTask.team,
    HumanTask.lane,
    HumanTask.assignee,
    HumanTask.due_date,
    HumanTask.not_before,
    HumanTask.status,
)


def _escalation_levels(session: Session, task_ids: list[int]) -> dict[int, int]:
    if not task_ids:
        return {}
    query = select(Escalation.task_id, func.max(Escalation.level)).where(Escalation.task_id.in_(task_ids))
    return {task_id: level for task_id, level in session.execute(query.group_by(Escalation.task_id)) if task_id}


def _inbox_row(row: dict[str, Any], today: Any, level: int) -> dict[str, Any]:
    due, not_before = row.pop("due_date"), row.pop("not_before")
    row["escalation_level"] = level
    days = (due - today).days if due else None
    return {**row, "due": due.isoformat() if due else None, "days_left": days, "overdue": days is not None and days < 0,
            "not_before": not_before.isoformat() if not_before else None}  # fmt: skip


def reassign_all(rt: Runtime, from_user: str, to_user: Person, manager: Person, reason: str) -> dict[str, Any]:
    """Move every open step held by ``from_user`` in the manager's teams to ``to_user``, in one audited step.

    Steps the colleague may not do (another role or team) stay where they are and are listed.
    """
    if not (reason or "").strip():
        raise InvalidInput("give a reason, e.g. 'left the authority' or 'on leave until 3 May'")
    moved, kept, named = [], [], {}
    with rt.uow() as uow:
        held = uow.session.execute(
            select(HumanTask, Case.ref).join(Case, Case.id == HumanTask.case_id)
            .where(HumanTask.assignee == from_user, HumanTask.status == TaskStatus.OPEN)
            .order_by(HumanTask.id).with_for_update(of=HumanTask)
        ).all()  # fmt: skip
        for task, ref in held:
            if not manager.may_assign_in(task.team):
                continue
            named[task.id] = {"id": task.id, "ref": ref, "title": task.title}
            if not to_user.may_act_on(task.role, task.team):
                kept.append(task.id)
                continue
            task.assignee = to_user.username
            moved.append(task.id)
            audit(uow.session, task.case_id, manager.username, "task.reassigned", element=task.element,
                  detail=reason, before={"assignee": from_user}, after={"assignee": to_user.username})  # fmt: skip
        commit(uow, "the reassignment")
    return {
        "moved": moved,
        "kept": kept,
        "kept_steps": [named[i] for i in kept],
        "moved_steps": [named[i] for i in moved],
    }
