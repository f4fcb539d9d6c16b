"""Signing in through the real OpenID provider in Chromium (issue 19): the council-account button, the
provider's own login page, back to the inbox with the roles the person's groups give, and signing
out of both."""

from __future__ import annotations

import socket
import threading
from datetime import UTC, datetime

from playwright.sync_api import expect
from werkzeug.serving import make_server

from engine.services import accounts, sso
from tests.browser import axe
from tests.browser.conftest import shoot
from tests.oidc import CLIENT_ID, CLIENT_SECRET, LocalProvider
from tests.scenario import publish_workflows
from web import create_app

DANA = {"oid": "oid-dana", "name": "Dana Example", "email": "dana@council.gov.uk", "groups": ["g-tm-north"]}
PEOPLE = {"dana": {"sub": "sub-dana", "claims": DANA}}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_team_manager_signs_in_with_the_council_account_and_out_again(rt, now, browser, monkeypatch):
    now.set(datetime.now(UTC))
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    provider = LocalProvider(PEOPLE, app_url=base)
    try:
        for name, value in {"OIDC_DISCOVERY_URL": provider.discovery_url, "OIDC_CLIENT_ID": CLIENT_ID,
                            "OIDC_CLIENT_SECRET": CLIENT_SECRET, "OIDC_CREATE_ACCOUNTS": "1",
                            "OIDC_REDIRECT_URI": f"{base}/sso/callback", "OIDC_LABEL": "Sign in with Microsoft"
                            }.items():  # fmt: skip
            monkeypatch.setenv(name, value)
        publish_workflows(rt)
        for team in ("north", "south"):
            accounts.add_team(rt, team, team.title(), "admin")
        sso.map_group(rt, "g-tm-north", "team_manager", "north", "admin")
        app = create_app({"SECRET_KEY": "test-secret", "TESTING": True}, runtime=rt)
        httpd = make_server("127.0.0.1", port, app, threaded=True)
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        axe.watch(base)  # the app's pages are checked; the provider's are its own
        context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 900})
        page = context.new_page()
        try:
            page.goto("/")
            page.get_by_role("button", name="Sign in with Microsoft").click()
            page.locator("input[name=login]").fill("dana")
            page.locator("input[name=password]").fill("any password")
            page.get_by_role("button", name="Sign-in").click()
            expect(page.get_by_role("link", name="Cases at risk")).to_be_visible()  # the group's role: team manager
            shoot(page, "signed-in-with-sso")
            assert page.url.startswith(base)
            page.get_by_role("button", name="Sign out").click()
            page.get_by_role("button", name="Yes, sign me out").click()  # the provider ends its session too
            expect(page.get_by_text("You have signed out.")).to_be_visible()
            page.get_by_role("button", name="Sign in with Microsoft").click()
            expect(page.locator("input[name=login]")).to_be_visible()  # asked again: the provider's session ended
            assert axe.checked(page) >= 3  # the sign-in page, the inbox and the signed-out page were judged
        finally:
            context.close()
            httpd.shutdown()
            thread.join(5)
    finally:
        provider.stop()
