"""Each case's summary (what cases at risk rank by): written in the case's own UPDATE when the engine
has the case's open steps and unmet deadlines in hand, else recomputed by one UPDATE from the rows."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import event, select

from engine import clock, services
from engine.domain.states import TaskStatus
from engine.persistence import summary
from engine.persistence.models import Case, HumanTask
from tests.conftest import load

REF = "CH-2001"
COLUMNS = select(Case.next_step_due, Case.next_deadline_due, Case.waiting_since, Case.delay_noted)


def _stored_and_fresh(rt) -> tuple[tuple, tuple]:
    with rt.db.connect() as conn:
        stored = tuple(conn.execute(COLUMNS).one())
        summary.refresh(conn)
        fresh = tuple(conn.execute(COLUMNS).one())
        conn.rollback()
    return stored, fresh


def _start(rt) -> None:
    load(rt, "review_cycle.bpmn")
    services.start_case(rt, "test_review_cycle", REF, {"looked_after_date": "2026-12-18"}, "sw.alice")


def _statements(rt) -> list[str]:
    seen: list[str] = []
    event.listen(rt.db, "before_cursor_execute", lambda _c, _cur, stmt, *_: seen.append(" ".join(stmt.split())))
    return seen


def test_a_completion_writes_the_summary_with_the_case_and_it_matches_the_rows(rt, now):
    _start(rt)
    task = next(t for t in services.list_tasks(rt, ref=REF) if t["element"] == "Task_CarePlan")
    seen = _statements(rt)
    services.complete_task(rt, task["id"], {"care_plan_date": "2026-12-18"}, "sw.alice")
    case_updates = [s for s in seen if s.startswith("UPDATE cases")]
    assert len(case_updates) == 1 and "next_step_due" in case_updates[0]  # the case's own UPDATE carries it
    assert "SELECT min(" not in case_updates[0]  # worked out from the rows in hand, not by subqueries
    stored, fresh = _stored_and_fresh(rt)
    assert stored == fresh
    assert stored[0] == min(date.fromisoformat(t["due"]) for t in services.list_tasks(rt, ref=REF))


def test_a_step_the_engine_did_not_have_in_hand_falls_back_to_the_rows(rt, now):
    """A tracked case with an open step the tracker never saw is recomputed from the database."""
    _start(rt)
    with rt.uow() as uow:
        session = uow.session
        case = session.scalars(select(Case)).one()
        summary.track(session, case, lambda: [])  # claims no rows in hand: must not be believed blindly
        session.add(HumanTask(case_id=case.id, key=case.key, spiff_id="extra", element="Task_Extra", title="Extra",
                              lane="",
                              role="social_worker", team=case.team, due_date=date(2026, 12, 20),
                              status=TaskStatus.OPEN, created_at=clock.utcnow()))  # fmt: skip
        uow.commit()
    stored, fresh = _stored_and_fresh(rt)
    assert stored == fresh
    assert stored[0] == date(2026, 12, 20)


def test_a_rolled_back_savepoint_forgets_the_rows_in_hand(rt, now):
    _start(rt)
    with rt.uow() as uow:
        session = uow.session
        case = session.scalars(select(Case)).one()
        open_step = session.scalars(select(HumanTask)).one()
        try:
            with session.begin_nested():
                summary.track(session, case, lambda: [])
                raise RuntimeError("this part of the work failed")
        except RuntimeError:
            pass
        open_step.due_date = date(2026, 12, 21)
        uow.commit()
    stored, fresh = _stored_and_fresh(rt)
    assert stored == fresh == (date(2026, 12, 21), *fresh[1:])


def test_the_summary_holds_through_a_timer_sweep(rt, now):
    """The review-overdue timer opens a chasing step: the sweep's summary (rows preloaded for the batch) holds."""
    _start(rt)
    for element, answers in [("Task_CarePlan", {"care_plan_date": "2026-12-18"}),
                             ("Task_Visit", {"visit_date": "2026-12-18"}),
                             ("Task_AppointIRO", {"iro_appointed_on": "2026-12-18"})]:  # fmt: skip
        task = next(t for t in services.list_tasks(rt, ref=REF) if t["element"] == element)
        services.complete_task(rt, task["id"], answers, "sw.alice")
    with clock.frozen(datetime(2027, 3, 1, 9, tzinfo=UTC)):
        fired = services.fire_due_timers(rt)
    assert fired["cases_fired"] >= 1, fired
    assert "Task_ChaseReview" in {t["element"] for t in services.list_tasks(rt, ref=REF)}
    stored, fresh = _stored_and_fresh(rt)
    assert stored == fresh
