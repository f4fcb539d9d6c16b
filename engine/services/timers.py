"""Firing BPMN timers that have fallen due. One case failing never stops the sweep."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select

from engine import clock
from engine.bootstrap import Runtime
from engine.domain.states import CaseStatus, DeadlineStatus
from engine.persistence.models import Case, Deadline
from engine.services import _steps
from engine.services._common import SYSTEM, audit, commit, refresh_calendar, spec_for

log = logging.getLogger(__name__)
_ADVANCING = (CaseStatus.RUNNING, CaseStatus.WAITING)


def fire_due_timers(rt: Runtime, now: datetime | None = None, batch: int = 500) -> dict[str, int]:
    """Fire every timer due at ``now`` (default: the clock), case by case, in due order."""
    at = clock.require_aware(now, "--now") if now is not None else clock.utcnow()
    fired = failed = 0
    with clock.frozen(at):
        for case_id in _due_case_ids(rt, at, batch):
            try:
                fired += _fire_one(rt, case_id, at)
            except Exception:  # one broken case must not block the sweep
                failed += 1
                log.exception("timer sweep failed for case %s", case_id)
        breached = mark_breached_deadlines(rt, at)
    return {"cases_fired": fired, "cases_failed": failed, "deadlines_breached": breached}


def _due_case_ids(rt: Runtime, at: datetime, batch: int) -> list[int]:
    with rt.uow() as uow:
        query = (
            select(Case.id)
            .where(Case.next_timer_due <= at, Case.status.in_(_ADVANCING))
            .order_by(Case.next_timer_due, Case.id)
            .limit(batch)
        )
        return list(uow.session.scalars(query))


def _fire_one(rt: Runtime, case_id: int, at: datetime) -> int:
    with rt.uow() as uow:
        session = uow.session
        claim = (
            select(Case)
            .where(Case.id == case_id, Case.next_timer_due <= at, Case.status.in_(_ADVANCING))
            .with_for_update(of=Case, skip_locked=True)
        )
        case = session.scalar(claim)
        if case is None:  # another worker has it, or it moved on
            return 0
        refresh_calendar(rt, session)
        workflow = rt.bpmn.load(spec_for(rt, session, case.definition), case.state)
        due = case.next_timer_due
        result = rt.bpmn.fire_timers(workflow)
        late = " (late)" if due is not None and (at - due).total_seconds() > 3600 else ""
        audit(session, case.id, SYSTEM, "timer.fired", detail=f"due {due.isoformat() if due else '?'}{late}",
              after={"elements": [e for e in result.completed if e]})  # fmt: skip
        _steps.sync(rt, session, case, workflow, result, SYSTEM)
        commit(uow, f"case {case_id}")
        elements = ",".join(e for e in result.completed if e) or "-"
        log.info("event=timer_fired case=%s key=%s elements=%s due=%s%s", case.ref, case.key, elements,
                 due.isoformat() if due else "?", " late=true" if late else "")  # fmt: skip
        return 1


def mark_breached_deadlines(rt: Runtime, at: datetime) -> int:
    """Running deadlines whose day has passed (London time) become breached, once, audited."""
    today = at.astimezone(clock.LONDON).date()
    with rt.uow() as uow:
        query = (
            select(Deadline)
            .where(Deadline.status == DeadlineStatus.RUNNING, Deadline.due_date < today)
            .with_for_update(skip_locked=True)
        )
        rows = list(uow.session.scalars(query))
        for deadline in rows:
            deadline.status = DeadlineStatus.BREACHED
            audit(uow.session, deadline.case_id, SYSTEM, "deadline.breached", element=deadline.element,
                  detail=deadline.name, after={"due": deadline.due_date})  # fmt: skip
        commit(uow, "deadlines")
        return len(rows)
