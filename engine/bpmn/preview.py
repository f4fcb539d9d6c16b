"""What every due date, deadline, gate and timer in a diagram works out to for sample case dates.

A process owner changing ``add_working_days(looked_after_date, 20)`` to 25 wants to see the new
date across bank holidays before publishing. The preview fills a sample case: the start form's
dates come from the owner (or default to one sample day), other answers get a plain value of
their type, and every step is taken as done on its due day (so ``first_review_date`` is the first
review's due date). Script tasks run on that data, in passes, until nothing new can be worked out.
Then each expression is evaluated once. Nothing here touches a database or a case.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from lxml import etree

from engine.bpmn.definition import DiagramInfo, ElementInfo, rule_in_words
from engine.bpmn.scripting import BUDGET_TRIES, RestrictedEnvironment
from engine.bpmn.xml import NS, owner_id
from engine.calendar import as_date
from engine.domain.forms import FormField
from engine.errors import BudgetExceeded

MAX_PASSES = 12
_TIMER_PARTS = ("timeDate", "timeDuration", "timeCycle")


@dataclass(frozen=True)
class DueDate:
    """One computed date: a step's due date, a gate, a deadline or a timer."""

    element: str
    element_name: str
    kind: str  # step | gate | deadline | timer
    label: str
    expression: str
    due: str | None  # ISO date, an ISO duration for duration timers, or None: not applicable
    source: str = ""
    status: str = ""
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "words": rule_in_words(self.expression)}


def _sample_value(field: FormField) -> Any:
    if field.type == "boolean":
        return True
    if field.type == "enum":
        return field.options[0][0] if field.options else None
    if field.type == "long":
        return int(field.constraints.get("min") or 1)
    return "sample"


def sample_case(info: DiagramInfo, anchors: dict[str, date], default_day: date) -> dict[str, Any]:
    """Start-form values (dates from ``anchors``, else ``default_day``) and a value for every other answer."""
    data: dict[str, Any] = {}
    for element in _elements(info):
        for field in element.form:
            if element.kind == "startEvent" and field.type == "date":
                data[field.id] = anchors.get(field.id, None if field.sample_blank else default_day)
            elif field.type != "date":
                data.setdefault(field.id, _sample_value(field))
    data.update({k: v for k, v in anchors.items() if k not in data})
    return data


def _within_budget(run: Callable[[], Any]) -> Any:
    """An expression's budget overrun is tried again, as the engine does a step's (engine.bpmn.runtime):
    a garbage collection or a busy machine must not make a sound diagram look broken; a real bomb
    overruns every time and is reported."""
    for attempt in range(1, BUDGET_TRIES + 1):
        try:
            return run()
        except BudgetExceeded:
            if attempt == BUDGET_TRIES:
                raise
    return None


def _elements(info: DiagramInfo) -> list[ElementInfo]:
    return [e for e in info.elements.values() if e.process in info.processes]


class _Sampler:
    def __init__(self, env: RestrictedEnvironment, root: etree._Element, info: DiagramInfo, default_day: date) -> None:
        self.env, self.info, self.default_day = env, info, default_day
        # A diagram with no start form is called by others: names it never sets are its inputs.
        self.open_inputs = not any(e.form for e in _elements(info) if e.kind == "startEvent")
        self.scripts = {owner_id(node): node.text or "" for node in root.iterfind(".//bpmn:scriptTask/bpmn:script", NS)}

    def evaluate(self, expression: str, data: dict[str, Any]) -> Any:
        return _within_budget(lambda: self.env.evaluate(expression, dict(data)))

    def fill(self, data: dict[str, Any]) -> dict[str, Any]:
        """Run scripts and take steps as done on their due day until nothing changes."""
        done: set[str] = set()
        self._passes(data, done)
        # A step whose own date fails is taken as done on the sample day, so its problem is
        # reported once rather than again by every step that counts from it.
        for element in _elements(self.info):
            if element.kind == "userTask" and element.id not in done:
                data.update(
                    {f.id: self.default_day for f in element.form if f.type == "date" and data.get(f.id) is None}
                )
        self._passes(data, done)
        return data

    def _passes(self, data: dict[str, Any], done: set[str]) -> None:
        for _ in range(MAX_PASSES):
            if not self._one_pass(data, done):
                break

    def _one_pass(self, data: dict[str, Any], done: set[str]) -> bool:
        changed = False
        for element in _elements(self.info):
            if element.id in done:
                continue
            if element.kind == "scriptTask" and element.id in self.scripts:
                changed |= self._run_script(element.id, data, done)
            elif element.kind == "userTask":
                changed |= self._take_step(element, data, done)
            elif element.kind == "intermediateCatchEvent" and element.form:  # an event with its date: the sample day
                done.add(element.id)
                data.update({f.id: self.default_day for f in element.form if data.get(f.id) is None})
                changed = True
        return changed

    def _input(self, exc: Exception, data: dict[str, Any]) -> bool:
        """For a called diagram, a name nobody sets is an input from the caller: give it the sample day."""
        name = getattr(exc, "name", None)
        if not (self.open_inputs and isinstance(exc, NameError) and name):
            return False
        data[name] = self.default_day
        return True

    def _run_script(self, element_id: str, data: dict[str, Any], done: set[str]) -> bool:
        trial = dict(data)
        try:
            _within_budget(lambda: self.env.execute(self.scripts[element_id], trial))
        except Exception as exc:  # inputs not known yet: a later pass may have them
            return self._input(exc, data)
        done.add(element_id)
        data.update({k: v for k, v in trial.items() if data.get(k) is None})
        return True

    def _take_step(self, element: ElementInfo, data: dict[str, Any], done: set[str]) -> bool:
        dates = [f.id for f in element.form if f.type == "date" and data.get(f.id) is None]
        expression = element.properties.get("due", "")
        if not expression:
            done.add(element.id)
            return False
        try:
            due = self.evaluate(expression, data)
        except Exception as exc:
            return self._input(exc, data)
        done.add(element.id)
        if due is None:
            return False
        for field_id in dates:
            data[field_id] = as_date(due)
        return bool(dates)


def _shown(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (date, datetime)) or (isinstance(value, str) and value[:1].isdigit()):
        return as_date(value).isoformat()
    return str(value)


def _row(sampler: _Sampler, data: dict[str, Any], element: ElementInfo, kind: str, label: str, expression: str,
         source: str = "", status: str = "") -> DueDate:  # fmt: skip
    try:
        due, error = _shown(sampler.evaluate(expression, data)), None
    except Exception as exc:
        due, error = None, f"{type(exc).__name__}: {exc}"
    return DueDate(element.id, element.name, kind, label, expression, due, source, status, error)


def _element_rows(sampler: _Sampler, data: dict[str, Any], element: ElementInfo) -> list[DueDate]:
    """The step's own due date, its gate, then the deadlines it opens (all from ElementInfo.deadlines)."""
    specs = element.deadlines()
    rows = [
        _row(sampler, data, element, "step", s.name, s.due, s.source, s.status) for s in specs if s.key == element.id
    ]
    props = element.properties
    if props.get("not_before"):
        rows.append(_row(sampler, data, element, "gate", f"not before: {element.name}", props["not_before"],
                         props.get("not_before_source", "")))  # fmt: skip
    return rows + [
        _row(sampler, data, element, "deadline", s.name, s.due, s.source, s.status)
        for s in specs
        if s.key != element.id
    ]


def _timer_rows(sampler: _Sampler, data: dict[str, Any], root: etree._Element, info: DiagramInfo) -> list[DueDate]:
    rows = []
    for timer in root.iterfind(".//bpmn:timerEventDefinition", NS):
        owner = info.elements.get(timer.getparent().get("id", ""))
        for part in _TIMER_PARTS:
            node = timer.find(f"bpmn:{part}", NS)
            if owner is not None and node is not None and (node.text or "").strip():
                rows.append(_row(sampler, data, owner, "timer", owner.name, node.text.strip()))
    return rows


def due_dates(
    env: RestrictedEnvironment,
    root: etree._Element,
    info: DiagramInfo,
    default_day: date,
    anchors: dict[str, date] | None = None,
) -> tuple[dict[str, Any], list[DueDate]]:
    """The sample case used, and every computed date in the diagram in document order."""
    sampler = _Sampler(env, root, info, default_day)
    data = sampler.fill(sample_case(info, anchors or {}, default_day))
    rows: list[DueDate] = []
    for element in _elements(info):
        rows += _element_rows(sampler, data, element)
    return data, rows + _timer_rows(sampler, data, root, info)
