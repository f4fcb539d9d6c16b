"""Cases: start one, look at one, and the manager's transitions (suspend, resume, cancel, retry)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import clock
from engine.bootstrap import Runtime
from engine.bpmn.runtime import STATE_FORMAT
from engine.domain import forms
from engine.domain.events import CHILD_REF
from engine.domain.states import ACTIVE_CASE_STATUSES, CaseStatus, DeadlineStatus, TaskStatus
from engine.errors import Conflict, FormInvalid, InvalidInput, NotAllowed
from engine.persistence.models import Case, Deadline, Definition, HumanTask
from engine.services import _steps
from engine.services._common import (
    audit,
    commit,
    diagram,
    element,
    find_case,
    jsonable,
    refresh_calendar,
    spec_for,
    start_event,
)
from engine.services.definitions import find_definition
from engine.services.views import case_view


def _start_values(definition: Definition, data: dict[str, Any]) -> dict[str, Any]:
    """The start form's answers, typed and plausible (raises FormInvalid with every problem at once)."""
    start = start_event(diagram(definition))
    if start is not None and start.form:  # every declared field exists in the case data, None when left blank
        fields = start.form
        errors: dict[str, str] = {}
        try:
            cleaned = forms.validate(fields, data, forms.DateRules(today=clock.london_today()))
        except FormInvalid as exc:
            errors, boxes, cleaned = dict(exc.errors), exc.boxes, {}
        else:
            boxes = {}
        one_of = [n.strip() for n in start.properties.get("required_one_of", "").split(",") if n.strip()]
        if one_of and not any(not _blank(data.get(name)) for name in one_of):
            labels = {f.id: f.label for f in fields}
            message = start.properties.get("required_one_of_message") or (
                "Enter " + " or ".join(forms.what(labels.get(n, n)) for n in one_of)
            )
            for name in one_of:
                errors.setdefault(name, message)
        if errors:
            raise FormInvalid(errors, dict(data), boxes=boxes)
        return {**{f.id: None for f in fields}, **cleaned}
    bad = [k for k in data if not forms.IDENTIFIER.match(k)]
    if bad:
        raise InvalidInput(f"start data names must look like looked_after_date, not {', '.join(bad)}")
    return dict(data)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip().strip("/").strip())


def check_start(rt: Runtime, key: str, data: dict[str, Any]) -> None:
    """Raise FormInvalid with every problem in the start form, starting nothing (a page adds its own)."""
    with rt.uow() as uow:
        _start_values(find_definition(uow.session, key, None), data)


def start_case(
    rt: Runtime,
    key: str,
    ref: str,
    data: dict[str, Any],
    actor: str,
    version: int | None = None,
    team: str | None = None,
) -> dict[str, Any]:
    """Start pathway ``key`` for the child with case reference ``ref``, held by ``team``."""
    with rt.uow() as uow:
        case = open_case(rt, uow.session, key, ref, data, actor, version=version, team=team)
        commit(uow)
        return case_view(uow.session, case)


def open_case(
    rt: Runtime,
    session: Session,
    key: str,
    ref: str,
    data: dict[str, Any],
    actor: str,
    version: int | None = None,
    team: str | None = None,
) -> Case:
    """Create and run a new case inside the caller's transaction (also used for follow-on pathways)."""
    if not CHILD_REF.match(ref or ""):
        raise InvalidInput("the child reference must be letters, digits and . _ / - (no spaces, no names)")
    definition = find_definition(session, key, version)
    _refuse_duplicate(session, ref, key)
    values = _start_values(definition, data)
    refresh_calendar(rt, session)
    workflow, result = rt.bpmn.start(spec_for(rt, session, definition), values)
    now = clock.utcnow()
    case = Case(
        ref=ref, key=key, team=team or None, definition=definition, status=CaseStatus.RUNNING, state="",
        state_format=STATE_FORMAT, start_data=jsonable(values), started_at=now, started_by=actor, updated_at=now,
    )  # fmt: skip
    try:
        with session.begin_nested():
            session.add(case)
            session.flush()
    except IntegrityError:  # another start of the same child's pathway committed first (ux_cases_one_open)
        _refuse_duplicate(session, ref, key)
        raise
    audit(session, case.id, actor, "case.started", detail=f"{key} version {definition.version}", after=values)
    _steps.sync(rt, session, case, workflow, result, actor)
    return case


def _refuse_duplicate(session: Session, ref: str, key: str) -> None:
    """409 naming the open case: one open case per child and pathway, enforced by a unique index too."""
    existing = session.scalar(
        select(Case).where(Case.ref == ref, Case.key == key, Case.status.in_(ACTIVE_CASE_STATUSES)).limit(1)
    )
    if existing is not None:
        raise Conflict(f"child {ref} already has an open {key} pathway (case {existing.id}, {existing.status})",
                       case_id=existing.id, case_status=str(existing.status))  # fmt: skip


def show_case(rt: Runtime, ref: str, key: str | None = None, case_id: int | None = None) -> dict[str, Any]:
    with rt.uow() as uow:
        return case_view(uow.session, find_case(uow.session, ref, key, case_id))


def suspend_case(rt: Runtime, ref: str, actor: str, reason: str, key: str | None = None,
                 case_id: int | None = None) -> dict[str, Any]:  # fmt: skip
    """Pause a case: no step can be completed and no timer fires until it is resumed."""
    if not (reason or "").strip():
        raise InvalidInput("give a reason for suspending the case")
    return _set_status(rt, ref, key, case_id, actor, reason, "case.suspended",
                       {CaseStatus.RUNNING, CaseStatus.WAITING, CaseStatus.ERROR}, CaseStatus.SUSPENDED)  # fmt: skip


def resume_case(rt: Runtime, ref: str, actor: str, reason: str = "", key: str | None = None,
                case_id: int | None = None) -> dict[str, Any]:  # fmt: skip
    return _set_status(rt, ref, key, case_id, actor, reason, "case.resumed", {CaseStatus.SUSPENDED}, None)


def _set_status(
    rt: Runtime, ref: str, key: str | None, case_id: int | None, actor: str, reason: str, action: str,
    allowed: set[CaseStatus], target: CaseStatus | None,
) -> dict[str, Any]:  # fmt: skip
    with rt.uow() as uow:
        session = uow.session
        case = find_case(session, ref, key, case_id)
        if case.status not in allowed:
            raise NotAllowed(f"case {case.id} is {case.status}; it cannot be {action.split('.')[1]} now")
        before = case.status
        if target is None:  # resume: recompute running / waiting / error from the saved state
            spec = spec_for(rt, session, case.definition)
            workflow, result = rt.bpmn.attempt(lambda: rt.bpmn.load(spec, case.state), rt.bpmn.advance)
            _steps.sync(rt, session, case, workflow, result, actor)
        else:
            case.status, case.next_timer_due = target, None
        case.updated_at = clock.utcnow()
        audit(session, case.id, actor, action, detail=reason, before={"status": before}, after={"status": case.status})
        commit(uow)
        return case_view(session, case)


def cancel_case(rt: Runtime, ref: str, actor: str, reason: str, key: str | None = None,
                case_id: int | None = None) -> dict[str, Any]:  # fmt: skip
    """End a case early. Nothing is deleted: the case, its steps and deadlines stay, marked cancelled."""
    if not (reason or "").strip():
        raise InvalidInput("give a reason for cancelling the case")
    with rt.uow() as uow:
        session = uow.session
        case = find_case(session, ref, key, case_id)
        if case.status not in ACTIVE_CASE_STATUSES:
            raise NotAllowed(f"case {case.id} is already {case.status}")
        workflow = rt.bpmn.load(spec_for(rt, session, case.definition), case.state)
        rt.bpmn.cancel(workflow)
        _close_rows(session, case)
        before = case.status
        case.status, case.next_timer_due, case.ended_at = CaseStatus.CANCELLED, None, clock.utcnow()
        case.state, case.updated_at = rt.bpmn.dump(workflow), clock.utcnow()
        audit(session, case.id, actor, "case.cancelled", detail=reason, before={"status": before},
              after={"status": CaseStatus.CANCELLED})  # fmt: skip
        commit(uow)
        return case_view(session, case)


def _close_rows(session: Session, case: Case) -> None:
    for task in session.scalars(select(HumanTask).where(HumanTask.case_id == case.id, HumanTask.status == "open")):
        task.status, task.completed_at = TaskStatus.CANCELLED, clock.utcnow()
    for deadline in session.scalars(
        select(Deadline).where(Deadline.case_id == case.id, Deadline.status == DeadlineStatus.RUNNING)
    ):
        deadline.status = DeadlineStatus.CANCELLED


def _clocks_never_opened(session: Session, case: Case, element_id: str) -> bool:
    """An element (not a step) that declares clocks, none of which this case has: its deadlines failed to open."""
    info = element(case.definition, element_id)
    if info is None or info.kind == "userTask" or not info.deadlines():
        return False
    opened = session.scalar(select(Deadline.id).where(Deadline.case_id == case.id, Deadline.element == element_id))
    return opened is None


def retry_case(rt: Runtime, ref: str, actor: str, data: dict[str, Any] | None = None, key: str | None = None,
               case_id: int | None = None) -> dict[str, Any]:  # fmt: skip
    """Run a case in ``error`` again, optionally after correcting case data."""
    with rt.uow() as uow:
        session = uow.session
        case = find_case(session, ref, key, case_id)
        if case.status != CaseStatus.ERROR:
            raise NotAllowed(f"case {case.id} is {case.status}, not in error: there is nothing to retry")
        refresh_calendar(rt, session)
        spec = spec_for(rt, session, case.definition)

        def fresh() -> Any:
            workflow = rt.bpmn.load(spec, case.state)
            if data:
                rt.bpmn.set_data(workflow, data)
            return workflow

        audit(session, case.id, actor, "case.retried", element=case.error_element, detail=case.error_message,
              after={"data": data or {}})  # fmt: skip
        failed_at = case.error_element
        workflow, result = rt.bpmn.attempt(fresh, rt.bpmn.retry)
        if failed_at and failed_at not in result.completed and _clocks_never_opened(session, case, failed_at):
            result.completed.insert(0, failed_at)  # its clocks failed after it ran (a start event): open them now
        _steps.sync(rt, session, case, workflow, result, actor)
        commit(uow)
        return case_view(session, case)
