"""A backlog of overdue steps is escalated in full, each rung once (issue 15, defects 2, 3 and 6)."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, date, datetime

from sqlalchemy import event, func, select

from engine import clock, services
from engine.persistence.models import Case, Escalation, HumanTask, Notification
from tests.conftest import load, team_mailboxes


def _backlog(rt, steps: int) -> None:
    """A real case's row copied ``steps`` times, each with one overdue step (half the team manager's, unclaimed)."""
    team_mailboxes(rt)
    load(rt, "review_cycle.bpmn")
    services.start_case(rt, "test_review_cycle", "CH-SEED", {"looked_after_date": "2026-12-18"}, "sw", team="north")
    with rt.uow() as uow:
        seed = uow.session.scalar(select(Case))
        now = clock.utcnow()
        for n in range(steps):
            case = Case(ref=f"CH-B{n:04}", key=seed.key, team="north", definition=seed.definition, status="running",
                        state=seed.state, state_format=seed.state_format, start_data={}, started_at=now,
                        started_by="sw", updated_at=now)  # fmt: skip
            uow.session.add(case)
            uow.session.flush()
            role = "team_manager" if n % 2 else "social_worker"
            uow.session.add(HumanTask(case_id=case.id, key=case.key, spiff_id=str(uuid.uuid4()),
                                      element="Task_CarePlan",
                                      title="Write the care plan", role=role, team="north",
                                      due_date=date(2027, 1, 6), status="open", created_at=now))  # fmt: skip
        uow.session.commit()


def _count(rt, model, *where) -> int:
    with rt.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(model).where(*where))


def _backlog_task_ids(rt) -> list[int]:
    with rt.uow() as uow:
        return list(uow.session.scalars(select(HumanTask.id).join(Case).where(Case.ref.like("CH-B%"))))


def test_a_thousand_overdue_steps_are_all_escalated_in_one_sweep_and_every_rung_once(rt, now):
    _backlog(rt, 1000)
    ids = _backlog_task_ids(rt)
    now.set(datetime(2027, 1, 7, 9, tzinfo=UTC))  # the day after they were due: the first rung
    first = services.escalate_overdue(rt)
    assert first["escalations_raised"] >= 1000
    level_one = select(Escalation.task_id).where(Escalation.level == 1)
    with rt.uow() as uow:
        escalated = set(uow.session.scalars(level_one))
    assert set(ids) <= escalated, f"{len(set(ids) - escalated)} overdue steps were never escalated"
    # the unclaimed team manager's steps: the holder and the team manager are one and the same, told once
    with rt.uow() as uow:
        per_step = uow.session.execute(
            select(Notification.escalation_id, func.count())
            .join(Escalation, Notification.escalation_id == Escalation.id)
            .join(HumanTask, Escalation.task_id == HumanTask.id)
            .where(HumanTask.role == "team_manager", Notification.channel == "email")
            .group_by(Notification.escalation_id)
        ).all()
    assert len(per_step) == 500 and {count for _, count in per_step} == {1}
    assert services.escalate_overdue(rt)["escalations_raised"] == 0  # quiet: nothing is raised twice

    now.set(datetime(2027, 1, 22, 9, tzinfo=UTC))  # past the last rung (2, 5, 5 working days)
    assert services.escalate_overdue(rt)["escalations_raised"] >= 3 * 1000
    assert _count(rt, Escalation, Escalation.level == 4, Escalation.task_id.in_(ids)) == 1000
    assert _count(rt, Escalation, Escalation.task_id.in_(ids)) == 4000
    assert services.escalate_overdue(rt)["escalations_raised"] == 0


def test_the_fully_escalated_are_left_out_by_the_query_itself(rt, now):
    _backlog(rt, 30)
    now.set(datetime(2027, 1, 22, 9, tzinfo=UTC))
    services.escalate_overdue(rt)
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):
        if statement.lstrip().startswith("SELECT tasks."):  # the steps' query (the deadlines' names tasks too)
            statements.append(statement)

    event.listen(rt.db, "before_cursor_execute", seen)
    try:
        assert services.escalate_overdue(rt, batch=5)["escalations_raised"] == 0
    finally:
        event.remove(rt.db, "before_cursor_execute", seen)
    assert len(statements) == 1, "one query finds nothing left to escalate; no batch walks finished steps"


def test_a_practitioner_completes_an_overdue_step_while_a_backlog_is_escalated(rt, now, is_postgres):
    """Each batch is its own short transaction: completing a step never waits for the whole sweep."""
    _backlog(rt, 200)
    now.set(datetime(2027, 1, 7, 9, tzinfo=UTC))
    commits: list[str] = []
    event.listen(rt.db, "commit", lambda conn: commits.append("commit"))
    services.escalate_overdue(rt, batch=20)
    assert len(commits) >= 10, "200 overdue steps in batches of 20 are at least ten transactions"
    seed_task = services.list_tasks(rt, ref="CH-SEED")[0]
    done = threading.Event()
    worker = threading.Thread(target=lambda: (services.escalate_overdue(rt), done.set()))
    worker.start()
    services.complete_task(rt, seed_task["id"], {"care_plan_date": "2027-01-06"}, "sw")
    worker.join()
    assert done.is_set()
