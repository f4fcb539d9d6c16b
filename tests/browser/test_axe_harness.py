"""The accessibility check every browser test runs (tests/browser/axe.py) finds what it should, when it should."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from tests.browser import axe

PAGES = {
    "/clean": '<main><h1>Clean</h1><p>Nothing wrong.</p><a href="/broken">Next</a>'
    '<label for="n">Name</label><input id="n"></main>',
    "/broken": '<main><h1>Broken</h1><img src="/x.png"><a href="/clean">Back</a></main>',
    "/later": '<main><h1>Later</h1><button id="b" type="button">Add</button></main>'
    "<script>document.getElementById('b').onclick=function(){"
    "var i=document.createElement('input');document.querySelector('main').appendChild(i);};</script>",
}


@Request.application
def _site(request: Request) -> Response:
    body = PAGES.get(request.path, "<main><h1>Not found</h1></main>")
    return Response(f'<!DOCTYPE html><html lang="en"><head><title>t</title></head><body>{body}</body></html>',
                    mimetype="text/html")  # fmt: skip


@pytest.fixture
def site() -> Iterator[str]:
    httpd = make_server("127.0.0.1", 0, _site, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(5)


@pytest.fixture
def watched(browser, site):  # type: ignore[no-untyped-def]
    """A tab of its own on the test site, whose pages the harness judges."""
    axe.watch(site)
    context = browser.new_context(base_url=site)
    yield context.new_page()
    context.close()


def test_a_violation_fails_the_next_action_and_names_the_rule(watched):  # type: ignore[no-untyped-def]
    page = watched
    page.goto("/clean")
    page.get_by_label("Name").fill("x")  # the clean page is judged before the fill: nothing found
    page.get_by_label("Name").fill("y")  # unchanged since: not judged again
    assert axe.checked(page) == 1
    page.get_by_role("link", name="Next").click()
    with pytest.raises(axe.AccessibilityViolation, match=r"image-alt \(critical\).*\n.*img"):
        page.get_by_role("link", name="Back").click()  # the broken page is judged before leaving it


def test_a_state_made_by_the_page_s_script_is_judged_too(watched):  # type: ignore[no-untyped-def]
    page = watched
    page.goto("/later")
    page.get_by_role("button", name="Add").click()  # judged before: clean
    with pytest.raises(axe.AccessibilityViolation, match="label"):
        axe.check(page)  # after: an input with no label


def test_pages_of_other_origins_are_not_judged(browser, site):  # type: ignore[no-untyped-def]
    context = browser.new_context()
    try:
        page = context.new_page()
        other = site.replace("127.0.0.1", "localhost")  # the same server under a name nobody registered
        page.goto(f"{other}/broken")
        page.goto(f"{other}/clean")
        assert axe.checked(page) == 0
    finally:
        context.close()
