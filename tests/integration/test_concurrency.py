"""Two people complete the same step at the same instant: exactly one wins, the case moves once."""

from __future__ import annotations

import threading

from engine import services
from engine.errors import Conflict
from tests.conftest import load


def _race(rt, task_id: int) -> list[str]:
    barrier = threading.Barrier(2)
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt(user: str) -> None:
        barrier.wait()
        try:
            services.complete_task(rt, task_id, {"care_plan_date": "2026-12-20"}, user)
            result = "ok"
        except Conflict as exc:
            assert exc.details["data"] == {"care_plan_date": "2026-12-20"}  # nothing entered is lost
            result = "conflict"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=attempt, args=(u,)) for u in ("sw.alice", "sw.dan")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(outcomes)


def test_simultaneous_completions_one_wins_one_conflicts(rt, now, is_postgres):
    load(rt, "review_cycle.bpmn")
    rounds = 200 if is_postgres else 25
    for i in range(rounds):
        ref = f"CH-{i}"
        services.start_case(rt, "test_review_cycle", ref, {"looked_after_date": "2026-12-18"}, "sw")
        task_id = services.list_tasks(rt, ref=ref)[0]["id"]
        assert _race(rt, task_id) == ["conflict", "ok"], f"round {i}"
        case = services.show_case(rt, ref)
        assert sorted(t["element"] for t in case["open_tasks"]) == ["Task_AppointIRO", "Task_Visit"]
        assert [e["action"] for e in case["audit"]].count("task.completed") == 1


def test_with_a_subscriber_the_loser_of_a_race_sends_nothing(rt, now, is_postgres):
    """The outbox is written in the case's transaction: the losing completion's events vanish with it."""
    sub = services.add_subscription(rt, "https://lcs.example.gov.uk/hooks", ["task.created"], "admin")
    load(rt, "review_cycle.bpmn")
    rounds = 60 if is_postgres else 10
    for i in range(rounds):
        ref = f"CH-{i}"
        services.start_case(rt, "test_review_cycle", ref, {"looked_after_date": "2026-12-18"}, "sw")
        task_id = services.list_tasks(rt, ref=ref)[0]["id"]
        assert _race(rt, task_id) == ["conflict", "ok"], f"round {i}"
    # per case: the first step, then the two the winner opened
    assert services.show_subscription(rt, sub["id"])["deliveries"] == {"pending": rounds * 3}
