"""A small driver for pathway scenarios: start a case, do steps by element id, look at it."""

from __future__ import annotations

from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

from engine import clock, services
from engine.bootstrap import Runtime
from engine.services.scenarios import latest_date, panel_sitting

WORKFLOWS = Path(__file__).resolve().parents[1] / "workflows"


REVIEW_SETUP_STEPS = (("Task_CarePlan", "care_plan_date"), ("Task_Visit", "visit_date"),
                      ("Task_AppointIRO", "iro_appointed_on"))  # fmt: skip


def complete_review_setup(rt: Runtime, ref: str, day: str) -> None:
    """Test review-cycle diagram: complete the three opening steps, so the review (and its timer) waits."""
    for element, field in REVIEW_SETUP_STEPS:
        task = next(t for t in services.list_tasks(rt, ref=ref) if t["element"] == element)
        services.complete_task(rt, task["id"], {field: day}, "sw")


def publish_workflows(rt: Runtime) -> None:
    services.publish_directory(rt, WORKFLOWS, "test")


# --- the PPM's own steps that most tests walk past ------------------------------------------------
def early_planning_answers(day: str) -> dict[str, dict[str, Any]]:
    """The family network meeting and the parallel plan, open from the start of a PPM case."""
    return {
        "Task_FamilyNetworkMeeting": {"family_meeting_held": True, "family_meeting_date": day},
        "Task_ParallelPlan": {"parallel_plan_date": day, "main_plan": "reunification",
                              "parallel_plan": "long_term_fostering", "ffa_considered": "adoption_not_a_plan"},
    }  # fmt: skip


def preparation_answers(day: str) -> dict[str, dict[str, Any]]:
    """The steps between the circulated plan and the PPM (which of them are open depends on the case)."""
    return {
        "Task_SendInvitations": {"invitations_sent_date": day, "carer_invited": "foster_carer",
                                 "supervising_sw_invited": True, "specialist_invited": True,
                                 "guardian_invited": "no_guardian"},
        "Task_ChildWishes": {"wishes_date": day, "wishes_how": "direct_work", "wishes_summary": "wants to stay"},
        "Task_ConsultAdoptionTM": {"adoption_tm_consulted_date": day, "adoption_tm_view": "as discussed"},
        "Task_ConsultFosteringTM": {"fostering_tm_consulted_date": day, "fostering_tm_view": "as discussed"},
        "Task_InviteLegal": {"legal_invited_date": day, "legal_attendance": "attending"},
    }  # fmt: skip


def complete_open(rt: Runtime, ref: str, answers: dict[str, dict[str, Any]], user: str = "sw") -> list[str]:
    """Complete whichever of these steps are open for ``ref`` (on the clock's day); the elements done."""
    done = []
    for element, values in answers.items():
        task = next((t for t in services.list_tasks(rt, ref=ref) if t["element"] == element), None)
        if task is not None:
            services.complete_task(rt, task["id"], values, user)
            done.append(element)
    return done


class Scenario:
    def __init__(self, rt: Runtime, now: clock.SettableClock, key: str, ref: str = "CH-1001",
                 team: str = "north") -> None:  # fmt: skip
        self.rt, self.now, self.key, self.ref, self.team = rt, now, key, ref, team

    def on(self, day: str) -> Scenario:
        """Move the clock to 10:00 UTC on ``day``."""
        self.now.set(datetime.combine(datetime.fromisoformat(day).date(), time(10), tzinfo=UTC))
        return self

    def _recorded_on_the_day(self, answers: dict[str, Any]) -> None:
        """A step is recorded on the day it happened unless the test moved the clock: never back."""
        latest = latest_date(answers)
        if latest is not None and latest > self.now().astimezone(clock.LONDON).date():
            self.on(latest.isoformat())

    def start(self, **data: Any) -> dict:
        self._recorded_on_the_day(data)
        return services.start_case(self.rt, self.key, self.ref, data, "sw.alice", team=self.team)

    def open(self) -> dict[str, dict]:
        return {t["element"]: t for t in services.list_tasks(self.rt, ref=self.ref)}

    def due(self, element: str) -> str:
        return self.open()[element]["due"]

    def do(self, element: str, user: str = "user", **answers: Any) -> None:
        task = self.open()[element]
        self._recorded_on_the_day(answers)
        services.complete_task(self.rt, task["id"], answers, user)

    def do_now(self, element: str, user: str = "user", **answers: Any) -> None:
        """Record a step on the clock's day, whatever dates it gives (``do`` moves the clock to them)."""
        task = self.open()[element]
        services.complete_task(self.rt, task["id"], answers, user)

    def show(self, key: str | None = None) -> dict:
        return services.show_case(self.rt, self.ref, key or self.key)

    def deadline(self, name: str) -> dict:
        [found] = [d for d in self.show()["deadlines"] if d["name"] == name and d["status"] != "moved"]
        return found

    def fire(self, at: str) -> dict:
        return services.fire_due_timers(self.rt, datetime.fromisoformat(at))

    def panel(self, decision: str, held: str, **extra: Any) -> None:
        """Take the case through one sitting of the shared permanency panel (the engine's sequence)."""
        for step in panel_sitting(decision, held, **extra):
            if "on" in step:
                self.on(step["on"])
            self.do(step["do"], step["as"], **step["answers"])

    def early_planning(self, day: str) -> Scenario:
        complete_open(self.rt, self.ref, early_planning_answers(day))
        return self

    def prepare_ppm(self, day: str) -> Scenario:
        complete_open(self.rt, self.ref, preparation_answers(day))
        return self

    def tell_carers(self, day: str) -> Scenario:
        complete_open(self.rt, self.ref, {"Task_TellCarers": {"carers_told_date": day}})
        return self

    def actions(self) -> list[str]:
        return [e["action"] for e in self.show()["audit"]]


# --- children for the permanence tracker ---------------------------------------------------------
TRACKED_START = {"date_of_birth": "2016-01-10", "looked_after_date": "2026-12-18", "in_care_proceedings": False}
SGO_FOSTER_CARERS = {"expression_of_interest_date": "2027-01-04", "assessment_request_date": "2027-01-20",
                     "carer_type": "foster_carer"}  # fmt: skip


def to_second_review(case: Scenario, option: str, held: str = "2027-04-08") -> None:
    """Take a PPM case (looked after 18/12/2026) through its second review, the plan being ``option``."""
    case.on("2026-12-18").start(**TRACKED_START)
    case.early_planning("2026-12-18")
    case.on("2027-01-20").do("Task_FirstReview", "iro", first_review_date="2027-01-20", ppm_requested=True)
    case.do("Task_UpdateCarePlan", "sw", care_plan_updated_date="2027-02-10")
    case.do("Task_DecidePPM", "tm", ppm_needed=True)
    case.do("Task_PreparePlan", "sw", plan_circulated_date="2027-02-12", possible_plan="long_term_fostering")
    case.prepare_ppm("2027-02-12")
    case.on("2027-02-24").do("Task_HoldPPM", "tm", ppm_date="2027-02-24", permanence_option="long_term_fostering",
                             contingency_plan="connected_person", cannot_live_with_parents=True)  # fmt: skip
    case.tell_carers("2027-02-24")
    case.do("Task_SendMinutes", "tm", minutes_sent_date="2027-03-30")
    case.do("Task_InformParents", "sw", parents_informed_date="2027-04-01")
    case.on(held).do("Task_SecondReview", "iro", second_review_date=held, plan_ratified=True,
                     permanence_option=option, contingency_plan="long_term_fostering")  # fmt: skip


def sgo_made(rt: Runtime, now: clock.SettableClock, ref: str, team: str = "north", staying_put: bool = False) -> None:
    """An SGO assessment for the child's foster carers, approved at the April 2027 panel; the order made in June
    (recorded on 2 July)."""
    case = Scenario(rt, now, "sgo_assessment", ref, team)
    case.on("2027-01-04").start(**SGO_FOSTER_CARERS)
    case.do("Task_VisitCarers", "assessor", carers_visit_date="2027-01-11", carers_proceed=True)
    case.do("Task_AllocateAssessment", "tm", allocated_on="2027-01-21", timeline_recorded=True)
    case.do("Task_CompleteAssessment", "assessor", assessment_completed_date="2027-04-09",
            assessment_recommendation="recommend", support_plan_done=True)  # fmt: skip
    case.panel("approve", "2027-04-28", staying_put_agreed=staying_put)
    case.on("2027-07-02").do("Task_RecordCourtDecision", "sw", sgo_made=True, court_decision_date="2027-06-15")
