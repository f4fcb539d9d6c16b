"""Issue 16: the child's plan. Clocks are judged by the date the event happened, dates must be
plausible, every clock of a case shows from its start (expected until its anchor happens), one
clock is one row, and a case in error says so plainly."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from engine import clock, services
from engine.bootstrap import bootstrap
from engine.config import Settings
from engine.domain.forms import DateRules, FormField, validate
from engine.errors import FormInvalid, GateClosed
from engine.persistence import database
from engine.persistence.models import Escalation, Notification
from tests.conftest import DIAGRAMS, load
from tests.scenario import Scenario, publish_workflows
from tests.webclient import Staff

PPM = {"date_of_birth": "2016-01-10", "looked_after_date": "2026-12-18", "in_care_proceedings": False}


def _at(day: str, hour: int = 10) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def _clock(case: dict, name: str) -> dict:
    [found] = [d for d in case["deadlines"] if d["name"] == name and d["status"] not in ("moved", "cancelled")]
    return found


@pytest.fixture
def ppm(rt, now):
    publish_workflows(rt)
    case = Scenario(rt, now, "ppm_to_adm", "CH-16")
    case.on("2026-12-18").start(**PPM)
    return case.early_planning("2026-12-18")  # the family network meeting and the parallel plan: done


# --- 1. deadlines judged by event dates ---------------------------------------------------------
def test_a_review_held_on_time_and_typed_a_week_late_is_met_and_says_when_it_was_recorded(ppm, rt):
    rt_now = ppm.now
    services.mark_breached_deadlines(rt, _at("2027-01-21"))  # nobody had recorded it: the sweep saw it pass
    assert _clock(ppm.show(), "First CLA review")["status"] == "breached"
    rt_now.set(_at("2027-01-27"))
    ppm.do("Task_FirstReview", "iro", first_review_date="2027-01-20", ppm_requested=True)
    first = _clock(ppm.show(), "First CLA review")
    assert (first["status"], first["due"], first["met_on"], first["recorded_on"]) == (
        "met",
        "2027-01-20",
        "2027-01-20",
        "2027-01-27",
    )
    assert first["said"] == "met on 20 January 2027, recorded on 27 January 2027"


def test_a_review_held_late_is_met_late_by_its_date_not_the_day_it_is_typed(ppm):
    ppm.on("2027-02-01").do("Task_FirstReview", "iro", first_review_date="2027-01-22", ppm_requested=True)
    first = _clock(ppm.show(), "First CLA review")
    assert (first["status"], first["met_on"]) == ("met_late", "2027-01-22")
    assert first["said"].startswith("met late on 22 January 2027, 2 days after 20 January 2027")


def test_a_ppm_is_met_on_its_meeting_date_even_when_recorded_months_later(ppm):
    ppm.on("2027-01-20").do("Task_FirstReview", "iro", first_review_date="2027-01-20", ppm_requested=True)
    ppm.do("Task_DecidePPM", "tm", ppm_needed=True)
    ppm.do("Task_PreparePlan", "sw", plan_circulated_date="2027-02-12", possible_plan="long_term_fostering")
    ppm.prepare_ppm("2027-02-12")
    ppm.on("2027-06-01").do("Task_HoldPPM", "tm", ppm_date="2027-02-24", permanence_option="long_term_fostering",
                            contingency_plan="connected_person", cannot_live_with_parents=True)  # fmt: skip
    held = _clock(ppm.show(), "Permanence planning meeting held")
    assert (held["status"], held["met_on"], held["recorded_on"]) == ("met", "2027-02-24", "2027-06-01")


# --- 2. plausible dates ------------------------------------------------------------------------
def test_a_past_event_cannot_be_in_the_future_nor_before_the_child_became_looked_after(ppm):
    with pytest.raises(FormInvalid) as future:
        ppm.do_now("Task_FirstReview", first_review_date="2027-01-05", ppm_requested=True)
    assert future.value.errors == {
        "first_review_date": "Date the first review was held must be today or in the past (18 December 2026 or earlier)"
    }
    with pytest.raises(FormInvalid) as before:
        ppm.do_now("Task_FirstReview", first_review_date="2020-01-01", ppm_requested=True)
    assert before.value.errors["first_review_date"] == (
        "Date the first review was held must be the same as or after 18 December 2026, the date the child became "
        "looked after (the case's clocks start then)"
    )
    assert "Task_FirstReview" in ppm.open()  # nothing happened: the step is still open


def test_a_step_cannot_come_before_the_step_it_follows(ppm):
    ppm.on("2027-01-20").do("Task_FirstReview", "iro", first_review_date="2027-01-20", ppm_requested=True)
    with pytest.raises(FormInvalid) as caught:
        ppm.do_now("Task_UpdateCarePlan", care_plan_updated_date="2027-01-19")
    assert caught.value.errors["care_plan_updated_date"] == (
        "Date the care plan was updated must be the same as or after 20 January 2027, the date the first review "
        "was held"
    )


def test_a_planned_date_may_be_in_the_future():
    planned = FormField("agreed_ppm_date", "Date the PPM will be held", "date", future=True)
    rules = DateRules(today=date(2027, 1, 1))
    assert validate([planned], {"agreed_ppm_date": "2027-03-01"}, rules) == {"agreed_ppm_date": date(2027, 3, 1)}


@pytest.mark.parametrize(("typed", "message", "boxes"), [
    ("/3/2027", "Date the review was held must include a day", ("day",)),
    ("12//2027", "Date the review was held must include a month", ("month",)),
    ("12/3/", "Date the review was held must include a year", ("year",)),
    ("//2027", "Date the review was held must include a day and month", ("day", "month")),
    ("12/3/27", "Year must include 4 numbers", ("year",)),
    ("31/2/2027", "Date the review was held must be a real date: February 2027 has no day 31", ("day",)),
    ("12/13/2027", "Date the review was held must be a real date: the month must be between 1 and 12", ("month",)),
    ("1x/3/2027", "Date the review was held must be a real date, in numbers, for example 27 3 2027", ("day",)),
])  # fmt: skip
def test_date_messages_name_what_is_wrong_and_mark_only_that_box(typed, message, boxes):
    field = FormField("review_date", "Date the review was held", "date", required=True)
    with pytest.raises(FormInvalid) as caught:
        validate([field], {"review_date": typed}, DateRules(today=date(2030, 1, 1)))
    assert caught.value.errors == {"review_date": message}
    assert caught.value.boxes == {"review_date": boxes}


def test_every_problem_on_a_form_is_shown_at_once():
    fields = [FormField("a", "Date A", "date", required=True), FormField("b", "Date B", "date", required=True),
              FormField("c", "Date C", "date", on_or_after=("a",))]  # fmt: skip
    with pytest.raises(FormInvalid) as caught:
        validate(fields, {"a": "2027-02-01", "b": "", "c": "2027-01-01"}, DateRules(today=date(2030, 1, 1)))
    assert set(caught.value.errors) == {"b", "c"}


def test_a_relinquished_baby_cannot_start_without_a_date_of_birth_or_an_expected_date(rt, now):
    publish_workflows(rt)
    with pytest.raises(FormInvalid) as caught:
        services.start_case(rt, "relinquished_baby", "CH-R0", {"request_date": "2026-12-18"}, "sw")
    expected = "Enter the child's date of birth, or the expected date of birth if the baby is not born yet"
    assert caught.value.errors == {"date_of_birth": expected, "expected_date_of_birth": expected}
    started = services.start_case(
        rt, "relinquished_baby", "CH-R0", {"request_date": "2026-12-18", "expected_date_of_birth": "2027-02-01"}, "sw"
    )
    assert started["status"] == "running" and started["error"] is None  # an expected date may be ahead


def test_the_start_page_shows_every_problem_at_once_and_marks_only_the_wrong_box(app):
    alice = Staff(app, "sw.alice")
    page = alice.post("/start", {"pathway": "ppm_to_adm", "ref": "", "team": "north",
                                 "date_of_birth-day": "1", "date_of_birth-month": "", "date_of_birth-year": "2020",
                                 "looked_after_date-day": "18", "looked_after_date-month": "12",
                                 "looked_after_date-year": "2027", "in_care_proceedings": "no"},
                 status=400).text  # fmt: skip
    assert "Enter the child&#39;s case reference" in page  # the page's own check
    assert "Child&#39;s date of birth must include a month" in page  # and the form's, together
    assert "must be today or in the past" in page
    assert 'href="#date_of_birth-month"' in page  # the summary links to the wrong box
    month = page.split('id="date_of_birth-month"')[0].rsplit("<input", 1)[1]
    day = page.split('id="date_of_birth-day"')[0].rsplit("<input", 1)[1]
    assert "govuk-input--error" in month and "govuk-input--error" not in day


# --- 3. the plan from day one ---------------------------------------------------------------------
def test_a_new_ppm_case_shows_the_second_review_expected_from_the_first_reviews_due_date(ppm):
    second = _clock(ppm.show(), "Second CLA review: permanence plan ratified")
    # first review due 20 Jan 2027 (20 WD); 3 months after that is 20 April, 16 weeks after 18 Dec is 9 April
    assert (second["status"], second["due"]) == ("expected", "2027-04-09")
    assert second["expected_from"] == "expected: Hold the first CLA review by 20 January 2027"
    assert second["said"].startswith("by 9 April 2027 at the latest, expected")
    ppm.on("2027-01-05").do("Task_FirstReview", "iro", first_review_date="2027-01-05", ppm_requested=True)
    firm = _clock(ppm.show(), "Second CLA review: permanence plan ratified")
    assert (firm["status"], firm["due"], firm["expected_from"]) == ("running", "2027-04-05", None)  # 3 m: earlier
    assert "deadline.firm" in ppm.actions()


def test_an_sgo_case_shows_its_twelve_week_and_panel_dates_from_the_request_date(rt, now):
    publish_workflows(rt)
    case = Scenario(rt, now, "sgo_assessment", "CH-S16")
    case.on("2027-01-20").start(expression_of_interest_date="2027-01-04", assessment_request_date="2027-01-20",
                                carer_type="foster_carer")  # fmt: skip
    shown = case.show()
    assert _clock(shown, "SGO assessment completed (12 weeks)")["due"] == "2027-04-14"
    assert _clock(shown, "SGO assessment completed (12 weeks)")["status"] == "running"
    assert _clock(shown, "Permanency panel: the first after the 12-week date")["due"] == "2027-04-28"


def test_without_a_request_date_the_twelve_weeks_are_expected_from_the_visit_and_request_steps(rt, now):
    publish_workflows(rt)
    case = Scenario(rt, now, "sgo_assessment", "CH-S17")
    case.on("2027-01-04").start(expression_of_interest_date="2027-01-04", carer_type="foster_carer")
    twelve = _clock(case.show(), "SGO assessment completed (12 weeks)")
    # visit due 18 Jan (2 w), request due 15 Feb (4 w after the visit), 12 weeks later 10 May
    assert (twelve["status"], twelve["due"]) == ("expected", "2027-05-10")
    case.do("Task_VisitCarers", "assessor", carers_visit_date="2027-01-11", carers_proceed=True)
    assert _clock(case.show(), "SGO assessment completed (12 weeks)")["due"] == "2027-05-03"  # worked out again
    case.do("Task_RecordRequest", "assessor", assessment_request_date="2027-01-25")
    firm = _clock(case.show(), "SGO assessment completed (12 weeks)")
    assert (firm["status"], firm["due"]) == ("running", "2027-04-19")


def test_the_consent_gate_is_shown_from_the_request_expected_from_the_due_date_then_firm_at_birth(rt, now):
    publish_workflows(rt)
    case = Scenario(rt, now, "relinquished_baby", "CH-R16")
    case.on("2026-11-02").start(request_date="2026-11-02", expected_date_of_birth="2026-12-20")
    [gate] = case.show()["gates"]
    assert (gate["status"], gate["not_before"]) == ("expected", "2027-01-31")  # 6 weeks after the expected date
    for element, answers in (("Task_Allocate", {"allocated_on": "2026-11-03"}),
                             ("Task_SingleAssessment", {"single_assessment_date": "2026-11-05"}),
                             ("Task_Counselling", {"counselling_date": "2026-11-06", "wishes_recorded": True,
                                                   "more_counselling": False}),
                             ("Task_Father", {"father_has_pr": "no", "father_notification": "notify",
                                              "father_decision_reasons": "r"}),
                             ("Task_EarlyPermanence", {"early_permanence": "ffa"})):  # fmt: skip
        case.do(element, "x", **answers)
    case.on("2026-12-18").do("Task_RecordBirth", "sw", date_of_birth="2026-12-17")
    [gate] = case.show()["gates"]
    assert (gate["status"], gate["not_before"], gate["said"]) == (
        "gate",
        "2027-01-28",
        "cannot happen before 28 January 2027",
    )


# --- one clock, one row --------------------------------------------------------------------------
def test_the_first_review_is_one_clock_with_one_ladder_and_one_reason_for_delay(ppm, rt):
    names = [d["name"] for d in ppm.show()["deadlines"]]
    assert "First CLA review" in names and "Hold the first CLA review" not in names
    assert ppm.open()["Task_FirstReview"]["due"] == "2027-01-20"
    services.escalate_overdue(rt, _at("2027-01-27"))  # 5 WD overdue: two rungs, on the step only
    with rt.uow() as uow:
        rungs = list(uow.session.scalars(select(Escalation.key).order_by(Escalation.id)))
    assert [k.split(":")[0] for k in rungs] == ["task", "task"]
    ppm.now.set(_at("2027-01-27"))
    services.record_delay_reason(rt, "IRO off sick", "tm.carol", task_id=ppm.open()["Task_FirstReview"]["id"])
    first = _clock(ppm.show(), "First CLA review")
    with rt.uow() as uow:
        from engine.persistence.models import Deadline

        row = uow.session.scalars(select(Deadline).where(Deadline.name == "First CLA review")).one()
        assert row.delay_reason == "IRO off sick"  # the same reason holds for the clock the step serves
    assert first["status"] == "breached"


# --- gates judged on the date the event happened ----------------------------------------------------
def _to_consent(rt, now, ref: str) -> Scenario:
    from engine.services.scenarios import load_file, run_scenario
    from tests.scenario import WORKFLOWS

    document = load_file(WORKFLOWS / "scenarios" / "relinquished_baby.json")
    scenario = dict(document["scenarios"][0], ref=ref)
    cut = next(n for n, s in enumerate(scenario["steps"]) if s.get("do") == "Task_ConsentWitnessed")
    assert run_scenario(rt, "relinquished_baby", {**scenario, "steps": scenario["steps"][:cut]}).passed
    return Scenario(rt, now, "relinquished_baby", ref)


def test_consent_backdated_to_less_than_six_weeks_after_the_birth_is_refused(rt, now):
    publish_workflows(rt)
    case = _to_consent(rt, now, "CH-C16")  # born 18 Dec 2026: consent not before 29 January 2027
    now.set(_at("2027-02-10"))
    with pytest.raises(FormInvalid) as caught:
        case.do_now("Task_ConsentWitnessed", consent_outcome="given", consent_date="2027-01-20")
    assert caught.value.errors["consent_date"].startswith(
        "'Record consent witnessed by the Cafcass reporting officer' cannot happen before 29 January 2027: "
        "the date given is 20 January 2027"
    )
    case.do_now("Task_ConsentWitnessed", consent_outcome="given", consent_date="2027-02-01")
    assert "Task_PlaceWithAdopters" in case.open()


def test_the_ten_weeks_before_an_adoption_application_are_judged_on_the_application_date(rt, now):
    publish_workflows(rt)
    case = _to_consent(rt, now, "CH-A16")
    case.on("2027-02-01").do("Task_ConsentWitnessed", "asw", consent_outcome="given", consent_date="2027-02-01")
    case.on("2027-02-15").do("Task_PlaceWithAdopters", "asw", match_approved_date="2027-02-10",
                             adoptive_placement_date="2027-02-15")  # fmt: skip
    case.do("Task_FirstVisit", "asw", first_visit_date="2027-02-20", first_review_held=False)
    case.do("Task_FirstAdoptionReview", "iro", first_adoption_review_date="2027-03-10")
    case.do("Task_FirstVisit", "asw", first_visit_date="2027-03-11", first_review_held=True)
    now.set(_at("2027-05-10"))  # past 10 weeks (26 April), but the application was made on 20 April
    with pytest.raises(FormInvalid) as caught:
        case.do_now("Task_AdoptionOrder", adoption_application_date="2027-04-20", adoption_order_made=True,
                    adoption_order_date="2027-05-06")  # fmt: skip
    assert (
        "cannot happen before 26 April 2027: the date given is 20 April 2027"
        in (caught.value.errors["adoption_application_date"])
    )
    with pytest.raises(GateClosed):  # and on the day itself, before the gate, the step cannot be done at all
        now.set(_at("2027-04-25"))
        case.do_now("Task_AdoptionOrder", adoption_application_date="2027-04-25", adoption_order_made=True,
                    adoption_order_date="2027-04-25")  # fmt: skip


# --- 5. cases in error speak plainly ---------------------------------------------------------------
def test_a_case_in_error_tells_the_team_manager_logs_its_reference_and_says_so_on_its_page(app, rt, caplog):
    load(rt, "broken_script.bpmn")
    with caplog.at_level(logging.WARNING, logger="engine.services._steps"):
        case = services.start_case(rt, "test_broken_script", "CH-E16", {"divisor": 0}, "sw.alice", team="north")
    assert case["status"] == "error"
    assert any("event=case_error case=CH-E16" in r.getMessage() for r in caplog.records)
    with rt.uow() as uow:
        told = [(n.recipient_role, n.recipient_team, n.channel) for n in uow.session.scalars(
            select(Notification).where(Notification.case_id == case["id"]))]  # fmt: skip
    assert told == [("team_manager", "north", "in_app")]
    assert "Problem: CH-E16 stopped" in Staff(app, "tm.carol").get("/").text  # on the manager's inbox
    page = Staff(app, "sw.alice").get(f"/cases/{case['id']}").text
    assert "This case has a problem" in page and "Who has been told: the team manager of team north" in page
    assert "Nobody needs to do anything now" not in page


def test_a_retry_after_an_error_at_a_start_event_opens_that_events_clocks(rt, tmp_path):
    xml = (DIAGRAMS / "review_cycle.bpmn").read_text()
    broken = xml.replace('value="add_working_days(looked_after_date, 20)" />',
                         'value="add_working_days(looked_after_date, 20 // (1 if divisor is None else divisor))" />',
                         1).replace('</camunda:formField>\n        </camunda:formData>',
                                    '</camunda:formField>\n          <camunda:formField id="divisor" label="Divisor" '
                                    'type="long" />\n        </camunda:formData>', 1)  # fmt: skip
    assert broken.count("divisor") == 3  # the due rule (twice) and the start field
    services.publish_files(rt, [("review_cycle.bpmn", broken.encode())], "test")
    with clock.frozen(_at("2026-12-18")):
        failed = services.start_case(rt, "test_review_cycle", "CH-T16", {"looked_after_date": "2026-12-18",
                                                                          "divisor": 0}, "sw")  # fmt: skip
        assert (failed["status"], failed["error"]["element"]) == ("error", "Start_LookedAfter")
        assert [d["name"] for d in failed["deadlines"]] == []
        retried = services.retry_case(rt, "CH-T16", "tm.carol", data={"divisor": 1})
    assert retried["status"] == "running"
    assert _clock(retried, "First CLA review")["due"] == "2027-01-20"
    assert [t["element"] for t in retried["open_tasks"]] == ["Task_CarePlan"]


# --- existing rows migrate -------------------------------------------------------------------------
def test_the_migration_judges_met_rows_by_the_date_their_step_recorded(tmp_path):
    engine = bootstrap(Settings(database_url=f"sqlite:///{tmp_path / 'old.db'}", mail_dir=tmp_path)).db
    database.upgrade(engine, "0009")
    info = {
        "elements": {
            "Task_FirstReview": {
                "kind": "userTask",
                "properties": {},
                "form": [{"id": "first_review_date", "type": "date", "required": True}],
            }
        }
    }
    now = "2027-01-27 10:00:00.000000"
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO definitions (id, key, version, name, filename, bpmn_xml, checksum, info, depends_on, "
                "published_at, published_by) VALUES (1, 'k', 1, 'k', 'k.bpmn', '', 'x', :info, '[]', :now, 't')"
            ),
            {"info": __import__("json").dumps(info), "now": now},
        )
        conn.execute(
            sa.text(
                "INSERT INTO cases (id, ref, key, team, definition_id, status, state, state_format, version, "
                "start_data, started_at, started_by, updated_at) VALUES (1, 'CH-M', 'k', 'north', 1, 'running', "
                "'{}', 'x', 1, '{}', :now, 't', :now)"
            ),
            {"now": now},
        )
        conn.execute(
            sa.text(
                "INSERT INTO tasks (id, case_id, spiff_id, element, title, status, created_at, completed_at, data) "
                "VALUES (1, 1, 's1', 'Task_FirstReview', 'Hold', 'completed', :now, :now, :data)"
            ),
            {"now": now, "data": '{"first_review_date": "2027-01-20"}'},
        )
        for row_id, due in ((1, "2027-01-20"), (2, "2027-01-19")):
            conn.execute(
                sa.text(
                    "INSERT INTO deadlines (id, case_id, key, name, element, due_date, source, rule_status, anchor, "
                    "met_by, status, started_at, met_at) VALUES (:id, 1, 'first', 'First', 'Start', :due, 's', 'STAT', "
                    "'a', '[\"Task_FirstReview\"]', 'breached', :now, :now)"
                ),
                {"id": row_id, "due": due, "now": now},
            )
    database.upgrade(engine, "head")
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT id, status, met_on FROM deadlines ORDER BY id")).all()
    assert [(r[0], r[1], str(r[2])) for r in rows] == [(1, "met", "2027-01-20"), (2, "met_late", "2027-01-20")]


def test_the_subscription_form_shows_every_problem_at_once(app):
    admin = Staff(app, "admin.ash")
    page = admin.post("/admin/subscriptions", {"url": "ftp://x", "description": "lcs"}, status=400).text
    assert 'href="#url"' in page and 'href="#event_types"' in page  # both in the summary, each linked
    assert page.count('class="govuk-error-summary"') == 1  # one summary, never an empty one above it
    assert page.count("<title>Error: ") == 1 and "Error: Error:" not in page
    assert "choose at least one event type" in page
