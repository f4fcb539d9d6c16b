"""A small driver for pathway scenarios: start a case, do steps by element id, look at it."""

from __future__ import annotations

from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

from engine import clock, services
from engine.bootstrap import Runtime

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


class Scenario:
    def __init__(self, rt: Runtime, now: clock.SettableClock, key: str, ref: str = "CH-1001",
                 team: str = "north") -> None:  # fmt: skip
        self.rt, self.now, self.key, self.ref, self.team = rt, now, key, ref, team

    def on(self, day: str) -> Scenario:
        """Move the clock to 10:00 UTC on ``day``."""
        self.now.set(datetime.combine(datetime.fromisoformat(day).date(), time(10), tzinfo=UTC))
        return self

    def start(self, **data: Any) -> dict:
        return services.start_case(self.rt, self.key, self.ref, data, "sw.alice", team=self.team)

    def open(self) -> dict[str, dict]:
        return {t["element"]: t for t in services.list_tasks(self.rt, ref=self.ref)}

    def due(self, element: str) -> str:
        return self.open()[element]["due"]

    def do(self, element: str, user: str = "user", **answers: Any) -> None:
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
        """Take the case through one sitting of the shared permanency panel."""
        self.do("Task_RemindSocialWorker", "support", panel_reminder_sent_date=held)
        self.do("Task_SubmitPaperwork", "sw", paperwork_submitted_date=held, support_plan_included=True)
        self.on(held).do("Task_PanelDecision", "chair", panel_decision=decision, panel_held_date=held,
                         panel_reasons="as minuted", **extra)  # fmt: skip
        for element, field in (("Task_PanelMinutes", "panel_minutes_date"),
                               ("Task_VisitChildAfterPanel", "post_panel_visit_date"),
                               ("Task_ChairLetter", "chair_letter_date")):  # fmt: skip
            self.do(element, "x", **{field: held})

    def actions(self) -> list[str]:
        return [e["action"] for e in self.show()["audit"]]
