"""Engine-level scenarios, each run straight through and through save/restore after every step."""

from __future__ import annotations

import time
from datetime import date, timedelta

import pytest

from engine.bpmn.runtime import Engine
from engine.errors import BudgetExceeded

REVIEW = ("review_cycle.bpmn",)


@pytest.fixture
def engine() -> Engine:
    return Engine()


def _spec(engine: Engine, diagrams, key: str, *files: str):
    return engine.build_spec(key, [(f, (diagrams / f).read_bytes()) for f in files])


def _ready(engine, wf) -> list[str]:
    return sorted(t.task_spec.bpmn_id for t in engine.ready_human_tasks(wf))


def _do(engine, spec, wf, element, values, round_trip):
    task = next(t for t in engine.ready_human_tasks(wf) if t.task_spec.bpmn_id == element)
    result = engine.complete(wf, str(task.id), values)
    assert result.error is None
    return engine.load(spec, engine.dump(wf)) if round_trip else wf


def _review_scenario(engine, spec, now, round_trip, loops):
    wf, result = engine.start(spec, {"looked_after_date": date(2026, 12, 18)})
    trace = [_ready(engine, wf)]
    wf = _do(engine, spec, wf, "Task_CarePlan", {"care_plan_date": date(2026, 12, 22)}, round_trip)
    trace.append(_ready(engine, wf))
    wf = _do(engine, spec, wf, "Task_Visit", {"visit_date": date(2026, 12, 23)}, round_trip)
    wf = _do(engine, spec, wf, "Task_AppointIRO", {"iro_appointed_on": date(2026, 12, 23)}, round_trip)
    trace.append((_ready(engine, wf), engine.next_timer_due(wf)))
    for i in range(loops):
        values = {"review_date": date(2027, 1, 20) + timedelta(days=i), "continue_reviews": i < loops - 1}
        wf = _do(engine, spec, wf, "Task_HoldReview", values, round_trip)
    trace.append(_ready(engine, wf))
    wf = _do(engine, spec, wf, "Task_Close", {"closed_on": date(2027, 9, 1)}, round_trip)
    data = engine.data(wf)
    return trace, engine.is_completed(wf), {k: data[k] for k in ("reviews_held", "next_review_due", "plan")
                                               if k in data}  # fmt: skip


@pytest.mark.parametrize("loops", [1, 3])
def test_review_cycle_is_identical_straight_through_and_round_tripped(engine, diagrams, now, loops):
    spec = _spec(engine, diagrams, "test_review_cycle", *REVIEW)
    straight = _review_scenario(engine, spec, now, round_trip=False, loops=loops)
    saved = _review_scenario(engine, spec, now, round_trip=True, loops=loops)
    assert straight == saved
    trace, completed, data = straight
    assert trace[0] == ["Task_CarePlan"]
    assert trace[1] == ["Task_AppointIRO", "Task_Visit"]
    assert trace[2][0] == ["Task_HoldReview"]
    assert trace[2][1].isoformat() == "2027-01-21T00:00:00+00:00"  # end of 20 Jan 2027, London
    assert trace[3] == ["Task_Close"]
    assert completed is True
    assert data["reviews_held"] == loops


def test_a_review_cycle_six_hundred_times_still_advances_and_stays_small(engine, diagrams, now):
    spec = _spec(engine, diagrams, "test_review_cycle", *REVIEW)
    wf, _ = engine.start(spec, {"looked_after_date": date(2026, 12, 18)})
    for element, values in (("Task_CarePlan", {"care_plan_date": date(2026, 12, 22)}),
                            ("Task_Visit", {}), ("Task_AppointIRO", {})):  # fmt: skip
        wf = _do(engine, spec, wf, element, values, round_trip=False)
    sizes = []
    for i in range(600):
        wf = _do(engine, spec, wf, "Task_HoldReview", {"review_date": date(2027, 1, 20), "continue_reviews": i < 599},
                 round_trip=(i % 50 == 0))  # fmt: skip
        sizes.append(len(wf.tasks))
    assert _ready(engine, wf) == ["Task_Close"]
    assert not engine.is_completed(wf)
    assert engine.data(wf)["reviews_held"] == 600
    assert max(sizes) <= 20  # the tree is compacted to the live frontier every step
    wf = _do(engine, spec, wf, "Task_Close", {}, round_trip=True)
    assert engine.is_completed(wf)


def test_call_activity_in_another_file(engine, diagrams, now):
    spec = _spec(engine, diagrams, "test_caller", "calls_panel.bpmn", "called_panel.bpmn")
    for round_trip in (False, True):
        wf, _ = engine.start(spec, {"request_date": date(2027, 3, 1)})
        assert _ready(engine, wf) == ["Task_PanelDecision"]
        wf = _do(engine, spec, wf, "Task_PanelDecision", {"panel_decision": "approve"}, round_trip)
        assert engine.is_completed(wf)
        assert engine.data(wf)["panel_decision"] == "approve"


def test_script_errors_are_returned_not_raised(engine, diagrams, now):
    spec = _spec(engine, diagrams, "test_broken_script", "broken_script.bpmn")
    wf, result = engine.start(spec, {"divisor": 0})
    assert result.error is not None
    assert result.error.element == "Script_Divide"
    assert "ZeroDivisionError" in result.error.message
    engine.set_data(wf, {"divisor": 5})
    assert engine.retry(wf).error is None
    assert _ready(engine, wf) == ["Task_Record"]
    assert engine.data(wf)["ratio"] == 2


class _Divisor:
    """Divides 10 by 2, spending ``burn`` seconds of CPU time in library code on the first ``slow`` calls."""

    def __init__(self, slow: int, burn: float = 0.3) -> None:
        self.slow, self.burn, self.calls = slow, burn, 0

    def __rtruediv__(self, other: float) -> float:
        self.calls += 1
        if self.calls <= self.slow:
            until = time.thread_time() + self.burn
            while time.thread_time() < until:
                pass
        return other / 2


def test_an_expression_over_its_budget_once_is_retried_not_an_error(diagrams, now):
    """A cold cache or a burst of load is never the case's fault: the step runs again on a fresh copy."""
    engine = Engine()
    engine.script_engine.environment.time_limit = 0.1
    spec = _spec(engine, diagrams, "test_broken_script", "broken_script.bpmn")
    divisor = _Divisor(slow=1)
    wf, result = engine.start(spec, {"divisor": divisor, "today_marker": date(2027, 3, 1)})
    assert result.error is None
    assert divisor.calls == 2
    assert _ready(engine, wf) == ["Task_Record"]
    assert engine.data(wf)["ratio"] == 5


def test_an_expression_over_its_budget_every_time_is_the_cases_error_after_three_tries(diagrams, now):
    engine = Engine()
    engine.script_engine.environment.time_limit = 0.1
    spec = _spec(engine, diagrams, "test_broken_script", "broken_script.bpmn")
    divisor = _Divisor(slow=99)
    _, result = engine.start(spec, {"divisor": divisor})
    assert divisor.calls == 3
    assert result.error is not None and result.error.element == "Script_Divide"
    assert "CPU time on 3 tries in a row" in result.error.message


def test_a_due_date_over_its_budget_once_is_worked_out_again_not_an_error():
    """Due dates and outcomes are worked out outside a step (services._steps): retried the same way."""
    engine = Engine()
    engine.script_engine.environment.time_limit = 0.1
    divisor = _Divisor(slow=1)
    assert engine.evaluate("add_days('2027-01-04', 10 / divisor)", {"divisor": divisor}) == date(2027, 1, 9)
    assert divisor.calls == 2
    with pytest.raises(BudgetExceeded, match="on 3 tries in a row"):
        engine.evaluate("10 / divisor", {"divisor": _Divisor(slow=99)})
