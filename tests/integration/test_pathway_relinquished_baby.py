"""Relinquished baby (pathways.md section 1): gates at 6 weeks and 10 weeks; consent withdrawn switches pathway."""

from __future__ import annotations

import pytest

from engine import services
from engine.errors import GateClosed
from tests.scenario import Scenario, publish_workflows

BEFORE_BIRTH = {"request_date": "2026-11-02", "expected_date_of_birth": "2026-12-20"}


@pytest.fixture
def case(rt, now):
    publish_workflows(rt)
    return Scenario(rt, now, "relinquished_baby")


def _to_consent(case, father="notify"):
    case.on("2026-11-02").start(**BEFORE_BIRTH)
    assert case.due("Task_Allocate") == "2026-11-04"
    case.do("Task_Allocate", "tm", allocated_on="2026-11-03")
    assert case.due("Task_SingleAssessment") == "2026-11-11"  # 7 WD (One Adoption West Yorkshire)
    case.do("Task_SingleAssessment", "sw", single_assessment_date="2026-11-10")
    assert case.due("Task_Counselling") == "2026-11-16"
    case.do("Task_Counselling", "asw", counselling_date="2026-11-09", wishes_recorded=True, more_counselling=True)
    assert case.due("Task_Counselling") == "2026-11-23"  # the next session: 10 WD after the last one
    case.do("Task_Counselling", "asw", counselling_date="2026-11-20", wishes_recorded=True, more_counselling=False)
    assert case.due("Task_Father") == "2027-01-03"  # expected birth + 2 weeks (Re A, B and C)
    case.do("Task_Father", "tm", father_has_pr="no", father_notification=father, father_decision_reasons="recorded")
    if father == "seek_directions":
        assert case.due("Task_SeekDirections") == "2027-02-14"  # expected birth + 8 weeks
        case.do("Task_SeekDirections", "legal", directions_application_date="2026-12-01")
    case.do("Task_EarlyPermanence", "asw", early_permanence="ffa", accommodated_date="2026-12-20",
            placement_agreed_in_writing=False)  # fmt: skip
    assert case.due("Task_RecordBirth") == "2026-12-22"
    case.on("2026-12-21").do("Task_RecordBirth", "sw", date_of_birth="2026-12-18")
    assert case.due("Task_CPR") == "2027-01-08"
    case.do("Task_CPR", "sw", cpr_completed_date="2027-01-07")
    case.do("Task_AdoptionPanel", "panel", panel_recommendation="should_be_placed", adoption_panel_date="2027-01-13",
            final_minutes_received_date="2027-01-20")  # fmt: skip
    assert case.due("Task_ADMDecision") == "2027-01-29"  # 7 WD after the final minutes
    case.do("Task_ADMDecision", "adm", adm_decision="placed_for_adoption", adm_decision_date="2027-01-27",
            adm_reasons="consent route")  # fmt: skip
    case.do("Task_NotifyParent", "asw", parent_notified_date="2027-01-28")
    assert case.due("Task_RequestCafcass") == "2027-01-29"
    case.do("Task_RequestCafcass", "asw", cafcass_request_date="2027-01-28")
    gate = case.show()["gates"][0]
    assert (gate["element"], gate["not_before"]) == ("Task_ConsentWitnessed", "2027-01-29")  # birth + 42 days
    assert "s52(3)" in gate["source"]


def test_consent_given_placement_and_adoption_order(case):
    _to_consent(case)
    with pytest.raises(GateClosed, match="before 29/01/2027"):
        case.on("2027-01-28").do("Task_ConsentWitnessed", "asw", consent_outcome="given", consent_date="2027-01-28")
    case.on("2027-02-01").do("Task_ConsentWitnessed", "asw", consent_outcome="given", consent_date="2027-02-01")
    assert case.deadline("First adoption review while not placed")["due"] == "2027-05-01"  # 3 months
    case.on("2027-02-15").do("Task_PlaceWithAdopters", "asw", match_approved_date="2027-02-10",
                             adoptive_placement_date="2027-02-15")  # fmt: skip
    assert case.due("Task_FirstVisit") == "2027-02-22"  # within a week (reg 36(4))
    assert case.due("Task_FirstAdoptionReview") == "2027-03-15"  # within 4 weeks (reg 36(3))
    case.do("Task_FirstVisit", "asw", first_visit_date="2027-02-19")
    case.do("Task_FirstAdoptionReview", "iro", first_adoption_review_date="2027-03-10")
    assert case.show()["gates"][0]["not_before"] == "2027-04-26"  # 10 weeks' home (s42(2))
    with pytest.raises(GateClosed):
        case.on("2027-04-25").do("Task_AdoptionOrder", "asw", adoption_application_date="2027-04-25",
                                 adoption_order_made=True, adoption_order_date="2027-04-25")  # fmt: skip
    case.on("2027-06-30").do("Task_AdoptionOrder", "asw", adoption_application_date="2027-04-28",
                             adoption_order_made=True, adoption_order_date="2027-06-30")  # fmt: skip
    shown = case.show()
    assert (shown["status"], shown["outcome"]) == ("completed", "adoption order made")
    assert case.deadline("First adoption review while not placed")["status"] == "met"


def test_consent_withdrawn_returns_the_child_and_starts_ppm_to_adm(case):
    _to_consent(case)
    case.on("2027-02-01").do("Task_ConsentWitnessed", "asw", consent_outcome="withdrawn", consent_date="2027-02-01")
    assert case.due("Task_ReturnChild") == "2027-02-08"  # 7 days (ACA s31)
    case.do("Task_ReturnChild", "asw", return_outcome="order_sought", return_date="2027-02-05")
    ended = case.show()
    assert (ended["status"], ended["outcome"]) == ("completed", "consent withdrawn: switched to care proceedings")
    assert "case.follow_on_started" in case.actions()
    follow_on = services.show_case(case.rt, case.ref, "ppm_to_adm")
    assert follow_on["status"] == "running" and follow_on["team"] == "north"
    assert follow_on["start_data"] == {"date_of_birth": "2026-12-18", "looked_after_date": "2026-12-20",
                                       "in_care_proceedings": True, "proceedings_start_date": "2027-02-05"}  # fmt: skip
    assert {d["name"]: d["due"] for d in follow_on["deadlines"]}[
        "Care proceedings concluded (26 weeks)"
    ] == "2027-08-05"


def test_father_directions_are_sought_from_the_court(case):
    _to_consent(case, father="seek_directions")
    assert "case.completed" not in case.actions()


def test_adm_decides_against_adoption(case):
    case.on("2026-11-02").start(request_date="2026-11-02", date_of_birth="2026-10-30")
    for element, answers in (("Task_Allocate", {"allocated_on": "2026-11-03"}),
                             ("Task_SingleAssessment", {"single_assessment_date": "2026-11-05"}),
                             ("Task_Counselling", {"counselling_date": "2026-11-05", "wishes_recorded": True,
                                                   "more_counselling": False}),
                             ("Task_Father", {"father_has_pr": "unknown", "father_notification": "not_applicable",
                                              "father_decision_reasons": "not known"}),
                             ("Task_EarlyPermanence", {"early_permanence": "foster"})):  # fmt: skip
        case.do(element, "x", **answers)
    assert "Task_RecordBirth" not in case.open()  # already born
    assert case.due("Task_CPR") == "2026-11-20"
    case.do("Task_CPR", "sw", cpr_completed_date="2026-11-18")
    case.do("Task_AdoptionPanel", "panel", panel_recommendation="should_not_be_placed",
            adoption_panel_date="2026-11-25", final_minutes_received_date="2026-11-27")  # fmt: skip
    case.do("Task_ADMDecision", "adm", adm_decision="not_placed", adm_decision_date="2026-12-01",
            adm_reasons="mother now wishes to care")  # fmt: skip
    case.do("Task_NotifyParent", "asw", parent_notified_date="2026-12-02")
    assert case.show()["outcome"] == "ADM decided: should not be placed for adoption"


def test_consent_refused_returns_the_child_and_the_order_not_made_branch(case, rt, now):
    _to_consent(case)
    case.on("2027-02-01").do("Task_ConsentWitnessed", "asw", consent_outcome="refused", consent_date="2027-02-01")
    case.do("Task_ReturnChild", "asw", return_outcome="returned", return_date="2027-02-03")
    assert case.show("relinquished_baby")["outcome"] == "consent withdrawn: switched to care proceedings"
    follow_on = services.show_case(rt, case.ref, "ppm_to_adm")
    assert follow_on["start_data"]["in_care_proceedings"] is False
    assert follow_on["open_tasks"][0]["element"] == "Task_FirstReview"

    other = Scenario(rt, now, "relinquished_baby", ref="CH-2002")
    _to_consent(other)
    other.on("2027-02-01").do("Task_ConsentWitnessed", "asw", consent_outcome="given", consent_date="2027-02-01")
    other.do("Task_PlaceWithAdopters", "asw", match_approved_date="2027-02-10", adoptive_placement_date="2027-02-15")
    other.do("Task_FirstVisit", "asw", first_visit_date="2027-02-19")
    other.do("Task_FirstAdoptionReview", "iro", first_adoption_review_date="2027-03-10")
    other.on("2027-06-30").do("Task_AdoptionOrder", "asw", adoption_application_date="2027-04-28",
                              adoption_order_made=False, adoption_order_date="2027-06-30")  # fmt: skip
    assert other.show()["outcome"] == "adoption order not made"
