"""Diagrams cannot hang or exhaust a process (issue 15, defect 5): refused when validated, capped when run."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from engine import clock, services
from engine.bpmn import validation
from engine.bpmn.patches import MAX_CYCLE_FIRINGS
from engine.bpmn.runtime import Engine
from engine.persistence.models import AuditEvent, HumanTask
from tests.scenario import Scenario

TIMER_DATE = (
    '<bpmn:timeDate xsi:type="bpmn:tFormalExpression" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
    "next_review_due</bpmn:timeDate>"
)


def _review_with(diagrams, old: str, new: str) -> str:
    text = (diagrams / "review_cycle.bpmn").read_text()
    assert old in text
    return text.replace(old, new)


def _zero_cycle(diagrams) -> str:
    return _review_with(diagrams, TIMER_DATE, '<bpmn:timeCycle>"R/PT0S"</bpmn:timeCycle>')


BOMBS = {
    "power": "(((10**64)**64)**64)**12",
    "padding": "'a'.ljust(900000000)",
    "repeat": "len('ab' * 900000000)",
}


def _problems(rt, text: str) -> list[str]:
    started = time.monotonic()
    found = services.validate_diagram(rt, "review_cycle.bpmn", text.encode(), use_published=False)
    assert time.monotonic() - started < 1.0, "the check itself must not run the bomb"
    return [p["message"] if isinstance(p, dict) else str(p) for p in found]


def test_a_zero_interval_repeating_timer_is_refused_by_the_modellers_check(rt, diagrams):
    problems = _problems(rt, _zero_cycle(diagrams))
    assert any("repeats every 0:00:00" in p and "shortest allowed is 1:00:00" in p for p in problems), problems


def test_a_repeating_timer_of_an_hour_or_more_is_accepted(rt, diagrams):
    text = _review_with(diagrams, TIMER_DATE, '<bpmn:timeCycle>"R3/PT1H"</bpmn:timeCycle>')
    assert not [p for p in _problems(rt, text) if "timer cycle" in p]


def test_the_minimum_cycle_is_configurable(rt, diagrams, monkeypatch):
    monkeypatch.setattr(rt, "settings", dataclasses.replace(rt.settings, min_timer_cycle_seconds=7200))
    text = _review_with(diagrams, TIMER_DATE, '<bpmn:timeCycle>"R3/PT1H"</bpmn:timeCycle>')
    assert any("shortest allowed is 2:00:00" in p for p in _problems(rt, text))


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_cpu_and_memory_bombs_in_a_due_date_are_refused_within_a_second(rt, diagrams, name):
    text = _review_with(diagrams, 'value="add_working_days(next_review_due, 2)"', f'value="{BOMBS[name]}"')
    problems = _problems(rt, text)
    assert any("too large" in p or "exponents above 64" in p for p in problems), problems


def test_workflows_validate_refuses_the_zero_cycle_and_the_bombs(cli, diagrams, tmp_path):
    cycle = tmp_path / "cycle.bpmn"
    cycle.write_text(_zero_cycle(diagrams))
    bomb = tmp_path / "bomb.bpmn"
    bomb.write_text(_review_with(diagrams, "next_review_due</bpmn:timeDate>", f"{BOMBS['power']}</bpmn:timeDate>"))
    for path, expected in ((cycle, "repeats every"), (bomb, "too large")):
        started = time.monotonic()
        output = cli("workflows", "validate", str(path), ok=False).output
        assert time.monotonic() - started < 1.0
        assert expected in output, output


def test_a_zero_cycle_that_got_published_fires_a_bounded_number_of_times_per_sweep(diagrams, now):
    """The engine's own cap: even a diagram that escaped validation cannot hang the worker."""
    engine = Engine()
    spec = engine.build_spec("test_review_cycle", [("review_cycle.bpmn", _zero_cycle(diagrams).encode())])
    wf, _ = engine.start(spec, {"looked_after_date": date(2026, 12, 18)})
    for element, values in (("Task_CarePlan", {"care_plan_date": date(2026, 12, 22)}),
                            ("Task_Visit", {"visit_date": date(2026, 12, 23)}),
                            ("Task_AppointIRO", {"iro_appointed_on": date(2026, 12, 23)})):  # fmt: skip
        task = next(t for t in engine.ready_human_tasks(wf) if t.task_spec.bpmn_id == element)
        assert engine.complete(wf, str(task.id), values).error is None
    now.set(datetime(2027, 1, 5, 10, tzinfo=UTC))
    chases = []
    for _sweep in range(3):
        wf = engine.load(spec, engine.dump(wf))
        result = engine.fire_timers(wf)
        assert result.error is None
        chases.append(sum(1 for t in engine.ready_human_tasks(wf) if t.task_spec.bpmn_id == "Task_ChaseReview"))
    assert 0 < chases[0] <= MAX_CYCLE_FIRINGS
    assert chases[0] < chases[1] < chases[2] <= 3 * MAX_CYCLE_FIRINGS
    assert clock.utcnow() == datetime(2027, 1, 5, 10, tzinfo=UTC)


def test_a_published_zero_cycle_does_not_hang_the_timer_sweep(rt, diagrams, now, monkeypatch):
    """Its case stays due after firing; the sweep fires it once and moves on (it looped on it for ever)."""
    monkeypatch.setattr(validation, "_cycle_problems", lambda *args: [])  # published before the check existed
    services.publish_files(rt, [("review_cycle.bpmn", _zero_cycle(diagrams).encode())], "test")
    case = Scenario(rt, now, "test_review_cycle", ref="CH-CYCLE")
    case.on("2026-12-18").start(looked_after_date="2026-12-18")
    case.do("Task_CarePlan", care_plan_date="2026-12-22")
    case.do("Task_Visit", visit_date="2026-12-23")
    case.do("Task_AppointIRO", iro_appointed_on="2026-12-23")
    for day in ("2027-01-05", "2027-01-06"):
        counts = services.fire_due_timers(rt, datetime.fromisoformat(f"{day}T10:00:00+00:00"))
        assert counts["cases_fired"] == 1 and counts["cases_failed"] == 0
    with rt.uow() as uow:
        fired = uow.session.scalar(select(func.count()).where(AuditEvent.action == "timer.fired"))
        chases = uow.session.scalar(select(func.count()).where(HumanTask.element == "Task_ChaseReview"))
    assert fired == 2
    assert 0 < chases <= 2 * MAX_CYCLE_FIRINGS
