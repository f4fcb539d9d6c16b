"""The only place that drives SpiffWorkflow: parse, start, complete, fire timers, save, load.

Design notes (measured in shared/research/spiffworkflow-3.2.md):
- State is stored without the spec (about 14 KB of every stock serialization); specs are built
  once per published definition and cached here.
- After every step the task tree is compacted to its live frontier (``compact``): SpiffWorkflow
  keeps every finished task forever, so per-step cost grows with a case's age and past ~500
  completions in a loop the tree walk silently stops (``is_completed()`` turns True). A child's
  case lives for years; its history lives in our own task, deadline and audit rows instead.
- Errors inside scripts and expressions are returned as ``StepError`` values, never raised
  into the caller: the service puts that one case into ``error``.
- Except an expression running out of its CPU or memory budget (engine.bpmn.scripting): that is
  raised as ``BudgetExceeded`` so nothing half-done is kept, and ``attempt`` runs the step again
  on a fresh copy of the saved state. Only after ``BUDGET_TRIES`` overruns in a row is it the
  case's error (issue 15: a cold, busy process put 1 case in 50 into error on the first try).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.specs.defaults import EventBasedGateway
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.util.diff import diff_workflow, migrate_workflow
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.camunda.serializer import DEFAULT_CONFIG as CAMUNDA_CONFIG
from SpiffWorkflow.camunda.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from engine import calendar as cal
from engine.bpmn import patches
from engine.bpmn.scripting import BUDGET_TRIES, RestrictedScriptEngine, calendar_helpers
from engine.bpmn.xml import parse_bpmn
from engine.errors import BudgetExceeded, DefinitionInvalid, NotAllowed, NotFound

log = logging.getLogger(__name__)

# Stored with every case: SpiffWorkflow's own format version plus ours (state-only, compacted).
STATE_FORMAT = "spiff-1.5+pp-1"
_TIMER_TYPES = ("TimeDateEventDefinition", "DurationTimerEventDefinition", "CycleTimerEventDefinition")


@dataclass
class StepError:
    element: str
    message: str


@dataclass
class Live:
    ready: list[Task]
    has_errors: bool
    data: dict[str, Any]


@dataclass
class StepResult:
    """What one engine run did: elements completed, in order, and the error that stopped it."""

    completed: list[str] = field(default_factory=list)
    error: StepError | None = None


class _StateConverter(BpmnWorkflowConverter):
    """A case's state without its specs: the published definition holds them, and ``load`` hands the
    cached ones back. SpiffWorkflow's converter turned the whole spec into a dict on every save only
    for ``dump`` to throw it away (a few per cent of a completion; issue 18). Restoring is unchanged."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct: dict[str, Any] = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct


def _serializer() -> BpmnWorkflowSerializer:
    registry = BpmnWorkflowSerializer.configure({**CAMUNDA_CONFIG, BpmnWorkflow: _StateConverter})
    # date is not registered by SpiffWorkflow (TypeError on save); forms record dates.
    registry.register(date, lambda v: {"value": v.isoformat()}, lambda v: date.fromisoformat(v["value"]))
    return BpmnWorkflowSerializer(registry)


class Engine:
    """Parses definitions, runs workflow instances, and saves/loads their state."""

    def __init__(self, calendar: cal.WorkingCalendar | None = None) -> None:
        patches.apply()
        cal.warm()
        self.calendar = calendar or cal.WorkingCalendar()
        self.calendar_stamp: int | None = None  # how many closures the calendar was read with
        self.script_engine = RestrictedScriptEngine(calendar_helpers(lambda: self.calendar))
        self.serializer = _serializer()
        self._specs: dict[Any, tuple[Any, dict[str, Any]]] = {}

    # --- definitions -------------------------------------------------------------------
    def build_spec(self, key: str, files: Iterable[tuple[str, bytes]]) -> tuple[Any, dict[str, Any]]:
        """Parse ``files`` (the diagram and the ones it calls) and return (spec, subprocess specs)."""
        parser = CamundaParser()
        try:
            for filename, content in files:
                parser.add_bpmn_xml(parse_bpmn(content, filename), filename)
            return parser.get_spec(key), parser.get_subprocess_specs(key)
        except SpiffWorkflowException as exc:
            raise DefinitionInvalid(f"{key}: {exc}") from None

    def spec(self, cache_key: Any, key: str, files: Callable[[], Iterable[tuple[str, bytes]]]) -> tuple[Any, dict]:
        """The cached spec for one published definition version (definitions never change)."""
        if cache_key not in self._specs:
            self._specs[cache_key] = self.build_spec(key, files())
        return self._specs[cache_key]

    # --- instances ---------------------------------------------------------------------
    def start(self, spec: tuple[Any, dict], data: dict[str, Any]) -> tuple[BpmnWorkflow, StepResult]:
        def fresh() -> BpmnWorkflow:
            workflow = BpmnWorkflow(spec[0], spec[1], script_engine=self.script_engine)
            workflow.task_tree.data.update(data)
            return workflow

        return self.attempt(fresh, self.advance)

    def attempt(
        self, fresh: Callable[[], BpmnWorkflow], step: Callable[[BpmnWorkflow], StepResult], tries: int = BUDGET_TRIES
    ) -> tuple[BpmnWorkflow, StepResult]:
        """Run ``step`` on ``fresh()``; an expression over its budget is retried on a new copy.

        A first overrun is a cold cache or a burst of load, never the case's fault; ``tries``
        overruns in a row (each with a full CPU budget) make the case's error, naming the step."""
        made: list[BpmnWorkflow] = []

        def once() -> tuple[BpmnWorkflow, StepResult]:
            made.append(fresh())
            return made[-1], step(made[-1])

        try:
            return _within_budget(once, tries)
        except BudgetExceeded as exc:
            return made[-1], StepResult(error=StepError(element=exc.details.get("element", ""), message=exc.message))

    def evaluate(self, expression: str, data: dict[str, Any], tries: int = BUDGET_TRIES) -> Any:
        """A diagram expression outside a step (a due date, an outcome): a budget overrun is retried as a step's is."""
        return _within_budget(lambda: self.script_engine.environment.evaluate(expression, dict(data)), tries)

    def live(self, workflow: BpmnWorkflow) -> Live:
        """Ready steps, failed steps and case data from one walk of the live tasks."""
        tasks = workflow.get_tasks(state=TaskState.READY | TaskState.WAITING | TaskState.ERROR)
        ready = [t for t in tasks if t.state == TaskState.READY and t.task_spec.manual]
        return Live(ready=ready, has_errors=any(t.state == TaskState.ERROR for t in tasks),
                    data=self._merge(workflow, tasks))  # fmt: skip

    def waiting_elements(self, workflow: BpmnWorkflow) -> list[str]:
        """Element ids where the case waits now (steps, timers, messages, call activities), top level first."""
        tasks = workflow.get_tasks(state=TaskState.READY | TaskState.WAITING | TaskState.STARTED)
        found = [getattr(t.task_spec, "bpmn_id", None) for t in tasks]
        return list(dict.fromkeys(e for e in found if e))

    def ready_human_tasks(self, workflow: BpmnWorkflow) -> list[Task]:
        return workflow.get_tasks(state=TaskState.READY, manual=True)

    def task(self, workflow: BpmnWorkflow, task_id: str) -> Task:
        try:
            return workflow.get_task_from_id(UUID(task_id))
        except Exception:
            raise NotFound(f"step {task_id} is not part of this case any more") from None

    def complete(
        self, workflow: BpmnWorkflow, task_id: str, values: dict[str, Any], declared: Iterable[str] = ()
    ) -> StepResult:
        """Complete a ready step. ``declared`` form fields left blank become None unless already set."""
        task = self.task(workflow, task_id)
        if task.state != TaskState.READY or not task.task_spec.manual:
            raise NotAllowed(f"step {task.task_spec.bpmn_id} is not waiting for anyone")
        blanks = {name: None for name in declared}
        task.data = {**blanks, **task.data, **values}  # replace, never mutate shared nested data
        task.run()
        result = StepResult(completed=[task.task_spec.bpmn_id])
        more = self.advance(workflow)
        result.completed += more.completed
        result.error = more.error
        return result

    def waiting_messages(self, workflow: BpmnWorkflow) -> dict[str, str]:
        """Message name -> the element waiting for it now (a message boundary or catch event)."""
        found: dict[str, str] = {}
        for task in workflow.get_tasks(state=TaskState.WAITING):
            definition = getattr(task.task_spec, "event_definition", None)
            if isinstance(definition, MessageEventDefinition):
                found.setdefault(definition.name, task.task_spec.bpmn_id)
            elif isinstance(task.task_spec, EventBasedGateway):  # it holds its events' definitions, in order
                for output, held in zip(
                    task.task_spec.outputs, getattr(definition, "event_definitions", []), strict=False
                ):
                    if isinstance(held, MessageEventDefinition):
                        found.setdefault(held.name, output.bpmn_id)
        return found

    def send_message(self, workflow: BpmnWorkflow, name: str, values: dict[str, Any]) -> StepResult:
        """Deliver message ``name`` carrying ``values`` (merged into the case data) and run on.

        Routing to the right case is the caller's job: SpiffWorkflow accepts the first message
        whatever its correlation key (research notes, section 1)."""
        element = self.waiting_messages(workflow).get(name)
        if element is None:
            raise NotAllowed(f"the case is not waiting for the message {name}")
        event = BpmnEvent(MessageEventDefinition(name), payload={"payload": dict(values), "result_var": None,
                                                                 "merge": True})  # fmt: skip
        try:
            workflow.send_event(event)
        except SpiffWorkflowException as exc:
            _raise_budget(exc)
            return StepResult(error=_step_error(exc))
        return self.advance(workflow)

    def fire_timers(self, workflow: BpmnWorkflow) -> StepResult:
        return self.advance(workflow, refresh=True)

    def retry(self, workflow: BpmnWorkflow) -> StepResult:
        """Put failed steps back to READY and run again (after the cause was fixed)."""
        for task in workflow.get_tasks(state=TaskState.ERROR):
            task._set_state(TaskState.READY)
        return self.advance(workflow, refresh=True)

    def advance(self, workflow: BpmnWorkflow, refresh: bool = False) -> StepResult:
        result = StepResult()
        record = lambda t: result.completed.append(t.task_spec.bpmn_id)  # noqa: E731
        workflow.pp_cycle_firings = 0  # patches.MAX_CYCLE_FIRINGS counts from here
        try:
            if refresh:
                workflow.refresh_timers()
            workflow.do_engine_steps(did_complete_task=record)
        except SpiffWorkflowException as exc:
            _raise_budget(exc)
            result.error = _step_error(exc)
        except BudgetExceeded:
            raise
        except Exception as exc:  # an unexpected library failure still stays inside this case
            result.error = StepError(element="", message=f"{type(exc).__name__}: {exc}")
        compact(workflow)
        return result

    def set_data(self, workflow: BpmnWorkflow, values: dict[str, Any]) -> None:
        """Correct case data on every live step (used to retry a case after a data fix)."""
        for task in workflow.get_tasks(state=TaskState.NOT_FINISHED_MASK | TaskState.ERROR):
            task.data = {**task.data, **values}

    def next_timer_due(self, workflow: BpmnWorkflow) -> datetime | None:
        found = (_event_due(e.value) for e in workflow.waiting_events() if e.event_type in _TIMER_TYPES)
        dues = [d for d in found if d is not None]
        return min(dues) if dues else None

    def data(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        """Case data as seen by the latest live step (or the finished workflow)."""
        return self._merge(workflow, workflow.get_tasks(state=TaskState.READY | TaskState.WAITING | TaskState.ERROR))

    @staticmethod
    def _merge(workflow: BpmnWorkflow, live: list[Task]) -> dict[str, Any]:
        if workflow.is_completed():
            return dict(workflow.data)
        if not live:
            return dict(workflow.last_task.data if workflow.last_task else {})
        merged: dict[str, Any] = {}  # parallel branches: the most recently changed value wins
        for task in sorted(live, key=lambda t: t.last_state_change):
            merged.update(task.data)
        return merged

    def is_completed(self, workflow: BpmnWorkflow) -> bool:
        return workflow.is_completed()

    def cancel(self, workflow: BpmnWorkflow) -> None:
        workflow.cancel()

    def migrate(self, workflow: BpmnWorkflow, spec: tuple[Any, dict]) -> None:
        """Move a running workflow onto another version's spec, in place (SpiffWorkflow's diff utilities).

        Refused (NotAllowed, workflow unchanged) when a live step's element is not in the new
        version, or a running called diagram is missing from it. Waiting steps are re-predicted,
        so timers and due dates follow the new version."""
        registry = self.serializer.registry
        top, subs = diff_workflow(registry, workflow, spec[0], spec[1])
        live = TaskState.READY | TaskState.WAITING | TaskState.STARTED
        gone = [t.task_spec.bpmn_id or t.task_spec.name for t in top.removed if t.state & live]
        if gone:
            raise NotAllowed(f"the case waits at {', '.join(dict.fromkeys(gone))}, which the new version does not have")
        for sp_id, sub_diff in subs.items():
            sub = workflow.subprocesses[sp_id]
            if sub_diff is None and not sub.is_completed():
                raise NotAllowed(f"the case is inside '{sub.spec.name}', which the new version does not call")
            if sub_diff is not None:
                gone = [t.task_spec.bpmn_id or t.task_spec.name for t in sub_diff.removed if t.state & live]
                if gone:
                    raise NotAllowed(f"the case waits at {', '.join(dict.fromkeys(gone))} inside '{sub.spec.name}', "
                                     "which the new version does not have")  # fmt: skip
        for sp_id, sub_diff in subs.items():
            if sub_diff is not None:
                sub = workflow.subprocesses[sp_id]
                migrate_workflow(sub_diff, sub, spec[1][sub.spec.name])
        migrate_workflow(top, workflow, spec[0])
        workflow.subprocess_specs = dict(spec[1])

    # --- state -------------------------------------------------------------------------
    def dump(self, workflow: BpmnWorkflow) -> str:
        registry = self.serializer.registry
        registry._encoder_mode = True
        try:
            dct = self.serializer.to_dict(workflow)
        finally:
            registry._encoder_mode = False
        dct["format"] = STATE_FORMAT
        return json.dumps(dct, cls=self.serializer._encoder_cls, separators=(",", ":"))

    def load(self, spec: tuple[Any, dict], state: str) -> BpmnWorkflow:
        dct = json.loads(state)
        if dct.pop("format", None) != STATE_FORMAT:
            raise NotAllowed("this case was saved in a format this version cannot read")
        # The serializer passes objects it does not know through restore unchanged, so the
        # cached spec objects can be handed back in place of their serialized form.
        dct["spec"], dct["subprocess_specs"] = spec[0], dict(spec[1])
        workflow = self.serializer.from_dict(dct)
        workflow.script_engine = self.script_engine
        return workflow


def _within_budget(run: Callable[[], Any], tries: int) -> Any:
    """``run()``, again after a budget overrun; the last overrun is raised, saying how many tries it had."""
    for number in range(1, tries + 1):
        try:
            return run()
        except BudgetExceeded as exc:
            element = exc.details.get("element", "")
            log.warning("event=expression_budget try=%s of=%s element=%s reason='%s'", number, tries, element,
                        exc.message)  # fmt: skip
            if number == tries:
                raise BudgetExceeded(f"{exc.message} on {tries} tries in a row", element=element) from exc
    raise AssertionError("tries must be at least 1")


def _raise_budget(exc: BaseException) -> None:
    """Re-raise a budget overrun that SpiffWorkflow wrapped (it keeps the original as the context)."""
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, BudgetExceeded):
        cause = cause.__cause__ or cause.__context__
    if cause is not None:
        raise BudgetExceeded(cause.message, element=_step_error(exc).element) from cause


def _step_error(exc: SpiffWorkflowException) -> StepError:
    task = getattr(exc, "task", None)
    element = task.task_spec.bpmn_id if task is not None and task.task_spec.bpmn_id else ""
    cause = getattr(exc, "exception", None)
    detail = f"{type(cause).__name__}: {cause}" if cause is not None else str(exc)
    return StepError(element=element or "", message=f"{exc}" if detail in str(exc) else f"{exc} ({detail})")


def _event_due(value: Any) -> datetime | None:
    if isinstance(value, dict):  # cycle timers keep {"next": ISO, ...}
        value = value.get("next")
    if not value:
        return None
    return TimerEventDefinition.get_datetime(value)


# --- compaction ---------------------------------------------------------------------------
def compact(workflow: BpmnWorkflow) -> None:
    """Drop finished history above the live frontier, in the workflow and its subprocesses."""
    for wf in [workflow, *workflow.subprocesses.values()]:
        _compact_tree(wf)
    _drop_orphan_subprocesses(workflow)


def _compact_tree(wf: Any) -> None:
    # ERROR counts as finished in SpiffWorkflow, but a failed step must survive for retry.
    live = [t for t in wf.tasks.values() if not t.has_state(TaskState.FINISHED_MASK) or t.state == TaskState.ERROR]
    root = wf.task_tree
    if not live or root is None:
        return
    frontier = _lowest_common_ancestor(live)
    if frontier is root or frontier.parent is root:
        return
    keep = {t.id for t in _subtree(frontier)} | {root.id}
    frontier._parent = root.id
    root._children = [frontier.id]
    for task_id in [i for i in wf.tasks if i not in keep]:
        wf.tasks.pop(task_id)
        wf.top_workflow.event_manager.tasks.pop(task_id, None)
    if wf.last_task is not None and wf.last_task.id not in keep:
        wf.last_task = None


def _ancestry(task: Task) -> list[Task]:
    chain = []
    while task is not None:
        chain.append(task)
        task = task.parent
    return chain[::-1]


def _lowest_common_ancestor(tasks: list[Task]) -> Task:
    common = _ancestry(tasks[0])
    for task in tasks[1:]:
        chain = _ancestry(task)
        depth = 0
        while depth < min(len(common), len(chain)) and common[depth] is chain[depth]:
            depth += 1
        common = common[:depth]
    return common[-1]


def _subtree(task: Task) -> list[Task]:
    found, stack = [], [task]
    while stack:
        node = stack.pop()
        found.append(node)
        stack.extend(node.children)
    return found


def _drop_orphan_subprocesses(workflow: BpmnWorkflow) -> None:
    changed = True
    while changed:
        changed = False
        for sp_id, sp in list(workflow.subprocesses.items()):
            parent = sp.parent_workflow
            if parent is None or sp_id not in parent.tasks:
                del workflow.subprocesses[sp_id]
                changed = True
