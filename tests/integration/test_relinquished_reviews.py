"""Issue 16, item 7: a relinquished baby's reviews and a withdrawal of consent after placement.

- An accommodated baby is looked after, so has CLA reviews (CPPCR reg 33) until the adoptive
  placement, when the adoption reviews replace them (AAR reg 36(3)).
- The reviews while authorised but not placed, and the adoption reviews once placed, end by
  themselves (the placement, the end of the pathway): nobody is asked to close them.
- Consent withdrawn after placement: notice to the adopters, who return the child within 14 days
  beginning with the day notice is given (ACA 2002 s32(2)(b)), from the case system or recorded by
  a team manager.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from engine import services
from engine.domain.access import Person
from engine.errors import FormInvalid, NotAllowed, NotFound
from engine.persistence.models import AuditEvent
from engine.services import oversight
from engine.services.scenarios import load_file, run_scenario
from tests.cms import event, signed
from tests.scenario import WORKFLOWS, Scenario, publish_workflows
from tests.webclient import Staff

MANAGER = Person("tm.carol", frozenset({"team_manager"}), frozenset({"north"}))
WORKER = Person("sw.alice", frozenset({"social_worker"}), frozenset({"north"}))


def _at(day: str, hour: int = 10) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def _until(rt, now, ref: str, element: str, changes: dict[str, dict] | None = None) -> Scenario:
    """The first relinquished scenario (accommodated on 20 December 2026), up to ``element``."""
    document = load_file(WORKFLOWS / "scenarios" / "relinquished_baby.json")
    steps = []
    for step in document["scenarios"][0]["steps"]:
        if step.get("do") == element and "refused" not in step:
            break
        if changes:  # other answers: the scenario's own checks no longer apply
            step = {k: v for k, v in step.items() if k not in ("due", "open", "not_open", "note")}
            step["answers"] = changes.get(step.get("do"), step.get("answers"))
        steps.append(step)
    outcome = run_scenario(rt, "relinquished_baby", {"name": "to " + element, "ref": ref, "steps": steps})
    assert outcome.passed, outcome.message
    return Scenario(rt, now, "relinquished_baby", ref, team="north")


def _placed(rt, now, ref: str) -> Scenario:
    case = _until(rt, now, ref, "Task_ConsentWitnessed")
    case.on("2027-02-01").do("Task_ConsentWitnessed", "asw", consent_outcome="given", consent_date="2027-02-01")
    case.on("2027-02-15").do("Task_PlaceWithAdopters", "asw", match_approved_date="2027-02-10",
                             adoptive_placement_date="2027-02-15")  # fmt: skip
    return case


def _clocks(case: Scenario, name: str) -> list[dict]:
    return [d for d in case.show()["deadlines"] if d["name"] == name]


@pytest.fixture(autouse=True)
def _workflows(rt):
    publish_workflows(rt)


# --- CLA reviews while the baby is accommodated -----------------------------------------------------
def test_an_accommodated_baby_has_cla_reviews_re_anchored_on_each_held_date_until_placement(rt, now):
    case = _until(rt, now, "CH-R1", "Task_ConsentWitnessed")  # the first review was held on 14 January
    assert case.due("Task_AccommodatedReview") == "2027-04-14"  # the second: 3 months after the first
    case.on("2027-02-01").do("Task_ConsentWitnessed", "asw", consent_outcome="given", consent_date="2027-02-01")
    assert "Task_AccommodatedReview" in case.open()  # authority to place does not end them: placement does
    case.on("2027-04-09").do("Task_AccommodatedReview", "iro", accommodated_review_date="2027-04-09")
    assert case.due("Task_AccommodatedReview") == "2027-10-09"  # then every 6 months from the date held
    case.on("2027-05-03").do("Task_PlaceWithAdopters", "asw", match_approved_date="2027-04-28",
                             adoptive_placement_date="2027-05-03")  # fmt: skip
    assert "Task_AccommodatedReview" not in case.open()
    assert _clocks(case, "Hold the first CLA review (accommodated)")[0]["status"] == "met"
    held = _clocks(case, "Hold the next CLA review (accommodated)")
    assert sorted(d["status"] for d in held) == ["cancelled", "met"]  # the last no longer applies
    shown = case.show()
    assert "Task_FirstAdoptionReview" in case.open() and shown["status"] == "running"


def test_a_baby_accommodated_after_a_decision_made_before_birth_gets_reviews_from_the_birth_step(rt, now):
    case = _until(rt, now, "CH-R2", "Task_CPR", changes={
        "Task_EarlyPermanence": {"early_permanence": "ffa", "placement_agreed_in_writing": False},
        "Task_RecordBirth": {"date_of_birth": "2026-12-18", "accommodated_date": "2026-12-21"},
    })  # fmt: skip
    assert case.due("Task_FirstAccommodatedReview") == "2027-01-21"  # 20 working days, Christmas skipped


def test_a_baby_never_accommodated_has_no_cla_reviews(rt, now):
    case = _until(rt, now, "CH-R3", "Task_CPR", changes={
        "Task_EarlyPermanence": {"early_permanence": "with_parent"},
    })  # fmt: skip
    assert sorted(case.open()) == ["Task_CPR"]


def test_the_reviews_while_not_placed_end_with_the_placement_without_asking_the_iro(rt, now):
    case = _until(rt, now, "CH-R4", "Task_ConsentWitnessed")
    case.on("2027-02-01").do("Task_ConsentWitnessed", "asw", consent_outcome="given", consent_date="2027-02-01")
    case.fire("2027-04-13T09:00:00+00:00")
    case.on("2027-04-28").do("Task_NotPlacedReview", "iro", not_placed_review_date="2027-04-28")
    assert case.due("Task_NotPlacedReview") == "2027-10-28"
    case.on("2027-06-01").do("Task_PlaceWithAdopters", "asw", match_approved_date="2027-05-20",
                             adoptive_placement_date="2027-06-01")  # fmt: skip
    assert not {"Task_NotPlacedReview", "Task_AccommodatedReview", "Task_FirstAccommodatedReview"} & set(case.open())
    assert not [d for d in case.show()["deadlines"] if d["status"] == "breached"]


def test_the_adoption_order_ends_the_pathway_and_its_adoption_reviews(rt, now):
    case = _placed(rt, now, "CH-R5")
    case.do("Task_FirstVisit", "asw", first_visit_date="2027-02-19", first_review_held=False)
    case.do("Task_FirstAdoptionReview", "iro", first_adoption_review_date="2027-03-10")
    case.do("Task_FirstVisit", "asw", first_visit_date="2027-03-11", first_review_held=True)
    assert {"Task_AdoptionReview", "Task_AdoptionOrder"} <= set(case.open())
    case.on("2027-06-30").do("Task_AdoptionOrder", "asw", adoption_application_date="2027-04-28",
                             adoption_order_made=True, adoption_order_date="2027-06-30")  # fmt: skip
    shown = case.show()
    assert (shown["status"], shown["outcome"], case.open()) == ("completed", "adoption order made", {})


# --- s32(2)(b): consent withdrawn after placement -----------------------------------------------------
def _withdraw_by_webhook(app, rt, now, ref: str, at: str) -> None:
    secret = services.add_sender(rt, "lcs", "admin.ada")
    now.set(_at(at[:10], 12))
    body = event("consent.withdrawn", ref, at, {})
    response = app.test_client().post("/webhooks/events", data=signed(secret, body)[0], headers=signed(secret, body)[1])
    assert response.status_code in (200, 202), response.text


def test_consent_withdrawn_after_placement_gives_notice_and_the_child_returns_within_14_days(app, rt, now):
    case = _placed(rt, now, "CH-S1")
    _withdraw_by_webhook(app, rt, now, "CH-S1", "2027-03-01T09:00:00Z")
    assert case.due("Task_NoticeToAdopters") == "2027-03-02"  # our default: the next working day
    case.on("2027-03-02").do("Task_NoticeToAdopters", "tm", withdrawal_notice_date="2027-03-02")
    assert case.due("Task_ChildReturnedByAdopters") == "2027-03-15"  # 14 days beginning with the notice day
    returned = _clocks(case, "Record the child's return by the adopters")[0]
    assert (returned["rule_status"], returned["due"]) == ("STAT", "2027-03-15")
    case.on("2027-03-15").do("Task_ChildReturnedByAdopters", "tm", child_returned_date="2027-03-15",
                             after_return="returned_to_parent")  # fmt: skip
    shown = case.show()
    assert shown["status"] == "completed"
    assert shown["outcome"] == "consent withdrawn after placement: child returned by the adopters"
    assert _clocks(case, "Record the child's return by the adopters")[0]["status"] == "met"
    assert case.open() == {}  # the visits and the adoption reviews ended with it
    with pytest.raises(NotFound):  # the child went home: no looked-after clock to track
        services.show_case(rt, "CH-S1", "ppm_to_adm")


def test_a_return_on_the_fifteenth_day_is_met_late_and_an_order_sought_starts_the_court_pathway(app, rt, now):
    case = _placed(rt, now, "CH-S2")
    _withdraw_by_webhook(app, rt, now, "CH-S2", "2027-03-01T09:00:00Z")
    case.on("2027-03-02").do("Task_NoticeToAdopters", "tm", withdrawal_notice_date="2027-03-02")
    case.on("2027-03-16").do("Task_ChildReturnedByAdopters", "tm", child_returned_date="2027-03-16",
                             after_return="order_sought")  # fmt: skip
    assert _clocks(case, "Record the child's return by the adopters")[0]["status"] == "met_late"
    follow_on = services.show_case(rt, "CH-S2", "ppm_to_adm")
    assert follow_on["status"] == "running"


def test_a_notice_dated_before_the_withdrawal_is_refused(app, rt, now):
    case = _placed(rt, now, "CH-S3")
    _withdraw_by_webhook(app, rt, now, "CH-S3", "2027-03-01T09:00:00Z")
    with pytest.raises(FormInvalid) as caught:
        case.do_now("Task_NoticeToAdopters", "tm", withdrawal_notice_date="2027-02-27")
    assert "withdrawal_notice_date" in caught.value.errors
    assert "1 March 2027" in caught.value.errors["withdrawal_notice_date"]


def test_a_team_manager_records_the_withdrawal_when_the_case_system_does_not(rt, now):
    case = _placed(rt, now, "CH-S4")
    case_id = case.show()["id"]
    now.set(_at("2027-03-03"))
    with pytest.raises(NotAllowed):  # a social worker cannot
        oversight.record_case_event(rt, WORKER, case_id, "Event_WithdrawnAfterPlacement",
                                    {"withdrawal_date": "2027-03-01"}, "parent phoned")  # fmt: skip
    with pytest.raises(FormInvalid) as no_reason:
        oversight.record_case_event(rt, MANAGER, case_id, "Event_WithdrawnAfterPlacement",
                                    {"withdrawal_date": "2027-03-01"}, " ")  # fmt: skip
    assert "reason" in no_reason.value.errors
    with pytest.raises(FormInvalid) as future:
        oversight.record_case_event(rt, MANAGER, case_id, "Event_WithdrawnAfterPlacement",
                                    {"withdrawal_date": "2027-03-09"}, "parent phoned")  # fmt: skip
    assert "withdrawal_date" in future.value.errors
    assert "Task_NoticeToAdopters" not in case.open()  # nothing moved on a refused entry
    oversight.record_case_event(rt, MANAGER, case_id, "Event_WithdrawnAfterPlacement",
                                {"withdrawal_date": "2027-03-01"}, "parent phoned the duty desk")  # fmt: skip
    assert case.due("Task_NoticeToAdopters") == "2027-03-02"
    with rt.uow() as uow:
        recorded = uow.session.scalars(select(AuditEvent).where(
            AuditEvent.case_id == case_id, AuditEvent.action == "case.event_recorded")).one()  # fmt: skip
        assert (recorded.actor, recorded.detail) == ("tm.carol", "parent phoned the duty desk")
    with pytest.raises(NotAllowed):  # once recorded, the case no longer waits for it
        oversight.record_case_event(rt, MANAGER, case_id, "Event_WithdrawnAfterPlacement",
                                    {"withdrawal_date": "2027-03-01"}, "again")  # fmt: skip


def test_the_case_page_offers_the_manager_the_event_and_records_it(app, rt, now):
    case = _placed(rt, now, "CH-S5")
    case_id = case.show()["id"]
    now.set(_at("2027-03-03"))
    manager, worker = Staff(app, "tm.carol"), Staff(app, "sw.alice")
    page = manager.get(f"/cases/{case_id}").text
    link = f"/manage/cases/{case_id}/events/Event_WithdrawnAfterPlacement/record"
    assert "Consent withdrawn after placement (case system)" in page and link in page
    assert link not in worker.get(f"/cases/{case_id}").text
    form = manager.get(link).text
    assert "Date the parent asked for the child back" in form
    refused = manager.post(link, {"withdrawal_date-day": "1", "withdrawal_date-month": "3",
                                  "withdrawal_date-year": "2027", "reason": ""}, status=400)  # fmt: skip
    assert "Say why you are recording this event" in refused.text
    manager.post(link, {"withdrawal_date-day": "1", "withdrawal_date-month": "3", "withdrawal_date-year": "2027",
                        "reason": "parent phoned the duty desk"})  # fmt: skip
    assert case.due("Task_NoticeToAdopters") == "2027-03-02"
    assert link not in manager.get(f"/cases/{case_id}").text


def test_the_court_pathway_after_a_withdrawal_keeps_the_first_cla_review_already_held(rt, now):
    case = _until(rt, now, "CH-R6", "Task_ConsentWitnessed")  # accommodated 20 Dec 2026, reviewed 14 Jan 2027
    case.on("2027-02-01").do("Task_ConsentWitnessed", "asw", consent_outcome="withdrawn", consent_date="2027-02-01")
    case.on("2027-02-05").do("Task_ReturnChild", "asw", return_outcome="order_sought", return_date="2027-02-05")
    follow_on = Scenario(rt, now, "ppm_to_adm", "CH-R6")
    first = [d for d in follow_on.show()["deadlines"] if d["name"] == "First CLA review"]
    assert [(d["status"], d["met_on"]) for d in first] == [("met", "2027-01-14")]  # not breached, not asked again
    assert "Task_FirstReview" not in follow_on.open()
    second = [d for d in follow_on.show()["deadlines"] if d["name"].startswith("Second CLA review")]
    assert [(d["status"], d["due"]) for d in second] == [("running", "2027-03-28")]  # 14 weeks in proceedings


def test_consent_withdrawn_after_it_was_given_but_before_placement_returns_the_child_within_7_days(app, rt, now):
    case = _until(rt, now, "CH-S6", "Task_ConsentWitnessed")
    case.on("2027-02-01").do("Task_ConsentWitnessed", "asw", consent_outcome="given", consent_date="2027-02-01")
    _withdraw_by_webhook(app, rt, now, "CH-S6", "2027-02-10T09:00:00Z")
    assert case.due("Task_ReturnChild") == "2027-02-17"  # s31: 7 days from the parent's request
    assert "Task_PlaceWithAdopters" in case.open()  # nothing is withdrawn until the return is recorded
    with pytest.raises(FormInvalid):  # the return cannot come before the request
        case.do_now("Task_ReturnChild", "asw", return_outcome="returned", return_date="2027-02-09")
    case.on("2027-02-12").do("Task_ReturnChild", "asw", return_outcome="returned", return_date="2027-02-12")
    shown = case.show()
    left = [t for t in case.open().values() if t["key"] == "relinquished_baby"]
    assert (shown["status"], left) == ("completed", [])  # placement and reviews end with the pathway
    assert services.show_case(rt, "CH-S6", "ppm_to_adm")["status"] == "running"  # accommodated: looked after


def test_once_placed_a_withdrawal_follows_s32_not_s31(app, rt, now):
    case = _placed(rt, now, "CH-S7")
    _withdraw_by_webhook(app, rt, now, "CH-S7", "2027-03-01T09:00:00Z")
    assert "Task_NoticeToAdopters" in case.open() and "Task_ReturnChild" not in case.open()
