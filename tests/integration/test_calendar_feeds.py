"""Calendar feeds (issue 19): a person's open steps, clocks and reminders at a secret, revocable
address that parses as RFC 5545 (icalendar), changes with the work, and shows child references only."""

from __future__ import annotations

import re
from datetime import date, timedelta

from icalendar import Calendar
from sqlalchemy import update

from engine import services
from engine.persistence.models import User
from tests.webclient import Staff, care_plan_step

ADDRESS = re.compile(r'<code id="calendar-address">http://localhost(/calendar/[^<]+\.ics)</code>')


def _make(staff: Staff, team: str | None = None) -> str:
    page = staff.post("/calendar", {"team": team} if team else {}, status=200).text
    assert "Copy it now: it is not shown again" in page
    found = ADDRESS.search(page)
    assert found, page[:3000]
    return found.group(1)


def _read(app, path: str) -> Calendar:  # type: ignore[no-untyped-def]
    response = app.test_client().get(path)  # a calendar application: no sign-in, no cookie
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/calendar")
    return Calendar.from_ical(response.data)


def _events(calendar: Calendar) -> dict[str, dict]:
    return {str(e["UID"]): {"summary": str(e["SUMMARY"]), "start": e.decoded("DTSTART"),
                            "alarms": [a.decoded("TRIGGER") for a in e.walk("VALARM")]}
            for e in calendar.walk("VEVENT")}  # fmt: skip


def test_a_persons_feed_shows_every_open_step_they_hold_and_moves_with_the_work(app, rt, now):
    first, second = care_plan_step(rt, "CH-7001"), care_plan_step(rt, "CH-7002")
    for step in (first, second):
        services.claim_task(rt, step["id"], "sw.alice")
    alice = Staff(app, "sw.alice")
    path = _make(alice)
    assert "Copy it now" not in alice.get("/calendar").text  # the address was shown once, when made
    calendar = _read(app, path)
    assert str(calendar["X-WR-CALNAME"]) == "Permanence Pathways: Alice Social Worker"
    events = _events(calendar)
    held = services.list_tasks(rt, user="sw.alice")
    steps = {uid: e for uid, e in events.items() if uid.startswith("step-")}
    assert sorted(steps) == sorted(f"step-{t['id']}@pathways.local" for t in held) and len(held) == 2
    mine = steps[f"step-{first['id']}@pathways.local"]
    assert mine["summary"] == f"Due: {first['title']} – CH-7001"
    assert mine["start"] == date.fromisoformat(first["due"]) and mine["alarms"] == [timedelta(days=-1)]
    clocks = [e for uid, e in events.items() if uid.startswith("deadline-")]
    assert clocks and all(e["summary"].startswith("Deadline: ") for e in clocks)
    assert {e["summary"].rsplit("– ", 1)[1] for e in events.values()} <= {"CH-7001", "CH-7002"}
    assert _events(_read(app, path)).keys() == events.keys()  # stable UIDs: a refresh moves, never adds
    services.complete_task(rt, second["id"], {"care_plan_updated_date": "2026-12-18"}, "sw.alice")
    after = _events(_read(app, path))
    assert f"step-{second['id']}@pathways.local" not in after and f"step-{first['id']}@pathways.local" in after


def test_a_new_address_stops_the_old_one_and_stopping_or_leaving_ends_it(app, rt, now):
    care_plan_step(rt, "CH-7003")
    alice = Staff(app, "sw.alice")
    old = _make(alice)
    new = _make(alice)
    assert app.test_client().get(old).status_code == 404
    assert "has stopped" in app.test_client().get(old).text
    _read(app, new)
    page = alice.get("/calendar").text
    feed_id = re.search(r'action="/calendar/(\d+)/stop"', page).group(1)  # type: ignore[union-attr]
    asked = alice.post(f"/calendar/{feed_id}/stop", status=200).text  # a page of its own asks first
    assert "Stop this calendar address?" in asked and "Yes, stop the address" in asked
    _read(app, new)  # nothing stopped yet
    alice.post(f"/calendar/{feed_id}/stop", {"confirmed": "yes"})
    assert app.test_client().get(new).status_code == 404
    third = _make(alice)
    with rt.uow() as uow:  # Alice leaves
        uow.session.execute(update(User).where(User.username == "sw.alice").values(active=False))
        uow.commit()
    assert app.test_client().get(third).status_code == 404
    assert app.test_client().get("/calendar/cal_guessed.ics").status_code == 404


def test_a_team_feed_for_managers_shows_the_teams_steps_only(app, rt, now):
    north = care_plan_step(rt, "CH-7004")
    services.start_case(rt, "ppm_to_adm", "CH-7005", {"date_of_birth": "2020-03-01", "looked_after_date": "2026-12-18",
                        "in_care_proceedings": False}, "sw.sam", team="south")  # fmt: skip
    carol = Staff(app, "tm.carol")
    assert 'name="team"' in carol.get("/calendar").text
    path = _make(carol, team="north")
    calendar = _read(app, path)
    assert str(calendar["X-WR-CALNAME"]) == "Permanence Pathways: team north"
    summaries = [e["summary"] for e in _events(calendar).values()]
    assert any("CH-7004" in s for s in summaries) and not any("CH-7005" in s for s in summaries)
    assert f"step-{north['id']}@pathways.local" in _events(calendar)
    Staff(app, "sw.alice").post("/calendar", {"team": "north"}, status=403)
    carol.post("/calendar", {"team": "south"}, status=403)
