"""Done-when, in Chromium: each demo role signs in and does its own steps of a whole PPM-to-ADM pathway."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from typing import Any

from playwright.sync_api import Page, expect

from engine import services
from tests.browser.test_inbox_in_chromium import sign_in
from tests.integration.test_web_pathway import PATH


def _fill(page: Page, answers: dict[str, Any]) -> None:
    for name, value in answers.items():
        # Wait for the step's form: the link click navigates, and a count taken before it loads is 0.
        page.locator(f'[name="{name}"], [name="{name}-day"]').first.wait_for()
        if isinstance(value, bool):
            page.check(f'input[name="{name}"][value="{"yes" if value else "no"}"]')
        elif re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(value)):
            day = date.fromisoformat(value)
            for part, text in (("day", day.day), ("month", day.month), ("year", day.year)):
                page.fill(f'input[name="{name}-{part}"]', str(text))
        elif page.locator(f'select[name="{name}"]').count():
            page.select_option(f'select[name="{name}"]', value)
        elif page.locator(f'input[type="radio"][name="{name}"]').count():
            page.check(f'input[name="{name}"][value="{value}"]')
        else:
            page.fill(f'[name="{name}"]', str(value))


def test_each_role_does_its_steps_of_a_whole_ppm_to_adm_pathway_in_chromium(page: Page, rt, now):
    sign_in(page, "sw.alice")
    page.get_by_role("link", name="Start a pathway").click()
    page.get_by_role("link", name="Permanence planning meeting to agency decision").click()
    page.get_by_label("Child's case reference").fill("CH-7001")
    page.get_by_label("Team holding the case").select_option("north")
    _fill(page, {"date_of_birth": "2020-03-01", "looked_after_date": "2026-12-18", "in_care_proceedings": False})
    page.get_by_role("button", name="Start the pathway").click()
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text("Started")
    expect(page.locator("#open-tasks")).to_contain_text("Hold the first CLA review")
    signed_in = "sw.alice"
    for who, element, day, answers in PATH:
        now.set(datetime.combine(date.fromisoformat(day), time(10), tzinfo=UTC))
        if who != signed_in:
            page.get_by_role("button", name="Sign out").click()
            sign_in(page, who)
            signed_in = who
        # several of the child's steps can be open at once (the PPM's preparation): take this one's row
        [task] = [t for t in services.list_tasks(rt, ref="CH-7001") if t["element"] == element]
        page.goto("/?tab=unassigned")
        page.locator(f'#tasks tbody tr[data-task="{task["id"]}"]').get_by_role(
            "button", name=re.compile("^Claim")
        ).click()
        page.goto("/?tab=mine")
        page.locator(f'#tasks tbody tr[data-task="{task["id"]}"]').get_by_role("link").nth(1).click()
        _fill(page, answers)
        page.get_by_role("button", name="Complete this task").click()
        expect(page.locator(".govuk-panel__title")).to_have_text("Task complete"), (who, element)
    expect(page.locator("#next")).to_contain_text("This pathway is complete")
    page.get_by_role("link", name=re.compile("pathway$")).click()
    expect(page.locator("h1")).to_contain_text("Completed")
    expect(page.locator("#timeline")).to_contain_text("ADM decided: should be placed for adoption")
