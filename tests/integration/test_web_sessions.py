"""Server-side sessions (issue 15, defect 7; OWASP ASVS L2 V3.3, V2.2)."""

from __future__ import annotations

import dataclasses

import pytest

from engine.services import accounts, staff_sessions
from tests.webclient import Staff


@pytest.fixture(autouse=True)
def real_limits(app, rt, monkeypatch):
    """The configured defaults: 8 hours at most, 60 minutes idle."""
    monkeypatch.setattr(rt, "settings", dataclasses.replace(rt.settings, session_hours=8, session_idle_minutes=60))


def _cookie(client) -> str:
    return client.get_cookie("pathways_session").value


def _replay(app, cookie: str):
    """A browser (or an attacker) holding the old cookie."""
    other = app.test_client()
    other.set_cookie("pathways_session", cookie)
    return other


def test_after_sign_out_the_old_cookie_opens_nothing_and_posts_nothing(app):
    alice = Staff(app, "sw.alice")
    stolen = _cookie(alice.client)
    assert alice.client.get("/").status_code == 200
    alice.client.post("/logout", data={"csrf_token": alice.csrf})
    thief = _replay(app, stolen)
    page = thief.get("/")
    assert page.status_code == 302 and page.headers["Location"].startswith("/login")
    posted = thief.post("/team/reassign", data={"csrf_token": alice.csrf})
    assert posted.status_code in (302, 400) and "/login" in posted.headers.get("Location", "/login")


def test_a_password_change_ends_every_session_of_the_account(app, rt):
    alice = Staff(app, "sw.alice")
    assert alice.client.get("/").status_code == 200
    assert accounts.set_password(rt, "sw.alice", "a-new-long-password", "admin.ash") == 1
    assert alice.client.get("/").status_code == 302
    assert services_audit(rt, "user.password_changed") == 1


def test_an_administrator_ends_a_persons_sessions(app, rt, cli):
    alice = Staff(app, "sw.alice")
    assert "1 session" in cli("users", "signout", "sw.alice").output
    assert alice.client.get("/").status_code == 302
    listed = cli("users", "sessions", "sw.alice").output
    assert "revoked by an administrator" in listed


def test_a_session_ends_after_its_absolute_lifetime_however_active(app, now):
    alice = Staff(app, "sw.alice")
    for _ in range(16):  # a request every 30 minutes for 8 hours: never idle
        now.advance(minutes=30)
        response = alice.client.get("/")
    assert response.status_code == 302, "8 hours after sign-in the session has ended"


def test_a_session_ends_when_idle(app, now, rt):
    alice = Staff(app, "sw.alice")
    now.advance(minutes=rt.settings.session_idle_minutes - 1)
    assert alice.client.get("/").status_code == 200
    now.advance(minutes=rt.settings.session_idle_minutes)
    assert alice.client.get("/").status_code == 302
    [row] = staff_sessions.list_sessions(rt, "sw.alice")
    assert row["reason"] == "idle for 60 minutes"


def _left(client) -> dict:
    return client.get("/session", headers={"Accept": "application/json"}).get_json()


def test_asking_how_long_is_left_does_not_keep_the_session_open(app, now):
    alice = Staff(app, "sw.alice")
    page = alice.client.get("/").text
    assert 'data-seconds-left="3600"' in page and 'data-warn-seconds="120"' in page  # the warning's timer
    now.advance(minutes=58)
    assert _left(alice.client) == {"signed_in": True, "seconds_left": 120, "final": False}
    now.advance(minutes=1)
    assert _left(alice.client)["seconds_left"] == 60  # asking twice moved nothing
    now.advance(minutes=1)
    assert _left(alice.client) == {"signed_in": False, "seconds_left": 0, "final": True}
    assert alice.client.get("/").status_code == 302


def test_stay_signed_in_starts_the_idle_hour_again_but_never_passes_the_absolute_limit(app, now):
    alice = Staff(app, "sw.alice")
    now.advance(minutes=59)
    refused = alice.client.post("/session/extend")  # without the form token: refused, nothing moved
    assert refused.status_code == 400
    stayed = alice.client.post("/session/extend", headers={"X-CSRF-Token": alice.csrf}).get_json()
    assert stayed == {"signed_in": True, "seconds_left": 3600, "final": False}
    now.advance(minutes=58)
    assert _left(alice.client)["seconds_left"] == 120  # an hour from "stay signed in", not from the last page
    for minutes in (1, 59, 59, 59, 59, 59, 59):  # staying again and again until the 8-hour limit is nearer
        now.advance(minutes=minutes)
        stayed = alice.client.post("/session/extend", headers={"X-CSRF-Token": alice.csrf}).get_json()
    assert stayed == {"signed_in": True, "seconds_left": 8 * 60, "final": True}  # 7h52 in: 8 minutes, not 60
    now.advance(minutes=8)
    assert _left(alice.client)["signed_in"] is False


def test_an_autosave_keeps_the_answers_but_is_not_activity_and_the_end_signs_out(app, rt, now):
    from tests.webclient import care_plan_step

    alice = Staff(app, "sw.alice")
    step = care_plan_step(rt, "CH-5001")
    now.advance(minutes=58)
    answers = {"csrf_token": alice.csrf, "action": "save", "care_plan_updated_date-day": "15"}
    saved = alice.client.post(f"/tasks/{step['id']}", headers={"X-Timeout-Autosave": "1"}, data=answers)
    assert saved.status_code == 302
    assert _left(alice.client)["seconds_left"] == 120  # the autosave did not count as activity
    assert alice.client.post("/session/end", headers={"X-CSRF-Token": alice.csrf}).get_json() == {"signed_in": False}
    assert alice.client.get("/").status_code == 302
    assert staff_sessions.list_sessions(rt, "sw.alice")[0]["reason"] == "signed out"
    alice = Staff(app, "sw.alice")
    assert 'value="15"' in alice.get(f"/tasks/{step['id']}").text  # the draft is there after signing in again


def test_sign_in_checks_a_password_for_unknown_users_too(app, rt, monkeypatch):
    """The same work for a real and an unknown username: timing does not tell which exist."""
    checked: list[str] = []
    real = accounts.check_password
    monkeypatch.setattr(accounts, "check_password", lambda p, h: checked.append(p) or real(p, h))
    for username in ("sw.alice", "nobody.here"):
        try:
            accounts.authenticate(rt, username, "wrong-password-1")
        except accounts.LoginRefused:
            pass
    assert checked == ["wrong-password-1", "wrong-password-1"]


def services_audit(rt, action: str) -> int:
    from sqlalchemy import func, select

    from engine.persistence.models import AuditEvent

    with rt.uow() as uow:
        return uow.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == action))
