"""Read models: what a case or a step looks like to the CLI, the web app and the API."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock
from engine.domain.forms import long_date
from engine.domain.states import DeadlineKind, DeadlineStatus
from engine.persistence.models import AuditEvent, Case, Deadline, HumanTask
from engine.services._common import jsonable

HIDDEN_CLOCKS = (DeadlineStatus.MOVED, DeadlineStatus.CANCELLED)  # kept in the audit trail, not in the plan


def _day(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def task_view(task: HumanTask, ref: str | None = None, key: str | None = None) -> dict[str, Any]:
    """A step as lists show it (``ref`` and ``key`` given where the list did not load the case)."""
    return {
        "id": task.id,
        "ref": ref if ref is not None else task.case.ref,
        "case_id": task.case_id,
        "key": key if key is not None else task.case.key,
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


def clock_status(deadline: Deadline, today: date) -> str:
    """running / met / met_late / breached / expected (a running clock past its day is breached, swept or not)."""
    if deadline.status == DeadlineStatus.RUNNING and deadline.due_date < today:
        return DeadlineStatus.BREACHED
    return str(deadline.status)


def recorded_on(deadline: Deadline) -> date | None:
    return deadline.met_at.astimezone(clock.LONDON).date() if deadline.met_at else None


def clock_words(deadline: Deadline, today: date) -> str:
    """The clock in a sentence, as the plan shows it ("met on 20 January 2027, recorded on 27 January 2027")."""
    status, due = clock_status(deadline, today), long_date(deadline.due_date)
    met, recorded = deadline.met_on or recorded_on(deadline), recorded_on(deadline)
    late = f", recorded on {long_date(recorded)}" if recorded and met and recorded != met else ""
    if deadline.kind == DeadlineKind.GATE:
        if status == DeadlineStatus.EXPECTED:
            return f"not before {due}, expected ({deadline.expected_note or 'from the date it waits for'})"
        return f"passed on {long_date(met)}{late}" if met else f"cannot happen before {due}"
    if status == DeadlineStatus.EXPECTED:
        return f"by {due} at the latest, expected ({deadline.expected_note or 'from the date it waits for'})"
    if status == DeadlineStatus.MET:
        return f"met on {long_date(met)}{late}" if met else "met"
    if status == DeadlineStatus.MET_LATE:
        days = (met - deadline.due_date).days if met else 0
        return f"met late on {long_date(met)}, {days} day{'s' * (days != 1)} after {due}{late}" if met else "met late"
    if status == DeadlineStatus.BREACHED:
        return f"breached: due by {due} and not met yet"
    if status == DeadlineStatus.RUNNING:
        return "due today" if deadline.due_date == today else f"due by {due}"
    return f"{status} (was due by {due})"


def deadline_view(deadline: Deadline, today: date | None = None) -> dict[str, Any]:
    today = today or clock.london_today()
    met_on = deadline.met_on or recorded_on(deadline)
    return {
        "name": deadline.name,
        "key": deadline.key,
        "kind": deadline.kind or DeadlineKind.DEADLINE,
        "due": _day(deadline.due_date),
        "source": deadline.source,
        "rule_status": deadline.rule_status,
        "anchor": deadline.anchor,
        "status": clock_status(deadline, today),
        "met_on": _day(met_on),
        "recorded_on": _day(recorded_on(deadline)),
        "expected_from": deadline.expected_note,
        "said": clock_words(deadline, today),
    }


def gates_view(gates: list[Deadline], tasks: list[HumanTask], today: date) -> list[dict[str, Any]]:
    """Gates (not before): the plan's gate clocks, then any open step's own earliest date not among them."""
    shown = [{"name": g.name, "element": (g.met_by or [g.element])[0], "not_before": _day(g.due_date),
              "source": g.source, "status": clock_status(g, today), "said": clock_words(g, today)}
             for g in gates]  # fmt: skip
    covered = {e for g in gates for e in (g.met_by or [])}
    shown += [{"name": t.title, "element": t.element, "not_before": _day(t.not_before), "source": t.not_before_source,
               "status": "gate", "said": f"cannot happen before {long_date(t.not_before)}"}
              for t in tasks if t.not_before and t.element not in covered]  # fmt: skip
    return shown


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
    clocks = session.scalars(select(Deadline).where(Deadline.case_id == case.id).order_by(Deadline.id)).all()
    events = session.scalars(select(AuditEvent).where(AuditEvent.case_id == case.id).order_by(AuditEvent.id)).all()
    today = clock.london_today()
    deadlines = [d for d in clocks if d.kind != DeadlineKind.GATE]
    gates = [g for g in clocks if g.kind == DeadlineKind.GATE and g.status not in HIDDEN_CLOCKS]
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
        "deadlines": [deadline_view(d, today) for d in deadlines],
        "gates": gates_view(gates, list(tasks), today),
        "audit": [audit_view(e) for e in events],
    }


PLAN_ORDER = {"done": 0, "late": 0, "passed": 0, "overdue": 1, "due": 2, "gate": 2, "expected": 3}


def plan_view(deadlines: list[dict[str, Any]], gates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The child's plan: every clock and gate in one list by date, each done, late, overdue, due, or expected."""
    state = {"met": "done", "met_late": "late", "breached": "overdue", "running": "due", "expected": "expected",
             "gate": "gate"}  # fmt: skip
    entries = [{"name": d["name"], "date": d["met_on"] if d["status"] in ("met", "met_late") else d["due"],
                "due": d["due"], "state": state.get(d["status"], d["status"]), "said": d["said"], "kind": "deadline",
                "rule_status": d["rule_status"], "source": d["source"], "status": d["status"]}
               for d in deadlines if d["status"] not in HIDDEN_CLOCKS]  # fmt: skip
    entries += [{"name": g["name"], "date": g["not_before"], "due": g["not_before"], "kind": "gate",
                 "state": "passed" if g["status"] == "met" else ("expected" if g["status"] == "expected" else "gate"),
                 "said": g["said"], "rule_status": None, "source": g["source"], "status": g["status"]}
                for g in gates]  # fmt: skip
    return sorted(entries, key=lambda e: (e["date"] or "9999", PLAN_ORDER.get(e["state"], 9), e["name"]))


_SAID = {
    "case.started": "Case started", "case.completed": "Pathway finished", "case.error": "The case has a problem",
    "case.retried": "Case retried", "case.suspended": "Case paused", "case.resumed": "Case resumed",
    "case.cancelled": "Case cancelled", "case.outcome": "Outcome recorded", "case.migrated": "Moved to a new version",
    "case.follow_on_started": "Next pathway started", "case.follow_on_failed": "Next pathway could not start",
    "case.follow_on_not_needed": "No next pathway needed",
    "case.event_recorded": "Recorded on the holder's behalf",
    "task.opened": "Step opened", "task.completed": "Step done", "task.withdrawn": "Step no longer needed",
    "task.claimed": "Step claimed", "task.unclaimed": "Step released", "task.assigned": "Step assigned",
    "task.draft_saved": "Draft saved", "pathway.advanced": "The pathway moved on",
    "deadline.opened": "Clock started", "deadline.met": "Clock met", "deadline.met_late": "Clock met late",
    "deadline.breached": "Clock breached", "deadline.cancelled": "Clock no longer applies",
    "deadline.moved": "Clock moved", "deadline.firm": "Expected date now firm",
    "deadline.expected_moved": "Expected date worked out again", "timer.fired": "A date passed",
    "escalation.raised": "Escalated", "escalation.acknowledged": "Reason for delay recorded",
    "event.applied": "Case-system event applied",
    "siblings.linked": "Linked with brothers and sisters", "siblings.unlinked": "Taken out of the sibling group",
}  # fmt: skip


def history_view(events: list[AuditEvent], names: dict[str, str], recent: int = 10) -> dict[str, Any]:
    """The audit trail in plain words, grouped by step (newest first): element ids become the steps' names.

    ``recent`` groups are shown; the rest are counted for a "show earlier" control (nothing is dropped)."""
    groups: dict[str, dict[str, Any]] = {}
    for event in events:
        step = names.get(event.element or "", "") if event.element else ""
        detail = event.detail or ""
        if event.action == "pathway.advanced":
            ids = (event.after or {}).get("elements") or []
            detail = " then ".join(names.get(i, "") for i in ids if names.get(i)) or detail
        elif event.element and event.element in detail:
            detail = detail.replace(event.element, names.get(event.element, event.element))
        title = step or ("The case" if event.action.startswith("case.") else "The pathway")
        group = groups.setdefault(title, {"title": title, "entries": [], "last": event.at})
        group["entries"].append({"at": event.at.isoformat(), "actor": event.actor,
                                 "what": _SAID.get(event.action, event.action.replace(".", " ").replace("_", " ")),
                                 "detail": detail if detail != step else ""})  # fmt: skip
        group["last"] = event.at
    ordered = sorted(groups.values(), key=lambda g: g["last"], reverse=True)
    for group in ordered:
        group["last"] = group["last"].isoformat()
        group["entries"].reverse()
    return {"groups": ordered[:recent], "earlier": ordered[recent:], "entries": len(events)}
