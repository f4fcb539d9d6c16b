"""Issue 21, done when: in Chromium a process owner changes the 10-week PPM limit to 12 weeks and the SGO visit's
role using only the properties panel and a template, sees the new dates, fixes the failing scenarios it causes
(and says why the one it cannot fix fails), submits, and a second owner approves from the change in words,
the dates before and after and the scenario results."""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect

from engine import services
from tests.browser.conftest import shoot
from tests.browser.test_inbox_in_chromium import sign_in

TEN_WEEKS, TWELVE_WEEKS = "add_weeks(looked_after_date, 10)", "add_weeks(looked_after_date, 12)"


def _open_modeller(page: Page, pathway: str) -> None:
    page.get_by_role("link", name="Pathway diagrams").click()
    page.get_by_role("link", name=pathway).click()
    page.get_by_role("button", name="Edit in the modeller").click()
    expect(page.locator("#modeller[data-ready=true]")).to_be_attached()
    expect(page.locator("#modeller[data-checked=true]")).to_be_attached()


def _select(page: Page, name: str, element_id: str) -> Locator:
    """Find the element by its name (a diagram of 80 steps fitted to the screen is too small to click) and
    select it; the properties panel beside it shows it."""
    page.get_by_role("button", name="Find a step by its name").click()
    search = page.locator("#modeller .djs-search-input input")
    search.press_sequentially(name)  # it searches as the owner types (on each key)
    expect(page.locator("#modeller .djs-search-result").first).to_be_visible()
    search.press("Enter")
    panel = page.locator("#properties")
    expect(panel.locator(".bio-properties-panel-header-label")).to_have_text(re.compile(re.escape(name[:20])))
    assert page.evaluate("() => window.ppModeler.get('selection').get().map(e => e.id)") == [element_id]
    return panel


def _group(panel: Locator, group_id: str) -> Locator:
    group = panel.locator(f'[data-group-id="group-{group_id}"]')
    if group.locator(".bio-properties-panel-group-entries.open, .bio-properties-panel-list.open").count() == 0:
        group.locator(".bio-properties-panel-group-header").click()
    return group


def _extension_property(page: Page, panel: Locator, name: str) -> Locator:
    group = _group(panel, "CamundaPlatform__ExtensionProperties")
    exactly = re.compile(f"^{re.escape(name)}$")
    title = page.locator(".bio-properties-panel-collapsible-entry-header-title", has_text=exactly)
    item = group.locator(".bio-properties-panel-collapsible-entry").filter(has=title)
    item.locator(".bio-properties-panel-collapsible-entry-header").click()
    return item.get_by_label("Value")


def second_owner_opens_draft(browser, server: str, key: str, timeout: int = 120_000) -> Page:  # type: ignore[no-untyped-def]
    """po.omar, in a browser of his own, opens the submitted draft of ``key`` and waits for its checks."""
    reviewer = browser.new_context(base_url=server, viewport={"width": 1280, "height": 900}).new_page()
    reviewer.set_default_timeout(timeout)
    sign_in(reviewer, "po.omar")
    reviewer.get_by_role("link", name="Pathway diagrams").click()
    reviewer.locator("#drafts").get_by_role("link", name=re.compile(key)).click()
    expect(reviewer.locator("#modeller[data-ready=true]")).to_be_attached()
    expect(reviewer.locator("#modeller[data-checked=true]")).to_be_attached()  # the page stops moving first
    return reviewer


def _rechecked(page: Page) -> None:
    """The modeller checks again once the owner pauses: wait for that check to finish."""
    expect(page.locator("#modeller-status")).to_contain_text("dates worked out")


def test_the_ppm_limit_moves_to_12_weeks_in_the_panel_and_a_second_owner_approves_from_the_evidence(
        page: Page, browser, server, rt, now):  # fmt: skip
    sign_in(page, "po.erin")
    _open_modeller(page, "Permanence planning meeting to agency decision")
    ppm = page.locator("#dates tbody tr[data-element=Start_LookedAfter]").filter(has_text="Permanence planning meeting")
    expect(ppm).to_contain_text("26 February 2027")  # 10 weeks after a child looked after on 18 December 2026

    panel = _select(page, "Child looked after", "Start_LookedAfter")
    due = _extension_property(page, panel, "deadline.ppm.due")
    expect(due).to_have_value(re.compile(re.escape(TEN_WEEKS)))
    due.fill(due.input_value().replace(TEN_WEEKS, TWELVE_WEEKS))
    source = _extension_property(page, panel, "deadline.ppm.source")
    source.fill(source.input_value().replace("no more than 10 weeks", "no more than 12 weeks"))
    panel = _select(page, "Work out the case clocks", "Script_Anchors")
    script = _group(panel, "CamundaPlatform__Script").get_by_label("Script", exact=True)
    script.fill(script.input_value().replace(TEN_WEEKS, TWELVE_WEEKS))
    expect(page.locator("#save-status")).to_have_text("Unsaved changes.")
    expect(ppm).to_contain_text("12 March 2027")  # worked out again by itself: no button pressed
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator("#save-status")).to_contain_text("Saved (revision 2)")

    page.get_by_role("button", name="Run the scenario tests").click()
    expect(page.locator("#scenario-summary")).to_contain_text(re.compile(r"\d+ of \d+ scenario tests failed"))
    page.get_by_role("button", name=re.compile(r"Expect all \d+ new values")).click()
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text("expectations updated")
    expect(page.locator("#scenario-summary")).to_contain_text("1 of")  # an escalation the new date moves past
    failing = page.locator("#scenario-results tr[data-passed=no]")
    expect(failing).to_have_count(1)
    expect(failing).to_contain_text("Overdue ppm escalates to the services manager")
    page.get_by_role("link", name="Back to the draft").last.click()

    page.get_by_label("Why is the pathway changing?").fill("Hertfordshire now allows 12 weeks before the first PPM")
    page.get_by_role("button", name="Submit for approval").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("scenario test(s) fail against this draft")
    expect(page.get_by_label("Why is the pathway changing?")).to_have_value(re.compile("12 weeks before the first PPM"))
    page.get_by_label(re.compile("If scenario tests fail")).fill(
        "The escalation scenario fires its timers on the old week-10 date; it will be rewritten for week 12"
    )
    page.get_by_role("button", name="Submit for approval").click()
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text("A second process owner must approve")

    reviewer = second_owner_opens_draft(browser, server, "ppm_to_adm")
    changed = reviewer.locator("#diff-changed")
    expect(changed).to_contain_text("deadline 'Permanence planning meeting held' due")
    expect(changed).to_contain_text(TWELVE_WEEKS)
    moved = reviewer.locator("#dates-before-after tbody tr").filter(has_text="Permanence planning meeting held")
    expect(moved.first).to_contain_text("26 February 2027")
    expect(moved.first).to_contain_text("12 March 2027")
    expect(reviewer.locator("#failing-scenarios")).to_contain_text("Overdue ppm escalates to the services manager")
    expect(reviewer.locator("#failing-reason")).to_contain_text("it will be rewritten for week 12")
    expect(reviewer.locator("#scenario-changes tbody tr").first).to_be_visible()
    shoot(reviewer, "approval-evidence", "#approval-evidence")
    reviewer.get_by_role("button", name="Approve and publish").click()
    expect(reviewer.locator(".govuk-notification-banner--success")).to_contain_text("published as version 2")
    reviewer.context.close()

    case = services.start_case(rt, "ppm_to_adm", "CH-PANEL", {"date_of_birth": "2016-01-10", "looked_after_date":
                               "2026-12-18", "in_care_proceedings": False}, "sw.alice", team="north")  # fmt: skip
    limit = next(d for d in case["deadlines"] if d["name"] == "Permanence planning meeting held")
    assert (case["version"], limit["due"]) == (2, "2027-03-12")


def test_the_sgo_visit_becomes_a_statutory_step_template_and_its_role_changes_in_plain_words(
        page: Page, browser, server, rt, now):  # fmt: skip
    sign_in(page, "po.erin")
    _open_modeller(page, re.compile("Special guardianship"))
    visit = page.locator("#dates tbody tr[data-element=Task_VisitCarers]").first

    panel = _select(page, "Visit the carers to share information about SGOs", "Task_VisitCarers")
    _group(panel, "ElementTemplates__Template").get_by_role("button", name="Select").click()
    chooser = page.get_by_role("dialog", name="Choose what kind of element this is")
    chooser.get_by_label("Statutory step").check()
    chooser.get_by_role("button", name="Use this template").click()
    step = _group(panel, "ElementTemplates__CustomProperties-step")
    due = _group(panel, "ElementTemplates__CustomProperties-due")
    expect(step.get_by_label("Role")).to_have_value("sgo_assessor")  # what the step said is kept, in words
    expect(due.get_by_label("Due: how many")).to_have_value("2")
    expect(due.get_by_label("Due: unit")).to_have_value("weeks")
    expect(due.get_by_label("Due: counted from")).to_have_value("expression_of_interest_date")
    shoot(page, "modeller-properties-panel", ".pp-modeller-wrap")

    step.get_by_label("Role").select_option("social_worker")
    due.get_by_label("Due: how many").fill("3")
    _rechecked(page)
    expect(visit).to_contain_text("3 weeks after the expression of interest date")  # the rule in words
    expect(page.locator("#problems")).to_contain_text("No problems")
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator("#save-status")).to_contain_text("Saved (revision 2)")
    page.get_by_label("Why is the pathway changing?").fill("The child's social worker visits the carers, in 3 weeks")
    page.get_by_label(re.compile("If scenario tests fail")).fill("The scenarios have the SGO assessor visit")
    page.get_by_role("button", name="Submit for approval").click()
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text("A second process owner must approve")

    reviewer = second_owner_opens_draft(browser, server, "sgo_assessment")
    changed = reviewer.locator("#diff-changed")
    expect(changed).to_contain_text("role: 'sgo_assessor' → 'social_worker'")
    expect(changed).to_contain_text("due date: '2 weeks after the expression of interest date' → '3 weeks after")
    expect(reviewer.locator("#failing-reason")).to_contain_text("The scenarios have the SGO assessor visit")
    reviewer.get_by_role("button", name="Approve and publish").click()
    expect(reviewer.locator(".govuk-notification-banner--success")).to_contain_text("published as version 2")
    reviewer.context.close()
