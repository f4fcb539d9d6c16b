"""Two people complete the same step at the same instant: exactly one wins, the case moves once."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from engine import services
from engine.errors import Conflict
from engine.persistence.models import AuditEvent, Case
from tests.conftest import load


def _race(rt, task_id: int) -> list[str]:
    barrier = threading.Barrier(2)
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt(user: str) -> None:
        barrier.wait()
        try:
            services.complete_task(rt, task_id, {"care_plan_date": "2026-12-18"}, user)
            result = "ok"
        except Conflict as exc:
            assert exc.details["data"] == {"care_plan_date": "2026-12-18"}  # nothing entered is lost
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


def _together(*calls) -> list[str]:
    """Run the calls at the same instant; each outcome is 'ok' or the name of the error it raised."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt(call) -> None:
        barrier.wait()
        try:
            call()
            result = "ok"
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test compares
            result = type(exc).__name__
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=attempt, args=(c,)) for c in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(outcomes)


def test_two_starts_of_one_childs_pathway_at_once_open_exactly_one_case(rt, now):
    """Issue 15: the check-then-insert had no unique index behind it (two open cases in 54 of 60 rounds)."""
    load(rt, "review_cycle.bpmn")
    start = {"looked_after_date": "2026-12-18"}
    for i in range(100):
        ref = f"CH-{i}"
        outcomes = _together(*[lambda r=ref: services.start_case(rt, "test_review_cycle", r, start, "sw")] * 2)
        assert outcomes == ["Conflict", "ok"], f"round {i}"
    with rt.uow() as uow:
        assert uow.session.scalar(select(func.count(Case.id))) == 100


def test_the_refused_start_names_the_open_case(rt, now):
    load(rt, "review_cycle.bpmn")
    first = services.start_case(rt, "test_review_cycle", "CH-1", {"looked_after_date": "2026-12-18"}, "sw")
    with pytest.raises(Conflict) as refused:
        services.start_case(rt, "test_review_cycle", "CH-1", {"looked_after_date": "2026-12-18"}, "sw")
    assert refused.value.details["case_id"] == first["id"]
    assert f"case {first['id']}" in refused.value.message


def test_two_claims_of_one_step_at_once_exactly_one_wins(rt, now):
    """Issue 15: both claims reported success in 77 of 100 rounds; now the step row is locked first."""
    load(rt, "review_cycle.bpmn")
    for i in range(100):
        ref = f"CH-{i}"
        services.start_case(rt, "test_review_cycle", ref, {"looked_after_date": "2026-12-18"}, "sw")
        task_id = services.list_tasks(rt, ref=ref)[0]["id"]
        outcomes = _together(lambda t=task_id: services.claim_task(rt, t, "sw.alice"),
                             lambda t=task_id: services.claim_task(rt, t, "sw.dan"))  # fmt: skip
        assert outcomes == ["Conflict", "ok"], f"round {i}"
        [task] = services.list_tasks(rt, ref=ref)
        with rt.uow() as uow:
            claims = uow.session.scalar(select(func.count(AuditEvent.id)).where(
                AuditEvent.action == "task.claimed", AuditEvent.case_id == task["case_id"]))  # fmt: skip
        assert claims == 1 and task["assignee"] in ("sw.alice", "sw.dan")


def test_a_step_being_completed_locks_its_case_but_never_the_pathway(rt, now, is_postgres):
    """While one step is being completed (its task and case rows locked), another child's step on the
    same pathway version is free: the lock must not reach the shared definition row (issue 18)."""
    if not is_postgres:
        pytest.skip("SQLite locks the whole file; row locks are PostgreSQL's")
    from sqlalchemy import text

    from engine.persistence.models import Definition, HumanTask
    from engine.services import tasks

    load(rt, "review_cycle.bpmn")
    for ref in ("CH-A", "CH-B"):
        services.start_case(rt, "test_review_cycle", ref, {"looked_after_date": "2026-12-18"}, "sw")
    first = services.list_tasks(rt, ref="CH-A")[0]["id"]
    with rt.uow() as holding:  # the lock a completion takes, held here
        task, _answers = tasks._open_task(holding.session, first, answers=True)
        with rt.db.connect() as other:
            definition = other.scalar(select(Definition.id).where(Definition.key == "test_review_cycle"))
            # NOWAIT fails at once on a locked row: no clock decides this test
            other.execute(text("SELECT id FROM definitions WHERE id = :d FOR UPDATE NOWAIT"), {"d": definition})
            other.rollback()
            with pytest.raises(Exception, match="could not obtain lock"):
                other.execute(text("SELECT id FROM cases WHERE id = :c FOR UPDATE NOWAIT"), {"c": task.case_id})
            other.rollback()
            with pytest.raises(Exception, match="could not obtain lock"):
                other.execute(select(HumanTask.id).where(HumanTask.id == first).with_for_update(nowait=True))
            other.rollback()
        assert task.case.ref == "CH-A" and task.case.definition.key == "test_review_cycle"
    second = services.list_tasks(rt, ref="CH-B")[0]["id"]
    assert services.complete_task(rt, second, {"care_plan_date": "2026-12-18"}, "sw.alice")["status"] == "completed"


def test_a_closure_added_by_another_process_counts_at_the_next_completion(rt, now):
    """Completions keep the closures per process and check a stamp read with the step's lock (issue 18):
    a closure another process adds moves the next due date here, without restarting."""
    from engine.bootstrap import bootstrap

    load(rt, "review_cycle.bpmn")
    for ref in ("CH-1", "CH-2"):
        services.start_case(rt, "test_review_cycle", ref, {"looked_after_date": "2026-12-18"}, "sw")

    def visit_due(ref: str) -> str:
        task = next(t for t in services.list_tasks(rt, ref=ref) if t["element"] == "Task_CarePlan")
        services.complete_task(rt, task["id"], {"care_plan_date": "2026-12-18"}, "sw.alice")
        return next(t["due"] for t in services.list_tasks(rt, ref=ref) if t["element"] == "Task_AppointIRO")

    before = visit_due("CH-1")  # this process has now read the closures
    other = bootstrap(rt.settings, db=rt.db) if not rt.is_sqlite else bootstrap(rt.settings)
    services.add_closure(other, before, "office closed", "admin")
    after = visit_due("CH-2")
    assert after != before and after > before
