"""The `pathways` command line, as the README shows it."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time

from click.testing import CliRunner

from engine import services
from engine.services import accounts, tracker, worklist
from pathways.cli import main
from tests.conftest import DIAGRAMS


def test_db_upgrade_creates_a_fresh_sqlite_database(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/fresh/pathways.db")
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0 and "up to date" in result.output
    assert (tmp_path / "fresh" / "pathways.db").exists()
    assert CliRunner().invoke(main, ["db", "upgrade"]).exit_code == 0  # idempotent


def test_calendar_add_prints_the_iso_date(cli):
    assert cli("calendar", "add", "2026-12-18", "20wd").output.strip() == "2027-01-20"
    assert cli("calendar", "add", "2027-01-31", "1m").output.strip() == "2027-02-28"
    assert cli("calendar", "add", "2026-12-18", "10w").output.strip() == "2027-02-26"
    assert cli("calendar", "add", "2026-12-18", "14d").output.strip() == "2027-01-01"
    bad = cli("calendar", "add", "2026-12-18", "ten weeks", ok=False)
    assert "amount must look like" in bad.stderr


def test_closures_change_working_day_arithmetic(cli):
    cli("calendar", "close", "2026-12-29", "--reason", "office closed")
    assert cli("calendar", "add", "2026-12-24", "1wd").output.strip() == "2026-12-30"
    assert json.loads(cli("calendar", "closures", "--json").output)[0]["day"] == "2026-12-29"


def test_a_case_through_the_cli(cli, now):
    assert "published" in cli("workflows", "load", str(DIAGRAMS)).output
    assert "unchanged" in cli("workflows", "load", str(DIAGRAMS)).output
    keys = [d["key"] for d in json.loads(cli("workflows", "list", "--json").output)]
    assert keys == ["test_broken_script", "test_caller", "test_panel", "test_review_cycle"]
    started = cli("case", "start", "test_review_cycle", "--ref", "CH-1001", "--data",
                  '{"looked_after_date": "2026-12-18"}', "--json")  # fmt: skip
    assert json.loads(started.output)["status"] == "running"
    tasks = json.loads(cli("tasks", "--ref", "CH-1001", "--json").output)
    assert [t["title"] for t in tasks] == ["Write the care plan"]
    refused = cli("task", "complete", str(tasks[0]["id"]), "--user", "sw.alice", "--data", "{}", ok=False)
    assert "care_plan_date: Enter the date the care plan was agreed" in refused.stderr
    assert "not valid JSON" in cli("task", "complete", "1", "--user", "x", "--data", "{", ok=False).output
    cli("task", "complete", str(tasks[0]["id"]), "--user", "sw.alice", "--data", '{"care_plan_date": "2026-12-18"}')
    for element in ("Task_Visit", "Task_AppointIRO"):
        task = next(t for t in json.loads(cli("tasks", "--json").output) if t["element"] == element)
        field = {"Task_Visit": "visit_date", "Task_AppointIRO": "iro_appointed_on"}[element]
        cli("task", "complete", str(task["id"]), "--user", "sw.alice", "--data", json.dumps({field: "2026-12-18"}))
    fired = json.loads(cli("timers", "fire", "--now", "2027-01-21T09:00:00+00:00", "--json").output)
    assert fired["cases_fired"] == 1
    assert "timezone" in cli("timers", "fire", "--now", "2027-01-21T09:00:00", ok=False).stderr
    shown = json.loads(cli("case", "show", "CH-1001", "--json").output)
    assert {"ref", "key", "version", "status", "open_tasks", "deadlines", "gates", "audit"} <= set(shown)
    assert (shown["ref"], shown["key"], shown["version"], shown["status"]) == ("CH-1001", "test_review_cycle", 1,
                                                                               "running")  # fmt: skip
    assert set(shown["open_tasks"][0]) == {"id", "element", "title", "role", "assignee", "due"}
    assert {"name", "due", "source", "status"} <= set(shown["deadlines"][0])
    first = next(d for d in shown["deadlines"] if d["name"] == "First CLA review")
    assert (first["due"], first["status"]) == ("2027-01-20", "breached")
    assert "Chase the overdue review" in cli("case", "show", "CH-1001").output


def test_claim_assign_suspend_cancel_from_the_cli(cli, now):
    cli("workflows", "load", str(DIAGRAMS))
    cli("case", "start", "test_review_cycle", "--ref", "CH-7", "--data", '{"looked_after_date": "2026-12-18"}')
    task_id = json.loads(cli("tasks", "--json").output)[0]["id"]
    assert "assignee sw.alice" in cli("task", "claim", str(task_id), "--user", "sw.alice").output
    assert "already claimed" in cli("task", "claim", str(task_id), "--user", "sw.dan", ok=False).stderr
    assert "assignee sw.dan" in cli("task", "assign", str(task_id), "--user", "tm", "--to", "sw.dan").output
    assert json.loads(cli("tasks", "--user", "sw.dan", "--json").output)[0]["id"] == task_id
    assert "suspended" in cli("case", "suspend", "CH-7", "--reason", "court adjourned").output
    assert "running" in cli("case", "resume", "CH-7").output
    assert "give a reason for cancelling" in cli("case", "cancel", "CH-7", ok=False).stderr
    assert "give a reason for suspending" in cli("case", "suspend", "CH-7", ok=False).stderr
    assert "cancelled" in cli("case", "cancel", "CH-7", "--reason", "moved authority").output
    assert "no case for child reference CH-404" in cli("case", "show", "CH-404", ok=False).stderr


def test_a_real_pathway_from_the_cli_lists_deadlines_sources_and_gates(cli, now):
    from tests.scenario import WORKFLOWS

    cli("workflows", "load", str(WORKFLOWS))
    start = {"request_date": "2026-11-02", "date_of_birth": "2026-12-18"}
    cli("case", "start", "relinquished_baby", "--ref", "CH-77", "--data", json.dumps(start))

    def complete(element: str, answers: dict) -> None:
        recorded = max((v for v in answers.values() if str(v)[:2] == "20"), default=None)  # on the day it happened
        if recorded and recorded > now.now.date().isoformat():
            now.set(datetime.combine(date.fromisoformat(recorded), time(10), tzinfo=UTC))
        task = next(t for t in json.loads(cli("tasks", "--ref", "CH-77", "--json").output) if t["element"] == element)
        cli("task", "complete", str(task["id"]), "--user", "u", "--data", json.dumps(answers))

    for element, answers in (
        ("Task_Allocate", {"allocated_on": "2026-11-03"}),
        ("Task_SingleAssessment", {"single_assessment_date": "2026-11-05"}),
        ("Task_Counselling", {"counselling_date": "2026-11-06", "wishes_recorded": "yes", "more_counselling": "no"}),
        ("Task_Father", {"father_has_pr": "no", "father_notification": "notify", "father_decision_reasons": "r"}),
        ("Task_EarlyPermanence", {"early_permanence": "ffa", "accommodated_date": "2026-12-19"}),
        ("Task_CPR", {"cpr_completed_date": "2027-01-05"}),
        ("Task_AdoptionPanel", {"panel_recommendation": "should_be_placed", "adoption_panel_date": "2027-01-13",
                                "final_minutes_received_date": "2027-01-15"}),
        ("Task_ADMDecision", {"adm_decision": "placed_for_adoption", "adm_decision_date": "2027-01-20",
                              "adm_reasons": "consent route"}),
        ("Task_NotifyParent", {"parent_notified_date": "2027-01-21"}),
        ("Task_RequestCafcass", {"cafcass_request_date": "2027-01-21"}),
    ):  # fmt: skip
        complete(element, answers)
    shown = json.loads(cli("case", "show", "CH-77", "--json").output)
    assert shown["gates"] == [
        {
            "name": "Consent can be witnessed (6 weeks after the birth)",
            "element": "Task_ConsentWitnessed",
            "not_before": "2027-01-29",
            "status": "gate",
            "said": "cannot happen before 29 January 2027",
            "source": shown["gates"][0]["source"],
        }
    ]  # one entry: the plan's gate is the step's
    assert "s52(3)" in shown["gates"][0]["source"]
    adm = next(d for d in shown["deadlines"] if d["key"] == "Task_ADMDecision")
    assert (adm["due"], adm["rule_status"], adm["status"]) == ("2027-01-26", "GUID", "met")
    assert all(d["source"] for d in shown["deadlines"])
    now.set(now.now.replace(year=2027, month=2, day=1))
    complete("Task_ConsentWitnessed", {"consent_outcome": "withdrawn", "consent_date": "2027-02-01"})
    complete("Task_ReturnChild", {"return_outcome": "returned", "return_date": "2027-02-04"})
    assert json.loads(cli("case", "show", "CH-77", "--key", "relinquished_baby", "--json").output)["status"] == (
        "completed"
    )
    follow_on = json.loads(cli("case", "show", "CH-77", "--json").output)
    assert (follow_on["key"], follow_on["status"]) == ("ppm_to_adm", "running")


START_DATA = {
    "relinquished_baby": {"request_date": "2026-11-02", "expected_date_of_birth": "2026-12-20"},
    "ppm_to_adm": {"date_of_birth": "2020-03-01", "looked_after_date": "2026-12-18", "in_care_proceedings": True,
                   "proceedings_start_date": "2026-12-10"},
    "placement_order_revocation": {"date_of_birth": "2022-05-10", "placement_order_date": "2025-09-15",
                                   "revocation_decision_date": "2026-11-16"},
    "sgo_assessment": {"expression_of_interest_date": "2026-12-04", "carer_type": "connected_person",
                       "placement_start_date": "2026-12-11"},
}  # fmt: skip


def test_every_pathway_starts_from_the_cli_with_its_documented_start_data(cli, now):
    from tests.scenario import WORKFLOWS

    cli("workflows", "load", str(WORKFLOWS))
    for number, (key, data) in enumerate(START_DATA.items()):
        ref = f"CH-{900 + number}"
        cli("case", "start", key, "--ref", ref, "--data", json.dumps(data))
        shown = json.loads(cli("case", "show", ref, "--json").output)
        assert (shown["key"], shown["status"], shown["error"]) == (key, "running", None)
        assert shown["open_tasks"] and all(t["due"] and t["role"] for t in shown["open_tasks"])
        assert shown["deadlines"] and all(d["source"] and d["due"] for d in shown["deadlines"])


def test_escalations_notifications_and_a_reason_for_delay_from_the_cli(cli, now, rt):
    cli("workflows", "load", str(DIAGRAMS))
    cli("case", "start", "test_review_cycle", "--ref", "CH-5", "--team", "north", "--data",
        '{"looked_after_date": "2026-12-18"}')  # fmt: skip
    assert "escalations raised: 1" in cli("worker", "--once", "--now", "2027-01-07T09:00:00+00:00").output
    shown = cli("notifications", "--role", "team_manager", "--team", "north").output
    assert "Overdue: CH-5 Write the care plan" in shown and "/tasks/1" in shown
    assert "escalation stopped" in cli("delay", "--task", "1", "--reason", "awaiting court", "--user", "tm").output
    assert "escalations raised: 0" in cli("worker", "--once", "--now", "2027-01-20T09:00:00+00:00").output
    assert "say which step" in cli("delay", "--reason", "x", "--user", "tm", ok=False).stderr


def test_accounts_from_the_cli(cli, monkeypatch):
    assert "demo users created: sw.alice" in cli("users", "demo").output
    assert "already exist" in cli("users", "demo").output
    cli("teams", "add", "east", "--title", "East team")
    monkeypatch.setenv("PATHWAYS_PASSWORD", "a long enough password")
    assert "created sw.eve" in cli("users", "add", "sw.eve", "--name", "Eve", "--role", "social_worker",
                                   "--team", "east").output  # fmt: skip
    listed = json.loads(cli("users", "list", "--team", "east", "--json").output)
    assert listed == [{"username": "sw.eve", "display_name": "Eve", "roles": ["social_worker"], "teams": ["east"],
                       "active": True}]  # fmt: skip
    assert "unknown or missing roles: wizard" in cli("users", "add", "x.y", "--name", "X", "--role", "wizard",
                                                     ok=False).stderr  # fmt: skip


def test_team_mailboxes_from_the_cli(cli):
    cli("teams", "add", "east", "--title", "East team")
    assert "team east has no mailboxes" in cli("teams", "mailbox", "east").output
    assert "email goes to tm-east@council.gov.uk" in cli("teams", "mailbox", "east", "team_manager",
                                                          "tm-east@council.gov.uk").output  # fmt: skip
    assert cli("teams", "mailbox", "east").output.strip() == "team_manager: tm-east@council.gov.uk"
    assert "not an email address" in cli("teams", "mailbox", "east", "iro", "nobody", ok=False).stderr
    assert "unknown role 'wizard'" in cli("teams", "mailbox", "east", "wizard", "w@council.gov.uk", ok=False).stderr
    assert "give the mailbox's ADDRESS" in cli("teams", "mailbox", "east", "iro", ok=False).output
    assert "email goes to each person" in cli("teams", "mailbox", "east", "team_manager", "--remove").output
    assert "team east has no mailboxes" in cli("teams", "mailbox", "east").output


def test_demo_data_gives_each_role_work_and_is_created_once(cli, now, rt):
    from tests.scenario import publish_workflows

    publish_workflows(rt)
    assert "demo cases created: DEMO-1001" in cli("demo").output
    assert "none (they exist)" in cli("demo").output.split("demo cases created:")[1]
    people = {u: accounts.person(rt, u) for u in ("sw.alice", "iro.bob", "tm.carol", "sw.sam")}
    assert services.inbox(rt, people["sw.alice"], "mine")["total"] == 1
    # three first reviews (two north, one south), and the next CLA review of the five children past their second
    assert services.inbox(rt, people["iro.bob"], "unassigned")["total"] == 8
    assert services.inbox(rt, people["tm.carol"], "unassigned")["total"] >= 2
    # the south adoption plan's CPR, and the newest south child's family network meeting and parallel plan
    assert sorted(t["element"] for t in services.inbox(rt, people["sw.sam"], "team")["rows"]) == [
        "Task_CPR", "Task_FamilyNetworkMeeting", "Task_ParallelPlan"]  # fmt: skip
    # DEMO-1004, aged 4, moved a third time: the services manager and the head of service are told
    for who in ("sm.sara", "hos.hana"):
        told = worklist.notifications_for(rt, accounts.person(rt, who))["unread"]
        assert any(n["subject"] == "Alert: DEMO-1004 Under 12 with 3 or more placement moves" for n in told), who
    on_tracker = tracker.tracker(rt, accounts.person(rt, "hos.hana"))["children"]
    assert [(c["ref"], c["route"]) for c in on_tracker] == [("DEMO-2001", None), ("DEMO-2002", "kinship"),
        ("DEMO-2003", None), ("DEMO-2004", None), ("DEMO-2005", None)]  # fmt: skip


def test_a_drill_clock_starts_at_now_and_moves_on_so_leases_run_out():
    """``pathways worker --now`` once froze time: an email leased in a drill stayed leased for ever."""
    from datetime import UTC, datetime, timedelta

    from pathways.cli import drill_clock

    real = [datetime(2026, 12, 1, 9, tzinfo=UTC)]
    drill = drill_clock(datetime(2027, 3, 1, 9, tzinfo=UTC), lambda: real[0])
    assert drill() == datetime(2027, 3, 1, 9, tzinfo=UTC)
    real[0] += timedelta(minutes=3)
    assert drill() == datetime(2027, 3, 1, 9, 3, tzinfo=UTC)
