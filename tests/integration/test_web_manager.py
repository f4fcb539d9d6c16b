"""Managers: cases at risk (each reason, scope, filters, CSV), acting on cases, bulk actions, where cases wait."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

import pytest

from engine import services
from engine.services import accounts, oversight
from tests.conftest import load
from tests.webclient import PPM_START, Staff, csv_text, finish_early_planning

QUIET_START = datetime(2026, 11, 20, 9, tzinfo=UTC)


def _ppm(rt, ref: str, team: str, looked_after: str) -> dict:
    """A PPM case at its first review: the family network meeting and the parallel plan done when it started."""
    case = services.start_case(rt, "ppm_to_adm", ref, {**PPM_START, "looked_after_date": looked_after}, "sw.alice",
                               team=team)  # fmt: skip
    finish_early_planning(rt, ref, looked_after)
    return case


@pytest.fixture
def drifting(app, rt, now):
    """One north case for each reason, and an overdue south case (clock: 18 December 2026)."""
    today = now()
    now.set(QUIET_START)
    _ppm(rt, "CH-QUIET", "north", "2026-11-20")  # first review due 18/12: not overdue, but nothing since 20/11
    now.set(today)
    _ppm(rt, "CH-OVER", "north", "2026-11-01")  # first review was due 27/11
    _ppm(rt, "CH-SOUTH", "south", "2026-11-01")
    _ppm(rt, "CH-FINE", "north", "2026-12-17")
    _ppm(rt, "CH-SUSP", "north", "2026-12-17")
    services.suspend_case(rt, "CH-SUSP", "tm.carol", "child missing: pathway paused")
    load(rt, "broken_script.bpmn")
    services.start_case(rt, "test_broken_script", "CH-ERR", {"divisor": 0}, "sw.alice", team="north")
    return rt


def _refs(found: dict) -> list[str]:
    return [r["ref"] for r in found["rows"]]


def test_each_reason_is_found_and_scoped_to_the_managers_teams(drifting, rt):
    carol = accounts.person(rt, "tm.carol")
    found = oversight.stuck_cases(rt, carol, oversight.StuckQuery())
    rows = {r["ref"]: r for r in found["rows"]}
    assert set(rows) == {"CH-OVER", "CH-QUIET", "CH-SUSP", "CH-ERR"}  # not the south case, not the fine one
    assert rows["CH-OVER"]["reasons"] == ["overdue", "deadline"]
    assert rows["CH-OVER"]["days_overdue"] == 21 and rows["CH-OVER"]["waiting_at"][0]["title"] == (
        "Hold the first CLA review"
    )
    assert rows["CH-QUIET"]["reasons"] == ["no_progress"] and rows["CH-QUIET"]["waiting_days"] == 28
    assert rows["CH-SUSP"]["reasons"] == ["suspended"]
    assert rows["CH-ERR"]["reasons"] == ["error"] and "ZeroDivisionError" in rows["CH-ERR"]["error"]["message"]
    assert _refs(found)[0] == "CH-OVER"  # most overdue first
    assert found["counts"] == {"overdue": 1, "deadline": 1, "error": 1, "suspended": 1, "no_progress": 1}
    head = oversight.stuck_cases(rt, accounts.person(rt, "hos.hana"), oversight.StuckQuery(reason="overdue"))
    assert sorted(_refs(head)) == ["CH-OVER", "CH-SOUTH"]  # a head of service sees every team


def test_the_quiet_period_is_configurable(drifting, rt):
    import dataclasses

    rt.settings = dataclasses.replace(rt.settings, stuck_after_working_days=30)
    found = oversight.stuck_cases(rt, accounts.person(rt, "tm.carol"), oversight.StuckQuery(reason="no_progress"))
    assert found["rows"] == [] and found["quiet_days"] == 30


def test_the_page_filters_sorts_and_downloads_csv(drifting, app):
    carol = Staff(app, "tm.carol")
    page = carol.get("/manage").text
    assert "4 cases" in page and "CH-OVER" in page and "CH-SOUTH" not in page
    assert "Hold the first CLA review" in page and "21 overdue" in page
    only_errors = carol.get("/manage?reason=error").text
    assert "CH-ERR" in only_errors and "CH-OVER" not in only_errors
    by_ref = carol.get("/manage?sort=ref").text
    assert by_ref.index("CH-ERR") < by_ref.index("CH-OVER") < by_ref.index("CH-QUIET") < by_ref.index("CH-SUSP")
    download = carol.get("/manage/cases-at-risk.csv?reason=overdue")
    assert download.headers["Content-Disposition"].startswith("attachment; filename=cases-at-risk-2026-12-18")
    assert download.headers["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(csv_text(download))))
    assert {(r["child_ref"], r["reason_overdue"], r["reason_deadline"], r["reason_error"], r["days_overdue"])
            for r in rows} == {("CH-OVER", "yes", "yes", "no", "21")}  # fmt: skip
    steps = [r for r in rows if r["item"] == "waiting_step"]  # long format: a row per step, one value a cell
    assert [(r["item_name"], r["item_held_by"], r["item_role"]) for r in steps] == [
        ("Hold the first CLA review", "", "iro")]  # fmt: skip
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", r["item_due"]) for r in rows if r["item"] != "reason_for_delay")
    assert {r["item"] for r in rows} <= {"waiting_step", "passed_deadline", "reason_for_delay"}


def test_only_managers_see_the_pages_and_only_for_their_teams(drifting, app, rt):
    alice = Staff(app, "sw.alice")
    for path in ("/manage", "/manage/cases-at-risk.csv", "/manage/where", "/manage/where/ppm_to_adm/counts.json"):
        alice.get(path, status=403)
    south = rt and services.show_case(rt, "CH-OVER")["id"]
    tom = Staff(app, "tm.tom")
    tom.post(f"/manage/cases/{south}/action", {"action": "suspend", "reason": "x"}, status=403)
    tom.post(f"/manage/cases/{south}/delay", {"reason": "x"}, status=403)
    assert "Manage this case" not in Staff(app, "iro.bob").get(f"/cases/{south}").text


def test_a_reason_for_delay_is_recorded_from_the_case_page_and_stops_escalation(drifting, app, rt, now):
    case = services.show_case(rt, "CH-OVER")
    carol = Staff(app, "tm.carol")
    page = carol.get(f"/cases/{case['id']}").text
    assert "Manage this case" in page and "Record a reason for delay" in page
    task_id = case["open_tasks"][0]["id"]
    refused = carol.post(f"/manage/cases/{case['id']}/delay", {"task_id": str(task_id), "reason": "  "})
    assert refused.headers["Location"] == f"/cases/{case['id']}#manage"  # back on the page, not a dead end
    shown = carol.get(f"/cases/{case['id']}").text
    assert shown.startswith("<!DOCTYPE html>") and "<title>Error: " in shown
    assert f'href="#delay-{task_id}">Enter the reason for the delay' in shown  # the summary links to the box
    assert "govuk-input--error" in shown and f'id="delay-{task_id}-error"' in shown
    assert "<title>Error: " not in carol.get(f"/cases/{case['id']}").text  # shown once: a reload is clean
    carol.post(f"/manage/cases/{case['id']}/delay", {"task_id": str(task_id), "reason": "IRO off sick; review 4/1"})
    after = carol.get(f"/cases/{case['id']}").text
    assert "IRO off sick; review 4/1" in after and "Reason for delay recorded" in after
    row = {r["ref"]: r for r in oversight.stuck_cases(rt, accounts.person(rt, "tm.carol"),
                                                      oversight.StuckQuery())["rows"]}["CH-OVER"]  # fmt: skip
    assert row["delay_reasons"] == ["IRO off sick; review 4/1"]
    escalated = services.escalate_overdue(rt, datetime(2027, 1, 20, 9, tzinfo=UTC))
    levels = [e for e in services.show_case(rt, "CH-OVER")["audit"] if e["action"] == "escalation.raised"]
    assert escalated is not None and all("first CLA review" not in (e["detail"] or "") or "deadline" in
                                         (e["detail"] or "").lower() for e in levels)  # fmt: skip


def test_suspend_resume_cancel_and_retry_need_the_right_state_and_a_reason(drifting, app, rt):
    carol = Staff(app, "tm.carol")
    over = services.show_case(rt, "CH-OVER")["id"]
    carol.post(f"/manage/cases/{over}/action", {"action": "suspend", "reason": ""})
    shown = carol.get(f"/cases/{over}").text  # the error on the same page, the choice kept
    assert 'href="#action-reason">Give a reason to suspend the case' in shown
    assert re.search(r'value="suspend" checked', shown)
    carol.post(f"/manage/cases/{over}/action", {"action": "suspend", "reason": "court stay"})
    assert services.show_case(rt, "CH-OVER")["status"] == "suspended"
    carol.post(f"/manage/cases/{over}/action", {"action": "retry", "reason": ""})  # not in error: said on the page
    assert "is suspended, not in error: there is nothing to retry" in carol.get(f"/cases/{over}").text
    carol.post(f"/manage/cases/{over}/action", {"action": "resume", "reason": "stay lifted"})
    assert services.show_case(rt, "CH-OVER")["status"] == "running"
    err = services.show_case(rt, "CH-ERR")["id"]
    carol.post(f"/manage/cases/{err}/action", {"action": "retry", "reason": ""})
    retried = services.show_case(rt, "CH-ERR")
    assert retried["status"] == "error" and [e["actor"] for e in retried["audit"] if e["action"] == "case.retried"] == [
        "tm.carol"
    ]  # the cause is not fixed yet: still in error, and the retry is on record
    asked = carol.post(f"/manage/cases/{err}/action", {"action": "cancel", "reason": "opened in error"}, status=200)
    assert "Are you sure you want to cancel CH-ERR" in asked.text and "opened in error" in asked.text
    assert services.show_case(rt, "CH-ERR")["status"] == "error"  # nothing changed until confirmed
    carol.post(f"/manage/cases/{err}/action", {"action": "cancel", "reason": "opened in error", "confirmed": "yes"})
    cancelled = services.show_case(rt, "CH-ERR")
    assert cancelled["status"] == "cancelled"
    assert [(e["actor"], e["detail"]) for e in cancelled["audit"] if e["action"] == "case.cancelled"] == [
        ("tm.carol", "opened in error")
    ]


def test_bulk_actions_apply_to_each_selected_case_and_report_refusals(drifting, app, rt):
    carol = Staff(app, "tm.carol")
    ids = {ref: services.show_case(rt, ref)["id"] for ref in ("CH-OVER", "CH-QUIET", "CH-SUSP", "CH-SOUTH")}
    carol.post("/manage/bulk", {"action": "suspend", "reason": "", "case_id": [str(ids["CH-OVER"])], "back": "/manage"})
    shown = carol.get("/manage").text  # the problem on the list itself, the choices kept
    assert 'href="#bulk-reason">Give a reason: it is recorded on every case selected' in shown
    assert re.search(rf'value="{ids["CH-OVER"]}" id="select-{ids["CH-OVER"]}"\s*checked', shown)
    assert re.search(r'<option value="suspend" selected', shown)
    carol.post("/manage/bulk", {"action": "suspend", "reason": "x", "back": "/manage"})
    assert 'href="#bulk">Select at least one case' in carol.get("/manage").text
    response = carol.client.post("/manage/bulk", data={"csrf_token": carol.csrf, "action": "suspend",
                                 "reason": "panel postponed", "case_id": [str(i) for i in ids.values()]})  # fmt: skip
    assert response.status_code == 302
    page = carol.get("/manage").text
    assert "Suspend: done for 2 cases." in page
    assert "is suspended; it cannot be suspended now" in page
    assert "only a manager of team south" in page
    assert {services.show_case(rt, r)["status"] for r in ("CH-OVER", "CH-QUIET")} == {"suspended"}
    assert services.show_case(rt, "CH-SOUTH")["status"] == "running"
    carol.client.post("/manage/bulk", data={"csrf_token": carol.csrf, "action": "delay_reason",
                                            "reason": "court timetable", "case_id": [str(ids["CH-OVER"])]})  # fmt: skip
    assert oversight.manage_case(rt, accounts.person(rt, "tm.carol"), ids["CH-OVER"])["delay_reasons"] == [
        "court timetable"
    ]  # the overdue step and the first-review deadline it serves are one clock: one reason


def test_a_manager_records_a_missed_review_and_the_case_moves_on(drifting, app, rt):
    case = services.show_case(rt, "CH-OVER")
    review = case["open_tasks"][0]
    carol = Staff(app, "tm.carol")
    form = carol.get(f"/manage/tasks/{review['id']}/record").text
    assert "Record what happened: Hold the first CLA review" in form
    answers = {"first_review_date-day": "26", "first_review_date-month": "11", "first_review_date-year": "2026",
               "ppm_requested": "yes"}  # fmt: skip
    missing = carol.post(f"/manage/tasks/{review['id']}/record", answers, status=400).text
    assert "Say why you are recording this" in missing and 'value="26"' in missing
    carol.post(f"/manage/tasks/{review['id']}/record", {**answers, "reason": "review held, IRO did not record it"})
    after = services.show_case(rt, "CH-OVER")
    assert "Task_FirstReview" not in [t["element"] for t in after["open_tasks"]]
    recorded = [e for e in after["audit"] if e["action"] in ("case.event_recorded", "task.completed")]
    assert [(e["action"], e["actor"]) for e in recorded][-2:] == [("case.event_recorded", "tm.carol"),
                                                                 ("task.completed", "tm.carol")]  # fmt: skip
    assert recorded[-2]["detail"] == "review held, IRO did not record it"
    Staff(app, "tm.tom").get(f"/manage/tasks/{after['open_tasks'][0]['id']}/record", status=403)


def test_where_cases_wait_counts_steps_and_lists_the_cases_behind_a_badge(drifting, app, rt):
    carol = Staff(app, "tm.carol")
    counts = carol.get("/manage/where/ppm_to_adm/counts.json").json
    assert counts["elements"]["Task_FirstReview"] == {"waiting": 4, "overdue": 1}  # OVER, QUIET, FINE, SUSP
    fine = next(t for t in services.list_tasks(rt, ref="CH-FINE") if t["element"] == "Task_FirstReview")
    services.complete_task(rt, fine["id"], {"first_review_date": "2026-12-18", "ppm_requested": True}, "iro.bob")
    page = carol.get("/manage/where?pathway=ppm_to_adm").text  # several steps: the table sorts by cases waiting
    assert 'data-counts="' in page
    table = page[page.index('id="where-table"') :]
    assert table.index("Hold the first CLA review") < table.index("Update the care plan after the first review")
    listed = carol.get("/manage/where/ppm_to_adm/Task_FirstReview").text
    assert "CH-OVER" in listed and "CH-QUIET" in listed and "CH-FINE" not in listed and "CH-SOUTH" not in listed
    hana = Staff(app, "hos.hana").get("/manage/where/ppm_to_adm/counts.json").json
    assert hana["elements"]["Task_FirstReview"]["overdue"] == 2


def test_steps_inside_the_called_panel_count_on_the_call_activity(app, rt, now):
    from tests.scenario import SGO_FOSTER_CARERS as FOSTER_CARERS

    now.set(datetime(2027, 1, 20, 10, tzinfo=UTC))  # the day the request to be assessed came
    services.start_case(rt, "sgo_assessment", "CH-SGO", FOSTER_CARERS, "sw.alice", team="north")
    for element, answers in (
        ("Task_VisitCarers", {"carers_visit_date": "2027-01-11", "carers_proceed": True}),
        ("Task_AllocateAssessment", {"allocated_on": "2027-01-21", "timeline_recorded": True}),
        ("Task_CompleteAssessment", {"assessment_completed_date": "2027-04-09", "assessment_recommendation":
                                     "recommend", "support_plan_done": True}),
    ):  # fmt: skip
        task = next(t for t in services.list_tasks(rt, ref="CH-SGO") if t["element"] == element)
        recorded = max(v for v in answers.values() if isinstance(v, str) and v[:2] == "20")
        now.set(max(now.now, datetime.fromisoformat(f"{recorded}T10:00:00+00:00")))  # recorded on the day
        services.complete_task(rt, task["id"], answers, "x")
    counts = oversight.where_cases_wait(rt, accounts.person(rt, "tm.carol"), "sgo_assessment")
    assert counts["elements"]["Call_Panel"]["waiting"] == 1  # panel support's reminder, inside the panel diagram
    listed = oversight.cases_waiting_at(rt, accounts.person(rt, "tm.carol"), "sgo_assessment", "Call_Panel")
    assert [(r["ref"], r["title"]) for r in listed["rows"]] == [
        ("CH-SGO", "Remind the social worker that the case is at panel in 2 weeks")
    ]
