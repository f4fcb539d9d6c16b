"""Managers' oversight: cases at risk of drift, and what a manager does about them.

A case is listed when it is (a) overdue on a step, (b) past a deadline, (c) in error, (d)
suspended, or (e) has made no progress for ``stuck_after_working_days`` working days. The
ranking, filters, sort, paging and counts are one select over ``cases`` (each row carries the
summary of its steps and deadlines, engine.persistence.summary); only the page shown is then
described, in a few batched queries, so the page stays fast however many cases the authority holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import Date, Select, and_, case, func, or_, select, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from engine import clock
from engine.bootstrap import Runtime
from engine.bpmn.xml import NS, parse_bpmn
from engine.domain import forms
from engine.domain.access import Person
from engine.domain.states import ACTIVE_CASE_STATUSES, CaseStatus, DeadlineStatus, TaskStatus
from engine.errors import FormInvalid, InvalidInput, NotAllowed, NotFound, PathwaysError
from engine.persistence import tallies
from engine.persistence.models import Case, Deadline, Definition, Escalation, HumanTask
from engine.services import _steps
from engine.services import cases as case_service
from engine.services._common import SERVED_BY_OPEN_STEP, audit, commit, date_rules, refresh_calendar, spec_for
from engine.services.definitions import latest
from engine.services.escalations import record_delay_reason
from engine.services.tasks import complete_on_behalf
from engine.services.worklist import case_for, own_event

REASONS = {
    "overdue": "Overdue step",
    "deadline": "Past a deadline",
    "error": "In error",
    "suspended": "Suspended",
    "no_progress": "No progress",
}
SORTS = ("overdue", "waiting", "ref")
PAGE_SIZE = 25


@dataclass(frozen=True)
class StuckQuery:
    reason: str = ""  # one of REASONS, or "" for any
    key: str = ""  # pathway
    team: str = ""
    no_delay_reason: bool = False  # only cases where no reason for delay is recorded
    sort: str = "overdue"
    page: int = 1

    def checked(self) -> StuckQuery:
        if self.reason and self.reason not in REASONS:
            raise InvalidInput(f"unknown reason '{self.reason}'")
        if self.sort not in SORTS:
            raise InvalidInput(f"sort by one of {', '.join(SORTS)}")
        return self


def check_team(person: Person, team: str) -> None:
    if team and not person.may_see_team(team):
        raise NotAllowed(f"you do not manage team {team}")


def in_scope(person: Person, team: str) -> list[Any]:
    """The conditions keeping the cases of ``team``, or of every team the manager oversees."""
    if team:
        check_team(person, team)
        return [Case.team == team]
    return [] if person.all_teams else [Case.team.in_(sorted(person.teams))]


def scoped(query: Select, person: Person, team: str) -> Select:
    """Only the cases (``Case`` in the query) of ``team``, or of every team the manager oversees."""
    return query.where(*in_scope(person, team))


class utc_day(FunctionElement[date]):
    """The UTC calendar day of a stored UTC datetime, on both databases."""

    type = Date()
    inherit_cache = True


@compiles(utc_day)
def _utc_day_default(element: utc_day, compiler: Any, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)})"  # SQLite stores UTC text


@compiles(utc_day, "postgresql")
def _utc_day_postgresql(element: utc_day, compiler: Any, **kw: Any) -> str:
    return f"CAST(({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'UTC' AS DATE)"


@dataclass(frozen=True)
class _Ranking:
    """Each at-risk case of the manager's scope with its reasons, in SQL over ``cases`` alone.

    A case is late (overdue on a step, or past a deadline) exactly when its ``risk_due`` (kept with
    its summary) is before today, so the default order (most overdue first) reads the late cases in
    the order of an index and stops after the page; the others at risk (in error, suspended, no
    progress) follow, waiting longest first. Each count reads a covering index of its own."""

    scope: list[Any]  # the manager's teams (or the one chosen) and the pathway
    reasons: dict[str, Any]  # reason -> its condition on a case
    filtered: Any  # the query's own reason and reason-for-delay filters
    late: Any  # overdue or past a deadline: risk_due before today
    columns: tuple[Any, ...]
    sort: str

    @property
    def at_risk(self) -> Any:
        return or_(*self.reasons.values())

    def select(self, *where: Any) -> Select:
        return select(*self.columns).where(*self.scope, self.filtered, *where)

    def _order(self, late_first: bool) -> tuple[Any, ...]:
        waiting_day = utc_day(func.coalesce(Case.waiting_since, Case.updated_at))
        if self.sort == "ref":
            return (Case.ref, Case.id)
        if self.sort == "waiting" or not late_first:
            return (waiting_day, Case.ref, Case.id)
        return (Case.risk_due, waiting_day, Case.ref, Case.id)

    def parts(self) -> list[Select]:
        """The ranked cases as one or two selects, to be read one after the other."""
        if self.sort != "overdue":
            return [self.select(self.at_risk).order_by(*self._order(False))]
        return [self.select(self.late).order_by(*self._order(True)),
                self.select(self.not_late, self.stopped_or_quiet).order_by(*self._order(False))]  # fmt: skip

    @property
    def not_late(self) -> Any:
        return or_(Case.risk_due.is_(None), ~self.late)

    @property
    def stopped_or_quiet(self) -> Any:
        """At risk for a reason other than being late: in error, suspended or without progress."""
        return or_(self.reasons["error"], self.reasons["suspended"], self.reasons["no_progress"])


def _ranking(person: Person, query: StuckQuery, today: date, quiet_since: datetime) -> _Ranking:
    running = Case.status.in_([CaseStatus.RUNNING, CaseStatus.WAITING])
    reasons = {
        "overdue": running & (Case.next_step_due < today),
        "deadline": Case.status.in_(ACTIVE_CASE_STATUSES) & (Case.next_deadline_due < today),
        "error": Case.status == CaseStatus.ERROR,
        "suspended": Case.status == CaseStatus.SUSPENDED,
        "no_progress": running & (Case.updated_at < quiet_since),
    }
    late_step = case((reasons["overdue"], Case.next_step_due), else_=None)
    late_deadline = case((reasons["deadline"], Case.next_deadline_due), else_=None)
    flags = [case((cond, 1), else_=0).label(f"r_{name}") for name, cond in reasons.items()]
    columns = (Case.id, Case.updated_at, late_step.label("late_step"), late_deadline.label("late_deadline"), *flags)
    conditions = in_scope(person, query.team)
    if query.key:
        conditions.append(Case.key == query.key)
    filtered = reasons[query.reason] if query.reason else true()
    if query.no_delay_reason:
        filtered = and_(filtered, Case.delay_noted.is_(False))
    return _Ranking(conditions, reasons, filtered, Case.risk_due < today, columns, query.sort)


def _found(row: Any, reasons: tuple[str, ...]) -> dict[str, date]:
    """A ranked row's reasons, each with the day its trouble started."""
    since = {"overdue": row.late_step, "deadline": row.late_deadline}
    return {r: _since(since.get(r) or row.updated_at) for r in reasons}


def _since(value: Any) -> date:
    return value.date() if isinstance(value, datetime) else value


def _quiet_since(rt: Runtime, session: Session, today: date) -> datetime:
    calendar = refresh_calendar(rt, session)
    back = calendar.add_working_days(today, -rt.settings.stuck_after_working_days)
    return datetime.combine(back, time(0), tzinfo=UTC)


def _reasons_of(row: Any) -> tuple[str, ...]:
    return tuple(r for r in REASONS if getattr(row, f"r_{r}"))


def _allowed(person: Person, query: StuckQuery) -> StuckQuery:
    """The query checked, and the person allowed to ask it (refused before any row is read)."""
    if not person.oversees:
        raise NotAllowed("only managers see the cases at risk")
    query = query.checked()
    check_team(person, query.team)
    return query


def stuck_cases(rt: Runtime, person: Person, query: StuckQuery) -> dict[str, Any]:
    """The manager's list of cases at risk: one page, ranked, filtered, counted and paged in SQL.

    Only the page's cases are described (their steps, deadlines and ladders)."""
    query = _allowed(person, query)
    today = clock.london_today()
    with rt.uow() as uow:
        session = uow.session
        ranking = _ranking(person, query, today, _quiet_since(rt, session, today))
        counts = _counts(session, ranking)
        total, late = counts.pop("_shown"), counts.pop("_late")
        pages = max(1, -(-total // PAGE_SIZE))
        shown = _page(session, ranking, (query.page - 1) * PAGE_SIZE, late)
        rows = _describe(session, {row.id: _found(row, _reasons_of(row)) for row in shown}, today)
        return {"rows": rows, "total": total, "counts": counts, "page": query.page, "page_size": PAGE_SIZE,
                "pages": pages, "quiet_days": rt.settings.stuck_after_working_days,
                "today": today.isoformat()}  # fmt: skip


def _page(session: Session, ranking: _Ranking, offset: int, late: int) -> list[Any]:
    """The page's rows from the ranked parts: the late cases (``late`` of them), then the rest."""
    parts = ranking.parts()
    if len(parts) == 1:
        return list(session.execute(parts[0].limit(PAGE_SIZE).offset(offset)))
    first, rest = parts
    shown = list(session.execute(first.limit(PAGE_SIZE).offset(offset))) if offset < late else []
    if len(shown) < PAGE_SIZE:
        shown += session.execute(rest.limit(PAGE_SIZE - len(shown)).offset(max(0, offset - late))).all()
    return shown


def _count(ranking: _Ranking, *where: Any) -> Any:
    return select(func.count()).select_from(Case).where(*ranking.scope, *where).scalar_subquery()


def _counts(session: Session, ranking: _Ranking) -> dict[str, int]:
    """Cases per reason in the scope (whatever the filters), ``_shown``: the cases the filters keep,
    and ``_late``: those of them overdue or past a deadline. One statement: the late cases are read
    once from their covering index (overdue and past a deadline are both late), the rest are few
    or read an index of their own."""
    reasons, filtered = ranking.reasons, ranking.filtered
    late = (select(func.count().filter(filtered).label("late"),
                   func.count().filter(reasons["overdue"]).label("overdue"),
                   func.count().filter(reasons["deadline"]).label("deadline"))
            .select_from(Case).where(*ranking.scope, ranking.late).subquery())  # fmt: skip
    others = {name: _count(ranking, reasons[name]) for name in ("error", "suspended", "no_progress")}
    # at risk = late, or else in error, suspended or quiet: parts that never overlap
    rest = _count(ranking, ranking.not_late, ranking.stopped_or_quiet, filtered)
    row = session.execute(
        select(late.c.overdue, late.c.deadline, *others.values(), late.c.late + rest, late.c.late)
    ).one()
    return dict(zip(["overdue", "deadline", *others, "_shown", "_late"], (int(v or 0) for v in row), strict=True))


def stuck_cases_csv(rt: Runtime, person: Person, query: StuckQuery, batch: int = 100) -> Iterator[dict[str, Any]]:
    """Every case at risk in the query's order, described ``batch`` rows at a time as they are read.

    The checks run at once (a refusal is raised here, not half-way through a download); the rows
    come from streamed selects, so the first arrives before the last is read."""
    query = _allowed(person, query)
    today = clock.london_today()

    def rows() -> Iterator[dict[str, Any]]:
        with rt.uow() as uow:
            session = uow.session
            ranking = _ranking(person, query, today, _quiet_since(rt, session, today))
            for part in ranking.parts():
                result = session.execute(part.execution_options(yield_per=batch))
                for chunk in result.partitions():
                    yield from _describe(session, {row.id: _found(row, _reasons_of(row)) for row in chunk}, today)

    return rows()


def _describe(session: Session, found: dict[int, dict[str, date]], today: date) -> list[dict[str, Any]]:
    if not found:
        return []
    ids = list(found)  # in the order given
    cases, tasks = _cases(session, ids), _open_tasks(session, ids)
    deadlines, levels = _unmet_deadlines(session, ids), _levels(session, ids)
    return [_row(cases[i], found[i], tasks.get(i, []), deadlines.get(i, []), levels.get(i, 0), today) for i in ids]


def _cases(session: Session, ids: list[int]) -> dict[int, Any]:
    columns = (Case.id, Case.ref, Case.key, Case.team, Case.status, Case.updated_at, Case.error_message,
               Case.error_element, Definition.name, Definition.version)  # fmt: skip
    query = select(*columns).join(Definition, Definition.id == Case.definition_id).where(Case.id.in_(ids))
    rows = session.execute(query)
    return {r.id: r for r in rows}


def _open_tasks(session: Session, ids: list[int]) -> dict[int, list[Any]]:
    found: dict[int, list[Any]] = {}
    columns = (HumanTask.id, HumanTask.case_id, HumanTask.element, HumanTask.title, HumanTask.role,
               HumanTask.assignee, HumanTask.due_date, HumanTask.created_at, HumanTask.delay_reason)  # fmt: skip
    query = select(*columns).where(HumanTask.case_id.in_(ids), HumanTask.status == TaskStatus.OPEN)
    for row in session.execute(query.order_by(HumanTask.due_date, HumanTask.id)):
        found.setdefault(row.case_id, []).append(row)
    return found


def _unmet_deadlines(session: Session, ids: list[int]) -> dict[int, list[Any]]:
    found: dict[int, list[Any]] = {}
    columns = (Deadline.id, Deadline.case_id, Deadline.name, Deadline.due_date, Deadline.status,
               Deadline.rule_status, Deadline.delay_reason, SERVED_BY_OPEN_STEP.label("served"))  # fmt: skip
    query = select(*columns).where(
        Deadline.case_id.in_(ids), Deadline.met_at.is_(None),
        Deadline.status.in_([DeadlineStatus.RUNNING, DeadlineStatus.BREACHED]),
    )  # fmt: skip
    for row in session.execute(query.order_by(Deadline.due_date, Deadline.id)):
        found.setdefault(row.case_id, []).append(row)
    return found


def _levels(session: Session, ids: list[int]) -> dict[int, int]:
    """Highest rung raised for a step still open or a deadline still unmet."""
    open_task = (
        select(HumanTask.id).where(HumanTask.id == Escalation.task_id, HumanTask.status == TaskStatus.OPEN).exists()
    )
    unmet = select(Deadline.id).where(Deadline.id == Escalation.deadline_id, Deadline.met_at.is_(None)).exists()
    query = (
        select(Escalation.case_id, func.max(Escalation.level))
        .where(Escalation.case_id.in_(ids), open_task | unmet)
        .group_by(Escalation.case_id)
    )
    return {case_id: level for case_id, level in session.execute(query)}


def _row(case: Any, reasons: dict[str, date], tasks: list[Any], deadlines: list[Any], level: int,
         today: date) -> dict[str, Any]:  # fmt: skip
    overdue_from = [d for r, d in reasons.items() if r in ("overdue", "deadline")]
    waiting_since = min([t.created_at.date() for t in tasks] or [case.updated_at.date()])
    delay = list(
        dict.fromkeys(
            [t.delay_reason for t in tasks if t.delay_reason] + [d.delay_reason for d in deadlines if d.delay_reason]
        )
    )  # one clock: said once
    return {
        "case_id": case.id, "ref": case.ref, "key": case.key, "pathway": case.name, "version": case.version,
        "team": case.team, "status": case.status,
        "reasons": [r for r in REASONS if r in reasons],
        "waiting_at": [{"task_id": t.id, "element": t.element, "title": t.title, "role": t.role,
                        "holder": t.assignee, "due": t.due_date.isoformat() if t.due_date else None,
                        "overdue": bool(t.due_date and t.due_date < today), "delay_reason": t.delay_reason}
                       for t in tasks],
        "deadlines": [{"deadline_id": d.id, "name": d.name, "due": d.due_date.isoformat(), "rule_status": d.rule_status,
                       "breached": d.due_date < today, "delay_reason": d.delay_reason, "served": bool(d.served)}
                      for d in deadlines],
        "waiting_days": (today - waiting_since).days,
        "days_overdue": (today - min(overdue_from)).days if overdue_from else 0,
        "last_progress": case.updated_at.date().isoformat(),
        "escalation_level": level,
        "delay_reasons": delay,
        "error": {"element": case.error_element, "message": case.error_message} if case.status == "error" else None,
    }  # fmt: skip


# --- acting on a case ------------------------------------------------------------------------
CASE_ACTIONS = ("suspend", "resume", "cancel", "retry")


@dataclass(frozen=True)
class _Managed:
    id: int
    ref: str
    team: str | None


def _managed_case(rt: Runtime, person: Person, case_id: int) -> _Managed:
    with rt.uow() as uow:
        case = uow.session.get(Case, case_id)
        if case is None:
            raise NotFound(f"there is no case {case_id}")
        if not person.may_assign_in(case.team):
            raise NotAllowed(f"only a manager of team {case.team} can act on case {case.ref}")
        return _Managed(case.id, case.ref, case.team)


def managed_case(rt: Runtime, person: Person, case_id: int) -> _Managed:
    """The case, if ``person`` manages its team (a confirmation page names it before anything changes)."""
    return _managed_case(rt, person, case_id)


def act_on_case(rt: Runtime, person: Person, case_id: int, action: str, reason: str) -> dict[str, Any]:
    """Suspend, resume, cancel or retry one case, as a manager of its team, with a reason (audited)."""
    case = _managed_case(rt, person, case_id)
    if action not in CASE_ACTIONS:
        raise InvalidInput(f"unknown action '{action}'")
    if action in ("suspend", "cancel") and not (reason or "").strip():
        raise InvalidInput(f"give a reason to {action} the case")
    actor = person.username
    if action == "suspend":
        return case_service.suspend_case(rt, case.ref, actor, reason, case_id=case.id)
    if action == "resume":
        return case_service.resume_case(rt, case.ref, actor, reason, case_id=case.id)
    if action == "cancel":
        return case_service.cancel_case(rt, case.ref, actor, reason, case_id=case.id)
    return case_service.retry_case(rt, case.ref, actor, case_id=case.id)


def bulk_act(rt: Runtime, person: Person, case_ids: list[int], action: str, reason: str) -> dict[str, Any]:
    """The same action on many cases, each in its own transaction: one refusal never stops the rest."""
    if not case_ids:
        raise InvalidInput("select at least one case")
    if action not in (*CASE_ACTIONS, "delay_reason"):
        raise InvalidInput(f"unknown action '{action}'")
    if action in ("suspend", "cancel", "delay_reason") and not (reason or "").strip():
        raise InvalidInput("give a reason: it is recorded on every case selected")
    done, refused = [], []
    for case_id in dict.fromkeys(case_ids):
        try:
            if action == "delay_reason":
                record_delay_for_case(rt, person, case_id, reason)
            else:
                act_on_case(rt, person, case_id, action, reason)
            done.append(case_id)
        except PathwaysError as exc:
            refused.append({"case_id": case_id, "reason": exc.message})
    return {"done": done, "refused": refused}


def record_delay(rt: Runtime, person: Person, case_id: int, reason: str, task_id: int | None = None,
                 deadline_id: int | None = None) -> dict[str, Any]:  # fmt: skip
    """A manager's reason for delay on one step or deadline of a case they manage (stops its ladder)."""
    case = _managed_case(rt, person, case_id)
    with rt.uow() as uow:
        owner = (uow.session.scalar(select(HumanTask.case_id).where(HumanTask.id == task_id)) if task_id is not None
                 else uow.session.scalar(select(Deadline.case_id).where(Deadline.id == deadline_id)))  # fmt: skip
    if owner != case.id:
        raise NotFound(f"case {case.ref} has no such {'step' if task_id is not None else 'deadline'}")
    return record_delay_reason(rt, reason, person.username, task_id=task_id, deadline_id=deadline_id)


def record_delay_for_case(rt: Runtime, person: Person, case_id: int, reason: str) -> list[dict[str, Any]]:
    """A reason for delay on every overdue step and passed deadline of a case that has none yet."""
    if not (reason or "").strip():
        raise InvalidInput("give the reason for the delay")
    case = _managed_case(rt, person, case_id)
    today = clock.london_today()
    with rt.uow() as uow:
        tasks = uow.session.scalars(select(HumanTask.id).where(
            HumanTask.case_id == case.id, HumanTask.status == TaskStatus.OPEN, HumanTask.due_date < today,
            HumanTask.delay_reason.is_(None))).all()  # fmt: skip
        deadlines = uow.session.scalars(select(Deadline.id).where(
            Deadline.case_id == case.id, Deadline.met_at.is_(None), Deadline.due_date < today,
            Deadline.status.in_([DeadlineStatus.RUNNING, DeadlineStatus.BREACHED]),
            Deadline.delay_reason.is_(None), ~SERVED_BY_OPEN_STEP)).all()  # fmt: skip
    if not tasks and not deadlines:
        raise NotAllowed(f"case {case.ref} has nothing overdue without a reason for delay")
    recorded = [record_delay_reason(rt, reason, person.username, task_id=t) for t in tasks]
    return recorded + [record_delay_reason(rt, reason, person.username, deadline_id=d) for d in deadlines]


def record_missed_event(rt: Runtime, person: Person, task_id: int, answers: dict[str, Any],
                        reason: str) -> dict[str, Any]:  # fmt: skip
    """Record on a step's behalf an event that happened but was not recorded (e.g. a review held).

    The manager completes the waiting step with its own form, whoever holds it; the case moves on,
    and the audit log says who recorded it on whose behalf and why."""
    if not (reason or "").strip():
        raise InvalidInput("say why you are recording this on the step holder's behalf")
    return complete_on_behalf(rt, task_id, answers, person, reason)


def record_case_event(rt: Runtime, person: Person, case_id: int, element_id: str, answers: dict[str, Any],
                      reason: str) -> dict[str, Any]:  # fmt: skip
    """A manager records an event the case waits for (a withdrawal of consent after placement) when
    the case system did not send it: the same message, checked the same way, audited with the reason."""
    if not (reason or "").strip():
        raise FormInvalid({"reason": "Say why you are recording this event"}, dict(answers))
    with rt.uow() as uow:
        session = uow.session
        case = case_for(session, case_id, person)
        if not person.may_assign_in(case.team):
            raise NotAllowed(f"only a manager of team {case.team} can record events for case {case.ref}")
        if case.status not in (CaseStatus.RUNNING, CaseStatus.WAITING):
            raise NotAllowed(f"case {case.ref} is {case.status}: nothing can be recorded until it is resumed")
        info = own_event(case, element_id)
        assert info.message is not None  # own_event: a message catch event
        spec = spec_for(rt, session, case.definition)
        loaded = [rt.bpmn.load(spec, case.state)]  # the copy read here is the first try's; a retry loads afresh
        if rt.bpmn.waiting_messages(loaded[0]).get(info.message) != element_id:
            raise NotAllowed(f"case {case.ref} is not waiting for '{info.name}' now")
        values = forms.validate(info.form, answers, date_rules(session, case))
        audit(session, case.id, person.username, "case.event_recorded", element=element_id, detail=reason.strip(),
              after={"recorded_by": person.username, "values": values})  # fmt: skip
        refresh_calendar(rt, session)
        message = info.message
        workflow, result = rt.bpmn.attempt(lambda: loaded.pop() if loaded else rt.bpmn.load(spec, case.state),
                                           lambda wf: rt.bpmn.send_message(wf, message, values))  # fmt: skip
        _steps.sync(rt, session, case, workflow, result, person.username)
        commit(uow, f"case {case.ref}")
        return {"case_id": case.id, "ref": case.ref, "element": element_id, "name": info.name, "values": values}


# --- where cases wait ------------------------------------------------------------------------
_CALLS: dict[tuple[int, str], dict[str, str]] = {}  # a published definition never changes


def _called_by(definition: Definition) -> dict[str, str]:
    """Called process id -> the call activity that calls it (read once per published version)."""
    key = (definition.id, definition.checksum)
    if key not in _CALLS:
        root = parse_bpmn(definition.bpmn_xml)
        _CALLS[key] = {node.get("calledElement"): node.get("id") for node in root.iterfind(".//bpmn:callActivity", NS)}
    return _CALLS[key]


def _pathway_for_manager(session: Session, person: Person, key: str) -> Definition:
    if not person.oversees:
        raise NotAllowed("only managers see where cases wait")
    definition = latest(session, key)
    if definition is None:
        raise NotFound(f"no published pathway '{key}'")
    return definition


def _teams(person: Person) -> list[str] | None:
    """The teams whose counts a manager sees (None: every team)."""
    return None if person.all_teams else sorted(person.teams)


def where_cases_wait(rt: Runtime, person: Person, key: str) -> dict[str, Any]:
    """Per element of the newest version of pathway ``key``: how many open steps wait there, how many overdue.

    Steps inside a called diagram (the permanency panel) count on the call activity. Both counts
    are the database's kept tallies (engine.persistence.tallies: open steps, and open steps by the
    day they are due), so the page costs the same for a team and an authority."""
    today = clock.london_today()
    with rt.uow() as uow:
        session = uow.session
        definition = _pathway_for_manager(session, person, key)
        teams = _teams(person)
        waiting = tallies.sums(session, "open_steps", ("k2",), teams, k1=key)
        due = tallies.sums(session, "open_due", ("k2",), teams, between={"k3": ("0", today.isoformat())}, k1=key)
        overdue = {element: count for (element,), count in due.items()}
        waiting_cases = tallies.total(session, "cases", teams, k1=key, k2=CaseStatus.WAITING)
        own = definition.info["elements"]
        called = definition.info.get("called_elements", {})
        calls = _called_by(definition) if called else {}
        counts: dict[str, dict[str, int]] = {}
        elsewhere = []
        for (element_id,), count in sorted(waiting.items()):
            late = int(overdue.get(element_id, 0))
            target = element_id if element_id in own else calls.get(called.get(element_id, {}).get("process", ""))
            if target is None:
                elsewhere.append({"element": element_id, "waiting": count, "overdue": late})
                continue
            slot = counts.setdefault(target, {"waiting": 0, "overdue": 0})
            slot["waiting"] += count
            slot["overdue"] += late
        return {"key": key, "name": definition.name, "version": definition.version, "elements": counts,
                "names": {e: own[e]["name"] for e in counts}, "elsewhere": elsewhere,
                "waiting_for_a_date_or_event": waiting_cases}  # fmt: skip


WAITING_PAGE = 50


def cases_waiting_at(rt: Runtime, person: Person, key: str, element_id: str, page: int = 1) -> dict[str, Any]:
    """The cases behind one badge, a page at a time, soonest due first: open steps at ``element_id``
    (or inside the call activity it is)."""
    if page < 1:
        raise InvalidInput("pages count from 1")
    today = clock.london_today()
    with rt.uow() as uow:
        session = uow.session
        definition = _pathway_for_manager(session, person, key)
        elements = [element_id]
        if definition.info["elements"].get(element_id, {}).get("kind") == "callActivity":
            process = {v: k for k, v in _called_by(definition).items()}.get(element_id)
            elements += [e for e, info in definition.info.get("called_elements", {}).items()
                         if info.get("process") == process]  # fmt: skip
        teams = _teams(person)
        where = [HumanTask.status == TaskStatus.OPEN, HumanTask.key == key, HumanTask.element.in_(elements)]
        if teams is not None:
            where.append(HumanTask.team.in_(teams))
        total = session.scalar(select(func.count()).select_from(HumanTask).where(*where)) or 0
        query = (
            select(HumanTask.id, HumanTask.title, HumanTask.assignee, HumanTask.role, HumanTask.due_date,
                   HumanTask.created_at, HumanTask.case_id, Case.ref, Case.team)
            .join(Case, Case.id == HumanTask.case_id)
            .where(*where)
            .order_by(HumanTask.due_date.asc().nulls_last(), HumanTask.id)
            .limit(WAITING_PAGE).offset((page - 1) * WAITING_PAGE)
        )  # fmt: skip
        rows = [
            {"task_id": r.id, "title": r.title, "holder": r.assignee, "role": r.role, "case_id": r.case_id,
             "ref": r.ref, "team": r.team, "due": r.due_date.isoformat() if r.due_date else None,
             "overdue": bool(r.due_date and r.due_date < today), "waiting_days": (today - r.created_at.date()).days}
            for r in session.execute(query)
        ]  # fmt: skip
        return {"rows": rows, "total": total, "page": page, "pages": max(1, -(-total // WAITING_PAGE)),
                "page_size": WAITING_PAGE}  # fmt: skip


_ALLOWED = {
    CaseStatus.RUNNING: ("suspend", "cancel"),
    CaseStatus.WAITING: ("suspend", "cancel"),
    CaseStatus.ERROR: ("retry", "suspend", "cancel"),
    CaseStatus.SUSPENDED: ("resume", "cancel"),
}


def manage_case(rt: Runtime, person: Person, case_id: int) -> dict[str, Any] | None:
    """What a manager of the case's team may do now (None for anyone else): the open steps and unmet
    deadlines with their reasons for delay, and the transitions the case's state allows."""
    if not person.oversees:
        return None
    today = clock.london_today()
    with rt.uow() as uow:
        case_row = uow.session.get(Case, case_id)
        if case_row is None or not person.may_assign_in(case_row.team):
            return None
        [row] = _describe(uow.session, {case_id: {}}, today)
    row["actions"] = list(_ALLOWED.get(CaseStatus(row["status"]), ()))
    row["overdue_without_reason"] = [t for t in row["waiting_at"] if t["overdue"] and not t["delay_reason"]] + [
        d for d in row["deadlines"] if d["breached"] and not d["delay_reason"] and not d["served"]
    ]
    return row
