"""In Chromium: a manager reads the permanence tracker, updates a child at the tracking meeting, downloads the CSV."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.conftest import shoot
from tests.browser.test_inbox_in_chromium import sign_in
from tests.scenario import Scenario, sgo_made, to_second_review
from worker import tick


def test_a_manager_reads_the_tracker_and_records_the_tracking_meeting(page: Page, rt, now):
    to_second_review(Scenario(rt, now, "ppm_to_adm", "CH-3001"), "long_term_fostering")
    to_second_review(Scenario(rt, now, "ppm_to_adm", "CH-3002"), "connected_person", held="2027-03-25")
    to_second_review(Scenario(rt, now, "ppm_to_adm", "CH-3003"), "reunification", held="2027-05-06")
    sgo_made(rt, now, "CH-3002")
    now.set(datetime(2027, 7, 5, 9, tzinfo=UTC))
    assert tick(rt)["tracker"] == 3  # the worker's refresh job

    sign_in(page, "tm.carol")
    page.get_by_role("link", name="Permanence tracker").click()
    expect(page.get_by_role("heading", name="Permanence tracker")).to_be_visible()
    expect(page.locator("#tracker-counts")).to_contain_text("3 children after their second review")
    expect(page.locator("svg.pp-chart")).to_have_count(3)
    expect(page.locator("#child-CH-3002")).to_contain_text("With a kinship carer (not Reg 24)")
    expect(page.locator("#cross tr[data-option=connected_person]")).to_contain_text("1")

    page.locator("#child-CH-3001").get_by_role("link", name="Update").click()
    page.get_by_label("Permanence achieved through").select_option("foster_permanent_ifa")
    page.locator("#achieved_on-day").fill("20")
    page.locator("#achieved_on-month").fill("6")
    page.locator("#achieved_on-year").fill("2027")
    page.locator("#assessments_done").check()  # the first radio: yes
    page.locator("#seen_alone_on-day").fill("31")  # not a date
    page.locator("#seen_alone_on-month").fill("6")
    page.locator("#seen_alone_on-year").fill("2027")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".govuk-error-summary")).to_be_visible()
    expect(page.locator("#achieved_on-day")).to_have_value("20")  # nothing typed is lost
    page.locator("#seen_alone_on-day").fill("30")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text("CH-3001: tracker updated")
    expect(page.locator("#child-CH-3001")).to_contain_text("Permanent foster care with an IFA carer, 20 June 2027")
    expect(page.locator("#tracker-counts")).to_contain_text("2 with permanence achieved")

    page.get_by_label("Figures").select_option("month")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("heading", name="Each month")).to_be_visible()
    page.get_by_label("Figures").select_option("quarter")
    page.get_by_role("button", name="Show").click()
    shoot(page, "permanence-tracker")
    with page.expect_download() as download:
        page.locator("#csv-children").click()
    text = Path(download.value.path()).read_bytes().decode("utf-8-sig")
    assert text.startswith("child_ref,team,second_review_date") and "CH-3003" in text
