"""The permanence tracker: children after their second review, their plan and how permanence was reached.

Derby's outcomes framework (Appendix 5) tracks every child from the second looked-after review
until permanence is achieved, by permanence option and by the route that achieved it, and
reports SGO support plans and Staying Put agreements agreed at panel each quarter. Cheshire
East's managers ask four questions of each child at the tracking meeting (11.6).

The pathways record most of it. The worker's refresh job (``refresh_tracker``) copies each
child's second review into ``tracker_children`` and derives an outcome where a pathway shows one
(an SGO made, an adoption order made). It only revisits children whose cases changed since its
watermark, and one worker at a time holds the job row (``SKIP LOCKED``), so N workers are safe.
What no pathway records (the carer's agency, whether the child was seen alone) a manager records
at the tracking meeting; that overrides the derived outcome and is audited.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import clock
from engine.bootstrap import Runtime
from engine.domain import forms
from engine.domain.access import Person
from engine.domain.forms import FormField
from engine.domain.states import TaskStatus
from engine.errors import Conflict, FormInvalid, InvalidInput, NotAllowed, NotFound
from engine.persistence import tallies
from engine.persistence.models import Case, HumanTask, JobRun, TrackerChild
from engine.services._common import audit, commit, element
from engine.services.definitions import latest
from engine.services.oversight import check_team, scoped

JOB = "tracker"
COURT_DECISION = "Task_RecordCourtDecision"
OVERLAP = timedelta(minutes=10)  # changes committed late by a long transaction are picked up next time
CHUNK = 500

# Derby Appendix 5: the routes by which children gained permanence after their second review.
ROUTES = {
    "foster_permanent_council": "Permanent foster care with a council carer",
    "foster_permanent_ifa": "Permanent foster care with an IFA carer",
    "fostering_not_permanent": "Fostering with an IFA or council carer (not permanent)",
    "birth_parent": "With a birth parent",
    "kinship_reg24": "With a kinship carer (Reg 24 approved)",
    "kinship": "With a kinship carer (not Reg 24)",
    "adoption": "Adoption",
    "residential": "Residential care",
    "semi_independent": "Semi-independent or supported accommodation",
}
SHORT_ROUTES = {  # for chart labels and table headings
    "foster_permanent_council": "Permanent fostering (council)",
    "foster_permanent_ifa": "Permanent fostering (IFA)",
    "fostering_not_permanent": "Fostering, not permanent",
    "birth_parent": "Birth parent",
    "kinship_reg24": "Kinship (Reg 24)",
    "kinship": "Kinship (not Reg 24)",
    "adoption": "Adoption",
    "residential": "Residential care",
    "semi_independent": "Semi-independent",
}
NOT_YET = "Not achieved yet"
PERIODS = {"quarter": 4, "month": 12}  # how many periods each view shows, the newest last

TRACKER_FORM = [
    FormField("route", "Permanence achieved through", "enum", options=tuple(ROUTES.items()),
              hint="Leave blank while permanence is not achieved. The pathways fill this in when they show it."),
    FormField("achieved_on", "Date permanence was achieved", "date"),
    FormField("assessments_done", "Have the assessments of each parent and connected person been completed?",
              "boolean"),
    FormField("with_long_term_carer", "Is the child living with the people assessed as their long-term carer?",
              "boolean"),
    FormField("legal_security", "What needs to happen to secure it legally, or before the child can move to "
              "their permanent carer?", "string", constraints={"maxlength": "2000"}),
    FormField("seen_alone_on", "When was the child last seen alone?", "date"),
    FormField("notes", "Notes from the tracking meeting", "string", constraints={"maxlength": "2000"}),
]  # fmt: skip
RECORDED = [f.id for f in TRACKER_FORM]


# --- refresh (the worker's job) ----------------------------------------------------------------
def refresh_tracker(rt: Runtime, full: bool = False) -> dict[str, int]:
    """Bring the tracker up to date with the cases changed since the last run (or all, ``full``)."""
    started = clock.utcnow()
    with rt.uow() as uow:
        session = uow.session
        job = _claim(session)
        if job is None:  # another worker is refreshing
            return {"tracker": 0}
        since = None if full or job.watermark is None else job.watermark - OVERLAP
        refs = _changed_refs(session, since)
        changed = sum(_refresh(session, refs[i : i + CHUNK], started) for i in range(0, len(refs), CHUNK))
        job.watermark, job.finished_at = started, clock.utcnow()
        job.detail = f"{len(refs)} children looked at, {changed} changed"
        uow.commit()
    return {"tracker": changed}


def _claim(session: Session) -> JobRun | None:
    job = session.scalar(select(JobRun).where(JobRun.name == JOB).with_for_update(skip_locked=True))
    if job is not None:
        return job
    if session.get(JobRun, JOB) is not None:
        return None  # it exists, and another worker holds it
    try:
        with session.begin_nested():
            job = JobRun(name=JOB)
            session.add(job)
    except IntegrityError:
        return None  # another worker created it at the same moment: it runs this time
    return job


def _changed_refs(session: Session, since: datetime | None) -> list[str]:
    query = select(Case.ref).distinct()
    if since is not None:
        query = query.where(Case.updated_at >= since)
    return sorted(session.scalars(query))


def _completed(session: Session, refs: list[str], key: str, step: str) -> list[Any]:
    return list(session.execute(
        select(Case.id, Case.ref, Case.team, Case.start_data, HumanTask.data, HumanTask.completed_at)
        .join(HumanTask, HumanTask.case_id == Case.id)
        .where(Case.ref.in_(refs), Case.key == key, HumanTask.element == step,
               HumanTask.status == TaskStatus.COMPLETED)
        .order_by(HumanTask.completed_at, HumanTask.id)))  # fmt: skip


def _evidence(session: Session, refs: list[str]) -> dict[str, tuple[str, date | None, str]]:
    """ref -> (route, date, where it was seen): what the pathways show was achieved, the latest last."""
    found: dict[str, tuple[str, date | None, str]] = {}
    for case_id, ref, _team, start, data, _at in _completed(
        session, refs, "sgo_assessment", "Task_RecordCourtDecision"
    ):
        if (data or {}).get("sgo_made") is True:
            reg24 = start.get("carer_type") == "connected_person" and start.get("placement_start_date")
            found[ref] = ("kinship_reg24" if reg24 else "kinship", _day(data.get("court_decision_date")),
                          f"special guardianship order made (SGO assessment, case {case_id})")  # fmt: skip
    for case_id, ref, _team, _start, data, _at in _completed(session, refs, "relinquished_baby", "Task_AdoptionOrder"):
        if (data or {}).get("adoption_order_made") is True:
            found[ref] = ("adoption", _day(data.get("adoption_order_date")),
                          f"adoption order made (relinquished baby, case {case_id})")  # fmt: skip
    return found


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def _refresh(session: Session, refs: list[str], now: datetime) -> int:
    reviews = {row.ref: row for row in _completed(session, refs, "ppm_to_adm", "Task_SecondReview")}  # latest wins
    if not reviews:
        return 0
    evidence = _evidence(session, sorted(reviews))
    rows = {r.ref: r for r in session.scalars(select(TrackerChild).where(TrackerChild.ref.in_(sorted(reviews))))}
    changed = 0
    for ref, review in reviews.items():
        data = review.data or {}
        route, on, seen = evidence.get(ref, (None, None, None))
        held = _day(data.get("second_review_date")) or review.completed_at.date()
        values = {"team": review.team, "case_id": review.id, "second_review_date": held,
                  "permanence_option": str(data.get("permanence_option") or "not recorded"),
                  "contingency_plan": data.get("contingency_plan"), "derived_route": route, "derived_on": on,
                  "derived_from": seen}  # fmt: skip
        row = rows.get(ref)
        if row is None:
            session.add(TrackerChild(ref=ref, recorded_revision=0, refreshed_at=now, **values))
            changed += 1
        elif any(getattr(row, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(row, k, v)
            row.refreshed_at = now
            changed += 1
    return changed


# --- the manager's view ------------------------------------------------------------------------
@dataclass(frozen=True)
class Period:
    label: str
    start: date
    end: date  # exclusive

    def holds(self, day: date | None) -> bool:
        return day is not None and self.start <= day < self.end


def periods(today: date, kind: str) -> list[Period]:
    """The last 4 quarters or 12 months, oldest first, the current one last (calendar quarters)."""
    if kind not in PERIODS:
        raise InvalidInput("show figures by month or by quarter")
    step = 3 if kind == "quarter" else 1
    month = (today.month - 1) // step * step + 1
    found = []
    year = today.year
    for _ in range(PERIODS[kind]):
        start = date(year, month, 1)
        end = date(year + (month + step > 12), (month + step - 1) % 12 + 1, 1)
        last = date(end.year, end.month, 1) - timedelta(days=1)
        label = f"{start:%b} to {last:%b %Y}" if step == 3 else f"{start:%b %Y}"
        found.append(Period(label, start, end))
        month -= step
        if month < 1:
            month, year = month + 12, year - 1
    return found[::-1]


def _require_manager(person: Person) -> None:
    if not person.oversees:
        raise NotAllowed("only managers see the permanence tracker")


def _option_labels(session: Session) -> dict[str, str]:
    definition = latest(session, "ppm_to_adm")
    info = element(definition, "Task_SecondReview") if definition is not None else None
    field = next((f for f in (info.form if info else []) if f.id == "permanence_option"), None)
    return dict(field.options) if field else {}


def _child(row: TrackerChild, options: dict[str, str]) -> dict[str, Any]:
    route = row.route or row.derived_route
    source: str | None
    achieved = row.achieved_on if row.route else row.derived_on
    if row.route:
        source = f"recorded by {row.recorded_by}" + (f" on {row.recorded_at:%d/%m/%Y}" if row.recorded_at else "")
    else:
        source = row.derived_from
    return {
        "ref": row.ref, "team": row.team, "case_id": row.case_id, "second_review_date": row.second_review_date,
        "option": row.permanence_option, "option_label": options.get(row.permanence_option, row.permanence_option),
        "contingency": options.get(row.contingency_plan or "", row.contingency_plan),
        "route": route, "route_label": ROUTES.get(route or "", route) if route else NOT_YET, "achieved_on": achieved,
        "source": source, "derived_route": row.derived_route, "derived_on": row.derived_on,
        "derived_from": row.derived_from, "assessments_done": row.assessments_done,
        "with_long_term_carer": row.with_long_term_carer, "legal_security": row.legal_security,
        "seen_alone_on": row.seen_alone_on, "notes": row.notes, "recorded_by": row.recorded_by,
        "recorded_at": row.recorded_at, "revision": row.recorded_revision,
        "recorded": {k: getattr(row, k) for k in RECORDED},
    }  # fmt: skip


def _panel_figures(session: Session, person: Person, team: str, shown: list[Period]) -> list[dict[str, int]]:
    """Per period: SGO support plans and Staying Put agreements agreed at panel (approvals by the date it sat)."""
    # a decision is recorded on or after its sitting; its paperwork goes in up to a few months before
    since = datetime.combine(shown[0].start - timedelta(days=120), time(0), tzinfo=UTC)
    query = (select(Case.id, Case.key, HumanTask.element, HumanTask.data, HumanTask.completed_at, HumanTask.id)
             .join(HumanTask, HumanTask.case_id == Case.id)
             .where(HumanTask.element.in_(["Task_SubmitPaperwork", "Task_PanelDecision"]),
                    HumanTask.status == TaskStatus.COMPLETED,
                    HumanTask.completed_at >= since)
             .order_by(Case.id, HumanTask.completed_at, HumanTask.id))  # fmt: skip
    counts = [{"sgo_support_plans": 0, "staying_put": 0, "approved": 0} for _ in shown]
    paperwork: dict[int, dict[str, Any]] = {}
    for case_id, key, step, data, _at, _id in session.execute(scoped(query, person, team)):
        data = data or {}
        if step == "Task_SubmitPaperwork":
            paperwork[case_id] = data
            continue
        if data.get("panel_decision") != "approve":
            continue
        sat = _day(data.get("panel_held_date"))
        for i, period in enumerate(shown):
            if period.holds(sat):
                counts[i]["approved"] += 1
                if key == "sgo_assessment" and paperwork.get(case_id, {}).get("support_plan_included") is True:
                    counts[i]["sgo_support_plans"] += 1
                if data.get("staying_put_agreed") is True:
                    counts[i]["staying_put"] += 1
    return counts


CHILDREN_PAGE = 50
OUTCOMES = ("achieved", "not_yet")  # besides a route: any route, or none yet


@dataclass(frozen=True)
class ChildQuery:
    """Which children the tracker's table shows: a team, a permanence option, an outcome, and a page."""

    team: str = ""
    option: str = ""
    outcome: str = ""  # "achieved", "not_yet" or a route
    page: int = 1

    def checked(self) -> ChildQuery:
        if self.outcome and self.outcome not in OUTCOMES and self.outcome not in ROUTES:
            raise InvalidInput(f"unknown outcome '{self.outcome}'")
        if self.page < 1:
            raise InvalidInput("pages count from 1")
        return self


# the outcome a child's row shows: the manager's, else what the pathways show
ROUTE = func.coalesce(TrackerChild.route, TrackerChild.derived_route)


def _scoped(query: Select, person: Person, team: str) -> Select:
    """Only the children of ``team``, or of every team the manager oversees (by the row's own team, indexed)."""
    check_team(person, team)
    if team:
        return query.where(TrackerChild.team == team)
    return query if person.all_teams else query.where(TrackerChild.team.in_(sorted(person.teams)))


def _tally_teams(person: Person, team: str) -> list[str] | None:
    check_team(person, team)
    if team:
        return [team]
    return None if person.all_teams else sorted(person.teams)


def _month_sums(found: dict[tuple[str, ...], int], shown: list[Period]) -> dict[str, list[int]]:
    """Monthly tallies (key, YYYY-MM) -> per key, the count in each period shown."""
    per: dict[str, list[int]] = {}
    for (key, month), count in found.items():
        if not month:
            continue
        day = date.fromisoformat(f"{month}-01")
        counts = per.setdefault(key, [0] * len(shown))
        for i, p in enumerate(shown):
            if p.holds(day):
                counts[i] += count
    return per


def _figures(session: Session, person: Person, team: str, shown: list[Period]) -> dict[str, Any]:
    """The counts behind the figures, from the database's kept tallies (engine.persistence.tallies):
    no child is read, and the cost is the same for a team and an authority. Periods are whole months."""
    teams = _tally_teams(person, team)
    cross: dict[str, dict[str, int]] = {}
    for (option, route), count in tallies.sums(session, "tracker_cross", ("k1", "k2"), teams).items():
        cross.setdefault(option, {})[route] = count
    months = {"k2": (f"{shown[0].start:%Y-%m}", f"{shown[-1].end:%Y-%m}")}
    reviewed = _month_sums(tallies.sums(session, "tracker_reviewed", ("k1", "k2"), teams, between=months), shown)
    achieved = _month_sums(tallies.sums(session, "tracker_achieved", ("k1", "k2"), teams, between=months), shown)
    return {"cross": cross, "reviewed": reviewed, "achieved": achieved}


def _shown(cross: dict[str, dict[str, int]], query: ChildQuery) -> int:
    """How many children the table's filters keep, from the cross table of option by route."""
    total = 0
    for option, routes in cross.items():
        if query.option and option != query.option:
            continue
        for route, count in routes.items():
            if query.outcome == "achieved" and not route:
                continue
            if query.outcome == "not_yet" and route:
                continue
            if query.outcome not in ("", "achieved", "not_yet") and route != query.outcome:
                continue
            total += count
    return total


def _children(session: Session, person: Person, query: ChildQuery) -> Select:
    chosen = _scoped(select(TrackerChild), person, query.team)
    if query.option:
        chosen = chosen.where(TrackerChild.permanence_option == query.option)
    if query.outcome == "achieved":
        chosen = chosen.where(ROUTE.is_not(None))
    elif query.outcome == "not_yet":
        chosen = chosen.where(ROUTE.is_(None))
    elif query.outcome:
        chosen = chosen.where(ROUTE == query.outcome)
    return chosen


def tracker(rt: Runtime, person: Person, period: str = "quarter", team: str = "", option: str = "",
            outcome: str = "", page: int = 1) -> dict[str, Any]:  # fmt: skip
    """The tracker for the manager's teams: the cohort and its figures per period (SQL aggregates),
    and one page of its children (filtered by option and outcome)."""
    _require_manager(person)
    query = ChildQuery(team, option, outcome, page).checked()
    shown = periods(clock.london_today(), period)
    with rt.uow() as uow:
        session = uow.session
        options = _option_labels(session)
        counts = _figures(session, person, team, shown)
        chosen = _children(session, person, query)
        total = _shown(counts["cross"], query)
        rows = session.scalars(chosen.order_by(TrackerChild.second_review_date, TrackerChild.ref)
                               .limit(CHILDREN_PAGE).offset((query.page - 1) * CHILDREN_PAGE)).all()  # fmt: skip
        children = [_child(r, options) for r in rows]
        panels = _panel_figures(session, person, team, shown)
        job = session.get(JobRun, JOB)
        as_at = job.finished_at if job else None
    figures = []
    for i, (p, panel) in enumerate(zip(shown, panels, strict=True)):
        by_option = {o: n[i] for o, n in counts["reviewed"].items() if n[i]}
        in_period = {r: n[i] for r, n in counts["achieved"].items() if n[i]}
        figures.append({"label": p.label, "start": p.start, "reviewed": sum(by_option.values()),
                        "reviewed_by_option": by_option, "achieved": sum(in_period.values()),
                        "achieved_by_route": in_period, **panel})  # fmt: skip
    cross = counts["cross"]
    by_route: Counter[str] = Counter()
    for routes in cross.values():
        by_route.update(routes)
    cohort = sum(by_route.values())
    return {
        "period": period, "team": team, "option": query.option, "outcome": query.outcome, "as_at": as_at,
        "children": children, "figures": figures, "page": query.page, "page_size": CHILDREN_PAGE,
        "shown": total, "pages": max(1, -(-total // CHILDREN_PAGE)),
        "options": {o: options.get(o, o) for o in sorted(cross, key=lambda o: list(options).index(o)
                                                           if o in options else len(options))},
        "option_labels": options, "routes": ROUTES, "short_routes": SHORT_ROUTES, "cross": cross,
        "by_route": dict(by_route), "achieved": cohort - by_route.get("", 0), "cohort": cohort,
    }  # fmt: skip


def tracker_children(rt: Runtime, person: Person, team: str = "", option: str = "", outcome: str = "",
                     batch: int = 500) -> Iterator[dict[str, Any]]:  # fmt: skip
    """Every child the filters keep, in the table's order, read ``batch`` rows at a time (for the CSV)."""
    _require_manager(person)
    query = ChildQuery(team, option, outcome).checked()
    check_team(person, team)

    def rows() -> Iterator[dict[str, Any]]:
        with rt.uow() as uow:
            session = uow.session
            options = _option_labels(session)
            chosen = _children(session, person, query).order_by(TrackerChild.second_review_date, TrackerChild.ref)
            for part in session.scalars(chosen.execution_options(yield_per=batch)).partitions():
                yield from (_child(r, options) for r in part)

    return rows()


def tracker_child(rt: Runtime, person: Person, ref: str) -> dict[str, Any]:
    _require_manager(person)
    with rt.uow() as uow:
        row = _row_for(uow.session, person, ref)
        return _child(row, _option_labels(uow.session))


def _row_for(session: Session, person: Person, ref: str, lock: bool = False) -> TrackerChild:
    query = select(TrackerChild).where(TrackerChild.ref == ref)
    row = session.scalar(query.with_for_update() if lock else query)
    if row is None:
        raise NotFound(f"{ref} is not on the permanence tracker (it lists children after their second review)")
    if not person.may_see_team(row.team):
        raise NotAllowed(f"you do not manage team {row.team}")
    return row


def record_tracking(rt: Runtime, person: Person, ref: str, answers: dict[str, Any], revision: int) -> dict[str, Any]:
    """A manager's answers at the tracking meeting for one child (audited on the child's PPM case)."""
    _require_manager(person)
    cleaned = forms.validate(TRACKER_FORM, answers)
    _check_outcome(cleaned)
    with rt.uow() as uow:
        session = uow.session
        row = _row_for(session, person, ref, lock=True)
        if row.recorded_revision != revision:
            raise Conflict(f"{row.recorded_by or 'someone'} updated {ref} on the tracker since you opened it. "
                           "Reload it and enter your changes again.")  # fmt: skip
        before = {k: getattr(row, k) for k in RECORDED}
        after = {k: cleaned.get(k) for k in RECORDED}
        for k, v in after.items():
            setattr(row, k, v)
        row.recorded_by, row.recorded_at = person.username, clock.utcnow()
        row.recorded_revision += 1
        audit(session, row.case_id, person.username, "tracker.updated", detail="permanence tracker",
              before=before, after=after)  # fmt: skip
        commit(uow, f"{ref} on the tracker")
        return _child(row, _option_labels(session))


def _check_outcome(cleaned: dict[str, Any]) -> None:
    errors = {}
    if cleaned.get("route") and not cleaned.get("achieved_on"):
        errors["achieved_on"] = "Enter the date permanence was achieved"
    if cleaned.get("achieved_on") and not cleaned.get("route"):
        errors["route"] = "Select how permanence was achieved, or clear the date"
    today = clock.london_today()
    for name in ("achieved_on", "seen_alone_on"):
        if cleaned.get(name) and cleaned[name] > today:
            errors[name] = "The date must be today or in the past"
    if errors:
        raise FormInvalid(errors, dict(cleaned))
