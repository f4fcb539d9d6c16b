"""In Chromium: a social worker claims and completes a PPM step (a wrong date first), and it moves to the TM."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from engine import services
from engine.services.accounts import DEMO_PASSWORD
from tests.browser.conftest import shoot
from tests.webclient import finish_early_planning, first_review_task

START = {"date_of_birth": "2020-03-01", "in_care_proceedings": False}


def _seed(rt) -> None:  # type: ignore[no-untyped-def]
    """A few children at different points, so the inbox looks like a working day."""
    for ref, looked_after in (("CH-1042", "2026-11-20"), ("CH-1107", "2026-11-27"), ("CH-1213", "2026-12-04"),
                              ("CH-1288", "2026-12-11"), ("CH-1301", "2026-12-18")):  # fmt: skip
        services.start_case(rt, "ppm_to_adm", ref, {**START, "looked_after_date": looked_after}, "sw", team="north")
        finish_early_planning(rt, ref, looked_after)  # the family network meeting and the parallel plan: done
        review = first_review_task(rt, ref)
        held = max(looked_after, "2026-12-16")  # never before the child became looked after
        services.complete_task(rt, review["id"], {"first_review_date": held, "ppm_requested": True}, "iro.bob")
    for ref in ("CH-1042", "CH-1107"):
        [plan] = [t for t in services.list_tasks(rt, ref=ref) if t["element"] == "Task_UpdateCarePlan"]
        services.claim_task(rt, plan["id"], "sw.alice")
    services.start_case(rt, "ppm_to_adm", "CH-1400", {**START, "looked_after_date": "2026-12-17"}, "sw", team="south")


def sign_in(page: Page, username: str) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()  # each lands where their work is


def test_social_worker_claims_and_completes_a_ppm_step_and_it_moves_to_the_team_manager(page: Page, rt, now):
    _seed(rt)
    sign_in(page, "sw.alice")
    expect(page.locator("#tasks tbody tr")).to_have_count(2)  # My tasks: the two she holds
    shoot(page, "inbox-my-tasks")

    page.get_by_role("link", name="Unassigned", exact=True).click()
    row = page.locator("#tasks tbody tr", has_text="CH-1213")
    row.get_by_role("button", name=re.compile("^Claim")).click()  # claiming opens the step at once
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text("You have claimed")
    expect(page.get_by_role("heading", name="What this step is for")).to_be_visible()
    expect(page.locator("h1")).to_contain_text("Update the care plan")
    page.get_by_label("Day").fill("31")
    page.get_by_label("Month").fill("2")
    page.get_by_label("Year").fill("2027")
    page.get_by_role("button", name="Complete this task").click()
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_contain_text("must be a real date")
    expect(page.get_by_label("Day")).to_have_value("31")  # nothing entered is lost
    expect(page).to_have_title(re.compile("^Error: "))
    shoot(page, "task-page-with-error")

    summary.get_by_role("link").click()  # the summary links to the field
    expect(page.get_by_label("Day")).to_be_focused()
    page.get_by_label("Day").fill("16")
    page.get_by_label("Month").fill("12")
    page.get_by_role("button", name="Complete this task").click()  # 16/12/2027: a past event cannot be ahead
    expect(summary).to_contain_text("must be today or in the past (18 December 2026 or earlier)")
    page.get_by_label("Year").fill("2026")
    page.get_by_role("button", name="Complete this task").click()
    expect(page.locator(".govuk-panel__title")).to_have_text("Task complete")
    expect(page.locator("#next")).to_contain_text("Decide whether a permanence planning meeting is needed")
    expect(page.locator("#next")).to_contain_text("team manager")
    shoot(page, "what-happens-next")

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, "tm.carol")  # a team manager lands on the team's steps, with what is overdue and unassigned
    expect(page.locator("#team-counts")).to_contain_text("unassigned")
    expect(page.locator("[aria-current=page]", has_text="My team's tasks")).to_be_visible()
    shoot(page, "team-manager-landing")
    page.get_by_role("link", name="Unassigned", exact=True).click()
    moved = page.locator("#tasks tbody tr", has_text="CH-1213")
    expect(moved).to_contain_text("Decide whether a permanence planning meeting is needed")
    shoot(page, "team-manager-inbox")


def test_the_task_page_and_the_case_page_with_its_diagram(page: Page, rt, now):
    _seed(rt)
    sign_in(page, "sw.alice")
    page.locator("#tasks tbody tr", has_text="CH-1042").get_by_role("link", name=re.compile("Update the care")).click()
    page.get_by_label("Day").fill("14")
    page.get_by_role("button", name="Save as draft").click()
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text("saved as a draft")
    expect(page.get_by_label("Day")).to_have_value("14")
    shoot(page, "task-page")

    page.get_by_role("link", name="CH-1042").first.click()
    expect(page.locator("#diagram")).to_have_attribute("data-ready", "true")
    expect(page.locator("#diagram-status")).to_contain_text("Update the care plan after the first review")
    assert page.locator("#diagram .pp-active").count() >= 1  # where it waits, marked on the diagram
    assert page.locator("#diagram .pp-completed").count() >= 1  # what is done
    expect(page.locator("#timeline")).to_contain_text("Draft saved")  # the history, in plain words
    # the child's plan comes first: every clock, done and due, in words
    plan = page.locator("#plan")
    expect(plan.locator("tr", has_text="First CLA review")).to_contain_text("met on 16 December 2026")
    expect(plan.locator("tr", has_text="First CLA review")).to_contain_text("Done")
    expect(plan.locator("tr", has_text="Second CLA review")).to_contain_text("due by 12 March 2027")  # 16 w: earlier
    # the diagram opens on where the case waits, and zooms
    expect(page.locator("#diagram")).to_have_attribute("data-zoomed-on", re.compile("Task_UpdateCarePlan"))
    before = page.evaluate("() => document.querySelector('#diagram svg .viewport').getAttribute('transform')")
    page.get_by_role("button", name="Zoom out").click()
    after = page.evaluate("() => document.querySelector('#diagram svg .viewport').getAttribute('transform')")
    assert before != after
    page.get_by_role("button", name="Where it waits").click()
    shoot(page, "case-page")


def test_a_social_worker_cannot_open_another_teams_step_in_the_browser(page: Page, rt, now):
    _seed(rt)
    [south] = [t for t in services.list_tasks(rt, ref="CH-1400") if t["element"] == "Task_FamilyNetworkMeeting"]
    sign_in(page, "sw.alice")  # a social worker's step, in another team
    response = page.goto(f"/tasks/{south['id']}")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", name="You cannot see this page")).to_be_visible()
