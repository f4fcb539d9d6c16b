"""Helpers the service modules share: audit rows, JSON-safe values, case lookup, calendar refresh."""

from __future__ import annotations

import functools
import time
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, and_, exists, func, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.exc import StaleDataError

from engine import clock
from engine.bootstrap import Runtime
from engine.bpmn.definition import PUBLISHED, DiagramInfo, ElementInfo
from engine.calendar import WorkingCalendar
from engine.domain import forms
from engine.domain.states import ACTIVE_CASE_STATUSES, TaskStatus
from engine.errors import Conflict, NotFound
from engine.persistence.models import (
    AuditEvent,
    CalendarClosure,
    Case,
    Deadline,
    Definition,
    HumanTask,
    Subscription,
)
from engine.persistence.uow import UnitOfWork

SYSTEM = "system"
SQLITE_PAUSE_S = 0.03


def pause_between_batches(rt: Runtime) -> None:
    """On SQLite (one writer for the whole file) give a waiting web request its turn between two batches.

    Its busy handler polls with sleeps that grow to 100 ms; a sweep that began its next batch the
    instant it committed kept a practitioner waiting for the whole sweep (measured in
    bench/reliability_bench.py). PostgreSQL locks rows, not the database: no pause."""
    if rt.is_sqlite:
        time.sleep(SQLITE_PAUSE_S)


def jsonable(value: Any) -> Any:
    """Dates as YYYY-MM-DD, datetimes as ISO; containers converted recursively."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    return value


def audit(
    session: Session,
    case_id: int | None,
    actor: str,
    action: str,
    *,
    element: str | None = None,
    detail: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditEvent(
            case_id=case_id,
            at=clock.utcnow(),
            actor=actor,
            action=action,
            element=element,
            detail=detail,
            before=jsonable(before) if before is not None else None,
            after=jsonable(after) if after is not None else None,
        )
    )


def _published(definition: Definition) -> tuple[int, str] | None:
    """The key a published version's descriptions are kept by (engine.bpmn.definition.Published);
    None while it is being published (its called elements are recorded after it is first written).

    A version kept already is known without its JSON: the select that locks a step leaves that
    column unread (a pathway's is 100 KB, about 1 ms to decode on every completion; issue 18)."""
    if definition.id is None:
        return None
    key = (definition.id, definition.checksum)
    if PUBLISHED.holds(key) or "called_elements" in definition.info:
        return key
    return None


def diagram(definition: Definition) -> DiagramInfo:
    return PUBLISHED.diagram(_published(definition), lambda: definition.info)


def element(definition: Definition, element_id: str) -> ElementInfo | None:
    return PUBLISHED.element(_published(definition), lambda: definition.info, element_id)


def start_event(info: DiagramInfo) -> ElementInfo | None:
    """The main process's start event that carries the start form (or the first one)."""
    starts = [e for e in info.elements.values() if e.kind == "startEvent" and e.process == info.key]
    return next((e for e in starts if e.form), starts[0] if starts else None)


def anchors(info: DiagramInfo) -> tuple[str, ...]:
    """The start fields a case's clocks count from (the start event's ``anchors`` property)."""
    start = start_event(info)
    raw = start.properties.get("anchors", "") if start is not None else ""
    return tuple(name.strip() for name in raw.split(",") if name.strip())


# A declared deadline an open step serves: one clock with that step (its ladder and reason for delay are the step's)
SERVED_BY_OPEN_STEP = exists().where(HumanTask.deadline_id == Deadline.id, HumanTask.status == TaskStatus.OPEN)


def recorded_answers(session: Session, case: Case, read: list[Any] | None = None) -> dict[str, Any]:
    """Every answer the case holds, by field: its start data, then its completed steps in order (the latest wins).

    ``read``: the completed steps' answers as :func:`recorded_column` read them with the case."""
    answers = {k: v for k, v in (case.start_data or {}).items() if v is not None}
    recorded = read if read is not None else session.scalars(
        select(HumanTask.data).where(HumanTask.case_id == case.id, HumanTask.status == TaskStatus.COMPLETED)
        .order_by(HumanTask.completed_at, HumanTask.id)
    )  # fmt: skip
    for values in recorded:
        answers.update({k: v for k, v in (values or {}).items() if v is not None})
    return answers


@functools.cache  # built once: a new alias each time cost more than the round trip it saves
def recorded_column(dialect: str, case_id: Any) -> Any | None:
    """The answers of the case's completed steps, in order, as one JSON list: a column of the select
    that locks the step, so a completion's date checks need no round trip of their own (issue 18).

    None on SQLite: a query there is a call in the same process (and its aggregates take no order)."""
    if dialect != "postgresql":
        return None
    step = aliased(HumanTask)  # never the locked step's own row: the outer select reads tasks too
    done = and_(step.case_id == case_id, step.status == TaskStatus.COMPLETED)
    ordered = aggregate_order_by(step.data, step.completed_at, step.id)
    return select(func.json_agg(ordered, type_=JSON)).where(done).scalar_subquery()


def form_fields(definition: Definition) -> dict[str, forms.FormField]:
    """Every form field of a pathway (its called diagrams' too), by id."""
    return {f.id: f for e in diagram(definition).elements.values() for f in e.form}


def date_rules(
    session: Session, case: Case, today: date | None = None, read: list[Any] | None = None
) -> forms.DateRules:
    """Today and the case's dates so far (start data, then completed steps in order), for plausible dates."""
    info = diagram(case.definition)
    fields = form_fields(case.definition)
    known: dict[str, Any] = {}
    for name, value in recorded_answers(session, case, read).items():
        if name in fields and fields[name].type == "date" and value:
            try:
                known[name] = forms.parse_date(value)
            except (TypeError, ValueError):
                continue
    return forms.DateRules(
        today=today or clock.london_today(),
        known=known,
        labels={name: f.label for name, f in fields.items()},
        anchors=anchors(info),
    )


# The closures and the active subscriptions are read on every completion and hardly ever change: a
# process keeps them and checks they are current by stamps read in the same select as the step's
# row lock (no round trip of their own). Closures are only ever added, so their count is their
# stamp; subscriptions are never deleted and every change bumps a row's revision, so theirs is the
# count and the sum of revisions.
STAMPS = "pathways.stamps"


def stamp_columns() -> tuple[Any, ...]:
    return (
        select(func.count()).select_from(CalendarClosure).scalar_subquery(),
        select(func.count()).select_from(Subscription).scalar_subquery(),
        select(func.coalesce(func.sum(Subscription.revision), 0)).scalar_subquery(),
    )


def keep_stamps(session: Session, values: Any) -> None:
    """Remember, for this transaction, the stamps a select read with ``stamp_columns()``."""
    closures, subscriptions, revisions = values
    session.info[STAMPS] = {"closures": closures, "subscriptions": (subscriptions, revisions)}


def refresh_calendar(rt: Runtime, session: Session) -> WorkingCalendar:
    """Keep the engine's calendar in step with the closures table (no read when this transaction's stamp matches)."""
    stamp = session.info.get(STAMPS, {}).get("closures")
    if stamp is not None and stamp == rt.bpmn.calendar_stamp:
        return rt.bpmn.calendar
    closures = frozenset(session.scalars(select(CalendarClosure.day)))
    if closures != rt.bpmn.calendar.closures:
        rt.bpmn.calendar = WorkingCalendar(closures)
    rt.bpmn.calendar_stamp = len(closures)
    return rt.bpmn.calendar


def spec_for(rt: Runtime, session: Session, definition: Definition) -> tuple[Any, dict]:
    def files() -> list[tuple[str, bytes]]:
        found = [(definition.filename, definition.bpmn_xml.encode("utf-8"))]
        for dep_id in dependency_closure(session, definition):
            dep = session.get(Definition, dep_id)
            if dep is not None:
                found.append((dep.filename, dep.bpmn_xml.encode("utf-8")))
        return found

    return rt.bpmn.spec((definition.id, definition.checksum), definition.key, files)


def dependency_closure(session: Session, definition: Definition) -> list[int]:
    seen: list[int] = []
    pending = list(definition.depends_on)
    while pending:
        dep_id = pending.pop()
        if dep_id in seen or dep_id == definition.id:
            continue
        seen.append(dep_id)
        dep = session.get(Definition, dep_id)
        pending.extend(dep.depends_on if dep is not None else [])
    return seen


def find_case(session: Session, ref: str, key: str | None = None, case_id: int | None = None) -> Case:
    """A case by id, or the child's newest case (active first), optionally of one pathway."""
    if case_id is not None:
        case = session.get(Case, case_id)
        if case is None:
            raise NotFound(f"there is no case {case_id}")
        return case
    query = select(Case).where(Case.ref == ref)
    if key:
        query = query.where(Case.key == key)
    cases = list(session.scalars(query.order_by(Case.id.desc())))
    if not cases:
        raise NotFound(f"no case for child reference {ref}" + (f" on pathway {key}" if key else ""))
    active = [c for c in cases if c.status in ACTIVE_CASE_STATUSES]
    return (active or cases)[0]


def commit(uow: UnitOfWork, what: str = "this case") -> None:
    """Commit, turning a lost optimistic-lock race into a clear Conflict."""
    try:
        uow.commit()
    except StaleDataError:
        uow.rollback()
        raise Conflict(f"Someone else changed {what} at the same moment. Reload it and try again.") from None
    except OperationalError as exc:
        uow.rollback()
        if "locked" in str(exc).lower():
            raise Conflict(f"{what} is busy: someone else is saving it. Try again.") from None
        raise
