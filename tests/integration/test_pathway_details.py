"""What the scenario files (workflows/scenarios/*.json, run by test_scenarios.py) cannot say: the order of
the audit log, and a deadline that must not exist."""

from __future__ import annotations

import pytest

from tests.scenario import Scenario, publish_workflows

LOOKED_AFTER = {"date_of_birth": "2020-03-01", "looked_after_date": "2026-12-18", "in_care_proceedings": False}


@pytest.fixture
def case(rt, now):
    publish_workflows(rt)
    return Scenario(rt, now, "ppm_to_adm")


def _to_ppm(case, **start):
    case.on("2026-12-18").start(**{**LOOKED_AFTER, **start})
    assert case.due("Task_FirstReview") == "2027-01-20"  # 20 WD: Christmas, Boxing Day (Mon 28), New Year
    assert case.due("Task_FamilyNetworkMeeting") == "2027-01-06"  # 10 WD, the same holidays
    case.early_planning("2026-12-18")
    case.on("2027-01-20").do("Task_FirstReview", "iro", first_review_date="2027-01-20", ppm_requested=True)
    assert case.due("Task_UpdateCarePlan") == "2027-02-17"  # first review + 28 days
    case.do("Task_UpdateCarePlan", "sw", care_plan_updated_date="2027-02-10")
    case.do("Task_DecidePPM", "tm", ppm_needed=True)
    assert case.due("Task_PreparePlan") == "2027-02-19"  # 5 WD before the PPM due date
    case.do("Task_PreparePlan", "sw", plan_circulated_date="2027-02-12", possible_plan="long_term_fostering")
    assert case.due("Task_SendInvitations") == "2027-02-23"  # 3 WD before the PPM
    case.prepare_ppm("2027-02-12")
    assert case.due("Task_HoldPPM") == "2027-02-26"  # looked after + 10 weeks


def test_child_in_proceedings_who_is_not_looked_after(case):
    case.on("2026-12-10").start(date_of_birth="2024-01-05", looked_after_date=None, in_care_proceedings=True,
                                proceedings_start_date="2026-12-10")  # fmt: skip
    assert set(case.open()) == {
        "Task_DecidePPM",
        "Task_RecordCourtEvent",
        "Task_FamilyNetworkMeeting",
        "Task_ParallelPlan",
    }  # no CLA reviews; a child in proceedings has a parallel plan
    assert [d["name"] for d in case.show()["deadlines"] if d["name"] == "First CLA review"] == []
    case.do("Task_DecidePPM", "tm", ppm_needed=True)
    case.do("Task_PreparePlan", "sw", plan_circulated_date="2027-03-08", possible_plan="connected_person")
    assert set(case.open()) >= {"Task_ConsultFosteringTM", "Task_InviteLegal"}  # special guardianship; proceedings
    case.prepare_ppm("2027-03-08")
    assert case.due("Task_HoldPPM") == "2027-03-18"  # proceedings start + 14 weeks


def test_overdue_second_review_escalates_and_the_audit_log_tells_the_story(case):
    _to_ppm(case)
    case.do("Task_HoldPPM", "tm", ppm_date="2027-02-24", permanence_option="reunification",
            contingency_plan="long_term_fostering", cannot_live_with_parents=False)  # fmt: skip
    case.tell_carers("2027-02-24")
    case.do("Task_SendMinutes", "tm", minutes_sent_date="2027-03-30")
    case.do("Task_InformParents", "sw", parents_informed_date="2027-04-01")
    assert case.fire("2027-04-09T22:59:00+00:00")["cases_fired"] == 0  # 9 April is still running (BST)
    assert case.fire("2027-04-09T23:00:00+00:00")["cases_fired"] == 1
    escalation = case.open()["Task_SecondReviewOverdue"]
    assert (escalation["role"], escalation["due"]) == ("team_manager", "2027-04-13")  # +2 WD
    story = [
        (e["action"], e["element"])
        for e in case.show()["audit"]
        if e["action"] in ("case.started", "task.completed", "timer.fired", "task.opened", "deadline.breached")
    ]
    assert story[0] == ("case.started", None)
    completed = [element for action, element in story if action == "task.completed"]
    assert completed == ["Task_FamilyNetworkMeeting", "Task_ParallelPlan", "Task_FirstReview", "Task_UpdateCarePlan",
                         "Task_DecidePPM", "Task_PreparePlan", "Task_SendInvitations", "Task_ChildWishes",
                         "Task_ConsultAdoptionTM", "Task_ConsultFosteringTM", "Task_HoldPPM", "Task_TellCarers",
                         "Task_SendMinutes", "Task_InformParents"]  # fmt: skip
    assert story[-3:] == [
        ("timer.fired", None),
        ("task.opened", "Task_SecondReviewOverdue"),
        ("deadline.breached", "Start_LookedAfter"),
    ]  # the second-review clock, open from day one
    actors = {e["element"]: e["actor"] for e in case.show()["audit"] if e["action"] == "task.completed"}
    assert actors["Task_FirstReview"] == "iro" and actors["Task_HoldPPM"] == "tm"
