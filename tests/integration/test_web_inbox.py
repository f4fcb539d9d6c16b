"""The inbox page: tabs, days left and overdue tags, filters, saved filters, paging, notifications, reassignment."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from sqlalchemy import func, select

from engine import services
from engine.persistence.models import Notification
from tests.webclient import Staff, finish_early_planning, first_review_task

START = {"date_of_birth": "2020-03-01", "looked_after_date": "2026-12-18", "in_care_proceedings": False}
SGO = {"interest_date": "2026-12-18"}


def _rows(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'data-task="(\d+)"', page)]


def _start_many(rt, n: int, team: str = "north") -> None:
    for i in range(n):
        services.start_case(rt, "ppm_to_adm", f"CH-5{i:03d}", START, "sw.alice", team=team)
        finish_early_planning(rt, f"CH-5{i:03d}")  # the family network meeting and the parallel plan: done


def test_the_iro_sees_unassigned_reviews_soonest_first_with_days_left_and_pages_of_25(app, rt, now):
    _start_many(rt, 30)
    bob = Staff(app, "iro.bob")
    first = bob.get("/?tab=unassigned").text
    assert len(_rows(first)) == 25 and "(30)" in first
    assert "20 January 2027" in first and "33 days left" in first  # 20 WD after 18 Dec; today is 18 Dec
    second = bob.get("/?tab=unassigned&page=2").text
    assert len(_rows(second)) == 5 and not set(_rows(first)) & set(_rows(second))
    assert "govuk-pagination" in first
    assert bob.get("/?tab=mine").text.count('data-task="') == 0 and "You have no tasks" in bob.get("/?tab=mine").text


def test_overdue_steps_have_a_red_tag_and_the_overdue_filter_keeps_only_them(app, rt, now):
    _start_many(rt, 2)
    now.set(datetime(2026, 12, 21, 10, tzinfo=UTC))  # the third child became looked after on Monday
    services.start_case(rt, "ppm_to_adm", "CH-5999", {**START, "looked_after_date": "2026-12-21"}, "sw", team="north")
    now.set(datetime(2027, 1, 21, 10, tzinfo=UTC))  # the first two are due 20 Jan: a day overdue; the third 21 Jan
    bob = Staff(app, "iro.bob")
    page = bob.get("/?tab=team").text
    assert page.count("1 day overdue") == 2 and "govuk-tag--red" in page and "Due today" in page
    overdue = bob.get("/?tab=team&overdue=1").text
    assert len(_rows(overdue)) == 2


def test_pathway_and_role_filters_and_saved_filters(app, rt):
    _start_many(rt, 2)
    carol = Staff(app, "tm.carol")  # a manager sees every role's steps in her team
    assert len(_rows(carol.get("/?tab=team").text)) == 2
    assert len(_rows(carol.get("/?tab=team&role=iro").text)) == 2
    assert _rows(carol.get("/?tab=team&role=social_worker").text) == []
    assert _rows(carol.get("/?tab=team&pathway=sgo_assessment").text) == []
    saved = carol.post("/filters", {"name": "IRO reviews", "tab": "team", "role": "iro", "pathway": "", "overdue": ""})
    assert saved.headers["Location"] == "/?tab=team&role=iro"
    inbox = carol.get("/").text
    assert "IRO reviews" in inbox and 'href="/?tab=team&amp;role=iro"' in inbox
    carol.post("/filters", {"name": "IRO reviews", "tab": "team"}, status=400)  # names are unique per person
    [filter_id] = re.findall(r"/filters/(\d+)/remove", inbox)
    Staff(app, "tm.tom").post(f"/filters/{filter_id}/remove", status=404)  # not his
    carol.post(f"/filters/{filter_id}/remove")
    assert "IRO reviews" not in carol.get("/").text


def test_claim_and_unclaim_move_a_step_between_tabs(app, rt):
    _start_many(rt, 1)
    task = first_review_task(rt, "CH-5000")
    bob = Staff(app, "iro.bob")
    bob.post(f"/tasks/{task['id']}/claim", {"back": "/?tab=unassigned"})
    assert _rows(bob.get("/?tab=mine").text) == [task["id"]] and _rows(bob.get("/?tab=unassigned").text) == []
    bob.post(f"/tasks/{task['id']}/unclaim")
    assert _rows(bob.get("/?tab=mine").text) == [] and _rows(bob.get("/?tab=unassigned").text) == [task["id"]]
    actions = [e["action"] for e in services.show_case(rt, "CH-5000")["audit"]]
    assert actions.count("task.claimed") == 1 and actions.count("task.unclaimed") == 1


def test_worker_escalations_appear_as_one_notice_per_child_and_step_each_markable_as_read(app, rt, now):
    _start_many(rt, 2)
    now.set(datetime(2027, 1, 25, 10, tzinfo=UTC))  # due 20 Jan: overdue, then 2 WD later to the team manager
    services.escalate_overdue(rt)
    with rt.uow() as uow:  # the step and the deadline it serves, each rung: several messages per child
        told = uow.session.scalar(select(func.count(Notification.id)).where(
            Notification.channel == "in_app", Notification.recipient_role == "team_manager"))  # fmt: skip
    assert told >= 4
    carol = Staff(app, "tm.carol")
    page = carol.get("/").text
    assert "Notifications (2 unread)" in page  # one notice per child and step, whatever the messages behind it
    notices = re.findall(r'<li class="pp-notice" id="notice-(\d+)">(.*?)</li>', page, re.S)
    assert len(notices) == 2
    assert all("With the team manager: CH-500" in body for _, body in notices)  # the latest rung, in words
    assert "Escalated" not in page and "Level " not in page  # one vocabulary
    assert Staff(app, "tm.tom").get("/").text.count("With the team manager") == 0  # another team
    first_id, first = notices[0]
    ids = re.findall(r'name="id" value="(\d+)"', first)
    assert len(ids) >= 2  # the notice stands for every message of its clock
    carol.post("/notifications/read", {"id": ids, "back": "/"})
    after = carol.get("/").text
    assert "Notifications (1 unread)" in after and f'id="notice-{first_id}"' not in after  # that one only
    carol.post("/notifications/read", {"id": re.findall(r'name="id" value="(\d+)"', after), "back": "/"})
    assert "Notifications (" not in carol.get("/").text
    bob = Staff(app, "iro.bob").get("/?tab=team").text
    assert "With the team manager" in bob  # the escalation shows on the row, in the same words


def test_a_team_manager_reassigns_a_leavers_tasks_in_one_audited_step(app, rt):
    from engine.services import accounts

    accounts.add_user(rt, "sw.nia", accounts.DEMO_PASSWORD, ["social_worker"], ["north"], "Nia", "test")
    _start_many(rt, 2)
    for ref in ("CH-5000", "CH-5001"):
        review = first_review_task(rt, ref)
        services.complete_task(rt, review["id"], {"first_review_date": "2026-12-18", "ppm_requested": True}, "iro.bob")
        [plan] = [t for t in services.list_tasks(rt, ref=ref) if t["element"] == "Task_UpdateCarePlan"]
        services.claim_task(rt, plan["id"], "sw.alice")
    carol = Staff(app, "tm.carol")
    missing = carol.post("/team/reassign", {"from_user": "sw.alice", "to_user": "sw.nia", "reason": ""}, status=400)
    assert "Enter the reason" in missing.text and 'href="#reason"' in missing.text
    done = carol.post("/team/reassign", {"from_user": "sw.alice", "to_user": "sw.nia", "reason": "left the authority"},
                      status=200).text  # fmt: skip
    assert "Moved 2 tasks from sw.alice to sw.nia" in done
    assert "&lt;p" not in done  # the banner is markup, not markup shown as text
    moved = done[done.index('id="moved"') :]
    assert "CH-5000: Update the care plan" in moved and "CH-5001: Update the care plan" in moved  # children, not ids
    assert len(_rows(Staff(app, "sw.nia").get("/?tab=mine").text)) == 2
    again = carol.post("/team/reassign", {"from_user": "sw.alice", "to_user": "sw.nia", "reason": "again"},
                       status=200).text  # fmt: skip
    assert "No tasks moved" in again and "govuk-notification-banner--success" not in again  # no "Success" for 0
    bob_cannot = carol.post("/team/reassign", {"from_user": "sw.nia", "to_user": "iro.bob", "reason": "cover"},
                            status=200).text  # fmt: skip
    kept = bob_cannot[bob_cannot.index('id="kept"') :]
    assert "CH-5000: Update the care plan" in kept  # what stayed, by child and step
    Staff(app, "sw.alice").get("/team/reassign", status=403)


def test_the_case_page_shows_the_diagram_with_where_it_waits_the_deadlines_and_the_timeline(app, rt):
    case = services.start_case(rt, "ppm_to_adm", "CH-5100", START, "sw.alice", team="north")
    review = first_review_task(rt, "CH-5100")
    services.complete_task(rt, review["id"], {"first_review_date": "2026-12-18", "ppm_requested": True}, "iro.bob")
    alice = Staff(app, "sw.alice")
    page = alice.get(f"/cases/{case['id']}").text
    active = json.loads(re.search(r'data-active="([^"]*)"', page).group(1).replace("&#34;", '"'))
    completed = json.loads(re.search(r'data-completed="([^"]*)"', page).group(1).replace("&#34;", '"'))
    assert "Task_UpdateCarePlan" in active and "Task_FirstReview" in completed
    assert "Task_FirstReview" not in active
    assert "First CLA review</strong>: met on 18 December 2026" in page and "Done" in page  # the plan, tagged
    assert "Step done" in page and "Case started" in page  # the history
    assert "Task_FirstReview" not in page.split('id="timeline"')[1]  # in plain words: no element ids
    xml = alice.get(f"/cases/{case['id']}/diagram.bpmn")
    assert xml.mimetype == "application/xml" and b"Task_UpdateCarePlan" in xml.data and b"bpmndi:BPMNShape" in xml.data
