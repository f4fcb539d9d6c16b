"""axe-core (from npm, with the lock file) on every page state a browser test visits (issue 20).

Every Playwright action a test takes (a navigation, a click, a fill, a choice...) first checks the page
as it stands, and each test's pages are checked once more when it ends, so every state a person saw
between two actions is judged against WCAG 2.2 AA (axe's tags wcag2a, wcag2aa, wcag21a, wcag21aa,
wcag22aa). A page is checked again only when its document changed since (a MutationObserver counts
changes), so a run of fills on one form costs one check. Only the app's own pages are checked (the
origins the test servers register), never the OpenID provider's. A violation fails the test at once,
naming the rule, its impact, the page and the elements.
"""

from __future__ import annotations

import functools
import weakref
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator, Page

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
_ORIGINS: set[str] = set()
_CHECKED: weakref.WeakKeyDictionary[Page, int] = weakref.WeakKeyDictionary()  # page -> states checked
_PAUSED: weakref.WeakSet[Page] = weakref.WeakSet()

_STATE = """() => {
  if (!window.__ppAxe) {
    window.__ppAxe = {changes: 1, checkedAt: 0};
    new MutationObserver(() => { window.__ppAxe.changes += 1; })
      .observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
  }
  return {changed: window.__ppAxe.changes !== window.__ppAxe.checkedAt, loaded: typeof window.axe !== "undefined"};
}"""
_RUN = """async (tags) => {
  const result = await window.axe.run(document, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]});
  window.__ppAxe.checkedAt = window.__ppAxe.changes;
  return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ")
      + (n.failureSummary ? " (" + n.failureSummary.replace(/\\s+/g, " ") + ")" : ""))}));
}"""


class AccessibilityViolation(AssertionError):
    pass


def watch(origin: str) -> None:
    """Check the pages served from this origin (the app under test)."""
    _ORIGINS.add(origin.rstrip("/"))


def checked(page: Page) -> int:
    """How many page states of this tab axe has judged (a test can see the checks happen)."""
    return _CHECKED.get(page, 0)


@functools.cache
def _source() -> str:
    if not AXE.exists():
        raise AssertionError("axe-core is missing from node_modules: run `npm ci` (make test does)")
    return AXE.read_text(encoding="utf-8")


def _ours(page: Page) -> bool:
    try:
        url = page.url
    except PlaywrightError:
        return False
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" in _ORIGINS


def check(page: Page) -> None:
    """Judge the page as it stands now, unless it was judged since its last change; raise on a violation."""
    if page in _PAUSED or page.is_closed() or not _ours(page):
        return
    _PAUSED.add(page)  # the check's own calls are not actions to check before
    try:
        failed: PlaywrightError | None = None
        for _ in range(3):  # a page that moves on while it is judged is judged where it lands
            try:
                state = page.evaluate(_STATE)
                if not state["changed"]:
                    return
                if not state["loaded"]:
                    page.evaluate(_source())
                violations = page.evaluate(_RUN, TAGS)
                break
            except PlaywrightError as exc:  # the document went away under axe (a navigation had begun)
                failed = exc
                try:
                    page.wait_for_load_state()
                except PlaywrightError:
                    pass
                if page.is_closed() or not _ours(page):
                    return
        else:
            raise AssertionError(f"axe-core could not judge {page.url}: {failed}")
        _CHECKED[page] = _CHECKED.get(page, 0) + 1
        if violations:
            raise AccessibilityViolation(_describe(page.url, violations))
    finally:
        _PAUSED.discard(page)


def _describe(url: str, violations: list[dict[str, Any]]) -> str:
    lines = [f"axe-core found {len(violations)} accessibility rule(s) broken on {url}:"]
    for found in violations:
        lines.append(f"- {found['id']} ({found['impact']}): {found['help']}")
        lines.extend(f"    {node}" for node in found["nodes"])
    return "\n".join(lines)


_PAGE_ACTIONS = ("goto", "reload", "go_back", "go_forward", "click", "dblclick", "fill", "check", "uncheck",
                 "set_checked", "select_option", "press", "type", "set_input_files", "tap", "close")  # fmt: skip
_LOCATOR_ACTIONS = ("click", "dblclick", "fill", "clear", "check", "uncheck", "set_checked", "select_option",
                    "press", "press_sequentially", "type", "set_input_files", "tap")  # fmt: skip


def _before(action: Any, page_of: Any) -> Any:
    @functools.wraps(action)
    def checked_first(self: Any, *args: Any, **kwargs: Any) -> Any:
        check(page_of(self))
        return action(self, *args, **kwargs)

    checked_first.__pp_axe__ = True  # type: ignore[attr-defined]
    return checked_first


def install() -> None:
    """Check before every action on a Page or a Locator (once per process)."""
    for cls, names, page_of in ((Page, _PAGE_ACTIONS, lambda p: p), (Locator, _LOCATOR_ACTIONS, lambda loc: loc.page)):
        for name in names:
            action = getattr(cls, name)
            if not getattr(action, "__pp_axe__", False):
                setattr(cls, name, _before(action, page_of))
