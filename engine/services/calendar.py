"""The authority's calendar: closures, and date arithmetic with them."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from engine import clock
from engine.bootstrap import Runtime
from engine.calendar import WorkingCalendar, as_date
from engine.errors import InvalidInput
from engine.persistence.models import CalendarClosure
from engine.services._common import audit, commit, refresh_calendar


def current_calendar(rt: Runtime) -> WorkingCalendar:
    """Bank holidays plus the closures in the database (bank holidays only before migration)."""
    try:
        with rt.uow() as uow:
            return refresh_calendar(rt, uow.session)
    except DBAPIError:
        return rt.bpmn.calendar


def add_amount(rt: Runtime, start: date | str, amount: str) -> date:
    return current_calendar(rt).add(as_date(start), amount)


def add_closure(rt: Runtime, day: date | str, reason: str, actor: str) -> dict[str, str]:
    day = as_date(day)
    if not (reason or "").strip():
        raise InvalidInput("give a reason for the closure, e.g. 'office closed between Christmas and New Year'")
    with rt.uow() as uow:
        if uow.session.get(CalendarClosure, day) is not None:
            raise InvalidInput(f"{day.isoformat()} is already a closure day")
        uow.session.add(CalendarClosure(day=day, reason=reason, added_by=actor, added_at=clock.utcnow()))
        audit(uow.session, None, actor, "calendar.closure_added", detail=f"{day.isoformat()}: {reason}")
        commit(uow, "the calendar")
        refresh_calendar(rt, uow.session)
    return {"day": day.isoformat(), "reason": reason}


def list_closures(rt: Runtime) -> list[dict[str, str]]:
    with rt.uow() as uow:
        rows = uow.session.scalars(select(CalendarClosure).order_by(CalendarClosure.day))
        return [{"day": r.day.isoformat(), "reason": r.reason, "added_by": r.added_by} for r in rows]
