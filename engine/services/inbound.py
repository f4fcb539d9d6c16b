"""Events from case-management systems: store first, then apply to the child's pathways.

``receive_event`` stores an event (unique per sender and event id) and commits before the
sender is answered, so nothing is lost if the process dies after replying. ``apply_events``
then applies each child's stored events one at a time, in ``occurred_at`` order, under a lock on
the child's row in ``event_children`` (several web and worker processes may apply at once). The
worker's sweep applies whatever a request did not. An event that:

- a rule starts a pathway with, opens that pathway for the child;
- a rule turns into a BPMN message, goes to the child's open cases waiting for that message
  (correlated on ``child_ref``), as if the step it stands in for had been done with its values;
- arrived after a later event of the same child was applied, is parked with the reason;
- no open case waits for, is stored as unmatched; an administrator can replay it later;
- cannot be applied (a closed gate, bad values, the pathway already open), is parked.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from engine import clock
from engine.bootstrap import Runtime
from engine.domain import forms
from engine.domain.events import Event, EventRules, Rule, parse_event, parse_rules
from engine.domain.states import CaseStatus, TaskStatus
from engine.errors import Conflict, DefinitionInvalid, GateClosed, InvalidInput, NotAllowed, NotFound, PathwaysError
from engine.persistence.models import Case, EventChild, HumanTask, InboundEvent, Team
from engine.services import _steps
from engine.services._common import audit, commit, date_rules, element, jsonable, refresh_calendar, spec_for
from engine.services.cases import open_case
from engine.services.tasks import check_gate

RECEIVED, APPLIED, UNMATCHED, PARKED, IGNORED, FAILED = (
    "received",
    "applied",
    "unmatched",
    "parked",
    "ignored",
    "failed",
)
STATUSES = (RECEIVED, APPLIED, UNMATCHED, PARKED, IGNORED, FAILED)
REPLAYABLE = (UNMATCHED, PARKED, IGNORED, FAILED)
EVENTS_FILE = "events.toml"
_rules_cache: dict[Path, tuple[float, EventRules]] = {}


def event_rules(rt: Runtime) -> EventRules:
    """The rules in ``<workflows>/events.toml``, read again when the file changes."""
    path = Path(rt.settings.workflows_dir) / EVENTS_FILE
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        raise DefinitionInvalid(f"{path} is missing: it maps case-system events to pathways") from None
    cached = _rules_cache.get(path)
    if cached is None or cached[0] != mtime:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise DefinitionInvalid(f"{path}: {exc}") from None
        _rules_cache[path] = (mtime, parse_rules(raw, str(path)))
    return _rules_cache[path][1]


def receive_event(rt: Runtime, sender: str, raw: Any, webhook_id: str) -> dict[str, Any]:
    """Store one event and commit. A repeat (same sender and id) is acknowledged, not stored twice.

    An event dated further into the future than ``event_future_skew_minutes`` is refused (and the
    refusal audited): applied, a typo's 2062 would park every real event of the child after it."""
    event = parse_event(raw)
    _refuse_future(rt, sender, event)
    with rt.uow() as uow:
        existing = _existing(uow.session, sender, event.id)
        if existing is not None:
            return {"status": "duplicate", "id": existing.id, "event_status": existing.status}
        row = InboundEvent(
            sender=sender, event_id=event.id, webhook_id=webhook_id[:200], type=event.type,
            child_ref=event.child_ref, occurred_at=event.occurred_at, payload=jsonable(event.payload),
            received_at=clock.utcnow(), status=RECEIVED, case_ids=[], attempts=0,
        )  # fmt: skip
        uow.session.add(row)
        try:
            uow.commit()
        except IntegrityError:  # the same event, stored by a concurrent request a moment ago
            uow.rollback()
            existing = _existing(uow.session, sender, event.id)
            return {"status": "duplicate", "id": existing.id if existing else None,
                    "event_status": existing.status if existing else RECEIVED}  # fmt: skip
        return {"status": "accepted", "id": row.id, "event_status": RECEIVED, "child_ref": event.child_ref}


def _refuse_future(rt: Runtime, sender: str, event: Event) -> None:
    latest = clock.utcnow() + timedelta(minutes=rt.settings.event_future_skew_minutes)
    if event.occurred_at <= latest:
        return
    reason = (f"occurred_at {event.occurred_at:%d/%m/%Y %H:%M} UTC is in the future (more than "
              f"{rt.settings.event_future_skew_minutes} minutes ahead): check the date and send it again")  # fmt: skip
    with rt.uow() as uow:
        audit(uow.session, None, f"webhook:{sender}", "event.refused", detail=f"{event.type} {event.id}: {reason}",
              after={"id": event.id, "type": event.type, "child_ref": event.child_ref,
                     "occurred_at": event.occurred_at})  # fmt: skip
        commit(uow, "the refusal")
    raise InvalidInput(reason)


def _existing(session: Session, sender: str, event_id: str) -> InboundEvent | None:
    return session.scalar(select(InboundEvent).where(InboundEvent.sender == sender, InboundEvent.event_id == event_id))


def apply_events(rt: Runtime, child_ref: str | None = None, batch: int = 100) -> dict[str, int]:
    """Apply stored events, each child's in ``occurred_at`` order. Returns counts by outcome."""
    with rt.uow() as uow:
        query = select(InboundEvent.child_ref, func.min(InboundEvent.received_at)).where(
            InboundEvent.status == RECEIVED
        )
        if child_ref is not None:
            query = query.where(InboundEvent.child_ref == child_ref)
        query = query.group_by(InboundEvent.child_ref).order_by(func.min(InboundEvent.received_at)).limit(batch)
        children = [r[0] for r in uow.session.execute(query)]
    counts = {f"events_{s}": 0 for s in (APPLIED, UNMATCHED, PARKED, IGNORED, FAILED)} | {"events_busy": 0}
    for ref in children:
        try:
            for status, n in _apply_child(rt, ref).items():
                counts[f"events_{status}"] += n
        except Conflict:  # a case changed under us, or another process holds the child: the next sweep retries
            counts["events_busy"] += 1
    return counts


def replay_event(rt: Runtime, event_row_id: int, actor: str) -> dict[str, Any]:
    """Apply an unmatched, parked, ignored or failed event again, now (an administrator's action).

    A replay is applied even if later events of the child were applied since: the administrator
    has decided it still applies. The replay is audited."""
    with rt.uow() as uow:
        row = uow.session.get(InboundEvent, event_row_id)
        if row is None:
            raise NotFound(f"there is no event {event_row_id}")
        if row.status not in REPLAYABLE:
            raise NotAllowed(f"event {row.event_id} is {row.status}: only {', '.join(REPLAYABLE)} events are replayed")
        before = row.status
        row.status, row.replayed_by, row.replayed_at = RECEIVED, actor, clock.utcnow()
        audit(uow.session, None, actor, "event.replayed", detail=f"{row.type} {row.event_id} for {row.child_ref}",
              before={"status": before, "reason": row.reason}, after={"status": RECEIVED})  # fmt: skip
        commit(uow, f"event {row.event_id}")
        ref = row.child_ref
    _apply_child(rt, ref, forced=event_row_id)
    return show_event(rt, event_row_id)


def show_event(rt: Runtime, event_row_id: int) -> dict[str, Any]:
    with rt.uow() as uow:
        row = uow.session.get(InboundEvent, event_row_id)
        if row is None:
            raise NotFound(f"there is no event {event_row_id}")
        return event_view(row)


def list_events(rt: Runtime, status: str | None = None, child_ref: str | None = None, page: int = 1,
                per_page: int = 50) -> dict[str, Any]:  # fmt: skip
    if status and status not in STATUSES:
        raise InvalidInput(f"status is one of {', '.join(STATUSES)}")
    where = []
    if status:
        where.append(InboundEvent.status == status)
    if child_ref:
        where.append(InboundEvent.child_ref == child_ref)
    page, per_page = max(page, 1), min(max(per_page, 1), 200)
    with rt.uow() as uow:
        total = uow.session.scalar(select(func.count()).select_from(InboundEvent).where(*where)) or 0
        rows = uow.session.scalars(select(InboundEvent).where(*where).order_by(InboundEvent.id.desc())
                                   .offset((page - 1) * per_page).limit(per_page))  # fmt: skip
        by_status = dict(uow.session.execute(
            select(InboundEvent.status, func.count()).group_by(InboundEvent.status)).all())  # fmt: skip
        return {"page": page, "per_page": per_page, "total": total, "events": [event_view(r) for r in rows],
                "counts": {s: by_status.get(s, 0) for s in STATUSES}}  # fmt: skip


def event_view(row: InboundEvent) -> dict[str, Any]:
    return {
        "id": row.id, "sender": row.sender, "event_id": row.event_id, "type": row.type, "child_ref": row.child_ref,
        "occurred_at": row.occurred_at.isoformat(), "received_at": row.received_at.isoformat(), "status": row.status,
        "reason": row.reason, "action": row.action, "case_ids": list(row.case_ids), "attempts": row.attempts,
        "applied_at": row.applied_at.isoformat() if row.applied_at else None, "payload": row.payload,
        "replayable": row.status in REPLAYABLE, "replayed_by": row.replayed_by,
        "replayed_at": row.replayed_at.isoformat() if row.replayed_at else None,
    }  # fmt: skip


# --- applying -----------------------------------------------------------------------------


@dataclass
class _Outcome:
    status: str
    action: str | None = None
    reason: str | None = None
    case_ids: tuple[int, ...] = ()


def _apply_child(rt: Runtime, ref: str, forced: int | None = None) -> dict[str, int]:
    rules = event_rules(rt)
    counts: dict[str, int] = {}
    with rt.uow() as uow:
        session = uow.session
        child = _lock_child(session, ref)
        pending = session.scalars(
            select(InboundEvent).where(InboundEvent.child_ref == ref, InboundEvent.status == RECEIVED)
            .order_by(InboundEvent.occurred_at, InboundEvent.id).with_for_update()
        ).all()  # fmt: skip
        refresh_calendar(rt, session)
        for row in pending:
            outcome = _apply_one(rt, session, rules, child, row, forced=row.id == forced)
            row.status, row.action, row.reason = outcome.status, outcome.action, outcome.reason
            row.case_ids, row.attempts = list(outcome.case_ids), row.attempts + 1
            if outcome.status == APPLIED:
                row.applied_at = clock.utcnow()
                if child.last_occurred_at is None or row.occurred_at >= child.last_occurred_at:
                    child.last_occurred_at, child.last_event_id = row.occurred_at, row.id
            counts[outcome.status] = counts.get(outcome.status, 0) + 1
        commit(uow, f"the events of child {ref}")
    return counts


def _lock_child(session: Session, ref: str) -> EventChild:
    """The child's ordering row, made if missing, locked until commit: one applier per child at a time."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(EventChild).values(child_ref=ref).on_conflict_do_nothing())
    return session.scalars(select(EventChild).where(EventChild.child_ref == ref).with_for_update()).one()


def _apply_one(rt: Runtime, session: Session, rules: EventRules, child: EventChild, row: InboundEvent,
               forced: bool) -> _Outcome:  # fmt: skip
    event = Event(row.event_id, row.type, row.occurred_at, row.child_ref, dict(row.payload))
    rule = rules.match(event)
    if rule is None:
        return _Outcome(IGNORED, reason=f"no rule in {EVENTS_FILE} handles {row.type} with this payload")
    if not forced and child.last_occurred_at is not None and row.occurred_at < child.last_occurred_at:
        return _Outcome(PARKED, reason=(
            f"out of order: it happened at {row.occurred_at:%d/%m/%Y %H:%M} UTC, before event {child.last_event_id} "
            f"of this child ({child.last_occurred_at:%d/%m/%Y %H:%M} UTC), which was already applied. "
            "Check the child's pathway, then replay it if it still applies."))  # fmt: skip
    actor = f"webhook:{row.sender}"
    try:
        with session.begin_nested():
            return _start(rt, session, rule, event, actor) if rule.start else _message(rt, session, rule, event, actor)
    except StaleDataError:
        raise Conflict(f"a case of child {row.child_ref} changed while its events were applied") from None
    except PathwaysError as exc:
        return _Outcome(PARKED, reason=exc.message)
    except Exception as exc:  # an unexpected failure stays with this event; the others still apply
        return _Outcome(FAILED, reason=f"{type(exc).__name__}: {exc}"[:1000])


def _start(rt: Runtime, session: Session, rule: Rule, event: Event, actor: str) -> _Outcome:
    assert rule.start is not None
    team = rule.team_of(event)
    if team is not None and session.get(Team, team) is None:  # a case held by no known team is in nobody's list
        raise InvalidInput(f"there is no team '{team}': add it, or correct the sender's team codes, then replay")
    case = open_case(rt, session, rule.start, event.child_ref, rule.values(event), actor, team=team)
    audit(session, case.id, actor, "event.applied", detail=f"{event.type} {event.id}: started {rule.start}",
          after={"event": event.id, "type": event.type, "occurred_at": event.occurred_at})  # fmt: skip
    return _Outcome(APPLIED, action=f"started {rule.start} (case {case.id})", case_ids=(case.id,))


def _message(rt: Runtime, session: Session, rule: Rule, event: Event, actor: str) -> _Outcome:
    """Send the rule's message to every open case of the child that waits for it."""
    assert rule.message is not None
    message = rule.message
    cases = session.scalars(
        select(Case).where(Case.ref == event.child_ref, Case.status.in_(
            (CaseStatus.RUNNING, CaseStatus.WAITING, CaseStatus.SUSPENDED))).order_by(Case.id)
    ).all()  # fmt: skip
    delivered: list[int] = []
    refused: list[str] = []
    for case in cases:
        spec = spec_for(rt, session, case.definition)
        workflow = rt.bpmn.load(spec, case.state)
        element_id = rt.bpmn.waiting_messages(workflow).get(rule.message)
        if element_id is None:
            continue
        if case.status == CaseStatus.SUSPENDED:
            refused.append(f"case {case.id} ({case.key}) waits for it but is suspended")
            continue
        values = _message_values(rt, session, case, workflow, element_id, rule, event)
        loaded = [workflow]  # the copy already read is the first try's; a retry loads afresh
        workflow, result = rt.bpmn.attempt(
            lambda: loaded.pop() if loaded else rt.bpmn.load(spec, case.state),  # noqa: B023 - called in this turn
            lambda wf: rt.bpmn.send_message(wf, message, values),  # noqa: B023
        )
        audit(session, case.id, actor, "event.applied", element=element_id,
              detail=f"{event.type} {event.id}: message {rule.message}",
              after={"event": event.id, "type": event.type, "occurred_at": event.occurred_at,
                     "values": values})  # fmt: skip
        _steps.sync(rt, session, case, workflow, result, actor)
        delivered.append(case.id)
    if delivered:
        shown = ", ".join(str(c) for c in delivered)
        return _Outcome(APPLIED, action=f"message {rule.message} to case {shown}", case_ids=tuple(delivered))
    if refused:
        raise NotAllowed("; ".join(refused))
    return _Outcome(UNMATCHED, reason=f"no open pathway of child {event.child_ref} waits for {rule.message}")


def _message_values(rt: Runtime, session: Session, case: Case, workflow: Any, element_id: str, rule: Rule,
                    event: Event) -> dict[str, Any]:  # fmt: skip
    """The event's values, checked against the form of the step the message stands in for, and its gate."""
    info = element(case.definition, element_id)
    step = element(case.definition, info.attached_to) if info is not None and info.attached_to else None
    raw = rule.values(event)
    if info is not None and info.own_event:  # only the date it records
        try:
            return forms.validate(info.form, {k: v for k, v in raw.items() if k in {f.id for f in info.form}},
                                  date_rules(session, case))  # fmt: skip
        except InvalidInput as exc:
            raise InvalidInput(f"case {case.id}, '{info.name}': {exc.message}") from None
    if step is None:
        return raw
    known = {f.id for f in step.form}
    try:
        cleaned = forms.validate(step.form, {k: v for k, v in raw.items() if k in known}, date_rules(session, case))
    except InvalidInput as exc:
        raise InvalidInput(f"case {case.id}, '{step.name}': {exc.message}") from None
    _check_gate(session, case, step.id, event)
    data = rt.bpmn.data(workflow)
    return {**{name: None for name in known if name not in data}, **cleaned}


def _check_gate(session: Session, case: Case, step_id: str, event: Event) -> None:
    task = session.scalar(select(HumanTask).where(
        HumanTask.case_id == case.id, HumanTask.element == step_id, HumanTask.status == TaskStatus.OPEN))  # fmt: skip
    if task is None:
        return
    try:
        check_gate(task, event.occurred_on)
    except GateClosed as exc:
        raise GateClosed(f"case {case.id}: {exc.message}; the event says {event.occurred_on:%d/%m/%Y}",
                         **exc.details) from None  # fmt: skip


def oldest_waiting(rt: Runtime) -> datetime | None:
    """When the oldest event still waiting to be applied arrived (for the admin page and health)."""
    with rt.uow() as uow:
        return uow.session.scalar(select(func.min(InboundEvent.received_at)).where(InboundEvent.status == RECEIVED))
