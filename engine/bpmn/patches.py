"""Patches to SpiffWorkflow 3.2 timer behaviour, each for a measured problem.

See shared/research/spiffworkflow-3.2.md section 4. Applied once by ``apply()``; the version is
pinned in pyproject.toml because these touch module internals.

1. No clock hook: timer.py calls ``datetime.now(timezone.utc)``. We replace the module's
   ``datetime`` with a subclass whose ``now()`` reads engine.clock, so tests and
   ``pathways timers fire --now`` drive BPMN timers with the same clock as our deadlines.
2. ``LOCALTZ`` is frozen at import, so a naive ``timeDate`` shifts by an hour across BST/GMT.
   Naive values are read as Europe/London wall-clock time instead.
4. A Camunda message catch stores its payload in one variable (``<task>_Response``). A message we
   send from a case-system event (``Engine.send_message``) carries the values of the step it
   stands in for, so they are merged into the case data instead, as the step's form would.
3. A ``timeDate`` expression must return an ISO string. We also accept a ``date`` (the deadline
   passes at the end of that day in London: engine.calendar.end_of_day) or an aware datetime,
   and store the due instant as UTC ISO, which ``waiting_events()`` then reports.
5. A repeating timer (``timeCycle``) fires once per check while its next time has passed, so
   ``R/PT0S`` fires without end and hung the process holding the case's row lock (issue 15).
   Validation refuses cycles shorter than an hour; here a case's cycles fire at most
   ``MAX_CYCLE_FIRINGS`` times per run of the engine (one sweep), the rest waiting for the next.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions import timer
from SpiffWorkflow.camunda.specs import event_definitions as camunda_events

from engine import clock
from engine.calendar import LONDON, end_of_day


class _ClockDatetime(datetime):
    @classmethod
    def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
        current = clock.utcnow()
        return current.astimezone(tz) if tz is not None else current.astimezone(LONDON).replace(tzinfo=None)


def due_instant(value: Any) -> datetime:
    """Normalise what a timer expression returned to an aware UTC datetime."""
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=LONDON)
        return aware.astimezone(UTC)
    if isinstance(value, date):
        return end_of_day(value).astimezone(UTC)
    if isinstance(value, str) and len(value.strip()) == 10:
        return end_of_day(date.fromisoformat(value.strip())).astimezone(UTC)
    return _get_datetime(str(value))


def _get_datetime(expression: str) -> datetime:
    parsed = datetime.fromisoformat(expression)
    aware = parsed if parsed.tzinfo else parsed.replace(tzinfo=LONDON)
    return aware.astimezone(UTC)


def _time_date_has_fired(self: Any, my_task: Any) -> bool:
    event_value = my_task._get_internal_data("event_value")
    if event_value is None:
        evaluated = my_task.workflow.script_engine.evaluate(my_task, self.expression)
        event_value = due_instant(evaluated).isoformat()
        my_task._set_internal_data(event_value=event_value)
    if _get_datetime(event_value) <= clock.utcnow():
        my_task._set_internal_data(event_fired=True)
    return bool(my_task._get_internal_data("event_fired", False))


_applied = False
MAX_CYCLE_FIRINGS = 10
_cycle_complete = timer.CycleTimerEventDefinition.cycle_complete


def _capped_cycle_complete(self: Any, my_task: Any) -> bool:
    top = my_task.workflow.top_workflow
    fired = getattr(top, "pp_cycle_firings", 0)
    if fired >= MAX_CYCLE_FIRINGS:
        return False
    ready = bool(_cycle_complete(self, my_task))
    top.pp_cycle_firings = fired + ready
    return ready


_camunda_update_task_data = camunda_events.MessageEventDefinition.update_task_data


def _merge_message_values(self: Any, my_task: Any) -> None:
    event_data = my_task.internal_data.get(self.name) or {}
    if event_data.get("merge"):
        my_task.data = {**my_task.data, **event_data["payload"]}
    else:
        _camunda_update_task_data(self, my_task)


def apply() -> None:
    global _applied
    if _applied:
        return
    timer.datetime = _ClockDatetime  # type: ignore[misc]
    timer.TimerEventDefinition.get_datetime = staticmethod(_get_datetime)  # type: ignore[method-assign]
    timer.TimeDateEventDefinition.has_fired = _time_date_has_fired  # type: ignore[method-assign]
    timer.CycleTimerEventDefinition.cycle_complete = _capped_cycle_complete  # type: ignore[method-assign]
    camunda_events.MessageEventDefinition.update_task_data = _merge_message_values  # type: ignore[method-assign]
    _applied = True
