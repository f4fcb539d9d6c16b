"""Browser tests: Playwright driving Debian's Chromium against the app served on loopback.

The server runs in a thread of the test process, so it shares the test database and the injected
clock. Screenshots go to test-artifacts/ (kept by CI as the run's artefacts).
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.browser import axe

axe.install()  # every action in a browser test first checks the page as it stands (WCAG 2.2 AA)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]  # fmt: skip


@pytest.fixture
def server(app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    origin = f"http://127.0.0.1:{httpd.server_port}"
    axe.watch(origin)
    yield origin
    httpd.shutdown()
    thread.join(5)


@pytest.fixture(scope="session")
def browser() -> Iterator:  # type: ignore[type-arg]
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: `apt-get install chromium` (.ci/run and `make test` install it)")
    from playwright.sync_api import expect, sync_playwright

    # A loaded two-core machine: waiting is never what decides a test (the brief); a wrong page still fails
    # at once on what it shows, and only a page that never comes waits this long.
    expect.set_options(timeout=60_000)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser, server):  # type: ignore[no-untyped-def]
    context = browser.new_context(base_url=server, viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(60_000)
    yield tab
    try:
        for opened in browser.contexts:  # the state each tab ended on is judged too, a second person's as well
            for other in opened.pages:
                axe.check(other)
    finally:
        context.close()


def shoot(page, name: str, part: str | None = None) -> Path:  # type: ignore[no-untyped-def]
    """The whole page, or only the element ``part`` (a CSS selector) where the page is long."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    if part:
        page.locator(part).screenshot(path=str(path))
    else:
        page.screenshot(path=str(path), full_page=True)
    return path


def pytest_collection_modifyitems(items) -> None:  # type: ignore[no-untyped-def]
    """Chromium drops a connection when a page moves on while a stylesheet or script is still coming: the
    test server (werkzeug's, in a thread) then leaves that static file for the garbage collector, and the
    warning lands in whichever test runs at that moment. It is the test server's, not the app's."""
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.filterwarnings("ignore:unclosed file.*/static/:ResourceWarning"))
            item.add_marker(
                pytest.mark.filterwarnings(
                    "ignore:Exception ignored in.*/static/:pytest.PytestUnraisableExceptionWarning"
                )
            )
