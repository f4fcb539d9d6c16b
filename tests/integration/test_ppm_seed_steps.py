"""Issue 17, item 2: the steps and alerts the seed policies require, beyond the scenarios' dates.

The scenario files (workflows/scenarios/ppm_to_adm.json) check each new step's due date across bank
holidays, and each alert and trigger firing on its dates and not before. These tests check what a
scenario cannot: who is told of an alert and how (in the app and by email, in the case's team), a
placement move from the case system, from the case page and from the CLI, an alert naming a role
nobody holds refused by the validator, and the answers the PPM chair sees on the meeting's page.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from engine import services
from engine.domain.access import Person
from engine.errors import NotAllowed
from engine.persistence.models import Notification
from engine.services import accounts, oversight, worklist
from tests.cms import event, signed
from tests.scenario import WORKFLOWS, Scenario, publish_workflows
from tests.webclient import Staff

MANAGER = Person("tm.carol", frozenset({"team_manager"}), frozenset({"north"}))
START = {"date_of_birth": "2019-03-01", "looked_after_date": "2026-12-18", "in_care_proceedings": False}
ALERT = "Alert: {ref} Under 12 with 3 or more placement moves"


def _at(day: str, hour: int = 10) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


@pytest.fixture
def ppm(rt, now):
    publish_workflows(rt)

    def start(ref: str, **extra) -> Scenario:
        case = Scenario(rt, now, "ppm_to_adm", ref)
        case.on("2026-12-18").start(**{**START, **extra})
        return case.early_planning("2026-12-18")

    return start


def _move(rt, now, case: Scenario, day: str) -> None:
    now.set(_at(day))
    oversight.record_case_event(rt, MANAGER, case.show()["id"], "Catch_PlacementMoved",
                                {"placement_move_date": day}, "the carers gave notice")  # fmt: skip


def _alerts(rt, ref: str) -> list[dict]:
    with rt.uow() as uow:
        rows = uow.session.scalars(select(Notification).where(
            Notification.subject == ALERT.format(ref=ref)).order_by(Notification.id))  # fmt: skip
        return [{c: getattr(n, c) for c in ("recipient_role", "recipient_team", "recipient_address", "channel",
                                            "status", "body")} for n in rows]  # fmt: skip


def test_the_third_move_tells_the_services_manager_the_head_of_service_the_iro_and_the_social_worker(app, rt, now, ppm):
    case = ppm("CH-M1", placement_moves=1)  # one move already before the pathway began
    _move(rt, now, case, "2027-01-08")
    assert _alerts(rt, "CH-M1") == [] and "Task_AlertPlacementMoves" not in case.open()  # the second: not yet
    _move(rt, now, case, "2027-03-25")
    told = _alerts(rt, "CH-M1")
    roles = {"services_manager", "head_of_service", "iro", "social_worker"}
    assert {(n["recipient_role"], n["channel"]) for n in told} == {(r, c) for r in roles for c in ("in_app", "email")}
    assert {n["recipient_team"] for n in told} == {"north"} and len(told) == 8  # each told once, in each way
    email = next(n for n in told if n["channel"] == "email" and n["recipient_role"] == "services_manager")
    assert (email["status"], email["recipient_address"]) == ("pending", f"sm.sara@{rt.settings.mail_domain}")
    assert "Hertfordshire permanence planning procedures section 10" in email["body"] and "CH-M1" in email["body"]
    for who in ("sm.sara", "hos.hana", "iro.bob", "sw.alice"):  # each sees it in the app
        unread = worklist.notifications_for(rt, accounts.person(rt, who))["unread"]
        assert ALERT.format(ref="CH-M1") in [n["subject"] for n in unread], who
    for who in ("tm.carol", "sw.sam"):  # not a role told, or another team
        unread = worklist.notifications_for(rt, accounts.person(rt, who))["unread"]
        assert ALERT.format(ref="CH-M1") not in [n["subject"] for n in unread], who
    step = case.open()["Task_AlertPlacementMoves"]
    assert (step["role"], step["due"]) == ("social_worker", "2027-03-31")  # 2 WD: Good Friday, Easter Monday
    audit = [e for e in case.show()["audit"] if e["action"] == "alert.raised"]
    assert [(e["element"], e["actor"]) for e in audit] == [("Script_MovesAlert", "tm.carol")]


def test_a_placement_move_from_the_case_system_counts(app, rt, now, ppm):
    case = ppm("CH-M2", placement_moves=2)
    secret = services.add_sender(rt, "lcs", "admin.ada")
    now.set(_at("2027-02-01", 12))
    body = event("placement.moved", "CH-M2", "2027-02-01T09:00:00Z", {})
    response = app.test_client().post("/webhooks/events", data=signed(secret, body)[0], headers=signed(secret, body)[1])
    assert response.status_code == 202, response.text
    assert [e["status"] for e in services.list_events(rt, child_ref="CH-M2")["events"]] == ["applied"]
    assert len(_alerts(rt, "CH-M2")) == 8 and case.due("Task_AlertPlacementMoves") == "2027-02-03"
    moved = [
        e for e in case.show()["audit"] if e["action"] == "task.completed" and e["element"] == "Catch_PlacementMoved"
    ]
    assert [(e["actor"], e["after"]["data"]) for e in moved] == [("webhook:lcs", {"placement_move_date": "2027-02-01"})]


def test_a_team_manager_records_a_move_on_the_case_page_and_a_social_worker_cannot(app, rt, now, ppm):
    case = ppm("CH-M3")
    case_id = case.show()["id"]
    now.set(_at("2027-01-12"))
    link = f"/manage/cases/{case_id}/events/Catch_PlacementMoved/record"
    manager, worker = Staff(app, "tm.carol"), Staff(app, "sw.alice")
    page = manager.get(f"/cases/{case_id}").text
    assert "Placement moved (case system)" in page and link in page
    assert link not in worker.get(f"/cases/{case_id}").text
    with pytest.raises(NotAllowed):
        oversight.record_case_event(rt, accounts.person(rt, "sw.alice"), case_id, "Catch_PlacementMoved",
                                    {"placement_move_date": "2027-01-11"}, "moved")  # fmt: skip
    assert "Date the child moved" in manager.get(link).text
    tomorrow = {"placement_move_date-day": "13", "placement_move_date-month": "1", "placement_move_date-year": "2027"}
    future = manager.post(link, {**tomorrow, "reason": "emergency move"}, status=400)
    assert "Date the child moved must be today or in the past (12 January 2027 or earlier)" in future.text
    manager.post(link, {"placement_move_date-day": "11", "placement_move_date-month": "1",
                        "placement_move_date-year": "2027", "reason": "emergency move"})  # fmt: skip
    assert link in manager.get(f"/cases/{case_id}").text  # it waits for the next move
    recorded = [e for e in case.show()["audit"] if e["action"] == "case.event_recorded"]
    assert [(e["actor"], e["detail"]) for e in recorded] == [("tm.carol", "emergency move")]


def test_the_cli_records_moves_and_completes_the_social_workers_alert_step(app, cli, rt, now, ppm):
    ppm("CH-M4", placement_moves=2)
    now.set(_at("2027-01-20"))
    out = cli("case", "record-event", "CH-M4", "Catch_PlacementMoved", "--data",
              json.dumps({"placement_move_date": "2027-01-19"}), "--reason", "recorded from LCS", "--user",
              "tm.carol").output  # fmt: skip
    assert "Alert managers and the IRO: under 12 with 3 or more placement moves" in out and "due 2027-01-21" in out
    [step] = [t for t in services.list_tasks(rt, ref="CH-M4") if t["element"] == "Task_AlertPlacementMoves"]
    cli("task", "complete", str(step["id"]), "--data", json.dumps({
        "moves_alert_sent_date": "2027-01-20", "moves_account": "the carer's health; a long-term match is sought"}),
        "--user", "sw.alice")  # fmt: skip
    assert "Task_AlertPlacementMoves" not in {t["element"] for t in services.list_tasks(rt, ref="CH-M4")}
    refused = cli(
        "case",
        "record-event",
        "CH-M4",
        "Catch_PlacementMoved",
        "--data",
        json.dumps({"placement_move_date": "2027-01-19"}),
        "--reason",
        "x",
        "--user",
        "sw.alice",
        ok=False,
    )
    assert "only a manager of team north" in refused.output + refused.stderr


def test_moves_are_no_longer_counted_once_the_child_leaves_care(rt, now, ppm):
    case = ppm("CH-M5")
    case.on("2027-01-20").do("Task_FirstReview", "iro", first_review_date="2027-01-20", ppm_requested=False)
    case.do("Task_UpdateCarePlan", "sw", care_plan_updated_date="2027-02-10")
    case.do("Task_DecidePPM", "tm", ppm_needed=False)
    case.do("Task_AgreeNoPPM", "sm", sm_agrees=True, specialist_discussion_date="2027-02-10",
            no_ppm_decision="returning home")  # fmt: skip
    case.on("2027-04-08").do("Task_SecondReview", "iro", second_review_date="2027-04-08", plan_ratified=True,
                             permanence_option="reunification", contingency_plan="connected_person")  # fmt: skip
    case_id = case.show()["id"]
    now.set(_at("2027-06-01"))
    case.do_now("Task_CLAReview", "iro", cla_review_date="2027-06-01", still_looked_after=False,
                under_placement_order=False, further_ppm_trigger="none")  # fmt: skip
    assert case.show()["status"] == "completed"  # the watch for moves ended with the reviews
    with pytest.raises(NotAllowed):
        oversight.record_case_event(rt, MANAGER, case_id, "Catch_PlacementMoved",
                                    {"placement_move_date": "2027-06-01"}, "moved")  # fmt: skip


def test_an_alert_to_a_role_nobody_holds_is_refused_by_the_validator(cli, tmp_path):
    xml = (WORKFLOWS / "ppm_to_adm.bpmn").read_bytes()
    broken = xml.replace(b'value="services_manager, head_of_service, iro, social_worker"',
                         b'value="services_manager, chief_wizard"')  # fmt: skip
    assert broken != xml
    (tmp_path / "ppm_to_adm.bpmn").write_bytes(broken)
    out = cli("workflows", "validate", str(tmp_path / "ppm_to_adm.bpmn"), ok=False)
    assert "Script_MovesAlert" in out.output + out.stderr and "chief_wizard" in out.output + out.stderr
    assert "valid" in cli("workflows", "validate", str(WORKFLOWS / "ppm_to_adm.bpmn")).output


def test_the_ppm_chair_sees_the_childs_wishes_and_the_consultations_on_the_meeting_page(app, rt, now, ppm):
    case = ppm("CH-W1")
    case.on("2027-01-20").do("Task_FirstReview", "iro", first_review_date="2027-01-20", ppm_requested=True)
    case.do("Task_DecidePPM", "tm", ppm_needed=True)
    case.do("Task_PreparePlan", "sw", plan_circulated_date="2027-02-12", possible_plan="adoption")
    assert {"Task_ConsultAdoptionTM", "Task_InviteLegal", "Task_SendInvitations", "Task_ChildWishes"} <= set(
        case.open()
    )
    assert "Task_ConsultFosteringTM" not in case.open()
    case.do("Task_ConsultAdoptionTM", "sw", adoption_tm_consulted_date="2027-02-15",
            adoption_tm_view="early permanence carers are available")  # fmt: skip
    case.do("Task_InviteLegal", "sw", legal_invited_date="2027-02-15", legal_attendance="minutes_only")
    case.do("Task_SendInvitations", "sw", invitations_sent_date="2027-02-15", carer_invited="foster_carer",
            supervising_sw_invited=True, specialist_invited=True, guardian_invited="no_guardian")  # fmt: skip
    assert "Task_HoldPPM" not in case.open()  # not until the child's wishes are ready
    case.do("Task_ChildWishes", "sw", wishes_date="2027-02-16", wishes_how="observation",
            wishes_summary="settled and happy with her carers; too young to say")  # fmt: skip
    page = Staff(app, "tm.carol").get(f"/tasks/{case.open()['Task_HoldPPM']['id']}").text
    for shown in ("settled and happy with her carers; too young to say", "early permanence carers are available"):
        assert shown in page
