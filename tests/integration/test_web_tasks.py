"""The task page: form errors in the GOV.UK pattern with nothing lost, drafts, conflicts, what happens next."""

from __future__ import annotations

import pytest

from engine import services
from engine.services import accounts, worklist
from tests.webclient import Staff, care_plan_step

START = {"date_of_birth": "2020-03-01", "looked_after_date": "2026-12-18", "in_care_proceedings": False}


@pytest.fixture
def care_plan(app, rt):
    return care_plan_step(rt, "CH-4001")


def _task(app, task_id):
    rt = app.extensions["pathways"]
    return worklist.task_page(rt, task_id, accounts.person(rt, "sw.alice"))


def test_the_task_page_shows_purpose_deadlines_with_sources_and_the_form(app, care_plan):
    page = Staff(app, "sw.alice").get(f"/tasks/{care_plan['id']}").text
    assert "What this step is for" in page and "within 28 days of the review (Hertfordshire procedures)" in page
    assert 'name="care_plan_updated_date-day"' in page and 'name="care_plan_updated_date-year"' in page
    assert "First CLA review" in page  # the child's deadlines, each with its rule status and source
    assert "STAT: Care Planning" in page


def test_a_bad_date_shows_the_error_summary_and_keeps_what_was_entered(app, rt, care_plan):
    alice = Staff(app, "sw.alice")
    version = alice.open_task(care_plan["id"])
    bad = {f"care_plan_updated_date-{k}": v for k, v in (("day", "31"), ("month", "2"), ("year", "2027"))}
    page = alice.post(f"/tasks/{care_plan['id']}", {"action": "complete", "case_version": version, **bad},
                      status=400).text  # fmt: skip
    assert "<title>Error: " in page
    assert "govuk-error-summary" in page and 'href="#care_plan_updated_date-day"' in page
    assert "must be a real date" in page
    assert 'value="31"' in page and 'value="2027"' in page  # nothing entered is lost
    assert _task(app, care_plan["id"])["status"] == "open"
    missing = alice.post(f"/tasks/{care_plan['id']}", {"action": "complete", "case_version": version},
                         status=400).text  # fmt: skip
    assert "Enter the date the care plan was updated" in missing
    alice.complete(care_plan["id"], care_plan_updated_date="2026-12-18")
    assert _task(app, care_plan["id"])["answers"]["care_plan_updated_date"] == "2026-12-18"


def test_save_as_draft_keeps_answers_unchecked_until_completed_and_is_audited(app, rt, care_plan):
    alice = Staff(app, "sw.alice")
    alice.post(f"/tasks/{care_plan['id']}", {"action": "save", "care_plan_updated_date-day": "10",
                                              "care_plan_updated_date-month": "2"})  # fmt: skip
    page = alice.get(f"/tasks/{care_plan['id']}").text
    assert "Draft saved by sw.alice" in page and 'value="10"' in page
    assert _task(app, care_plan["id"])["status"] == "open"
    actions = [e["action"] for e in services.show_case(rt, "CH-4001")["audit"]]
    assert "task.draft_saved" in actions


def test_someone_else_completing_first_gets_a_clear_message_and_the_answers_back(app, rt, care_plan):
    accounts.add_user(rt, "sw.nia", accounts.DEMO_PASSWORD, ["social_worker"], ["north"], "Nia", "test")
    alice, nia = Staff(app, "sw.alice"), Staff(app, "sw.nia")
    version = nia.open_task(care_plan["id"])
    alice.complete(care_plan["id"], care_plan_updated_date="2026-12-18")
    late = nia.complete(care_plan["id"], version=version, status=409, care_plan_updated_date="2026-12-17").text
    assert "already completed by sw.alice" in late
    assert "Your answers were not saved" in late and "17/12/2026" in late
    assert _task(app, care_plan["id"])["answers"]["care_plan_updated_date"] == "2026-12-18"


def test_a_case_changed_since_the_page_was_opened_is_a_conflict_with_the_form_kept(app, rt, care_plan):
    alice = Staff(app, "sw.alice")
    stale = alice.open_task(care_plan["id"])
    services.suspend_case(rt, "CH-4001", "tm.carol", "waiting for the court bundle")  # the case changes meanwhile
    services.resume_case(rt, "CH-4001", "tm.carol", "bundle received")
    page = alice.complete(care_plan["id"], version=stale, status=409, care_plan_updated_date="2026-12-18").text
    assert "the case changed since you opened this step" in page
    assert 'value="18"' in page and 'id="task-form"' in page  # the form, with the answers, is still there
    alice.complete(care_plan["id"], care_plan_updated_date="2026-12-18")  # reloaded: goes through


def test_after_completion_the_user_sees_what_happens_next_and_who_holds_it(app, care_plan):
    alice = Staff(app, "sw.alice")
    done = alice.complete(care_plan["id"], care_plan_updated_date="2026-12-18")
    page = alice.get(done.headers["Location"]).text
    assert "Task complete" in page
    assert "Decide whether a permanence planning meeting is needed" in page
    assert "north team manager" in page.lower()  # the TM's unassigned tasks in the north team
    carol = Staff(app, "tm.carol").get("/?tab=unassigned").text
    assert "Decide whether a permanence planning meeting is needed" in carol
