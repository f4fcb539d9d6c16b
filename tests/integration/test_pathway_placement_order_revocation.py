"""Placement order revocation (pathways.md section 3), using the shared permanency panel."""

from __future__ import annotations

import pytest

from tests.scenario import Scenario, publish_workflows

DRIFTED = {"date_of_birth": "2022-05-10", "placement_order_date": "2025-09-15",
           "revocation_decision_date": "2026-11-16"}  # fmt: skip


@pytest.fixture
def case(rt, now):
    publish_workflows(rt)
    return Scenario(rt, now, "placement_order_revocation")


def _to_revocation(case, carer_offers: bool):
    case.on("2026-11-16").start(**DRIFTED)
    assert case.due("Task_HoSReview") == "2026-11-23"  # over 6 months under the order: head of service
    case.do("Task_HoSReview", "hos", hos_review_date="2026-11-20", hos_direction="seek revocation")
    assert case.deadline("Referred to the head of service (6 months under a placement order)")["status"] == "breached"
    assert case.due("Task_CaseManagementMeeting") == "2026-11-30"
    case.do("Task_CaseManagementMeeting", "tm", cmm_date="2026-11-25", future_plan="long_term_fostering",
            carer_offers_permanence=carer_offers)  # fmt: skip
    assert case.due("Task_ADMRatify") == "2026-12-09"
    case.do("Task_ADMRatify", "adm", plan_change_ratified=True, ratification_date="2026-12-07",
            ratification_reasons="no adoptive family found")  # fmt: skip
    assert case.due("Task_RevocationApplication") == "2027-01-07"  # 20 WD over Christmas and New Year
    case.do("Task_RevocationApplication", "legal", application_date="2026-12-14")
    assert case.due("Task_AllocateCiCWorker") == "2026-12-21"
    assert case.due("Task_BirthFamilyWork") == "2027-01-14"
    case.do("Task_AllocateCiCWorker", "tm", cic_allocated_date="2026-12-16")
    case.do("Task_BirthFamilyWork", "sw", revocation_work_date="2027-01-12")
    assert case.due("Task_RecordRevocation") == "2027-03-08"
    case.on("2027-03-01").do("Task_RecordRevocation", "legal", placement_order_revoked=True,
                             revocation_order_date="2027-03-01")  # fmt: skip
    assert case.due("Task_ReviewAfterRevocation") == "2027-03-31"  # 20 WD over Easter 2027
    case.do("Task_ReviewAfterRevocation", "iro", post_revocation_review_date="2027-03-20")


def test_carer_offers_permanence_and_panel_approves_within_three_months(case):
    _to_revocation(case, carer_offers=True)
    assert case.due("Task_CarerAssessment") == "2027-04-26"
    case.do("Task_CarerAssessment", "sw", carer_assessment_date="2027-04-20")
    assert case.deadline("Carer's assessment at panel (3 months after revocation)")["due"] == "2027-06-01"
    assert case.due("Task_RemindSocialWorker") == "2027-04-14"  # 2 weeks before the 28 April panel
    case.panel("approve", "2027-04-28")
    shown = case.show()
    assert (shown["status"], shown["outcome"]) == (
        "completed",
        "placement order revoked: plan approved at panel: long_term_fostering",
    )
    assert case.deadline("Carer's assessment at panel (3 months after revocation)")["status"] == "met"


def test_new_placement_goes_to_panel_within_nine_months(case):
    _to_revocation(case, carer_offers=False)
    assert case.due("Task_FindPlacement") == "2027-06-01"
    assert case.open()["Task_FindPlacement"]["role"] == "cic_social_worker"
    case.do("Task_FindPlacement", "cic", new_placement_start_date="2027-05-10")
    assert case.deadline("Permanence plan at panel (9 months after the placement starts)")["due"] == "2028-02-10"
    assert case.due("Task_PreparePanelPlan") == "2028-01-10"
    case.do("Task_PreparePanelPlan", "cic", panel_plan_ready_date="2027-12-01")
    assert case.due("Task_RemindSocialWorker") == "2027-12-15"  # 2 weeks before Wed 29 Dec, the last Wednesday
    case.panel("reject", "2027-12-29")
    case.do("Task_UrgentCarePlanning", "tm", care_planning_decision="residential", care_planning_date="2027-12-30")
    assert case.show()["outcome"] == "placement order revoked: plan not approved at panel"


def test_court_refuses_revocation(case):
    case.start(**{**DRIFTED, "revocation_decision_date": "2026-01-20"})  # under 6 months: no referral
    assert "Task_HoSReview" not in case.open()
    assert [d for d in case.show()["deadlines"] if d["key"] == "hos_referral"] == []
    case.do("Task_CaseManagementMeeting", "tm", cmm_date="2026-01-25", future_plan="connected_person",
            carer_offers_permanence=False)  # fmt: skip
    case.do("Task_ADMRatify", "adm", plan_change_ratified=True, ratification_date="2026-02-01",
            ratification_reasons="family member found")  # fmt: skip
    case.do("Task_RevocationApplication", "legal", application_date="2026-02-10")
    case.do("Task_AllocateCiCWorker", "tm", cic_allocated_date="2026-02-12")
    case.do("Task_BirthFamilyWork", "sw", revocation_work_date="2026-03-01")
    case.do("Task_RecordRevocation", "legal", placement_order_revoked=False, revocation_order_date="2026-04-01")
    assert case.show()["outcome"] == "placement order not revoked"


def test_adm_does_not_ratify_the_change_of_plan(case):
    case.start(**DRIFTED)
    case.do("Task_HoSReview", "hos", hos_review_date="2026-11-20", hos_direction="consider")
    case.do("Task_CaseManagementMeeting", "tm", cmm_date="2026-11-25", future_plan="long_term_fostering",
            carer_offers_permanence=False)  # fmt: skip
    case.do("Task_ADMRatify", "adm", plan_change_ratified=False, ratification_date="2026-12-01",
            ratification_reasons="family finding continues")  # fmt: skip
    assert case.show()["outcome"] == "change of plan not ratified: adoption plan continues"
