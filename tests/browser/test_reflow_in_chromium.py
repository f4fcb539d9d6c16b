"""In Chromium at 320 CSS pixels wide (WCAG 2.2 1.4.10 Reflow): no page of the service scrolls sideways.

Each role's menu gives its main pages; the inbox's three lists, a case, a step and the sign-in page
are added. A wide table or diagram may scroll inside its own box; the page itself may not."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from engine import services
from engine.services.accounts import DEMO_PASSWORD
from tests.browser.conftest import shoot
from tests.browser.test_manager_and_modeller_in_chromium import _ppm

NARROW = {"width": 320, "height": 640}
_OVERFLOW = """() => {
  const root = document.documentElement;
  const wide = [...document.body.querySelectorAll("*")]
    .filter(el => el.getBoundingClientRect().right > root.clientWidth + 1 && el.offsetParent !== null)
    .filter(el => !el.closest("table, .pp-scroll, .pp-diagram"))
    .slice(0, 3).map(el => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + "." + [...el.classList].join("."));
  return {over: root.scrollWidth - root.clientWidth, wide};
}"""


def _overflow(page: Page, what: str) -> list[str]:
    """What makes this page scroll sideways ([] when it fits)."""
    page.wait_for_load_state("load")
    found = page.evaluate(_OVERFLOW)
    return [f"{what} ({page.url}) scrolls sideways by {found['over']}px: {found['wide']}"] if found["over"] > 0 else []


def _sign_in(page: Page, username: str, problems: list[str]) -> None:
    page.context.clear_cookies()
    page.goto("/login")
    problems += _overflow(page, "the sign-in page")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("h1")).to_be_visible()


def _menu(page: Page) -> list[str]:
    return page.eval_on_selector_all("a.govuk-service-navigation__link", "links => links.map(a => a.href)")


def test_every_main_page_fits_a_phone_held_upright_without_sideways_scrolling(browser, server, rt, now):  # type: ignore[no-untyped-def]
    _ppm(rt, "CH-3001", "2026-11-01")
    case = services.show_case(rt, "CH-3001")
    task = case["open_tasks"][0]
    context = browser.new_context(base_url=server, viewport=NARROW)
    page = context.new_page()
    try:
        seen: set[str] = set()
        problems: list[str] = []
        for username in ("sw.alice", "tm.carol", "hos.hana", "po.erin", "admin.ash"):
            _sign_in(page, username, problems)
            pages = _menu(page) + [f"{server}/?tab={tab}" for tab in ("mine", "team", "unassigned")]
            pages += page.eval_on_selector_all(
                ".govuk-footer a.govuk-footer__link",
                "as => as.map(a => a.href).filter(h => h.startsWith(location.origin))",
            )
            if username in ("sw.alice", "tm.carol"):
                pages += [f"{server}/cases/{case['id']}", f"{server}/tasks/{task['id']}"]
            for url in pages:
                page.goto(url)
                problems += _overflow(page, f"{username}'s page")
                seen.add(url.split("?")[0].removeprefix(server))
            if username == "tm.carol":
                shoot(page, "narrow-case-page")
        assert problems == [], "\n".join(problems)
        assert {"/", "/manage", "/manage/where", "/manage/tracker", "/start", "/modeller", "/calendar",
                "/admin/events", "/admin/subscriptions", "/admin/audit", "/admin/sso",
                "/accessibility", "/privacy", "/cookies"} <= seen  # fmt: skip
    finally:
        context.close()
