"""Pathway scenarios as data: a process owner's executable examples of what a diagram must do.

Each pathway may have ``workflows/scenarios/<key>.json``::

    {"pathway": "ppm_to_adm", "today": "2026-12-18", "scenarios": [
      {"name": "Ratified long-term fostering", "steps": [
        {"on": "2026-12-18", "start": {"looked_after_date": "2026-12-18", ...}},
        {"due": {"Task_FirstReview": "2027-01-20"}, "note": "20 working days over Christmas"},
        {"on": "2027-01-20", "do": "Task_FirstReview", "as": "iro", "answers": {...}},
        {"status": "completed", "outcome": "permanence plan ratified: ..."}]}]}

The clock starts at 10:00 UTC on ``today``. A step may move it (``on``: 10:00 UTC that day; a step
without ``on`` is recorded on the latest date its answers give, when that is later, since a date of a
past event cannot be after the day it is recorded; a ``refused`` step never moves it),
then do one thing (``start``, ``do`` with ``answers``, ``panel`` for one sitting of the
permanency panel, ``fire`` the timers due at a time, ``event`` to record an event the pathway waits for
as a team manager would on the case page, its ``answers`` the event's date) and then check any of: ``due`` (open
steps' due dates), ``role``, ``open`` (exactly these steps open), ``open_includes``,
``not_open``, ``deadline`` (by name: ``due``/``status``), ``status``, ``outcome``, ``fired``
(1 if this case's timers fired at ``fire``, else 0), ``audit_includes``, ``alerts`` (by element: how
many alerts it has raised so far, and ``alerted``: the roles the latest one told). ``link_siblings`` links
brothers and sisters to the scenario's child, named after it (``"B"`` is ``<ref>-B``), and
``siblings`` checks the child's group (the same names). ``refused`` expects
``do`` to be refused with that error (``match``: text in the message). pytest runs every file
against the published diagrams; the modeller runs a pathway's files against a draft on a
scratch database (``run_for_draft``), so a process owner sees what an edit breaks before
publishing.
"""

from __future__ import annotations

import copy
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import clock
from engine.bootstrap import Runtime, bootstrap
from engine.bpmn.definition import describe
from engine.bpmn.xml import NS, parse_bpmn
from engine.config import Settings
from engine.domain.access import Person
from engine.domain.states import DraftStatus
from engine.errors import InvalidInput, NotAllowed, NotFound, PathwaysError
from engine.persistence import database
from engine.persistence.models import DiagramDraft, ScenarioDocument
from engine.services._common import audit, commit
from engine.services.cases import show_case, start_case
from engine.services.definitions import library, publish_files
from engine.services.modelling import get_draft, require_modeller
from engine.services.oversight import record_case_event
from engine.services.siblings import link_siblings, sibling_refs
from engine.services.tasks import complete_task, list_tasks
from engine.services.timers import fire_due_timers

ACTIONS = ("start", "do", "panel", "fire", "link_siblings", "event")
CHECKS = ("due", "role", "open", "open_includes", "not_open", "deadline", "status", "outcome", "fired",
          "audit_includes", "siblings", "alerts", "alerted")  # fmt: skip
DEFAULT_TODAY = "2026-12-18"
KNOWN = {*ACTIONS, *CHECKS, "on", "as", "answers", "refused", "match", "note"}
PANEL_STEPS = (("Task_PanelMinutes", "panel_minutes_date"), ("Task_VisitChildAfterPanel", "post_panel_visit_date"),
               ("Task_ChairLetter", "chair_letter_date"))  # fmt: skip


class ScenarioFailed(Exception):
    pass


@dataclass
class Outcome:
    pathway: str
    name: str
    passed: bool
    steps: int  # how many steps ran
    failed_step: int | None = None  # 1-based
    message: str = ""
    note: str = ""
    scenario: int = 0  # 1-based, in its document
    fix: dict[str, Any] | None = None  # {"path": [...], "value": found}: what the first check would expect instead
    fixes: list[dict[str, Any]] = field(default_factory=list)  # every such check: {"step", "path", "value", ...}

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def load_file(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"{path.name}: not a readable scenario file ({exc})") from None
    check_document(document, path.name)
    return document


def check_document(document: Any, name: str) -> None:
    """Refuse a malformed file with the place it goes wrong, before anything runs."""
    if not isinstance(document, dict) or not isinstance(document.get("pathway"), str) or not isinstance(
            document.get("scenarios"), list):  # fmt: skip
        raise InvalidInput(f"{name}: needs a 'pathway' and a list of 'scenarios'")
    for i, scenario in enumerate(document["scenarios"]):
        if not isinstance(scenario, dict) or not scenario.get("name") or not isinstance(scenario.get("steps"), list):
            raise InvalidInput(f"{name}: scenario {i + 1} needs a 'name' and a list of 'steps'")
        for j, step in enumerate(scenario["steps"]):
            unknown = sorted(set(step) - KNOWN) if isinstance(step, dict) else ["(not an object)"]
            if unknown:
                raise InvalidInput(f"{name}: '{scenario['name']}' step {j + 1}: unknown {', '.join(unknown)}")


def scenario_files(directory: Path) -> dict[str, dict[str, Any]]:
    """pathway key -> its scenario document, for every file in ``directory``."""
    found = {}
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        document = load_file(path)
        found[document["pathway"]] = document
    return found


class _Run:
    def __init__(self, rt: Runtime, key: str, ref: str, team: str, today: str) -> None:
        self.rt, self.key, self.ref, self.team = rt, key, ref, team
        self.now = datetime.combine(datetime.fromisoformat(today).date(), time(10), tzinfo=UTC)
        self.fired: int | None = None
        self.step = 0  # the step being checked (1-based)
        self.fixes: list[dict[str, Any]] = []  # value checks that did not hold: the scenario ran on past them

    def source(self) -> datetime:
        return self.now

    def open(self) -> dict[str, dict[str, Any]]:
        return {t["element"]: t for t in list_tasks(self.rt, ref=self.ref)}

    def show(self) -> dict[str, Any]:
        return show_case(self.rt, self.ref, self.key)

    def timers_fired(self) -> int:
        return sum(1 for e in self.show()["audit"] if e["action"] == "timer.fired")

    def complete(self, element: str, user: str, answers: dict[str, Any]) -> None:
        task = self.open().get(element)
        if task is None:
            raise ScenarioFailed(f"'{element}' is not open (open: {', '.join(sorted(self.open())) or 'nothing'})")
        complete_task(self.rt, task["id"], answers, user)

    def act(self, step: dict[str, Any]) -> None:
        if "on" in step:
            self.now = datetime.combine(datetime.fromisoformat(step["on"]).date(), time(10), tzinfo=UTC)
        elif "refused" not in step:  # recorded on the day it happened: the latest date it gives, if later (never back)
            latest = latest_date({**(step.get("answers") or {}), **(step.get("start") or {})})
            if latest is not None and latest > self.now.date():
                self.now = datetime.combine(latest, time(10), tzinfo=UTC)
        if "start" in step:
            start_case(self.rt, self.key, self.ref, step["start"], step.get("as", "scenario"), team=self.team)
        if "do" in step:
            self.complete(step["do"], step.get("as", "scenario"), step.get("answers") or {})
        if "panel" in step:
            self.panel(step["panel"])
        if "event" in step:
            manager = Person(step.get("as", "scenario"), frozenset({"team_manager"}), frozenset({self.team}))
            record_case_event(self.rt, manager, self.show()["id"], step["event"], step.get("answers") or {},
                              step.get("note") or "recorded in a scenario")  # fmt: skip
        if "link_siblings" in step:
            link_siblings(self.rt, [self.ref, *self.sibling_refs(step["link_siblings"])], step.get("as", "scenario"))
        if "fire" in step:
            at = clock.require_aware(datetime.fromisoformat(step["fire"]), "fire")
            before = self.timers_fired()
            fire_due_timers(self.rt, at)  # other scenarios' cases on the same database may fire too
            self.fired = 1 if self.timers_fired() > before else 0

    def sibling_refs(self, names: list[str]) -> list[str]:
        """Brothers and sisters named after the scenario's child, so scenarios on one database never meet."""
        return [f"{self.ref}-{name}" for name in names]

    def panel(self, sitting: dict[str, Any]) -> None:
        extra = {k: v for k, v in sitting.items() if k not in ("held", "decision")}
        for step in panel_sitting(sitting["decision"], sitting["held"], **extra):
            self.act(step)


def latest_date(answers: dict[str, Any]) -> date | None:
    found = []
    for value in answers.values():
        if isinstance(value, str) and len(value) == 10:
            try:
                found.append(date.fromisoformat(value))
            except ValueError:
                continue
    return max(found, default=None)


def panel_sitting(decision: str, held: str, **extra: Any) -> list[dict[str, Any]]:
    """One sitting of the permanency panel as steps: reminder, paperwork, the decision on the day it
    sits (``extra`` answers added to it), minutes, visit and letter. The Python test driver uses it too."""
    day = date.fromisoformat(held)
    reminded, submitted = (day - timedelta(days=14)).isoformat(), (day - timedelta(days=8)).isoformat()
    return [
        {"do": "Task_RemindSocialWorker", "as": "support", "answers": {"panel_reminder_sent_date": reminded}},
        {"do": "Task_SubmitPaperwork", "as": "sw",
         "answers": {"paperwork_submitted_date": submitted, "support_plan_included": True}},
        {"on": held, "do": "Task_PanelDecision", "as": "chair",
         "answers": {"panel_decision": decision, "panel_held_date": held, "panel_reasons": "as minuted", **extra}},
        *({"do": element, "as": "panel", "answers": {name: held}} for element, name in PANEL_STEPS),
    ]  # fmt: skip


def _expect(what: str, expected: Any, actual: Any, path: list[str] | None = None, run: _Run | None = None) -> None:
    """A check. One that names a value the draft now gives differently (a date, a role, a status: ``path``)
    is noted on ``run`` and the scenario goes on, so one run lists every expectation the owner may update;
    anything else stops the scenario."""
    if expected == actual:
        return
    message = f"{what}: expected {expected!r}, found {actual!r}"
    acceptable = path is not None and isinstance(actual, (str, int, bool)) and actual != "(not open)"
    if acceptable and run is not None:
        run.fixes.append({"step": run.step, "path": path, "value": actual, "expected": expected, "message": message})
        return
    raise ScenarioFailed(message)


def _check_steps(run: _Run, step: dict[str, Any]) -> None:
    if not any(k in step for k in ("due", "role", "open", "open_includes", "not_open")):
        return
    open_steps = run.open()  # one query for every check on the open steps
    for element, due in (step.get("due") or {}).items():
        found = open_steps.get(element, {}).get("due", "(not open)")
        _expect(f"due date of {element}", due, found, ["due", element], run)
    for element, role in (step.get("role") or {}).items():
        _expect(
            f"role of {element}", role, open_steps.get(element, {}).get("role", "(not open)"), ["role", element], run
        )
    if "open" in step:
        _expect("open steps", sorted(step["open"]), sorted(open_steps))
    missing = [e for e in step.get("open_includes", []) if e not in open_steps]
    if missing:
        raise ScenarioFailed(f"expected open: {', '.join(missing)} (open: {', '.join(sorted(open_steps))})")
    present = [e for e in step.get("not_open", []) if e in open_steps]
    if present:
        raise ScenarioFailed(f"expected not open: {', '.join(present)}")


def _check_case(run: _Run, step: dict[str, Any]) -> None:
    if "siblings" in step:
        with run.rt.uow() as uow:
            _expect("brothers and sisters", sorted(run.sibling_refs(step["siblings"])),
                    sorted(sibling_refs(uow.session, run.ref)))  # fmt: skip
    if not any(k in step for k in ("deadline", "status", "outcome", "audit_includes", "alerts", "alerted")):
        return
    shown = run.show()
    _check_alerts(step, [e for e in shown["audit"] if e["action"] == "alert.raised"])
    for name, expected in (step.get("deadline") or {}).items():
        found = [d for d in shown["deadlines"] if d["name"] == name and d["status"] != "moved"]
        if len(found) != 1:
            raise ScenarioFailed(f"deadline '{name}': found {len(found)} (names: "
                                 f"{', '.join(sorted({d['name'] for d in shown['deadlines']}))})")  # fmt: skip
        for attr, value in expected.items():
            _expect(f"deadline '{name}' {attr}", value, found[0].get(attr), ["deadline", name, attr], run)
    for attr in ("status", "outcome"):
        if attr in step:
            _expect(f"case {attr}", step[attr], shown[attr], [attr], run)
    actions = {e["action"] for e in shown["audit"]}
    for action in step.get("audit_includes", []):
        if action not in actions:
            raise ScenarioFailed(f"the timeline has no '{action}'")


def _check_alerts(step: dict[str, Any], alerts: list[dict[str, Any]]) -> None:
    for element, count in (step.get("alerts") or {}).items():
        _expect(f"alerts raised at {element}", count, sum(1 for e in alerts if e["element"] == element))
    if "alerted" in step:
        latest = max(alerts, key=lambda e: (e["after"] or {}).get("number", 0), default=None)
        _expect("roles told by the latest alert", sorted(step["alerted"]),
                sorted((latest["after"] or {}).get("roles", [])) if latest else [])  # fmt: skip


def _run_step(run: _Run, step: dict[str, Any]) -> None:
    if "refused" in step:
        try:
            run.act(step)
        except PathwaysError as exc:
            _expect("refusal", step["refused"], type(exc).__name__)
            if step.get("match") and step["match"] not in exc.message:
                raise ScenarioFailed(f"refused, but the message was: {exc.message}") from None
        else:
            raise ScenarioFailed(f"expected {step['refused']}, but it was accepted")
    else:
        run.act(step)
    _check_steps(run, step)
    _check_case(run, step)
    if "fired" in step:
        _expect("timers fired for this case", step["fired"], run.fired)


def run_scenario(rt: Runtime, key: str, scenario: dict[str, Any], index: int = 1,
                 today: str = DEFAULT_TODAY) -> Outcome:  # fmt: skip
    """Run one scenario on ``rt`` with its own clock (this thread only); never raises for a failure."""
    ref = scenario.get("ref") or f"SCN-{key}-{index}"
    run = _Run(rt, key, ref, scenario.get("team", "north"), scenario.get("today", today))
    steps = scenario["steps"]
    with clock.using(run.source):
        for number, step in enumerate(steps, start=1):
            run.step = number
            try:
                _run_step(run, step)
            except ScenarioFailed as exc:
                return _failed(key, scenario, index, number, str(exc), step.get("note", ""), run.fixes)
            except PathwaysError as exc:
                return _failed(key, scenario, index, number, exc.message, step.get("note", ""), run.fixes)
    if run.fixes:  # it ran to the end past expectations the draft now meets differently
        first = run.fixes[0]
        more = f" (and {len(run.fixes) - 1} more)" if len(run.fixes) > 1 else ""
        return _failed(key, scenario, index, first["step"], first["message"] + more,
                       steps[first["step"] - 1].get("note", ""), run.fixes)  # fmt: skip
    return Outcome(key, scenario["name"], True, len(steps), scenario=index)


def _failed(key: str, scenario: dict[str, Any], index: int, number: int, message: str, note: str,
            fixes: list[dict[str, Any]]) -> Outcome:  # fmt: skip
    fix = {"path": fixes[0]["path"], "value": fixes[0]["value"]} if fixes else None
    return Outcome(key, scenario["name"], False, number, number, message, note, index, fix, list(fixes))


def run_document(rt: Runtime, document: dict[str, Any]) -> list[Outcome]:
    today = document.get("today", DEFAULT_TODAY)
    return [run_scenario(rt, document["pathway"], s, i, today) for i, s in enumerate(document["scenarios"], start=1)]


@contextmanager
def scratch_runtime(files: list[tuple[str, bytes]]) -> Iterator[Runtime]:
    """A throwaway SQLite database with ``files`` published on it; removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="pathways-scenarios-") as directory:
        url = f"sqlite:///{Path(directory) / 'scratch.db'}"
        settings = Settings(database_url=url, mail_dir=Path(directory) / "mail")
        rt = bootstrap(settings)
        try:
            database.upgrade(rt.db)
            publish_files(rt, files, "scenarios")
            yield rt
        finally:
            rt.db.dispose()


@dataclass
class DraftRun:
    outcomes: list[Outcome] = field(default_factory=list)
    pathways: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # pathways run that have no scenarios
    scenarios_seen: int | None = None  # the newest scenario change of the draft the run used


def _callers(files: dict[str, bytes], key: str) -> list[str]:
    """The pathways (process ids) whose diagrams call ``key``."""
    found = []
    for content in files.values():
        root = parse_bpmn(content)
        if any(node.get("calledElement") == key for node in root.iterfind(".//bpmn:callActivity", NS)):
            found += [p for p in describe(root).processes if p != key]
    return sorted(found)


def run_for_draft(rt: Runtime, person: Person, draft_id: int) -> DraftRun:
    """Run the scenarios of the draft's pathway, and of every pathway that calls it, against the draft.

    The draft and the newest published version of every other diagram are published on a scratch
    SQLite database, so nothing here touches a real case; the draft's problems, if any, are
    reported instead of running."""
    draft = get_draft(rt, person, draft_id)
    with rt.uow() as uow:
        published = library(uow.session)
        documents = current_documents(rt, uow.session, draft_id)
        seen = latest_change(uow.session, draft_id)
    files = {filename: content for filename, content in published.values()}
    if draft["key"] in published:
        files.pop(published[draft["key"]][0], None)
    files[draft["filename"]] = draft["xml"].encode("utf-8")
    result = DraftRun(pathways=[draft["key"], *_callers(files, draft["key"])], scenarios_seen=seen)
    result.missing = [key for key in result.pathways if key not in documents]
    with scratch_runtime(list(files.items())) as scratch:
        for key in result.pathways:
            if key in documents:
                result.outcomes += run_document(scratch, documents[key])
    return result


# --- scenarios changed in the app (issue 21) --------------------------------------------------------
def _newest(session: Session, state: str, draft_id: int | None = None) -> dict[str, ScenarioDocument]:
    query = select(ScenarioDocument).where(ScenarioDocument.state == state)
    if draft_id is not None:
        query = query.where(ScenarioDocument.draft_id == draft_id)
    return {row.key: row for row in session.scalars(query.order_by(ScenarioDocument.id))}  # the newest wins


def latest_change(session: Session, draft_id: int) -> int | None:
    """The newest scenario change made with the draft (its id), to tell whether a run saw every one."""
    return session.scalar(select(func.max(ScenarioDocument.id)).where(ScenarioDocument.draft_id == draft_id))


def current_documents(rt: Runtime, session: Session, draft_id: int | None = None) -> dict[str, dict[str, Any]]:
    """Each pathway's scenario document: the repository's file, unless a process owner's published change is
    newer (it always is: it was made from it); with ``draft_id``, that draft's own changes over both."""
    found = scenario_files(rt.settings.workflows_dir / "scenarios")
    found.update({key: row.document for key, row in _newest(session, "published").items()})
    if draft_id is not None:
        found.update({key: row.document for key, row in _newest(session, "draft", draft_id).items()})
    return found


def update_scenario(rt: Runtime, person: Person, draft_id: int, key: str, scenario: int, step: int,
                    path: list[str], value: Any) -> dict[str, Any]:  # fmt: skip
    """Accept what the draft now does as a scenario's expectation (a due date, a role, a deadline's date or
    status, the case's status or outcome): the changed document is kept with the draft, audited, and published
    with it when it is approved. ``scenario`` and ``step`` count from 1."""
    change = {"key": key, "scenario": scenario, "step": step, "path": path, "value": value}
    return update_scenarios(rt, person, draft_id, [change])[0]


def update_scenarios(rt: Runtime, person: Person, draft_id: int, changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Accept several expectations at once (every new date a run listed), all or none; each is audited."""
    require_modeller(person)
    if not changes:
        raise InvalidInput("choose at least one expectation to update")
    with rt.uow() as uow:
        draft = uow.session.get(DiagramDraft, draft_id)
        if draft is None:
            raise NotFound(f"there is no draft {draft_id}")
        if draft.status != DraftStatus.DRAFT:
            raise NotAllowed(f"draft {draft_id} is {draft.status}: scenarios change only with a draft being edited")
        current = current_documents(rt, uow.session, draft_id)
        changed: dict[str, dict[str, Any]] = {}
        done = []
        for change in changes:
            key = str(change.get("key", ""))
            if key not in current:
                raise NotFound(f"pathway {key} has no scenario tests")
            document = changed.setdefault(key, copy.deepcopy(current[key]))
            done.append(_apply(document, key, change))
        now = clock.utcnow()
        for key, document in changed.items():
            check_document(document, f"{key} scenarios")
            uow.session.add(ScenarioDocument(key=key, state="draft", draft_id=draft_id, document=document,
                                             saved_by=person.username, saved_at=now))  # fmt: skip
        for item in done:
            audit(uow.session, None, person.username, "scenario.updated", element=item["key"],
                  detail=f"draft {draft_id}: '{item['name']}' step {item['step']}: {' '.join(item['path'])}",
                  before={"expected": item["before"]}, after={"expected": item["after"]})  # fmt: skip
        commit(uow, "the scenarios")
    return done


def _apply(document: dict[str, Any], key: str, change: dict[str, Any]) -> dict[str, Any]:
    scenario, step, path = change.get("scenario"), change.get("step"), change.get("path")
    try:
        if not isinstance(scenario, int) or not isinstance(step, int) or scenario < 1 or step < 1:
            raise KeyError("scenario")
        if not isinstance(path, list) or not path or path[0] not in CHECKS:
            raise KeyError("path")
        holder = document["scenarios"][scenario - 1]["steps"][step - 1]
        for name in path[:-1]:
            holder = holder[name]
        if path[-1] not in holder:
            raise KeyError(path[-1])
    except (IndexError, KeyError, TypeError):
        where = "/".join(map(str, path)) if isinstance(path, list) else "?"
        raise InvalidInput(f"scenario {scenario} step {step} of {key} checks nothing at {where}") from None
    before, holder[path[-1]] = holder[path[-1]], change.get("value")
    return {"key": key, "name": document["scenarios"][scenario - 1]["name"], "scenario": scenario, "step": step,
            "path": path, "before": before, "after": change.get("value")}  # fmt: skip


def publish_draft_scenarios(session: Session, draft_id: int, actor: str) -> list[str]:
    """At approval: the draft's changed scenario documents become the pathways' published ones."""
    kept = _newest(session, "draft", draft_id)
    now = clock.utcnow()
    for key, row in kept.items():
        session.add(ScenarioDocument(key=key, state="published", draft_id=draft_id, document=row.document,
                                     saved_by=actor, saved_at=now))  # fmt: skip
        audit(session, None, actor, "scenario.published", element=key, detail=f"with draft {draft_id}")
    return sorted(kept)


def scenario_changes(rt: Runtime, session: Session, draft_id: int) -> list[dict[str, Any]]:
    """What the draft changed in the scenarios, check by check, in the order the owner reads them."""
    before = current_documents(rt, session)
    changes = []
    for key, row in sorted(_newest(session, "draft", draft_id).items()):
        old = before.get(key, {"scenarios": []})["scenarios"]
        for number, scenario in enumerate(row.document["scenarios"], start=1):
            was = old[number - 1]["steps"] if number <= len(old) else []
            for step_no, step in enumerate(scenario["steps"], start=1):
                prior = was[step_no - 1] if step_no <= len(was) else {}
                for path, value in _leaves(step):
                    earlier = _at(prior, path)
                    if earlier != value:
                        changes.append({"key": key, "scenario": scenario["name"], "step": step_no,
                                        "check": " ".join(path), "before": earlier, "after": value})  # fmt: skip
    return changes


def _leaves(step: dict[str, Any], prefix: tuple[str, ...] = ()) -> Iterator[tuple[list[str], Any]]:
    for name, value in step.items():
        if isinstance(value, dict):
            yield from _leaves(value, (*prefix, name))
        else:
            yield [*prefix, name], value


def _at(step: Any, path: list[str]) -> Any:
    for name in path:
        step = step.get(name) if isinstance(step, dict) else None
    return step
