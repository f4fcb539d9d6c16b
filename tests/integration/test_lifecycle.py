"""A case from start to finish through the services, with deadlines, gates, timers and audit."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from engine import services
from engine.errors import Conflict, FormInvalid, GateClosed, InvalidInput, NotAllowed, NotFound
from tests.conftest import load

REF = "CH-1001"


def _start(rt, ref=REF, date="2026-12-18"):
    load(rt, "review_cycle.bpmn")
    return services.start_case(rt, "test_review_cycle", ref, {"looked_after_date": date}, "sw.alice")


def _task(rt, element, ref=REF):
    return next(t for t in services.list_tasks(rt, ref=ref) if t["element"] == element)


def _complete(rt, element, data, user="sw.alice", ref=REF, now=None):
    """With ``now``: recorded on the day it happened (the clock moved there first, never back)."""
    days = [v for v in data.values() if isinstance(v, str) and len(v) == 10 and v[4] == "-"]
    if now is not None and days and max(days) > now.now.date().isoformat():
        now.set(datetime.combine(date.fromisoformat(max(days)), time(10), tzinfo=UTC))
    return services.complete_task(rt, _task(rt, element, ref)["id"], data, user)


def test_starting_a_case_opens_the_first_step_and_its_deadlines(rt, now):
    case = _start(rt)
    assert case["status"] == "running"
    assert case["open_tasks"] == [{"id": 1, "element": "Task_CarePlan", "title": "Write the care plan",
                                   "role": "social_worker", "assignee": None, "due": "2027-01-06"}]  # fmt: skip
    deadlines = {d["name"]: d for d in case["deadlines"]}
    assert deadlines["First CLA review"] == {
        "name": "First CLA review", "key": "first_review", "due": "2027-01-20", "source": "CPPCR 2010 reg 33(1)",
        "rule_status": "STAT", "anchor": "looked_after_date", "status": "running", "met_on": None,
        "kind": "deadline", "recorded_on": None, "expected_from": None, "said": "due by 20 January 2027",
    }  # fmt: skip
    assert [e["action"] for e in case["audit"]][:2] == ["case.started", "deadline.opened"]


def test_the_whole_pathway_with_met_and_breached_deadlines(rt, now):
    _start(rt)
    _complete(rt, "Task_CarePlan", {"care_plan_date": "2026-12-22"}, now=now)
    assert sorted(t["element"] for t in services.list_tasks(rt, ref=REF)) == ["Task_AppointIRO", "Task_Visit"]
    _complete(rt, "Task_Visit", {"visit_date": "2026-12-23", "seen_alone": "yes"}, now=now)
    now.set(datetime(2027, 1, 5, 10, tzinfo=UTC))  # after the IRO's 5 WD due date (29 Dec)
    _complete(rt, "Task_AppointIRO", {"iro_appointed_on": "2027-01-05"}, user="iro.bob")
    review = _task(rt, "Task_HoldReview")
    assert (review["role"], review["due"]) == ("iro", "2027-01-20")
    _complete(rt, "Task_HoldReview", {"review_date": "2027-01-19", "continue_reviews": True, "plan": "adoption"},
              now=now)  # fmt: skip
    assert _task(rt, "Task_HoldReview")["due"] == "2027-04-19"  # re-anchored: 3 months after the actual review
    _complete(rt, "Task_HoldReview", {"review_date": "2027-04-12", "continue_reviews": False}, now=now)
    _complete(rt, "Task_Close", {"closed_on": "2027-04-13"}, user="tm.carol", now=now)
    case = services.show_case(rt, REF)
    assert case["status"] == "completed" and case["outcome"] == "no longer looked after"
    assert case["open_tasks"] == []
    statuses = {d["name"]: d["status"] for d in case["deadlines"] if d["key"] != "Task_HoldReview"}
    assert statuses == {"First CLA review": "met", "Write the care plan": "met", "Visit the child in placement": "met",
                        "Appoint the IRO": "met_late", "Close the case": "met"}  # fmt: skip
    actions = [e["action"] for e in case["audit"]]
    assert actions.count("task.completed") == 6 and actions[-1] == "case.completed"
    completed = [e for e in case["audit"] if e["action"] == "task.completed"]
    assert [e["actor"] for e in completed][2] == "iro.bob"
    assert completed[0]["after"] == {"status": "completed", "data": {"care_plan_date": "2026-12-22"}}


def test_bad_answers_are_refused_with_every_message_and_nothing_changes(rt, now):
    version = _start(rt)["case_version"]
    task_id = _task(rt, "Task_CarePlan")["id"]
    with pytest.raises(FormInvalid) as caught:
        services.complete_task(rt, task_id, {"care_plan_date": "32/12/2026", "colour": "red"}, "sw.alice")
    assert set(caught.value.errors) == {"care_plan_date", "colour"}
    assert caught.value.data == {"care_plan_date": "32/12/2026", "colour": "red"}
    assert _task(rt, "Task_CarePlan")["status"] == "open"
    assert services.show_case(rt, REF)["case_version"] == version


def test_gate_blocks_completion_before_its_date_and_is_listed(rt, now):
    _start(rt)
    _complete(rt, "Task_CarePlan", {"care_plan_date": "2026-12-18"})
    _complete(rt, "Task_Visit", {"visit_date": "2026-12-18"})
    _complete(rt, "Task_AppointIRO", {"iro_appointed_on": "2026-12-18"})
    case = services.show_case(rt, REF)
    gate = {"name": "Hold the looked-after review", "element": "Task_HoldReview", "not_before": "2026-12-19",
            "source": "test gate: not on the day care began", "status": "gate",
            "said": "cannot happen before 19 December 2026"}  # fmt: skip
    assert case["gates"] == [gate]
    review_id = _task(rt, "Task_HoldReview")["id"]
    with pytest.raises(GateClosed, match="cannot happen before 19 December 2026"):
        services.complete_task(rt, review_id, {"review_date": "2026-12-18", "continue_reviews": False}, "iro.bob")
    now.set(datetime(2026, 12, 19, 0, 30, tzinfo=UTC))
    services.complete_task(rt, review_id, {"review_date": "2026-12-19", "continue_reviews": False}, "iro.bob")


def test_non_interrupting_timer_raises_a_chase_step_and_keeps_the_review_open(rt, now):
    _start(rt)
    _complete(rt, "Task_CarePlan", {"care_plan_date": "2026-12-18"})
    _complete(rt, "Task_Visit", {"visit_date": "2026-12-18"})
    _complete(rt, "Task_AppointIRO", {"iro_appointed_on": "2026-12-18"})
    assert services.show_case(rt, REF)["next_timer_due"] == "2027-01-21T00:00:00+00:00"
    assert services.fire_due_timers(rt, datetime(2027, 1, 20, 23, 59, tzinfo=UTC))["cases_fired"] == 0
    fired = services.fire_due_timers(rt, datetime(2027, 1, 21, 0, 0, tzinfo=UTC))
    # the first review's statutory clock passes that night: the review step serves it (one clock, one row)
    assert fired == {"cases_fired": 1, "cases_failed": 0, "deadlines_breached": 1}
    open_steps = sorted(t["element"] for t in services.list_tasks(rt, ref=REF))
    assert open_steps == ["Task_ChaseReview", "Task_HoldReview"]
    assert _task(rt, "Task_ChaseReview")["due"] == "2027-01-22"
    assert services.fire_due_timers(rt, datetime(2027, 1, 22, tzinfo=UTC))["cases_fired"] == 0  # once
    case = services.show_case(rt, REF)
    assert [d["status"] for d in case["deadlines"] if d["name"] == "First CLA review"] == ["breached"]
    assert "timer.fired" in [e["action"] for e in case["audit"]]


def test_timers_need_an_aware_time(rt, now):
    with pytest.raises(InvalidInput):
        services.fire_due_timers(rt, datetime(2027, 1, 21))


def test_claim_unclaim_assign_are_audited_and_respected(rt, now):
    _start(rt)
    task_id = _task(rt, "Task_CarePlan")["id"]
    assert services.claim_task(rt, task_id, "sw.alice")["assignee"] == "sw.alice"
    with pytest.raises(Conflict, match="already claimed by sw.alice"):
        services.claim_task(rt, task_id, "sw.dan")
    with pytest.raises(NotAllowed, match="assigned to sw.alice"):
        services.complete_task(rt, task_id, {"care_plan_date": "2026-12-18"}, "sw.dan")
    services.unclaim_task(rt, task_id, "sw.alice")
    services.assign_task(rt, task_id, "sw.dan", "tm.carol")
    assert services.list_tasks(rt, user="sw.dan")[0]["id"] == task_id
    services.complete_task(rt, task_id, {"care_plan_date": "2026-12-18"}, "sw.dan")
    with pytest.raises(Conflict, match="already completed by sw.dan"):
        services.complete_task(rt, task_id, {"care_plan_date": "2026-12-18"}, "sw.dan")
    actions = [e["action"] for e in services.show_case(rt, REF)["audit"]]
    assert ["task.claimed", "task.unclaimed", "task.assigned"] == [
        a for a in actions if a.startswith("task.") and a[5:] in ("claimed", "unclaimed", "assigned")
    ]


def test_suspend_resume_cancel(rt, now):
    _start(rt)
    services.suspend_case(rt, REF, "tm.carol", "court adjourned")
    with pytest.raises(NotAllowed, match="suspended"):
        _complete(rt, "Task_CarePlan", {"care_plan_date": "2026-12-18"})
    assert services.resume_case(rt, REF, "tm.carol")["status"] == "running"
    with pytest.raises(InvalidInput):
        services.cancel_case(rt, REF, "tm.carol", " ")
    case = services.cancel_case(rt, REF, "tm.carol", "child returned home")
    assert case["status"] == "cancelled" and case["open_tasks"] == []
    assert {d["status"] for d in case["deadlines"]} == {"cancelled"}
    assert services.list_tasks(rt, ref=REF) == []
    assert len(services.list_tasks(rt, ref=REF, status="cancelled")) == 1  # kept, not deleted
    with pytest.raises(NotAllowed):
        services.suspend_case(rt, REF, "tm.carol", "again")


def test_steps_are_listed_by_team_role_user_and_case(rt, now):
    load(rt, "review_cycle.bpmn")
    services.start_case(rt, "test_review_cycle", "CH-N", {"looked_after_date": "2026-12-18"}, "sw", team="north")
    services.start_case(rt, "test_review_cycle", "CH-S", {"looked_after_date": "2026-12-11"}, "sw", team="south")
    assert [t["ref"] for t in services.list_tasks(rt, team="north")] == ["CH-N"]
    assert [t["ref"] for t in services.list_tasks(rt, role="social_worker")] == ["CH-S", "CH-N"]  # soonest first
    assert services.list_tasks(rt, role="iro") == []
    services.claim_task(rt, services.list_tasks(rt, ref="CH-S")[0]["id"], "sw.sam")
    assert [t["ref"] for t in services.list_tasks(rt, user="sw.sam")] == ["CH-S"]
    assert services.show_case(rt, "CH-N")["team"] == "north"


def test_one_open_pathway_per_child_and_clear_errors(rt, now):
    _start(rt)
    with pytest.raises(Conflict, match="already has an open test_review_cycle"):
        _start(rt)
    with pytest.raises(InvalidInput, match="child reference"):
        services.start_case(rt, "test_review_cycle", "Jane Smith", {"looked_after_date": "2026-12-18"}, "sw")
    with pytest.raises(NotFound):
        services.start_case(rt, "no_such_pathway", "CH-2", {}, "sw")
    with pytest.raises(FormInvalid):
        services.start_case(rt, "test_review_cycle", "CH-2", {}, "sw")
    with pytest.raises(NotFound):
        services.show_case(rt, "CH-404")


def test_audit_log_is_append_only(rt, now):
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    _start(rt)
    for statement in ("UPDATE audit_events SET actor = 'x'", "DELETE FROM audit_events"):
        with pytest.raises(DBAPIError, match="append-only"):
            with rt.db.begin() as conn:
                conn.execute(text(statement))
