"""In Chromium: a manager works the cases-at-risk list and the heatmap; process owners change a timer in the
modeller and publish it with four eyes, and a new case starts on the new version while an old one stays."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from engine import services
from tests.browser.conftest import shoot
from tests.browser.test_inbox_in_chromium import sign_in
from tests.browser.test_properties_panel_in_chromium import second_owner_opens_draft
from tests.webclient import PPM_START, finish_early_planning


def _ppm(rt, ref: str, looked_after: str, team: str = "north") -> dict:  # type: ignore[no-untyped-def]
    case = services.start_case(rt, "ppm_to_adm", ref, {**PPM_START, "looked_after_date": looked_after}, "sw.alice",
                               team=team)  # fmt: skip
    finish_early_planning(rt, ref, looked_after)  # the family network meeting and the parallel plan: done
    return case


def _first_review(case: dict) -> dict:
    return next(t for t in case["open_tasks"] if t["element"] == "Task_FirstReview")


def test_a_manager_records_a_reason_for_delay_and_reads_the_heatmap(page: Page, rt, now):
    for ref, looked_after in (("CH-2001", "2026-11-01"), ("CH-2002", "2026-11-10"), ("CH-2003", "2026-12-17")):
        _ppm(rt, ref, looked_after)
    sign_in(page, "tm.carol")
    page.get_by_role("link", name="Cases at risk").click()
    expect(page.get_by_role("heading", name="Cases at risk of drift")).to_be_visible()
    rows = page.locator("#cases tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("CH-2001")  # most overdue first
    shoot(page, "cases-at-risk")

    rows.first.get_by_role("link", name="CH-2001").click()
    expect(page.get_by_role("heading", name="Manage this case")).to_be_visible()
    page.locator(".pp-delay-form").first.get_by_role("textbox").fill("IRO on leave; review booked for 6 January")
    page.locator(".pp-delay-form").first.get_by_role("button", name="Record reason").click()
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text("Reason for delay recorded")
    expect(page.locator("#delay-reasons")).to_contain_text("IRO on leave")

    page.get_by_role("link", name="Cases at risk").click()
    expect(page.locator("#cases tbody tr", has_text="CH-2001")).to_contain_text("IRO on leave")

    page.get_by_role("link", name="Where cases wait").click()
    page.get_by_label("Pathway", exact=True).select_option("ppm_to_adm")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#diagram[data-ready=true]")).to_be_attached()
    badge = page.locator("#badge-Task_FirstReview")
    expect(badge).to_contain_text("3")  # three waiting, two of them overdue
    expect(badge.locator(".pp-badge__overdue")).to_have_text("2 overdue")  # "overdue" for screen readers only
    expect(badge.locator(".pp-badge__overdue .govuk-visually-hidden")).to_have_text(" overdue")
    expect(badge).to_have_accessible_name("3 waiting, 2 overdue")  # the figures shown are in the name read out
    shoot(page, "where-cases-wait")
    badge.click()
    expect(page.get_by_role("heading", name=re.compile("Waiting at: Hold the first CLA review"))).to_be_visible()
    expect(page.locator("#waiting tbody tr")).to_have_count(3)


def _set_first_review_due(page: Page, expression: str) -> None:
    """Change the step's due date as a process owner would in the properties of the element (bpmn-js API)."""
    page.evaluate(
        """(expression) => {
          const modeler = window.ppModeler;
          const element = modeler.get('elementRegistry').get('Task_FirstReview');
          const props = element.businessObject.extensionElements.values.find(v => v.$type === 'camunda:Properties');
          const due = props.values.find(p => p.name === 'due');
          modeler.get('modeling').updateModdleProperties(element, due, { value: expression });
        }""",
        expression,
    )


def test_process_owners_change_a_timer_publish_with_four_eyes_and_cases_keep_their_version(page: Page, browser,
                                                                                        server, rt, now):  # fmt: skip
    old = _ppm(rt, "CH-3001", "2026-12-18")
    sign_in(page, "po.erin")  # a process owner lands on the pathway diagrams, not an empty inbox
    expect(page).to_have_url(re.compile("/modeller$"))
    expect(page.get_by_role("link", name="Inbox")).to_have_count(0)
    shoot(page, "process-owner-landing")
    page.get_by_role("link", name="Permanence planning meeting to agency decision").click()
    page.get_by_role("button", name="Edit in the modeller").click()
    expect(page.locator("#modeller[data-ready=true]")).to_be_attached()
    expect(page.locator("#modeller[data-checked=true]")).to_be_attached()
    expect(page.locator("#problems")).to_contain_text("No problems")

    _set_first_review_due(page, "add_working_days(looked_after_date, 25)")
    expect(page.locator("#save-status")).to_have_text("Unsaved changes.")
    sample = page.get_by_role("group", name="Looked after date")  # a GOV.UK date input, not a date picker
    sample.get_by_label("Day").fill("31")
    sample.get_by_label("Month").fill("2")
    sample.get_by_label("Year").fill("2026")
    page.get_by_role("button", name="Work out the dates").click()
    expect(page.locator("#anchor-looked_after_date-error")).to_contain_text("Enter a real date")
    sample.get_by_label("Day").fill("18")
    sample.get_by_label("Month").fill("12")
    page.get_by_role("button", name="Work out the dates").click()
    expect(page.locator("#anchor-looked_after_date-error")).to_be_hidden()
    review = page.locator("#dates tbody tr[data-element=Task_FirstReview]").first
    expect(review).to_contain_text("27 January 2027")  # 25 working days over Christmas and New Year
    shoot(page, "modeller")

    _set_first_review_due(page, "add_working_days(looked_after_dat, 25)")  # a slip: the check catches it
    page.get_by_role("button", name="Check and preview dates").click()
    expect(page.locator("#problems li[data-element=Task_FirstReview]")).to_contain_text("looked_after_dat")
    _set_first_review_due(page, "add_working_days(looked_after_date, 25)")
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator("#save-status")).to_contain_text("Saved (revision 2)")
    page.get_by_label("Why is the pathway changing?").fill("Local decision: first review within 25 working days")
    page.get_by_label(re.compile("If scenario tests fail")).fill("They expect the first review after 20 working days")
    page.get_by_role("button", name="Submit for approval").click()
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text("A second process owner must approve")
    expect(page.get_by_role("button", name="Approve and publish")).to_have_count(0)

    reviewer = second_owner_opens_draft(browser, server, "ppm_to_adm", timeout=60_000)
    reviewer.get_by_role("button", name="Approve and publish").click()
    expect(reviewer.locator(".govuk-notification-banner--success")).to_contain_text("published as version 2")
    expect(reviewer.locator("#versions tbody tr").first).to_contain_text("Local decision: first review within 25")
    expect(reviewer.locator("#versions tbody tr").first).to_contain_text("po.omar")
    reviewer.context.close()

    new = _ppm(rt, "CH-3002", "2026-12-18")
    assert (new["version"], _first_review(new)["due"]) == (2, "2027-01-27")
    kept = services.show_case(rt, "CH-3001")
    assert (kept["id"], kept["version"], _first_review(kept)["due"]) == (old["id"], 1, "2027-01-20")  # it stays


def test_a_head_of_service_pages_through_the_cases_at_risk_and_the_cases_behind_a_badge(page: Page, rt, now,
                                                                                        monkeypatch):  # fmt: skip
    """Issue 18: lists that grow with the authority are paged (25 cases at risk, and here 10 steps behind a
    badge a page), every case once, in order, with GOV.UK pagination."""
    from datetime import timedelta

    from engine.services import oversight
    from tests.conftest import load

    monkeypatch.setattr(oversight, "WAITING_PAGE", 10)
    load(rt, "review_cycle.bpmn")
    refs = [f"CH-{4000 + n}" for n in range(31)]
    for n, ref in enumerate(refs):
        services.start_case(rt, "test_review_cycle", ref, {"looked_after_date": "2026-12-18"}, "sw.alice",
                            team="north" if n % 2 else "south")  # fmt: skip
    now.set(now.now + timedelta(days=60))  # every care plan now overdue
    sign_in(page, "hos.hana")
    page.get_by_role("link", name="Cases at risk").click()
    rows = page.locator("#cases tbody tr")
    expect(rows).to_have_count(25)
    first = rows.evaluate_all("rows => rows.map(r => r.dataset.ref)")
    pager = page.get_by_role("navigation", name="Pagination")
    pager.get_by_role("link", name=re.compile("Next")).click()
    expect(rows).to_have_count(6)
    second = rows.evaluate_all("rows => rows.map(r => r.dataset.ref)")
    assert sorted(first + second) == refs  # every case once, across the two pages
    pager.get_by_role("link", name=re.compile("Previous")).click()
    expect(rows).to_have_count(25)

    page.get_by_role("link", name="Where cases wait").click()
    page.get_by_label("Pathway", exact=True).select_option("test_review_cycle")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#diagram[data-ready=true]")).to_be_attached()
    badge = page.locator("#badge-Task_CarePlan")
    expect(badge).to_contain_text("31")
    badge.click()
    expect(page.locator("#waiting-total")).to_contain_text("31 steps wait here: page 1 of 4")
    listed = page.locator("#waiting tbody tr")
    seen = []
    for expected in (10, 10, 10, 1):
        expect(listed).to_have_count(expected)
        seen += listed.locator("td:first-child a").all_inner_texts()
        if expected == 10:
            page.get_by_role("navigation", name="Pagination").get_by_role("link", name=re.compile("Next")).click()
    assert sorted(seen) == refs
    shoot(page, "waiting-at-paged")
