"""The pages GOV.UK requires (issue 20): an accessibility statement, a privacy notice and a cookies page,
open without signing in and linked from every page's footer; the phase banner; the council's own details
from the environment."""

from __future__ import annotations

import re

import pytest

from tests.webclient import Staff

FOOTER_LINKS = {"/accessibility": "Accessibility statement", "/privacy": "Privacy", "/cookies": "Cookies"}


def _footer(html: str) -> str:
    return html[html.index('class="govuk-footer') :]


@pytest.mark.parametrize("path", ["/login", "/accessibility"])
def test_every_page_s_footer_links_the_three_pages_and_they_open_signed_out(app, path):
    client = app.test_client()
    footer = _footer(client.get(path).text)
    for href, text in FOOTER_LINKS.items():
        assert re.search(rf'<a class="govuk-footer__link" href="{href}">\s*{text}\s*</a>', footer), (href, footer)
        page = client.get(href)
        assert page.status_code == 200 and "<h1" in page.text
    assert "govuk-footer__licence-description" not in footer  # not Crown content: no Open Government Licence line


def test_the_signed_in_pages_have_the_footer_and_the_phase_banner(app):
    inbox = Staff(app, "sw.alice").client.get("/").text
    assert all(f'href="{href}"' in _footer(inbox) for href in FOOTER_LINKS)
    assert re.search(r'govuk-phase-banner__content__tag">\s*Beta\s*</strong>', inbox)
    assert "Tell your team manager what you think" in inbox  # no contact address configured


def test_the_council_s_details_come_from_the_environment(app, monkeypatch):
    monkeypatch.setenv("ORGANISATION_NAME", "Exampleshire County Council")
    monkeypatch.setenv("CONTACT_EMAIL", "pathways@exampleshire.gov.uk")
    monkeypatch.setenv("DPO_EMAIL", "dpo@exampleshire.gov.uk")
    monkeypatch.setenv("SERVICE_PHASE", "Alpha")
    client = app.test_client()
    statement = client.get("/accessibility").text
    assert "Exampleshire County Council is committed to making this service accessible" in statement
    assert 'href="mailto:pathways@exampleshire.gov.uk"' in statement
    assert "partially compliant" in statement and "Web Content Accessibility Guidelines version 2.2" in statement
    assert "This statement was prepared on 7 December 2026" in statement
    privacy = client.get("/privacy").text
    assert "run by Exampleshire County Council, the data controller" in privacy
    assert 'href="mailto:dpo@exampleshire.gov.uk"' in privacy
    login = client.get("/login").text
    assert re.search(r'govuk-phase-banner__content__tag">\s*Alpha\s*</strong>', login)
    assert 'href="mailto:pathways@exampleshire.gov.uk?subject=Permanence%20Pathways%20feedback"' in login
    monkeypatch.setenv("SERVICE_PHASE", "Live")
    assert "govuk-phase-banner" not in client.get("/login").text


def test_the_cookies_page_names_the_one_cookie_the_service_sets(app):
    client = app.test_client()
    page = client.get("/cookies").text
    assert "<code>pathways_session</code>" in page
    assert "8 hours after you signed in" in page
    assert "analytics" in page and "does not ask for your consent" in page
    staff = Staff(app, "sw.alice")
    assert {cookie.key for cookie in staff.client._cookies.values()} == {"pathways_session"}  # the only one set


def test_the_typeface_is_set_once_in_the_frameworks_settings(app):
    """Arial, as a council's service should, built into GOV.UK and MoJ Frontend (make css), not forced."""
    from pathlib import Path

    client = app.test_client()
    with client.get("/static/build/pathways.css") as built:
        assert built.status_code == 200, "run `make css` (make test and make run do)"
        css = built.get_data(as_text=True)
    assert "font-family:arial,sans-serif" in css and "GDS Transport" not in css and "@font-face" not in css
    assert ".moj-sub-navigation" in css and ".moj-timeline" in css and ".moj-filter" in css
    ours = (Path(__file__).resolve().parents[2] / "web" / "static" / "app.css").read_text()
    assert "font-family" not in ours.replace("font-family: monospace;", "")  # no second typeface rule of ours
    assert 'href="/static/build/pathways.css"' in client.get("/login").text
