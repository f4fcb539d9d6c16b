"""SGO assessment within 12 weeks (pathways.md section 4), with the shared permanency panel."""

from __future__ import annotations

import pytest

from engine.errors import GateClosed
from tests.scenario import Scenario, publish_workflows

FOSTER_CARERS = {"expression_of_interest_date": "2027-01-04", "assessment_request_date": "2027-01-20",
                 "carer_type": "foster_carer"}  # fmt: skip


@pytest.fixture
def case(rt, now):
    publish_workflows(rt)
    return Scenario(rt, now, "sgo_assessment")


def _to_panel(case, **start):
    case.on("2027-01-04").start(**{**FOSTER_CARERS, **start})
    assert case.due("Task_VisitCarers") == "2027-01-18"  # 2 weeks after the expression of interest
    case.do("Task_VisitCarers", "assessor", carers_visit_date="2027-01-11", carers_proceed=True)


def _assess(case):
    assert case.deadline("SGO assessment completed (12 weeks)")["due"] == "2027-04-14"
    assert case.deadline("Report ready before the 3-month notice ends")["due"] == "2027-04-20"
    assert case.due("Task_AllocateAssessment") == "2027-01-27"
    case.do("Task_AllocateAssessment", "tm", allocated_on="2027-01-21", timeline_recorded=True)
    assert case.due("Task_CompleteAssessment") == "2027-04-14"
    case.do("Task_CompleteAssessment", "assessor", assessment_completed_date="2027-04-09",
            assessment_recommendation="recommend", support_plan_done=True)  # fmt: skip


def test_foster_carers_assessed_in_twelve_weeks_approved_at_panel_and_sgo_made(case):
    _to_panel(case)
    _assess(case)
    # booked onto the first panel after the 12-week date: last Wednesday of April 2027
    assert case.due("Task_RemindSocialWorker") == "2027-04-14"  # 2 weeks before panel
    case.do("Task_RemindSocialWorker", "support", panel_reminder_sent_date="2027-04-13")
    assert case.due("Task_SubmitPaperwork") == "2027-04-21"  # 1 week before panel
    case.do("Task_SubmitPaperwork", "sw", paperwork_submitted_date="2027-04-20", support_plan_included=True)
    decision = case.open()["Task_PanelDecision"]
    assert (decision["due"], decision["role"]) == ("2027-04-28", "permanency_panel")
    with pytest.raises(GateClosed, match="before 28/04/2027"):
        case.on("2027-04-27").do("Task_PanelDecision", "chair", panel_decision="approve",
                                 panel_held_date="2027-04-27", panel_reasons="early")  # fmt: skip
    case.on("2027-04-28").do("Task_PanelDecision", "chair", panel_decision="approve", panel_held_date="2027-04-28",
                             panel_reasons="meets needs")  # fmt: skip
    assert case.due("Task_PanelMinutes") == "2027-05-06"  # 5 WD, over the early May bank holiday
    for element, field in (("Task_PanelMinutes", "panel_minutes_date"), ("Task_VisitChildAfterPanel",
                           "post_panel_visit_date"), ("Task_ChairLetter", "chair_letter_date")):  # fmt: skip
        case.do(element, "x", **{field: "2027-04-30"})
    case.do("Task_RecordCourtDecision", "sw", sgo_made=True, court_decision_date="2027-06-15")
    shown = case.show()
    assert (shown["status"], shown["outcome"]) == ("completed", "SGO made")


def test_the_formal_request_can_be_recorded_after_the_visit(case):
    case.start(**{**FOSTER_CARERS, "assessment_request_date": None})
    case.do("Task_VisitCarers", "assessor", carers_visit_date="2027-01-11", carers_proceed=True)
    assert case.due("Task_RecordRequest") == "2027-02-08"
    case.do("Task_RecordRequest", "assessor", assessment_request_date="2027-01-20")
    _assess(case)


def test_carers_who_do_not_proceed_end_the_pathway(case):
    case.start(**FOSTER_CARERS)
    case.do("Task_VisitCarers", "assessor", carers_visit_date="2027-01-11", carers_proceed=False)
    assert case.show()["outcome"] == "SGO application withdrawn: the carers decided not to be assessed"


def test_withdrawal_during_the_assessment(case):
    _to_panel(case)
    case.do("Task_AllocateAssessment", "tm", allocated_on="2027-01-21", timeline_recorded=True)
    case.do(
        "Task_CompleteAssessment",
        "assessor",
        assessment_completed_date="2027-03-01",
        assessment_recommendation="not_recommended",
        support_plan_done=False,
        application_withdrawn=True,
    )
    assert case.show()["outcome"] == "SGO application withdrawn: withdrawn during the assessment"


def test_rejection_needs_an_urgent_care_planning_decision(case):
    _to_panel(case)
    _assess(case)
    case.panel("reject", "2027-04-28")
    assert case.due("Task_UrgentCarePlanning") == "2027-04-30"
    case.do("Task_UrgentCarePlanning", "tm", care_planning_decision="long-term fostering",
            care_planning_date="2027-04-29")  # fmt: skip
    assert case.show()["outcome"] == "SGO assessment not approved at panel"


def test_deferral_books_the_next_panel(case):
    _to_panel(case)
    _assess(case)
    case.panel("defer", "2027-04-28")
    case.do("Task_DeferralActionPlan", "sw", deferral_actions="update the support plan by 14 May")
    assert case.due("Task_RemindSocialWorker") == "2027-05-12"  # next panel: last Wednesday of May (26th)
    case.panel("approve", "2027-05-26")
    assert "Task_RecordCourtDecision" in case.open()


def test_late_paperwork_removes_the_case_from_the_panel_list(case):
    _to_panel(case)
    _assess(case)
    case.do("Task_RemindSocialWorker", "support", panel_reminder_sent_date="2027-04-13")
    assert case.fire("2027-04-22T00:30:00+01:00")["cases_fired"] == 1  # just after the end of 21 April
    removed = case.open()["Task_RemovedFromPanel"]
    assert removed["role"] == "team_manager"
    assert "Task_SubmitPaperwork" not in case.open()  # interrupting: this panel is lost
    case.do("Task_RemovedFromPanel", "tm", paperwork_delay_reason="support plan not agreed")
    assert case.due("Task_RemindSocialWorker") == "2027-05-12"  # booked onto the May panel (26th)
    case.do("Task_RemindSocialWorker", "support", panel_reminder_sent_date="2027-05-12")
    assert case.due("Task_SubmitPaperwork") == "2027-05-19"
    assert "task.withdrawn" in case.actions()


def test_overdue_assessment_escalates_to_the_team_manager(case):
    _to_panel(case)
    case.do("Task_AllocateAssessment", "tm", allocated_on="2027-01-21", timeline_recorded=True)
    assert case.fire("2027-04-14T22:59:00+00:00")["cases_fired"] == 0  # still 14 April in London (BST)
    assert case.fire("2027-04-14T23:00:00+00:00")["cases_fired"] == 1
    assert case.due("Task_AssessmentOverdue") == "2027-04-16"
    assert "Task_CompleteAssessment" in case.open()


def test_connected_person_temporary_approval_extends_once_then_must_end(case):
    case.start(**{**FOSTER_CARERS, "carer_type": "connected_person", "placement_start_date": "2027-01-11"})
    assert case.deadline("Temporary approval expires")["due"] == "2027-05-03"  # 16 weeks
    assert case.deadline("SGO within 12 months of the placement starting")["due"] == "2028-01-11"
    assert case.due("Task_ReviewTemporaryApproval") == "2027-04-05"  # 4 weeks before expiry
    case.do("Task_ReviewTemporaryApproval", "tm", approval_status="extend")
    assert case.open()["Task_ApproveExtension"]["role"] == "nominated_officer"
    case.do("Task_ApproveExtension", "officer", extension_weeks=8, fostering_panel_views=True, iro_informed=True)
    assert case.deadline("Temporary approval expires")["due"] == "2027-06-28"  # moved, not reset
    assert case.due("Task_ReviewTemporaryApproval") == "2027-05-31"
    case.do("Task_ReviewTemporaryApproval", "tm", approval_status="extend")  # a second extension is not allowed
    assert "Task_ApproveExtension" not in case.open()
    assert case.due("Task_EndPlacement") == "2027-06-28"
    case.do("Task_EndPlacement", "sw", placement_end_date="2027-06-25", new_arrangements="foster placement")
    assert case.deadline("Temporary approval expires")["status"] == "met"
    assert "deadline.moved" in case.actions()


def test_connected_person_fully_approved(case):
    case.start(**{**FOSTER_CARERS, "carer_type": "connected_person", "placement_start_date": "2027-01-11"})
    case.do("Task_ReviewTemporaryApproval", "tm", approval_status="fully_approved")
    assert case.deadline("Temporary approval expires")["status"] == "met"
    assert "Task_VisitCarers" in case.open()  # the assessment track goes on


def test_the_court_does_not_make_the_order(case):
    _to_panel(case)
    _assess(case)
    case.panel("approve", "2027-04-28")
    case.do("Task_RecordCourtDecision", "sw", sgo_made=False, court_decision_date="2027-06-15")
    assert case.show()["outcome"] == "SGO not made by the court"
