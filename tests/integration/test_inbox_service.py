"""The inbox query and server-side access checks on steps (the web inbox builds on these)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine import services
from engine.errors import InvalidInput, NotAllowed
from engine.services import accounts
from tests.conftest import load


@pytest.fixture
def people(rt, now):
    accounts.ensure_demo_users(rt)
    load(rt, "review_cycle.bpmn")
    services.start_case(rt, "test_review_cycle", "CH-N", {"looked_after_date": "2026-12-18"}, "sw", team="north")
    services.start_case(rt, "test_review_cycle", "CH-S", {"looked_after_date": "2026-12-11"}, "sw", team="south")
    return {name: accounts.person(rt, name) for name in ("sw.alice", "sw.sam", "tm.carol", "hos.hana", "iro.bob")}


def test_tabs_show_my_steps_my_teams_steps_and_unclaimed_ones(rt, now, people):
    alice = people["sw.alice"]
    assert [r["ref"] for r in services.inbox(rt, alice, "team")["rows"]] == ["CH-N"]  # not the south case
    assert services.inbox(rt, alice, "mine")["rows"] == []
    task_id = services.inbox(rt, alice, "unassigned")["rows"][0]["id"]
    services.claim_task(rt, task_id, "sw.alice", person=alice)
    assert [r["id"] for r in services.inbox(rt, alice, "mine")["rows"]] == [task_id]
    assert services.inbox(rt, alice, "unassigned")["rows"] == []
    assert services.inbox(rt, people["iro.bob"], "team")["rows"] == []  # no IRO steps open yet


def test_rows_carry_days_left_overdue_and_escalation_level(rt, now, people):
    services.escalate_overdue(rt, datetime(2027, 1, 8, 9, tzinfo=UTC))
    now.set(datetime(2027, 1, 8, 9, tzinfo=UTC))
    [row] = services.inbox(rt, people["sw.alice"], "team")["rows"]
    assert (row["due"], row["days_left"], row["overdue"], row["escalation_level"]) == ("2027-01-06", -2, True, 2)
    assert services.inbox(rt, people["sw.alice"], "team", overdue_only=True)["total"] == 1
    assert services.inbox(rt, people["sw.alice"], "team", pathway="ppm_to_adm")["total"] == 0


def test_access_is_checked_in_the_service_not_only_on_screen(rt, now, people):
    south_task = services.inbox(rt, people["sw.sam"], "team")["rows"][0]["id"]
    with pytest.raises(NotAllowed, match="another role or team"):
        services.claim_task(rt, south_task, "sw.alice", person=people["sw.alice"])
    with pytest.raises(NotAllowed, match="another role or team"):
        services.complete_task(rt, south_task, {"care_plan_date": "2026-12-12"}, "sw.alice", person=people["sw.alice"])
    with pytest.raises(NotAllowed, match="only a manager of team south"):
        services.assign_task(rt, south_task, "sw.alice", "tm.carol", person=people["tm.carol"])
    services.assign_task(rt, south_task, "sw.sam", "hos.hana", person=people["hos.hana"])  # covers every team
    assert services.inbox(rt, people["hos.hana"], "team")["total"] == 2  # managers see every role's steps
    assert services.inbox(rt, people["hos.hana"], "team", role="iro")["total"] == 0
    assert services.inbox(rt, people["sw.sam"], "mine")["total"] == 1


def test_paging(rt, now, people):
    for i in range(5):
        services.start_case(rt, "test_review_cycle", f"CH-P{i}", {"looked_after_date": "2026-12-18"}, "sw",
                            team="north")  # fmt: skip
    first = services.inbox(rt, people["sw.alice"], "team", page=1, per_page=4)
    second = services.inbox(rt, people["sw.alice"], "team", page=2, per_page=4)
    assert (first["total"], len(first["rows"]), len(second["rows"])) == (6, 4, 2)
    assert {r["id"] for r in first["rows"]}.isdisjoint({r["id"] for r in second["rows"]})


def test_a_team_manager_moves_a_leavers_steps_in_one_audited_step(rt, now, people):
    services.start_case(rt, "test_review_cycle", "CH-N2", {"looked_after_date": "2026-12-17"}, "sw", team="north")
    for row in services.inbox(rt, people["sw.alice"], "team")["rows"]:
        services.claim_task(rt, row["id"], "sw.alice", person=people["sw.alice"])
    south = services.inbox(rt, people["sw.sam"], "team")["rows"][0]["id"]
    services.assign_task(rt, south, "sw.alice", "hos.hana", person=people["hos.hana"])  # an odd one in south
    accounts.add_user(rt, "sw.nina", "a long enough password", ["social_worker"], ["north"], "Nina", "admin")
    with pytest.raises(InvalidInput):
        services.reassign_all(rt, "sw.alice", accounts.person(rt, "sw.nina"), people["tm.carol"], " ")
    result = services.reassign_all(rt, "sw.alice", accounts.person(rt, "sw.nina"), people["tm.carol"],
                                   "left the authority")  # fmt: skip
    assert len(result["moved"]) == 2 and result["kept"] == []  # the south step is not Carol's to move
    assert services.inbox(rt, people["sw.alice"], "mine")["total"] == 1
    audit = [e for e in services.show_case(rt, "CH-N")["audit"] if e["action"] == "task.reassigned"]
    assert (audit[0]["actor"], audit[0]["detail"], audit[0]["after"]) == ("tm.carol", "left the authority",
                                                                          {"assignee": "sw.nina"})  # fmt: skip
    to_iro = services.reassign_all(rt, "sw.nina", people["iro.bob"], people["tm.carol"], "cover")
    assert to_iro["moved"] == [] and sorted(to_iro["kept"]) == sorted(result["moved"])  # an IRO cannot do SW steps
