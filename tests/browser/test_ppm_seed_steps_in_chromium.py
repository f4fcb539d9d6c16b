"""Issue 17, item 2, in Chromium: a social worker, a team manager and a services manager do the PPM's
new steps: a family network meeting not held (agreed by the team manager), a placement move recorded
on the case page that alerts the services manager, the social worker's account, and a further PPM
asked for at a CLA review."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time

from playwright.sync_api import Page, expect

from engine import services
from tests.browser.test_inbox_in_chromium import sign_in
from tests.browser.test_whole_pathway_in_chromium import _fill
from tests.scenario import Scenario, publish_workflows

START = {"date_of_birth": "2019-03-01", "looked_after_date": "2026-12-18", "in_care_proceedings": False}


def _on(now, day: str) -> None:
    now.set(datetime.combine(date.fromisoformat(day), time(10), tzinfo=UTC))


def _switch(page: Page, who: str) -> None:
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, who)


def _do(page: Page, rt, ref: str, element: str, answers: dict) -> None:
    """Claim the step from the unassigned list, open it from "My tasks" and complete its form."""
    [task] = [t for t in services.list_tasks(rt, ref=ref) if t["element"] == element]
    page.goto("/?tab=unassigned")
    page.locator(f'#tasks tbody tr[data-task="{task["id"]}"]').get_by_role("button", name=re.compile("^Claim")).click()
    page.goto(f"/tasks/{task['id']}")
    _fill(page, answers)
    page.get_by_role("button", name="Complete this task").click()
    expect(page.locator(".govuk-panel__title")).to_have_text("Task complete")


def test_the_family_network_meeting_the_placement_moves_alert_and_a_further_ppm_in_chromium(page: Page, rt, now):
    publish_workflows(rt)
    case = Scenario(rt, now, "ppm_to_adm", "CH-P1")
    case.on("2026-12-18").start(**START, placement_moves=2)
    case_id = case.show()["id"]

    _on(now, "2027-01-04")
    sign_in(page, "sw.alice")
    _do(page, rt, "CH-P1", "Task_FamilyNetworkMeeting", {
        "family_meeting_held": False, "family_meeting_date": "2027-01-04",
        "no_family_meeting_reason": "the mother will not name her family"})  # fmt: skip
    _do(page, rt, "CH-P1", "Task_ParallelPlan", {
        "parallel_plan_date": "2027-01-04", "main_plan": "reunification", "parallel_plan": "adoption",
        "ffa_considered": "considered_not_suitable", "ffa_reasons": "the parents' contact is frequent"})  # fmt: skip

    _on(now, "2027-01-05")
    _switch(page, "tm.carol")
    [agree] = [t for t in services.list_tasks(rt, ref="CH-P1") if t["element"] == "Task_AgreeNoFamilyMeeting"]
    page.goto(f"/tasks/{agree['id']}")
    expect(page.locator("main")).to_contain_text("the mother will not name her family")  # the reason, shown
    _do(page, rt, "CH-P1", "Task_AgreeNoFamilyMeeting", {
        "family_meeting_waived": True, "family_meeting_waiver_date": "2027-01-05",
        "family_meeting_waiver_reasons": "explored at the child protection conference"})  # fmt: skip

    # the first review and the PPM decision, by the services; the services manager agrees no PPM
    case.on("2027-01-20").do("Task_FirstReview", "iro", first_review_date="2027-01-20", ppm_requested=True)
    case.do("Task_UpdateCarePlan", "sw", care_plan_updated_date="2027-02-10")
    case.do("Task_DecidePPM", "tm", ppm_needed=False)
    _switch(page, "sm.sara")
    _do(page, rt, "CH-P1", "Task_AgreeNoPPM", {
        "sm_agrees": True, "specialist_discussion_date": "2027-02-10",
        "no_ppm_decision": "returning home"})  # fmt: skip

    _on(now, "2027-03-25")  # the third move, recorded by the team manager from the case page
    _switch(page, "tm.carol")
    page.goto(f"/cases/{case_id}")
    page.locator("#recordable-events").get_by_role("link", name=re.compile("Placement moved")).click()
    _fill(page, {"placement_move_date": "2027-03-25", "reason": "emergency move; LCS is down"})
    page.get_by_role("button", name="Record and move the case on").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("Recorded 'Placement moved (case system)'")

    _switch(page, "sm.sara")
    expect(page.locator("#notifications")).to_contain_text("Alert: CH-P1 Under 12 with 3 or more placement moves")

    _switch(page, "sw.alice")
    _do(page, rt, "CH-P1", "Task_AlertPlacementMoves", {
        "moves_alert_sent_date": "2027-03-25", "moves_account": "the carers gave notice"})  # fmt: skip

    # the second review ratifies the plan; at the next review the IRO asks for a further PPM
    case.on("2027-04-09").do("Task_SecondReview", "iro", second_review_date="2027-04-09", plan_ratified=True,
                             permanence_option="reunification", contingency_plan="connected_person")  # fmt: skip
    case.on("2027-10-08").do("Task_CLAReview", "iro", cla_review_date="2027-10-08", still_looked_after=True,
                             under_placement_order=False, further_ppm_trigger="iro_request")  # fmt: skip
    assert case.due("Task_FurtherPPM") == "2027-11-05"
    _on(now, "2027-10-20")
    _switch(page, "tm.carol")
    _do(page, rt, "CH-P1", "Task_FurtherPPM", {
        "further_ppm_date": "2027-10-20", "further_ppm_option": "reunification",
        "further_ppm_contingency": "connected_person"})  # fmt: skip
    assert "Task_FurtherPPM" not in case.open()
