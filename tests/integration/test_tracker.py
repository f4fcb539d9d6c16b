"""The permanence tracker: the refresh job, the figures per period, and what managers record."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select, text

from engine import services
from engine.errors import Conflict, FormInvalid, NotAllowed, NotFound
from engine.persistence.models import AuditEvent, JobRun
from engine.services import accounts, tracker
from tests.scenario import Scenario
from worker import tick

LOOKED_AFTER = {"date_of_birth": "2016-01-10", "looked_after_date": "2026-12-18", "in_care_proceedings": False}
SGO_START = {"expression_of_interest_date": "2027-01-04", "assessment_request_date": "2027-01-20",
             "carer_type": "foster_carer"}  # fmt: skip


def to_second_review(case: Scenario, option: str, held: str = "2027-04-08") -> None:
    """Take a PPM case (looked after 18/12/2026) through its second review, the plan being ``option``."""
    case.on("2026-12-18").start(**LOOKED_AFTER)
    case.on("2027-01-20").do("Task_FirstReview", "iro", first_review_date="2027-01-20", ppm_requested=True)
    case.do("Task_UpdateCarePlan", "sw", care_plan_updated_date="2027-02-10")
    case.do("Task_DecidePPM", "tm", ppm_needed=True)
    case.do("Task_PreparePlan", "sw", plan_circulated_date="2027-02-12", possible_plan="long_term_fostering")
    case.on("2027-02-24").do("Task_HoldPPM", "tm", ppm_date="2027-02-24", permanence_option="long_term_fostering",
                             contingency_plan="connected_person", cannot_live_with_parents=True)  # fmt: skip
    case.do("Task_SendMinutes", "tm", minutes_sent_date="2027-03-30")
    case.do("Task_InformParents", "sw", parents_informed_date="2027-04-01")
    case.on(held).do("Task_SecondReview", "iro", second_review_date=held, plan_ratified=True,
                     permanence_option=option, contingency_plan="long_term_fostering")  # fmt: skip


def sgo_made(rt, now, ref: str, team: str = "north", staying_put: bool = False) -> None:
    """An SGO assessment for the child's foster carers, approved at the April 2027 panel; the order made in June
    (recorded on 2 July)."""
    case = Scenario(rt, now, "sgo_assessment", ref, team)
    case.on("2027-01-04").start(**SGO_START)
    case.do("Task_VisitCarers", "assessor", carers_visit_date="2027-01-11", carers_proceed=True)
    case.do("Task_AllocateAssessment", "tm", allocated_on="2027-01-21", timeline_recorded=True)
    case.do("Task_CompleteAssessment", "assessor", assessment_completed_date="2027-04-09",
            assessment_recommendation="recommend", support_plan_done=True)  # fmt: skip
    case.panel("approve", "2027-04-28", staying_put_agreed=staying_put)
    case.on("2027-07-02").do("Task_RecordCourtDecision", "sw", sgo_made=True, court_decision_date="2027-06-15")


@pytest.fixture
def cohort(app, rt, now):
    """Three children after their second review (two north, one south); the clock ends on 1 July 2027."""
    to_second_review(Scenario(rt, now, "ppm_to_adm", "CH-LTF"), "long_term_fostering")
    to_second_review(Scenario(rt, now, "ppm_to_adm", "CH-KIN"), "connected_person", held="2027-03-25")
    to_second_review(Scenario(rt, now, "ppm_to_adm", "CH-SOUTH", "south"), "reunification")
    Scenario(rt, now, "ppm_to_adm", "CH-EARLY").on("2027-01-04").start(**LOOKED_AFTER)  # no second review yet
    now.set(datetime(2027, 7, 1, 9, tzinfo=UTC))
    return rt


def _refs(found: dict) -> list[str]:
    return [c["ref"] for c in found["children"]]


def test_the_refresh_puts_children_on_after_their_second_review_scoped_to_the_managers_teams(cohort, rt):
    assert services.refresh_tracker(rt) == {"tracker": 3}  # not the child without a second review
    carol, hana = accounts.person(rt, "tm.carol"), accounts.person(rt, "hos.hana")
    north = tracker.tracker(rt, carol)
    assert _refs(north) == ["CH-KIN", "CH-LTF"]  # by second review date
    assert _refs(tracker.tracker(rt, hana)) == ["CH-KIN", "CH-LTF", "CH-SOUTH"]
    assert _refs(tracker.tracker(rt, hana, team="south")) == ["CH-SOUTH"]
    with pytest.raises(NotAllowed):
        tracker.tracker(rt, carol, team="south")
    with pytest.raises(NotAllowed):
        tracker.tracker(rt, accounts.person(rt, "sw.alice"))
    child = next(c for c in north["children"] if c["ref"] == "CH-LTF")
    assert (child["second_review_date"], child["option_label"], child["route_label"]) == (
        date(2027, 4, 8),
        "Long-term fostering",
        "Not achieved yet",
    )
    assert north["cross"] == {"long_term_fostering": {"": 1}, "connected_person": {"": 1}}
    assert north["as_at"] is not None


def test_figures_by_quarter_and_by_month(cohort, rt):
    services.refresh_tracker(rt)
    hana = accounts.person(rt, "hos.hana")
    quarters = tracker.tracker(rt, hana)["figures"]
    assert [q["label"] for q in quarters] == ["Oct to Dec 2026", "Jan to Mar 2027", "Apr to Jun 2027",
                                              "Jul to Sep 2027"]  # fmt: skip
    assert [q["reviewed"] for q in quarters] == [0, 1, 2, 0]
    assert quarters[2]["reviewed_by_option"] == {"long_term_fostering": 1, "reunification": 1}
    months = tracker.tracker(rt, hana, period="month")["figures"]
    assert len(months) == 12 and months[-1]["label"] == "Jul 2027" and months[0]["label"] == "Aug 2026"
    assert [m["reviewed"] for m in months if m["reviewed"]] == [1, 2]  # March, April
    with pytest.raises(Exception, match="by month or by quarter"):
        tracker.tracker(rt, hana, period="week")


def test_an_sgo_made_is_derived_and_the_panel_figures_count_support_plans_and_staying_put(cohort, rt, now):
    services.refresh_tracker(rt)
    sgo_made(rt, now, "CH-KIN", staying_put=True)
    now.set(datetime(2027, 7, 3, 9, tzinfo=UTC))
    assert services.refresh_tracker(rt) == {"tracker": 1}  # only the child whose cases changed
    assert services.refresh_tracker(rt) == {"tracker": 0}
    carol = accounts.person(rt, "tm.carol")
    found = tracker.tracker(rt, carol)
    kin = next(c for c in found["children"] if c["ref"] == "CH-KIN")
    assert (kin["route"], kin["achieved_on"]) == ("kinship", date(2027, 6, 15))
    assert "special guardianship order made" in kin["source"]
    april = found["figures"][2]
    assert (april["achieved"], april["achieved_by_route"]) == (1, {"kinship": 1})
    assert (april["sgo_support_plans"], april["staying_put"], april["approved"]) == (1, 1, 1)
    assert found["cross"]["connected_person"] == {"kinship": 1}
    assert tracker.tracker(rt, accounts.person(rt, "tm.tom"))["figures"][2]["sgo_support_plans"] == 0  # south


def test_a_manager_records_the_tracking_meeting_audited_and_guarded(cohort, rt):
    services.refresh_tracker(rt)
    carol = accounts.person(rt, "tm.carol")
    before = tracker.tracker_child(rt, carol, "CH-LTF")
    answers = {"route": "foster_permanent_ifa", "achieved_on": "20/06/2027", "assessments_done": "yes",
               "with_long_term_carer": "yes", "legal_security": "", "seen_alone_on": "28/06/2027",
               "notes": "matched at fostering panel"}  # fmt: skip
    saved = tracker.record_tracking(rt, carol, "CH-LTF", answers, before["revision"])
    assert saved["route_label"] == "Permanent foster care with an IFA carer"
    assert saved["achieved_on"] == date(2027, 6, 20)
    assert saved["source"] == "recorded by tm.carol on 01/07/2027"
    assert saved["assessments_done"] is True and saved["seen_alone_on"] == date(2027, 6, 28)
    with pytest.raises(Conflict, match="tm.carol updated CH-LTF"):
        tracker.record_tracking(rt, carol, "CH-LTF", answers, before["revision"])  # opened before the save
    with pytest.raises(NotAllowed):
        tracker.record_tracking(rt, accounts.person(rt, "tm.tom"), "CH-LTF", answers, saved["revision"])
    with pytest.raises(NotFound):
        tracker.tracker_child(rt, carol, "CH-EARLY")
    with rt.uow() as uow:
        [event] = uow.session.scalars(select(AuditEvent).where(AuditEvent.action == "tracker.updated")).all()
        assert (event.actor, event.before["route"], event.after["route"]) == ("tm.carol", None, "foster_permanent_ifa")
    services.refresh_tracker(rt, full=True)  # the refresh never overwrites what a manager recorded
    assert tracker.tracker_child(rt, carol, "CH-LTF")["route"] == "foster_permanent_ifa"


@pytest.mark.parametrize(("answers", "field"), [
    ({"route": "adoption"}, "achieved_on"),
    ({"achieved_on": "01/06/2027"}, "route"),
    ({"route": "adoption", "achieved_on": "01/08/2027"}, "achieved_on"),  # in the future
    ({"seen_alone_on": "31/02/2027"}, "seen_alone_on"),
    ({"route": "somewhere"}, "route"),
])  # fmt: skip
def test_bad_tracking_answers_are_refused_with_a_message_per_field(cohort, rt, answers, field):
    services.refresh_tracker(rt)
    carol = accounts.person(rt, "tm.carol")
    with pytest.raises(FormInvalid) as refused:
        tracker.record_tracking(rt, carol, "CH-LTF", answers, 0)
    assert field in refused.value.errors
    assert tracker.tracker_child(rt, carol, "CH-LTF")["revision"] == 0  # nothing saved


def test_the_worker_tick_refreshes_the_tracker(cohort, rt):
    assert tick(rt)["tracker"] == 3
    assert tick(rt)["tracker"] == 0


def test_a_second_worker_skips_the_refresh_while_the_first_holds_the_job(cohort, rt, is_postgres):
    if not is_postgres:
        pytest.skip("SQLite runs one worker; row locks are PostgreSQL's")
    services.refresh_tracker(rt)
    with rt.db.connect() as holder:
        holder.execute(text("SELECT name FROM job_runs WHERE name = 'tracker' FOR UPDATE"))
        assert services.refresh_tracker(rt, full=True) == {"tracker": 0}
        holder.rollback()
    with rt.uow() as uow:
        assert uow.session.get(JobRun, "tracker").detail.endswith("changed")
