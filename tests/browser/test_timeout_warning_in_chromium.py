"""In Chromium: the session timeout warning (issue 20). Two minutes before an idle session ends a dialog
says so; "Stay signed in" starts the hour again; when it runs out the answers typed in a step are kept
as a draft and the person, signed in again, finds them on the step. Time is driven: the server's clock
is the injected one, the page's is Playwright's (no waiting on the wall clock)."""

from __future__ import annotations

import dataclasses
import re

from playwright.sync_api import Page, expect

from engine import services
from engine.services.accounts import DEMO_PASSWORD
from tests.browser.test_inbox_in_chromium import START, sign_in
from tests.webclient import finish_early_planning, first_review_task


def _alice_holds_the_care_plan(rt) -> dict:  # type: ignore[no-untyped-def]
    services.start_case(rt, "ppm_to_adm", "CH-4001", {**START, "looked_after_date": "2026-12-04"}, "sw", team="north")
    finish_early_planning(rt, "CH-4001", "2026-12-04")
    review = first_review_task(rt, "CH-4001")
    services.complete_task(rt, review["id"], {"first_review_date": "2026-12-16", "ppm_requested": True}, "iro.bob")
    [plan] = [t for t in services.list_tasks(rt, ref="CH-4001") if t["element"] == "Task_UpdateCarePlan"]
    services.claim_task(rt, plan["id"], "sw.alice")
    return plan


def test_the_warning_comes_two_minutes_before_the_end_and_the_answers_survive_it(page: Page, rt, now, monkeypatch):
    monkeypatch.setattr(rt, "settings", dataclasses.replace(rt.settings, session_hours=8, session_idle_minutes=60))
    plan = _alice_holds_the_care_plan(rt)
    page.clock.install()
    sign_in(page, "sw.alice")
    page.goto(f"/tasks/{plan['id']}")
    page.get_by_label("Day").fill("15")
    page.get_by_label("Month").fill("12")
    warning = page.get_by_role("dialog", name="You’re about to be signed out")
    expect(warning).to_be_hidden()

    now.advance(minutes=58)  # the server: 58 minutes without a request
    page.clock.fast_forward("58:00")  # the page: its timer falls due
    expect(warning).to_be_visible()
    expect(page.locator("#timeout-countdown")).to_have_text("2 minutes")
    expect(page.locator("#timeout-heading")).to_be_focused()
    expect(page.locator("#timeout-draft")).to_be_visible()  # what was typed is already saved
    expect(page.locator("#timeout-spoken")).to_have_text(re.compile("we will sign you out in 2 minutes"))
    page.clock.fast_forward("01:05")
    expect(page.locator("#timeout-countdown")).to_have_text("55 seconds")

    page.get_by_role("button", name="Stay signed in").click()
    expect(warning).to_be_hidden()
    page.clock.fast_forward("30:00")
    now.advance(minutes=31)  # 90 minutes since the last page, half an hour since "stay signed in": still in
    expect(warning).to_be_hidden()
    page.get_by_label("Year").fill("2026")

    now.advance(minutes=27)
    page.clock.fast_forward("28:00")
    expect(warning).to_be_visible()
    now.advance(minutes=1, seconds=50)  # the server's hour is nearly up when the page ends the session
    page.clock.fast_forward("02:00")
    expect(page.locator("#timed-out")).to_contain_text("You were signed out")
    assert "/login" in page.url and f"next=%2Ftasks%2F{plan['id']}" in page.url

    page.get_by_label("Username").fill("sw.alice")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(f"/tasks/{plan['id']}$"))  # back on the step
    expect(page.get_by_label("Day")).to_have_value("15")
    expect(page.get_by_label("Month")).to_have_value("12")
    expect(page.get_by_label("Year")).to_have_value("2026")  # typed after "stay signed in": kept as well
    expect(page.locator(".govuk-inset-text")).to_contain_text("Draft saved by sw.alice")
