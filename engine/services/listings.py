"""Paged lists of cases, steps and deadlines, as one person may see them (the REST API's reads).

The same visibility rules as the web pages: a case or deadline of a team the person belongs to
(all teams for heads of service and administrators); a step they may act on, or any step in a
team they manage.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy import Select, false, func, select
from sqlalchemy.orm import Session, defer, raiseload

from engine import clock
from engine.bootstrap import Runtime
from engine.domain.access import Person
from engine.domain.states import DeadlineStatus, TaskStatus
from engine.errors import InvalidInput
from engine.persistence import tallies
from engine.persistence.models import Case, Deadline, Definition, HumanTask
from engine.services._common import element
from engine.services.views import case_view, deadline_view, task_view
from engine.services.worklist import case_for, task_for

MAX_PER_PAGE = 200


def _page(session: Session, query: Select, page: int, per_page: int, counted: Select | None = None,
          total: int | None = None) -> tuple[list[Any], dict[str, int]]:  # fmt: skip
    """One page of ``query``'s rows and the total: ``total`` when known (a kept tally), else counted
    over ``counted`` (the same rows without the page's joins)."""
    if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
        raise InvalidInput(f"page starts at 1 and per_page is 1 to {MAX_PER_PAGE}")
    if total is None:
        counted = query if counted is None else counted
        total = session.scalar(counted.with_only_columns(func.count(), maintain_column_froms=True).order_by(None))
    rows = list(session.execute(query.offset((page - 1) * per_page).limit(per_page)))
    return rows, {"total": total or 0, "page": page, "per_page": per_page}


def _teams(person: Person, team: str | None) -> list[str] | None:
    """The teams a list covers: the one asked for (within the person's), else the person's (None: all)."""
    if team:
        return [team] if person.all_teams or team in person.teams else []
    return None if person.all_teams else sorted(person.teams)


def _kept_total(session: Session, kind: str, teams: list[str] | None, keep: Callable[[tuple[str, ...]], bool]
                ) -> int:  # fmt: skip
    """A list's total from the database's kept tally (the same for a team and an authority)."""
    if teams == []:
        return 0
    return sum(n for keys, n in tallies.sums(session, kind, ("k1", "k2", "k3"), teams).items() if keep(keys))


# A list reads its own rows' columns: never a case's state, its definition's diagram, or a step's answers
CASE_COLUMNS = (defer(Case.state), defer(Case.start_data), raiseload(Case.definition))
TASK_COLUMNS = (defer(HumanTask.data), defer(HumanTask.draft), raiseload(HumanTask.case), raiseload(HumanTask.serves))


def _visible_cases(query: Select, person: Person) -> Select:
    if not (person.step_roles or person.oversees or person.all_teams):
        return query.where(false())
    return query if person.all_teams else query.where(Case.team.in_(person.teams))


def case_summary(case: Case, version: int | None = None) -> dict[str, Any]:
    version = case.definition.version if version is None else version
    return {"id": case.id, "ref": case.ref, "key": case.key, "version": version, "team": case.team,
            "status": case.status, "outcome": case.outcome, "started_at": case.started_at.isoformat(),
            "updated_at": case.updated_at.isoformat(),
            "ended_at": case.ended_at.isoformat() if case.ended_at else None}  # fmt: skip


def cases_page(
    rt: Runtime, person: Person, *, status: str | None = None, key: str | None = None, ref: str | None = None,
    team: str | None = None, page: int = 1, per_page: int = 50,
) -> dict[str, Any]:  # fmt: skip
    with rt.uow() as uow:
        query = _visible_cases(select(Case), person)
        for column, value in ((Case.status, status), (Case.key, key), (Case.ref, ref), (Case.team, team)):
            if value:
                query = query.where(column == value)
        listed = (query.add_columns(Definition.version).join(Definition, Definition.id == Case.definition_id)
                  .options(*CASE_COLUMNS).order_by(Case.id.desc()))  # fmt: skip
        total = None
        if not ref:  # counted by the kept tally of cases by pathway and status
            visible = person.step_roles or person.oversees or person.all_teams
            total = _kept_total(uow.session, "cases", _teams(person, team) if visible else [],
                                lambda k: (not key or k[0] == key) and (not status or k[1] == status))  # fmt: skip
        rows, paging = _page(uow.session, listed, page, per_page, counted=query, total=total)
        return {"items": [case_summary(c, version) for c, version in rows], **paging}


def tasks_page(
    rt: Runtime, person: Person, *, status: str = TaskStatus.OPEN, role: str | None = None, ref: str | None = None,
    team: str | None = None, assignee: str | None = None, case_id: int | None = None, page: int = 1,
    per_page: int = 50,
) -> dict[str, Any]:  # fmt: skip
    with rt.uow() as uow:
        query = select(HumanTask).where(HumanTask.status == status)
        if not person.all_teams:
            query = query.where(HumanTask.team.in_(person.teams))
        if not person.oversees:
            query = query.where(HumanTask.role.in_(person.step_roles))
        if ref:  # the only filter on the case: the join is made only for it
            query = query.join(Case, HumanTask.case_id == Case.id).where(Case.ref == ref)
        for column, value in ((HumanTask.role, role), (HumanTask.team, team), (HumanTask.assignee, assignee),
                              (HumanTask.case_id, case_id)):  # fmt: skip
            if value:
                query = query.where(column == value)
        # soonest due first, undated last: the order of ix_tasks_status_due_id, so a page stops early
        query = query.options(*TASK_COLUMNS).order_by(HumanTask.due_date.asc().nulls_last(), HumanTask.id)
        total = None
        if status == TaskStatus.OPEN and not (ref or assignee or case_id):  # the kept tally of open steps
            roles = None if person.oversees else set(person.step_roles)
            total = _kept_total(uow.session, "open_steps", _teams(person, team),
                                lambda k: (not role or k[2] == role) and (roles is None or k[2] in roles))  # fmt: skip
        rows, paging = _page(uow.session, query, page, per_page, total=total)
        tasks = [t for (t,) in rows]
        found = uow.session.execute(select(Case.id, Case.ref, Case.key).where(Case.id.in_({t.case_id for t in tasks})))
        cases = {case_id: (ref, key) for case_id, ref, key in found}
        return {"items": [task_view(t, *cases[t.case_id]) for t in tasks], **paging}


def deadlines_page(
    rt: Runtime, person: Person, *, status: str | None = None, ref: str | None = None, case_id: int | None = None,
    overdue: bool = False, due_before: date | None = None, page: int = 1, per_page: int = 50,
) -> dict[str, Any]:  # fmt: skip
    """Deadlines, soonest first; ``overdue``: unmet and past their day (London)."""
    with rt.uow() as uow:
        query = _visible_cases(select(Deadline, Case.ref).join(Case, Deadline.case_id == Case.id), person)
        if status:
            query = query.where(Deadline.status == status)
        if ref:
            query = query.where(Case.ref == ref)
        if case_id:
            query = query.where(Deadline.case_id == case_id)
        if overdue:
            query = query.where(Deadline.met_at.is_(None), Deadline.due_date < clock.london_today(),
                                Deadline.status.in_((DeadlineStatus.RUNNING, DeadlineStatus.BREACHED)))  # fmt: skip
        if due_before:
            query = query.where(Deadline.due_date < due_before)
        rows, paging = _page(uow.session, query.order_by(Deadline.due_date, Deadline.id), page, per_page)
        items = [{"id": d.id, "case_id": d.case_id, "ref": ref, "element": d.element, **deadline_view(d)}
                 for d, ref in rows]  # fmt: skip
        return {"items": items, **paging}


def case_detail(rt: Runtime, person: Person, case_id: int) -> dict[str, Any]:
    """One case with its open steps, deadlines and audit trail, if the person may see it."""
    with rt.uow() as uow:
        return case_view(uow.session, case_for(uow.session, case_id, person))


def task_detail(rt: Runtime, person: Person, task_id: int) -> dict[str, Any]:
    """One step with its form (the fields to send when completing it), if the person may see it."""
    with rt.uow() as uow:
        task = task_for(uow.session, task_id, person)
        info = element(task.case.definition, task.element)
        return {**task_view(task), "case_version": task.case.version,
                "form": [f.to_dict() for f in info.form] if info else []}  # fmt: skip
