"""PPM to ADM (pathways.md section 2): every path, with hand-computed due dates across bank holidays."""

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
    case.on("2027-01-20").do("Task_FirstReview", "iro", first_review_date="2027-01-20", ppm_requested=True)
    assert case.due("Task_UpdateCarePlan") == "2027-02-17"  # first review + 28 days
    case.do("Task_UpdateCarePlan", "sw", care_plan_updated_date="2027-02-10")
    case.do("Task_DecidePPM", "tm", ppm_needed=True)
    assert case.due("Task_PreparePlan") == "2027-02-19"  # 5 WD before the PPM due date
    case.do("Task_PreparePlan", "sw", plan_circulated_date="2027-02-12", possible_plan="long_term_fostering")
    assert case.due("Task_HoldPPM") == "2027-02-26"  # looked after + 10 weeks


def test_ratified_long_term_fostering_outside_proceedings(case):
    _to_ppm(case, date_of_birth="2016-01-10")  # 11 at the PPM: under 12, so a PPM; 10 or over, so no ADM
    case.on("2027-02-24").do("Task_HoldPPM", "tm", ppm_date="2027-02-24", permanence_option="long_term_fostering",
                             contingency_plan="connected_person", cannot_live_with_parents=True)  # fmt: skip
    assert case.deadline("Permanence planning meeting held")["status"] == "met"
    assert set(case.open()) == {"Task_SendMinutes", "Task_InformParents"}  # no adoption advice needed
    assert case.due("Task_SendMinutes") == "2027-04-02"  # 5 WD before Fri 9 Apr (Easter 2027 was in March)
    assert case.due("Task_InformParents") == "2027-04-04"  # 5 days before the second review
    case.do("Task_SendMinutes", "tm", minutes_sent_date="2027-03-30")
    case.do("Task_InformParents", "sw", parents_informed_date="2027-04-01")
    assert case.due("Task_SecondReview") == "2027-04-09"  # 16 weeks (earlier than 3 months after 20 Jan)
    case.on("2027-04-08").do("Task_SecondReview", "iro", second_review_date="2027-04-08", plan_ratified=True,
                             permanence_option="long_term_fostering", contingency_plan="connected_person")  # fmt: skip
    shown = case.show()
    assert shown["status"] == "completed"
    assert shown["outcome"] == "permanence plan ratified: long_term_fostering (contingency: connected_person)"
    assert all(d["status"] == "met" for d in shown["deadlines"]), shown["deadlines"]


def test_second_review_in_proceedings_is_fourteen_weeks(case):
    _to_ppm(case, in_care_proceedings=True, proceedings_start_date="2026-12-10")
    case.do("Task_HoldPPM", "tm", ppm_date="2027-02-20", permanence_option="reunification",
            contingency_plan="long_term_fostering", cannot_live_with_parents=False)  # fmt: skip
    for element in ("Task_SendMinutes", "Task_InformParents"):
        case.do(
            element, "x", **{"minutes_sent_date" if "Minutes" in element else "parents_informed_date": "2027-03-01"}
        )
    assert case.due("Task_SecondReview") == "2027-03-26"  # looked after + 14 weeks (in proceedings)
    assert case.due("Task_RecordCourtEvent") == "2027-06-09"  # issue date + 181 days (day 1 = issue date)


def test_adoption_plan_goes_to_the_adm_without_panel(case):
    _to_ppm(case)
    case.on("2027-02-24").do("Task_HoldPPM", "tm", ppm_date="2027-02-24", permanence_option="adoption",
                             contingency_plan="long_term_fostering", cannot_live_with_parents=True)  # fmt: skip
    assert case.due("Task_AdoptionAdvice") == "2027-03-03"  # 5 WD after the PPM
    case.do("Task_AdoptionAdvice", "adoption.tm", adoption_advice_date="2027-03-01")
    case.do("Task_SendMinutes", "tm", minutes_sent_date="2027-03-30")
    case.do("Task_InformParents", "sw", parents_informed_date="2027-04-01")
    case.on("2027-04-08").do("Task_SecondReview", "iro", second_review_date="2027-04-08", plan_ratified=True,
                             permanence_option="adoption", contingency_plan="long_term_fostering")  # fmt: skip
    assert case.due("Task_CPR") == "2027-05-07"  # 20 WD after 8 Apr (early May bank holiday 3 May)
    case.do("Task_CPR", "sw", cpr_completed_date="2027-04-20")
    case.do("Task_QualityAssureCPR", "tm", cpr_approved=False, cpr_qa_date="2027-04-22", cpr_qa_notes="add views")
    case.do("Task_CPR", "sw", cpr_completed_date="2027-04-26")
    assert case.due("Task_QualityAssureCPR") == "2027-05-04"  # 5 WD, skipping the May Day holiday
    case.do("Task_QualityAssureCPR", "tm", cpr_approved=True, cpr_qa_date="2027-04-28")
    case.do("Task_LegalGateway", "legal", legal_advice_date="2027-05-05")
    assert case.due("Task_ADMDecision") == "2027-05-14"
    case.do("Task_ADMDecision", "adm", adm_decision="placed_for_adoption", adm_decision_date="2027-05-12",
            adm_reasons="welfare checklist considered")  # fmt: skip
    assert case.due("Task_NotifyParents") == "2027-05-19"
    case.do("Task_NotifyParents", "sw", parents_notified_date="2027-05-13")
    case.do("Task_PlacementOrder", "legal", placement_order_application_date="2027-05-20")
    shown = case.show()
    assert shown["outcome"] == "ADM decided: should be placed for adoption: placement order applied for"
    actions = case.actions()
    assert actions.count("task.completed") == 17 and actions[-1] == "case.completed"


def test_under_ten_who_cannot_live_at_home_goes_to_the_adm_who_may_decide_against_adoption(case):
    _to_ppm(case)
    case.do("Task_HoldPPM", "tm", ppm_date="2027-02-24", permanence_option="long_term_fostering",
            contingency_plan="adoption", cannot_live_with_parents=True)  # fmt: skip
    assert "Task_AdoptionAdvice" in case.open()  # six years old (under 10) and cannot live with parents
    for element, field in (("Task_AdoptionAdvice", "adoption_advice_date"), ("Task_SendMinutes", "minutes_sent_date"),
                           ("Task_InformParents", "parents_informed_date")):  # fmt: skip
        case.do(element, "x", **{field: "2027-03-01"})
    case.do("Task_SecondReview", "iro", second_review_date="2027-04-08", plan_ratified=True,
            permanence_option="long_term_fostering", contingency_plan="adoption")  # fmt: skip
    for element, answers in (("Task_CPR", {"cpr_completed_date": "2027-04-20"}),
                             ("Task_QualityAssureCPR", {"cpr_approved": True, "cpr_qa_date": "2027-04-22"}),
                             ("Task_LegalGateway", {"legal_advice_date": "2027-04-29"}),
                             ("Task_ADMDecision", {"adm_decision": "not_placed", "adm_decision_date": "2027-05-05",
                                                   "adm_reasons": "long-term fostering meets needs"}),
                             ("Task_NotifyParents", {"parents_notified_date": "2027-05-06"})):  # fmt: skip
        case.do(element, "x", **answers)
    assert case.show()["outcome"] == "ADM decided: adoption is not the plan"


def test_under_twelve_without_a_ppm_needs_the_services_manager(case):
    case.start(**LOOKED_AFTER)
    case.do("Task_FirstReview", "iro", first_review_date="2027-01-20", ppm_requested=False)
    case.do("Task_UpdateCarePlan", "sw", care_plan_updated_date="2027-02-10")
    case.do("Task_DecidePPM", "tm", ppm_needed=False, no_ppm_reason="returning home")
    assert case.open()["Task_AgreeNoPPM"]["role"] == "services_manager"
    case.do("Task_AgreeNoPPM", "sm", sm_agrees=False, specialist_discussion_date="2027-02-01",
            no_ppm_decision="a PPM is needed")  # fmt: skip
    assert "Task_PreparePlan" in case.open()  # not agreed: the PPM goes ahead


def test_services_manager_agreement_ends_the_pathway(case):
    case.start(**LOOKED_AFTER)
    case.do("Task_FirstReview", "iro", first_review_date="2027-01-20", ppm_requested=False)
    case.do("Task_UpdateCarePlan", "sw", care_plan_updated_date="2027-02-10")
    case.do("Task_DecidePPM", "tm", ppm_needed=False)
    case.do("Task_AgreeNoPPM", "sm", sm_agrees=True, specialist_discussion_date="2027-02-01",
            no_ppm_decision="returning home under a supervision order")  # fmt: skip
    shown = case.show()
    assert (shown["status"], shown["outcome"]) == ("completed", "no PPM: services manager agreed (child under 12)")
    assert case.deadline("Permanence planning meeting held")["status"] == "met"


def test_twelve_or_over_needs_no_ppm(case):
    case.start(**{**LOOKED_AFTER, "date_of_birth": "2014-06-01"})
    case.do("Task_FirstReview", "iro", first_review_date="2027-01-20", ppm_requested=False)
    case.do("Task_UpdateCarePlan", "sw", care_plan_updated_date="2027-02-10")
    case.do("Task_DecidePPM", "tm", ppm_needed=False)
    assert case.show()["outcome"] == "no PPM needed (child 12 or over)"


def test_child_in_proceedings_who_is_not_looked_after(case):
    case.on("2026-12-10").start(date_of_birth="2024-01-05", looked_after_date=None, in_care_proceedings=True,
                                proceedings_start_date="2026-12-10")  # fmt: skip
    assert set(case.open()) == {"Task_DecidePPM", "Task_RecordCourtEvent"}  # no CLA reviews
    assert [d["name"] for d in case.show()["deadlines"] if d["name"] == "First CLA review"] == []
    case.do("Task_DecidePPM", "tm", ppm_needed=True)
    case.do("Task_PreparePlan", "sw", plan_circulated_date="2027-03-08", possible_plan="connected_person")
    assert case.due("Task_HoldPPM") == "2027-03-18"  # proceedings start + 14 weeks


def test_court_extensions_move_the_26_week_deadline_and_conclusion_meets_it(case):
    case.start(**{**LOOKED_AFTER, "in_care_proceedings": True, "proceedings_start_date": "2026-12-10"})
    assert case.deadline("Care proceedings concluded (26 weeks)")["due"] == "2027-06-09"
    case.do("Task_RecordCourtEvent", "legal", court_event="extension_granted", court_event_date="2027-06-01",
            extension_weeks=8)  # fmt: skip
    assert case.deadline("Care proceedings concluded (26 weeks)")["due"] == "2027-08-04"  # moved 8 weeks
    assert case.due("Task_RecordCourtEvent") == "2027-08-04"
    assert "deadline.moved" in case.actions()
    case.do("Task_RecordCourtEvent", "legal", court_event="concluded", court_event_date="2027-07-30",
            final_order="care order")  # fmt: skip
    assert case.deadline("Care proceedings concluded (26 weeks)")["status"] == "met"


def test_overdue_ppm_escalates_to_the_services_manager_at_the_end_of_the_due_day(case):
    _to_ppm(case)
    assert case.fire("2027-02-26T23:59:00+00:00")["cases_fired"] == 0
    assert case.fire("2027-02-27T00:00:00+00:00")["cases_fired"] == 1
    escalation = case.open()["Task_PPMOverdue"]
    assert (escalation["role"], escalation["due"]) == ("services_manager", "2027-03-02")  # +2 WD
    assert "Task_HoldPPM" in case.open()  # non-interrupting: the PPM is still owed
    assert case.deadline("Permanence planning meeting held")["status"] == "breached"


def test_no_final_plan_at_the_second_review_triggers_a_further_ppm(case):
    _to_ppm(case)
    case.do("Task_HoldPPM", "tm", ppm_date="2027-02-24", permanence_option="reunification",
            contingency_plan="long_term_fostering", cannot_live_with_parents=False)  # fmt: skip
    case.do("Task_SendMinutes", "tm", minutes_sent_date="2027-03-30")
    case.do("Task_InformParents", "sw", parents_informed_date="2027-04-01")
    case.do("Task_SecondReview", "iro", second_review_date="2027-04-08", plan_ratified=False,
            permanence_option="reunification", contingency_plan="long_term_fostering")  # fmt: skip
    # a further PPM due 20 WD after the review (7 May, over the early May bank holiday); the plan 5 WD before
    assert case.due("Task_PreparePlan") == "2027-04-29"


def test_overdue_second_review_escalates_and_the_audit_log_tells_the_story(case):
    _to_ppm(case)
    case.do("Task_HoldPPM", "tm", ppm_date="2027-02-24", permanence_option="reunification",
            contingency_plan="long_term_fostering", cannot_live_with_parents=False)  # fmt: skip
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
    assert completed == ["Task_FirstReview", "Task_UpdateCarePlan", "Task_DecidePPM", "Task_PreparePlan",
                         "Task_HoldPPM", "Task_SendMinutes", "Task_InformParents"]  # fmt: skip
    assert story[-3:] == [("timer.fired", None), ("task.opened", "Task_SecondReviewOverdue"),
                          ("deadline.breached", "Task_SecondReview")]  # fmt: skip
    actors = {e["element"]: e["actor"] for e in case.show()["audit"] if e["action"] == "task.completed"}
    assert actors["Task_FirstReview"] == "iro" and actors["Task_HoldPPM"] == "tm"
