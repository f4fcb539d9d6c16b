"""Read models: what a case or a step looks like to the CLI, the web app and the API."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.persistence.models import AuditEvent, Case, Deadline, HumanTask
from engine.services._common import jsonable


def _day(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def task_view(task: HumanTask) -> dict[str, Any]:
    return {
        "id": task.id,
        "ref": task.case.ref,
        "case_id": task.case_id,
        "key": task.case.key,
        "element": task.element,
        "title": task.title,
        "role": task.role,
        "team": task.team,
        "lane": task.lane,
        "assignee": task.assignee,
        "due": _day(task.due_date),
        "not_before": _day(task.not_before),
        "status": task.status,
        "completed_by": task.completed_by,
        "completed_at": task.completed_at.isoformat() if task.completed_at else None,
    }


def deadline_view(deadline: Deadline) -> dict[str, Any]:
    return {
        "name": deadline.name,
        "key": deadline.key,
        "due": _day(deadline.due_date),
        "source": deadline.source,
        "rule_status": deadline.rule_status,
        "anchor": deadline.anchor,
        "status": deadline.status,
        "met_on": deadline.met_at.date().isoformat() if deadline.met_at else None,
    }


def audit_view(event: AuditEvent) -> dict[str, Any]:
    return {
        "at": event.at.isoformat(),
        "actor": event.actor,
        "action": event.action,
        "element": event.element,
        "detail": event.detail,
        "before": event.before,
        "after": event.after,
    }


def case_view(session: Session, case: Case) -> dict[str, Any]:
    tasks = session.scalars(
        select(HumanTask).where(HumanTask.case_id == case.id, HumanTask.status == "open").order_by(HumanTask.id)
    ).all()
    deadlines = session.scalars(select(Deadline).where(Deadline.case_id == case.id).order_by(Deadline.id)).all()
    events = session.scalars(select(AuditEvent).where(AuditEvent.case_id == case.id).order_by(AuditEvent.id)).all()
    return {
        "id": case.id,
        "ref": case.ref,
        "key": case.key,
        "team": case.team,
        "version": case.definition.version,
        "case_version": case.version,
        "status": case.status,
        "outcome": case.outcome,
        "error": {"element": case.error_element, "message": case.error_message} if case.error_message else None,
        "started_at": case.started_at.isoformat(),
        "started_by": case.started_by,
        "start_data": jsonable(case.start_data),
        "next_timer_due": case.next_timer_due.isoformat() if case.next_timer_due else None,
        "open_tasks": [
            {k: v for k, v in task_view(t).items() if k in ("id", "element", "title", "role", "assignee", "due")}
            for t in tasks
        ],
        "deadlines": [deadline_view(d) for d in deadlines],
        "gates": [
            {"name": t.title, "element": t.element, "not_before": _day(t.not_before), "source": t.not_before_source}
            for t in tasks
            if t.not_before
        ],
        "audit": [audit_view(e) for e in events],
    }
