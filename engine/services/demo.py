"""Demo data for `make run`: the demo users, and a few children's cases at different points.

Idempotent: cases are created only when no DEMO- case exists. References only, never names.
Dates are relative to today, so the inbox shows work due soon, due later and overdue.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select

from engine import clock
from engine.bootstrap import Runtime
from engine.domain.access import Person
from engine.persistence.models import Case
from engine.services.accounts import ensure_demo_users
from engine.services.cases import show_case, start_case
from engine.services.tasks import claim_task, complete_task, list_tasks
from engine.services.tracker import refresh_tracker

# ref, team, days since looked after, first review done (days ago) or None, claimed by
DEMO_CASES = [
    ("DEMO-1001", "north", 45, 20, "sw.alice"),
    ("DEMO-1002", "north", 12, None, None),
    ("DEMO-1003", "north", 33, None, None),  # first review overdue: the worker escalates it
    ("DEMO-1004", "north", 60, 35, None),
    ("DEMO-1005", "south", 20, None, None),
]


# children past their second review, for the permanence tracker: ref, team, second review (days
# ago, held 15 weeks after becoming looked after), the plan; DEMO-2002's carers then get an SGO
TRACKED = [
    ("DEMO-2001", "north", 250, "long_term_fostering"),
    ("DEMO-2002", "north", 200, "connected_person"),
    ("DEMO-2003", "north", 150, "reunification"),
    ("DEMO-2004", "south", 110, "adoption"),
    ("DEMO-2005", "north", 40, "long_term_fostering"),
]
Step = tuple[int, str, str, dict[str, Any]]  # days ago, element, who, answers


def _walk(rt: Runtime, today: date, ref: str, steps: list[Step]) -> None:
    """Do each step on its own day (the clock set to 10:00 that day), as if it happened then."""
    for days_ago, element, user, answers in steps:
        with clock.frozen(datetime.combine(today - timedelta(days=days_ago), time(10), tzinfo=UTC)):
            task = next((t for t in list_tasks(rt, ref=ref) if t["element"] == element), None)
            if task is not None:  # a step this child's path does not take is skipped
                complete_task(rt, task["id"], {k: _day(today, v) for k, v in answers.items()}, user)


def _day(today: date, value: Any) -> Any:
    """``-N`` (an int below zero) is the date N days ago; anything else is the answer itself."""
    return (today - timedelta(days=-value)).isoformat() if isinstance(value, int) and value < 0 else value


def _to_second_review(rt: Runtime, today: date, ref: str, team: str, reviewed: int, plan: str) -> None:
    la = reviewed + 105  # looked after 15 weeks before the review
    age = 3 if plan == "adoption" else 11  # from 10 the ADM does not consider adoption
    with clock.frozen(datetime.combine(today - timedelta(days=la), time(10), tzinfo=UTC)):
        start_case(rt, "ppm_to_adm", ref, {"date_of_birth": _day(today, -la - 365 * age), "in_care_proceedings": False,
                                           "looked_after_date": _day(today, -la)}, "demo", team=team)  # fmt: skip
    _walk(rt, today, ref, [
        *_early_planning(la - 5),
        (la - 20, "Task_FirstReview", "iro.bob", {"first_review_date": -(la - 20), "ppm_requested": True}),
        (la - 40, "Task_UpdateCarePlan", "sw.alice", {"care_plan_updated_date": -(la - 40)}),
        (la - 41, "Task_DecidePPM", "tm.carol", {"ppm_needed": True}),
        (la - 60, "Task_PreparePlan", "sw.alice", {"plan_circulated_date": -(la - 60), "possible_plan": plan}),
        *_preparation(la - 61),
        (la - 65, "Task_HoldPPM", "tm.carol", {"ppm_date": -(la - 65), "permanence_option": plan,
                                               "contingency_plan": "long_term_fostering",
                                               "cannot_live_with_parents": True}),
        (la - 66, "Task_AdoptionAdvice", "tm.carol", {"adoption_advice_date": -(la - 66), "adoption_advice": "agreed"}),
        (la - 67, "Task_TellCarers", "sw.alice", {"carers_told_date": -(la - 67)}),
        (reviewed + 8, "Task_SendMinutes", "tm.carol", {"minutes_sent_date": -(reviewed + 8)}),
        (reviewed + 6, "Task_InformParents", "sw.alice", {"parents_informed_date": -(reviewed + 6)}),
        (reviewed, "Task_SecondReview", "iro.bob", {"second_review_date": -reviewed, "plan_ratified": True,
                                                    "permanence_option": plan,
                                                    "contingency_plan": "long_term_fostering"}),
    ])  # fmt: skip
    if plan == "long_term_fostering" and reviewed > 60:  # heard at the fostering panel since; the newest still waits
        _walk(rt, today, ref, [
            (reviewed - 5, "Task_RemindSocialWorker", "panel.pat", {"panel_reminder_sent_date": -(reviewed - 5)}),
            (reviewed - 6, "Task_SubmitPaperwork", "sw.alice", {"paperwork_submitted_date": -(reviewed - 6),
                                                                "support_plan_included": True}),
        ])  # fmt: skip
        _panel(rt, today, ref)


def _early_planning(days_ago: int) -> list[Step]:
    """The family network meeting and the parallel plan, both done ``days_ago``."""
    return [
        (days_ago, "Task_FamilyNetworkMeeting", "sw.alice", {"family_meeting_held": True,
                                                             "family_meeting_date": -days_ago,
                                                             "family_meeting_outcome": "an aunt offers support"}),
        (days_ago, "Task_ParallelPlan", "sw.alice", {"parallel_plan_date": -days_ago, "main_plan": "reunification",
                                                     "parallel_plan": "long_term_fostering",
                                                     "ffa_considered": "adoption_not_a_plan"}),
    ]  # fmt: skip


def _preparation(days_ago: int) -> list[Step]:
    """The consultations, invitations and the child's wishes before the PPM (the ones the case has)."""
    return [
        (days_ago, "Task_SendInvitations", "sw.alice", {"invitations_sent_date": -days_ago,
                                                        "carer_invited": "foster_carer",
                                                        "supervising_sw_invited": True, "specialist_invited": True,
                                                        "guardian_invited": "no_guardian"}),
        (days_ago, "Task_ChildWishes", "sw.alice", {"wishes_date": -days_ago, "wishes_how": "direct_work",
                                                    "wishes_summary": "wants to stay with the carers"}),
        (days_ago, "Task_ConsultAdoptionTM", "sw.alice", {"adoption_tm_consulted_date": -days_ago,
                                                          "adoption_tm_view": "agreed"}),
        (days_ago, "Task_ConsultFosteringTM", "sw.alice", {"fostering_tm_consulted_date": -days_ago,
                                                           "fostering_tm_view": "agreed"}),
        (days_ago, "Task_InviteLegal", "sw.alice", {"legal_invited_date": -days_ago, "legal_attendance": "attending"}),
    ]  # fmt: skip


def _panel(rt: Runtime, today: date, ref: str) -> None:
    """The case's permanency panel sits on its date and approves; minutes, visit and the chair's letter follow."""
    panel = next(t for t in list_tasks(rt, ref=ref) if t["element"] == "Task_PanelDecision")["due"]
    sat = (today - date.fromisoformat(panel)).days
    _walk(rt, today, ref, [
        (sat, "Task_PanelDecision", "panel.pat", {"panel_decision": "approve", "panel_held_date": -sat,
                                                  "panel_reasons": "meets the child's needs"}),
        (sat - 2, "Task_PanelMinutes", "panel.pat", {"panel_minutes_date": -(sat - 2)}),
        (sat - 3, "Task_VisitChildAfterPanel", "sw.alice", {"post_panel_visit_date": -(sat - 3)}),
        (sat - 3, "Task_ChairLetter", "panel.pat", {"chair_letter_date": -(sat - 3)}),
    ])  # fmt: skip


def _special_guardianship(rt: Runtime, today: date, ref: str, team: str) -> None:
    """The child's foster carers assessed, approved at panel with a support plan, and the order made."""
    with clock.frozen(datetime.combine(today - timedelta(days=160), time(10), tzinfo=UTC)):  # the request's day
        start_case(rt, "sgo_assessment", ref, {"expression_of_interest_date": _day(today, -170),
                                               "assessment_request_date": _day(today, -160),
                                               "carer_type": "foster_carer"}, "demo", team=team)  # fmt: skip
    _walk(rt, today, ref, [
        (165, "Task_VisitCarers", "sw.alice", {"carers_visit_date": -165, "carers_proceed": True}),
        (158, "Task_AllocateAssessment", "tm.carol", {"allocated_on": -158, "timeline_recorded": True}),
        (85, "Task_CompleteAssessment", "sw.alice", {"assessment_completed_date": -85,
                                                     "assessment_recommendation": "recommend",
                                                     "support_plan_done": True}),
        (84, "Task_RemindSocialWorker", "panel.pat", {"panel_reminder_sent_date": -84}),
        (83, "Task_SubmitPaperwork", "sw.alice", {"paperwork_submitted_date": -83, "support_plan_included": True}),
    ])  # fmt: skip
    _panel(rt, today, ref)
    _walk(rt, today, ref, [
        (20, "Task_RecordCourtDecision", "sw.alice", {"sgo_made": True, "court_decision_date": -20}),
    ])  # fmt: skip


def _record_move(rt: Runtime, today: date, ref: str, team: str, days_ago: int) -> None:
    """A placement move the case system did not send, recorded by the team manager."""
    from engine.services.oversight import record_case_event

    manager = Person("tm.carol", frozenset({"team_manager"}), frozenset({team}))
    case_id = show_case(rt, ref)["id"]
    with clock.frozen(datetime.combine(today - timedelta(days=days_ago), time(10), tzinfo=UTC)):
        record_case_event(rt, manager, case_id, "Catch_PlacementMoved", {"placement_move_date": _day(today, -days_ago)},
                          "carers gave notice; recorded from the placement record")  # fmt: skip


def ensure_demo_data(rt: Runtime) -> dict[str, list[str]]:
    users = ensure_demo_users(rt)
    with rt.uow() as uow:
        if uow.session.scalar(select(Case.id).where(Case.ref.like("DEMO-%")).limit(1)) is not None:
            return {"users": users, "cases": []}
    today = clock.london_today()
    for ref, team, looked_after, reviewed, holder in DEMO_CASES:
        start = {"date_of_birth": (today - timedelta(days=365 * 4)).isoformat(), "in_care_proceedings": False,
                 "looked_after_date": (today - timedelta(days=looked_after)).isoformat(),
                 "placement_moves": 2 if ref == "DEMO-1004" else 0}  # fmt: skip
        with clock.frozen(datetime.combine(today - timedelta(days=looked_after), time(10), tzinfo=UTC)):
            start_case(rt, "ppm_to_adm", ref, start, "demo", team=team)
        if looked_after > 20:  # the newer children's family network meeting and parallel plan are still to do
            _walk(rt, today, ref, _early_planning(looked_after - 5))
        if reviewed is not None:
            _walk(rt, today, ref, [(reviewed, "Task_FirstReview", "iro.bob", {"first_review_date": -reviewed,
                                                                              "ppm_requested": True})])  # fmt: skip
        if holder:
            plan = next(t for t in list_tasks(rt, ref=ref) if t["element"] == "Task_UpdateCarePlan")
            claim_task(rt, plan["id"], holder)
        if ref == "DEMO-1004":  # a third placement move for a 4-year-old: the alert and the social worker's step
            _record_move(rt, today, ref, team, 3)
    for ref, team, reviewed, plan_option in TRACKED:
        _to_second_review(rt, today, ref, team, reviewed, plan_option)
    _special_guardianship(rt, today, "DEMO-2002", "north")
    refresh_tracker(rt)
    return {"users": users, "cases": [c[0] for c in DEMO_CASES + TRACKED]}
