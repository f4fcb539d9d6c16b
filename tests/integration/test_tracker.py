"""The permanence tracker: the refresh job, the figures per period, and what managers record."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select, text

from engine import services
from engine.errors import Conflict, FormInvalid, NotAllowed, NotFound
from engine.persistence.models import AuditEvent, JobRun
from engine.services import accounts, tracker
from tests.scenario import TRACKED_START, Scenario, sgo_made, to_second_review
from tests.webclient import Staff, csv_text, form_fields
from worker import tick


@pytest.fixture
def cohort(app, rt, now):
    """Three children after their second review (two north, one south); the clock ends on 1 July 2027."""
    to_second_review(Scenario(rt, now, "ppm_to_adm", "CH-LTF"), "long_term_fostering")
    to_second_review(Scenario(rt, now, "ppm_to_adm", "CH-KIN"), "connected_person", held="2027-03-25")
    to_second_review(Scenario(rt, now, "ppm_to_adm", "CH-SOUTH", "south"), "reunification")
    Scenario(rt, now, "ppm_to_adm", "CH-EARLY").on("2027-01-04").start(**TRACKED_START)  # no second review yet
    now.set(datetime(2027, 7, 1, 9, tzinfo=UTC))
    return rt


def _refs(found: dict) -> list[str]:
    return [c["ref"] for c in found["children"]]


def test_the_refresh_puts_children_on_after_their_second_review_scoped_to_the_managers_teams(cohort, rt):
    assert services.refresh_tracker(rt) == {"tracker": 3}  # not the child without a second review
    carol, hana = accounts.person(rt, "tm.carol"), accounts.person(rt, "hos.hana")
    north = tracker.tracker(rt, carol)
    assert _refs(north) == ["CH-KIN", "CH-LTF"]  # by second review date
    assert _refs(tracker.tracker(rt, hana)) == ["CH-KIN", "CH-LTF", "CH-SOUTH"]
    assert _refs(tracker.tracker(rt, hana, team="south")) == ["CH-SOUTH"]
    with pytest.raises(NotAllowed):
        tracker.tracker(rt, carol, team="south")
    with pytest.raises(NotAllowed):
        tracker.tracker(rt, accounts.person(rt, "sw.alice"))
    child = next(c for c in north["children"] if c["ref"] == "CH-LTF")
    assert (child["second_review_date"], child["option_label"], child["route_label"]) == (
        date(2027, 4, 8),
        "Long-term fostering",
        "Not achieved yet",
    )
    assert north["cross"] == {"long_term_fostering": {"": 1}, "connected_person": {"": 1}}
    assert north["as_at"] is not None


def test_figures_by_quarter_and_by_month(cohort, rt):
    services.refresh_tracker(rt)
    hana = accounts.person(rt, "hos.hana")
    quarters = tracker.tracker(rt, hana)["figures"]
    assert [q["label"] for q in quarters] == ["Oct to Dec 2026", "Jan to Mar 2027", "Apr to Jun 2027",
                                              "Jul to Sep 2027"]  # fmt: skip
    assert [q["reviewed"] for q in quarters] == [0, 1, 2, 0]
    assert quarters[2]["reviewed_by_option"] == {"long_term_fostering": 1, "reunification": 1}
    months = tracker.tracker(rt, hana, period="month")["figures"]
    assert len(months) == 12 and months[-1]["label"] == "Jul 2027" and months[0]["label"] == "Aug 2026"
    assert [m["reviewed"] for m in months if m["reviewed"]] == [1, 2]  # March, April
    with pytest.raises(Exception, match="by month or by quarter"):
        tracker.tracker(rt, hana, period="week")


def test_an_sgo_made_is_derived_and_the_panel_figures_count_support_plans_and_staying_put(cohort, rt, now):
    services.refresh_tracker(rt)
    sgo_made(rt, now, "CH-KIN", staying_put=True)
    now.set(datetime(2027, 7, 3, 9, tzinfo=UTC))
    assert services.refresh_tracker(rt) == {"tracker": 1}  # only the child whose cases changed
    assert services.refresh_tracker(rt) == {"tracker": 0}
    carol = accounts.person(rt, "tm.carol")
    found = tracker.tracker(rt, carol)
    kin = next(c for c in found["children"] if c["ref"] == "CH-KIN")
    assert (kin["route"], kin["achieved_on"]) == ("kinship", date(2027, 6, 15))
    assert "special guardianship order made" in kin["source"]
    april = found["figures"][2]
    assert (april["achieved"], april["achieved_by_route"]) == (1, {"kinship": 1})
    assert (april["sgo_support_plans"], april["staying_put"], april["approved"]) == (1, 1, 1)
    assert found["cross"]["connected_person"] == {"kinship": 1}
    assert tracker.tracker(rt, accounts.person(rt, "tm.tom"))["figures"][2]["sgo_support_plans"] == 0  # south


def test_a_manager_records_the_tracking_meeting_audited_and_guarded(cohort, rt):
    services.refresh_tracker(rt)
    carol = accounts.person(rt, "tm.carol")
    before = tracker.tracker_child(rt, carol, "CH-LTF")
    answers = {"route": "foster_permanent_ifa", "achieved_on": "20/06/2027", "assessments_done": "yes",
               "with_long_term_carer": "yes", "legal_security": "", "seen_alone_on": "28/06/2027",
               "notes": "matched at fostering panel"}  # fmt: skip
    saved = tracker.record_tracking(rt, carol, "CH-LTF", answers, before["revision"])
    assert saved["route_label"] == "Permanent foster care with an IFA carer"
    assert saved["achieved_on"] == date(2027, 6, 20)
    assert saved["source"] == "recorded by tm.carol on 01/07/2027"
    assert saved["assessments_done"] is True and saved["seen_alone_on"] == date(2027, 6, 28)
    with pytest.raises(Conflict, match="tm.carol updated CH-LTF"):
        tracker.record_tracking(rt, carol, "CH-LTF", answers, before["revision"])  # opened before the save
    with pytest.raises(NotAllowed):
        tracker.record_tracking(rt, accounts.person(rt, "tm.tom"), "CH-LTF", answers, saved["revision"])
    with pytest.raises(NotFound):
        tracker.tracker_child(rt, carol, "CH-EARLY")
    with rt.uow() as uow:
        [event] = uow.session.scalars(select(AuditEvent).where(AuditEvent.action == "tracker.updated")).all()
        assert (event.actor, event.before["route"], event.after["route"]) == ("tm.carol", None, "foster_permanent_ifa")
    services.refresh_tracker(rt, full=True)  # the refresh never overwrites what a manager recorded
    assert tracker.tracker_child(rt, carol, "CH-LTF")["route"] == "foster_permanent_ifa"


@pytest.mark.parametrize(("answers", "field"), [
    ({"route": "adoption"}, "achieved_on"),
    ({"achieved_on": "01/06/2027"}, "route"),
    ({"route": "adoption", "achieved_on": "01/08/2027"}, "achieved_on"),  # in the future
    ({"seen_alone_on": "31/02/2027"}, "seen_alone_on"),
    ({"route": "somewhere"}, "route"),
])  # fmt: skip
def test_bad_tracking_answers_are_refused_with_a_message_per_field(cohort, rt, answers, field):
    services.refresh_tracker(rt)
    carol = accounts.person(rt, "tm.carol")
    with pytest.raises(FormInvalid) as refused:
        tracker.record_tracking(rt, carol, "CH-LTF", answers, 0)
    assert field in refused.value.errors
    assert tracker.tracker_child(rt, carol, "CH-LTF")["revision"] == 0  # nothing saved


def test_the_worker_tick_refreshes_the_tracker(cohort, rt):
    assert tick(rt)["tracker"] == 3
    assert tick(rt)["tracker"] == 0


def test_a_second_worker_skips_the_refresh_while_the_first_holds_the_job(cohort, rt, is_postgres):
    if not is_postgres:
        pytest.skip("SQLite runs one worker; row locks are PostgreSQL's")
    services.refresh_tracker(rt)
    with rt.db.connect() as holder:
        holder.execute(text("SELECT name FROM job_runs WHERE name = 'tracker' FOR UPDATE"))
        assert services.refresh_tracker(rt, full=True) == {"tracker": 0}
        holder.rollback()
    with rt.uow() as uow:
        assert uow.session.get(JobRun, "tracker").detail.endswith("changed")


# --- the pages ---------------------------------------------------------------------------------
def test_the_tracker_page_shows_figures_charts_and_each_child_to_managers_only(cohort, app, rt):
    services.refresh_tracker(rt)
    carol = Staff(app, "tm.carol")
    page = carol.get("/manage/tracker").text
    assert "Permanence tracker" in page and 'id="child-CH-LTF"' in page and "CH-SOUTH" not in page
    assert page.count('<svg xmlns="http://www.w3.org/2000/svg" class="pp-chart"') == 3
    assert "Apr to Jun 2027: Second reviews held 1, Permanence achieved 0" in page
    monthly = carol.get("/manage/tracker?period=month").text
    assert "Apr 2027" in monthly and "Each month" in monthly
    Staff(app, "sw.alice").get("/manage/tracker", status=403)
    Staff(app, "sw.alice").get("/manage/tracker.csv", status=403)
    carol.get("/manage/tracker?team=south", status=403)
    hana = Staff(app, "hos.hana").get("/manage/tracker?team=south").text
    assert "CH-SOUTH" in hana and 'id="child-CH-LTF"' not in hana


def test_the_csv_downloads_have_each_child_and_the_figures_per_period(cohort, app, rt):
    services.refresh_tracker(rt)
    carol = Staff(app, "tm.carol")
    children = list(csv.DictReader(io.StringIO(csv_text(carol.get("/manage/tracker.csv")))))
    assert [(c["child_ref"], c["permanence_option"], c["outcome"]) for c in children] == [
        ("CH-KIN", "Connected person (special guardianship or child arrangements order)", "Not achieved yet"),
        ("CH-LTF", "Long-term fostering", "Not achieved yet"),
    ]
    figures = list(csv.DictReader(io.StringIO(csv_text(carol.get("/manage/tracker.csv?what=figures")))))
    assert [(f["period_start"], f["period"], f["second_reviews"], f["reviewed_long_term_fostering"])
            for f in figures][1:3] == [("2027-01-01", "Jan to Mar 2027", "1", "0"),
                                       ("2027-04-01", "Apr to Jun 2027", "1", "1")]  # fmt: skip


def test_a_manager_updates_a_child_from_the_page(cohort, app, rt):
    services.refresh_tracker(rt)
    carol = Staff(app, "tm.carol")
    form = carol.get("/manage/tracker/children/CH-LTF").text
    assert 'name="revision" value="0"' in form and "Have the assessments of each parent" in form
    refused = carol.post("/manage/tracker/children/CH-LTF", {"revision": "0", "route": "adoption",
                                                             "notes": "=HYPERLINK(1)"}, status=400).text  # fmt: skip
    assert "There is a problem" in refused and "Enter the date permanence was achieved" in refused
    assert "=HYPERLINK(1)" in refused  # what was typed is shown again
    answers = form_fields({"route": "foster_permanent_council", "achieved_on": "2027-06-20", "assessments_done": True,
                           "seen_alone_on": "2027-06-28", "notes": "=HYPERLINK(1)"})  # fmt: skip
    carol.post("/manage/tracker/children/CH-LTF", {"revision": "0", **answers})
    page = carol.get("/manage/tracker").text
    assert "Permanent foster care with a council carer, 20 June 2027" in page
    assert "recorded by tm.carol" in page
    late = carol.post("/manage/tracker/children/CH-LTF", {"revision": "0", **answers, "notes": "mine"}, status=409)
    assert "tm.carol updated CH-LTF" in late.text and ">mine</textarea>" in late.text
    assert 'name="revision" value="1"' in late.text  # submitting again replaces the other answers
    download = carol.get("/manage/tracker.csv").text
    assert "'=HYPERLINK(1)" in download  # a formula is quoted for spreadsheets
    Staff(app, "tm.tom").get("/manage/tracker/children/CH-LTF", status=403)
    carol.get("/manage/tracker/children/CH-NOBODY", status=404)


def test_refresh_now_from_the_page(cohort, app, rt):
    carol = Staff(app, "tm.carol")
    assert "never (the worker has not refreshed them yet)" in carol.get("/manage/tracker").text
    carol.post("/manage/tracker/refresh", {"back": "/manage/tracker?period=month"})
    page = carol.get("/manage/tracker?period=month").text
    assert "Tracker refreshed: 3 children updated." in page and 'id="child-CH-LTF"' in page
