"""Steps for people: list, claim, unclaim, assign and complete."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock
from engine.bootstrap import Runtime
from engine.domain import forms
from engine.domain.states import CaseStatus, TaskStatus
from engine.errors import Conflict, GateClosed, NotAllowed, NotFound
from engine.persistence.models import Case, HumanTask
from engine.services import _steps
from engine.services._common import audit, commit, element, jsonable, refresh_calendar, spec_for
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


def _open_task(session: Session, task_id: int) -> HumanTask:
    task = session.get(HumanTask, task_id)
    if task is None:
        raise NotFound(f"there is no step {task_id}")
    if task.status != TaskStatus.OPEN:
        who = f" by {task.completed_by}" if task.completed_by else ""
        raise Conflict(f"step {task_id} ({task.title}) is already {task.status}{who}")
    return task


def claim_task(rt: Runtime, task_id: int, user: str) -> dict[str, Any]:
    return _assign(rt, task_id, user, user, "task.claimed", only_if_free=True)


def unclaim_task(rt: Runtime, task_id: int, user: str) -> dict[str, Any]:
    return _assign(rt, task_id, None, user, "task.unclaimed", only_if_free=False)


def assign_task(rt: Runtime, task_id: int, assignee: str, actor: str) -> dict[str, Any]:
    return _assign(rt, task_id, assignee, actor, "task.assigned", only_if_free=False)


def _assign(rt: Runtime, task_id: int, assignee: str | None, actor: str, action: str, only_if_free: bool) -> dict:
    with rt.uow() as uow:
        task = _open_task(uow.session, task_id)
        if only_if_free and task.assignee not in (None, assignee):
            raise Conflict(f"step {task_id} is already claimed by {task.assignee}")
        before = task.assignee
        task.assignee = assignee
        audit(uow.session, task.case_id, actor, action, element=task.element, detail=task.title,
              before={"assignee": before}, after={"assignee": assignee})  # fmt: skip
        commit(uow, f"step {task_id}")
        return task_view(task)


def complete_task(
    rt: Runtime, task_id: int, data: dict[str, Any], user: str, expected_version: int | None = None
) -> dict[str, Any]:
    """Complete a step with the answers its form records, then run the pathway on.

    Raises FormInvalid (with every message and the data as entered), GateClosed before a gate
    date, NotAllowed when the case is paused or the step is someone else's, and Conflict (with
    the answers in ``details["data"]``) when someone else completed it or changed the case first.
    """
    try:
        return _complete(rt, task_id, data, user, expected_version)
    except Conflict as exc:  # hand the answers back so nothing entered is lost
        raise Conflict(exc.message, data=dict(data)) from None


def _complete(rt: Runtime, task_id: int, data: dict[str, Any], user: str, expected_version: int | None) -> dict:
    with rt.uow() as uow:
        session = uow.session
        task = _open_task(session, task_id)
        case = task.case
        _check_can_complete(case, task, user, expected_version)
        info = element(case.definition, task.element)
        values = forms.validate(info.form if info else [], data)
        refresh_calendar(rt, session)
        workflow = rt.bpmn.load(spec_for(rt, session, case.definition), case.state)
        declared = [f.id for f in info.form] if info else []
        result = rt.bpmn.complete(workflow, task.spiff_id, values, declared)
        task.status, task.completed_by, task.completed_at = TaskStatus.COMPLETED, user, clock.utcnow()
        task.data = jsonable(values)
        audit(session, case.id, user, "task.completed", element=task.element, detail=task.title,
              before={"status": TaskStatus.OPEN}, after={"status": TaskStatus.COMPLETED, "data": values})  # fmt: skip
        _steps.sync(rt, session, case, workflow, result, user)
        commit(uow, f"the case of step {task_id}")
        return task_view(task)


def _check_can_complete(case: Case, task: HumanTask, user: str, expected_version: int | None) -> None:
    if case.status not in (CaseStatus.RUNNING, CaseStatus.WAITING):
        raise NotAllowed(f"case {case.ref} is {case.status}: steps cannot be completed until it is resumed")
    if task.assignee and task.assignee != user:
        raise NotAllowed(f"step {task.id} is assigned to {task.assignee}")
    if expected_version is not None and case.version != expected_version:
        raise Conflict("the case changed since you opened this step: reload it; nothing you entered is lost")
    today = clock.london_today()
    if task.not_before and today < task.not_before:
        source = f" ({task.not_before_source})" if task.not_before_source else ""
        raise GateClosed(
            f"'{task.title}' cannot be completed before {task.not_before:%d/%m/%Y}{source}",
            not_before=task.not_before.isoformat(),
        )
