"""Issue 17 in Chromium: a social worker links two children as brothers and sisters on the case page,
and the team manager chairing one child's PPM sees the other's PPM step and goes to it."""

from __future__ import annotations

from datetime import UTC, datetime

from playwright.sync_api import Page, expect

from engine import services
from tests.browser.test_inbox_in_chromium import sign_in
from tests.integration.test_siblings import _to_ppm
from tests.scenario import publish_workflows


def test_a_sibling_group_s_ppm_in_chromium(page: Page, rt, now):
    publish_workflows(rt)
    _to_ppm(rt, "CH-B1")
    _to_ppm(rt, "CH-B2")
    now.set(datetime(2027, 2, 24, 10, tzinfo=UTC))
    first = services.show_case(rt, "CH-B1", "ppm_to_adm")
    sign_in(page, "sw.alice")
    page.goto(f"/cases/{first['id']}")
    expect(page.locator("#siblings")).to_contain_text("No brothers or sisters are linked to CH-B1")
    page.get_by_text("Link a brother or sister").click()
    page.get_by_label("The brother's or sister's case reference").fill("CH-B2")
    page.get_by_role("button", name="Link", exact=True).click()
    banner = page.locator(".govuk-notification-banner")
    expect(banner).to_contain_text("CH-B2 is linked as a brother or sister of CH-B1")
    expect(page.locator("#sibling-list")).to_contain_text("CH-B2")
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, "tm.carol")
    tasks = {(t["ref"], t["element"]): t["id"] for t in services.list_tasks(rt)}
    page.goto(f"/tasks/{tasks[('CH-B1', 'Task_HoldPPM')]}")
    expect(page.locator("#step-siblings")).to_have_text("Brothers and sisters")
    page.get_by_role("link", name="Chair the permanence planning meeting").click()
    expect(page).to_have_url(f"{page.url.split('/tasks/')[0]}/tasks/{tasks[('CH-B2', 'Task_HoldPPM')]}")
    expect(page.locator(".govuk-caption-l, h1").first).to_contain_text("CH-B2")
