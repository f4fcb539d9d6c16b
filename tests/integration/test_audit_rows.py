"""A transaction's audit rows go out in one INSERT that hands nothing back (issue 18,
engine.persistence.audit_rows), on either database, and every guarantee of the trail holds: the
rows keep the order they were recorded in, the service reads its own rows before it commits, a
savepoint rolled back takes back the rows recorded inside it and no others, a rollback takes
back all, and a row the database refuses fails the flush with nothing written."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError

from engine import services
from engine.persistence.models import AuditEvent, Case
from engine.services._common import audit
from tests.conftest import load
from tests.scenario import complete_review_setup

AT = datetime(2027, 1, 19, 10, tzinfo=UTC)


@pytest.fixture
def case_id(rt, now) -> int:  # type: ignore[no-untyped-def]
    load(rt, "review_cycle.bpmn")
    services.start_case(rt, "test_review_cycle", "CH-A1", {"looked_after_date": "2026-12-18"}, "sw")
    with rt.uow() as uow:
        return int(uow.session.scalar(select(Case.id).where(Case.ref == "CH-A1")))


def _actions(rt, case_id: int, prefix: str = "test.") -> list[str]:  # type: ignore[no-untyped-def]
    with rt.uow() as uow:
        return list(uow.session.scalars(select(AuditEvent.action).where(
            AuditEvent.case_id == case_id, AuditEvent.action.startswith(prefix)).order_by(AuditEvent.id)))  # fmt: skip


def test_a_completions_audit_rows_keep_their_order_and_go_in_one_statement(rt, case_id, now):  # type: ignore[no-untyped-def]
    now.set(AT)
    seen: list[tuple[str, bool]] = []

    def listener(_conn, _cursor, statement, _params, _context, executemany):  # type: ignore[no-untyped-def]
        if statement.startswith("INSERT INTO audit_events"):
            seen.append((statement, executemany))

    event.listen(rt.db, "before_cursor_execute", listener)
    try:
        complete_review_setup(rt, "CH-A1", "2026-12-18")
    finally:
        event.remove(rt.db, "before_cursor_execute", listener)
    assert len(seen) == 3, "one INSERT of audit rows for each of the three completions"
    assert all(many for _statement, many in seen) and all("RETURNING" not in s for s, _many in seen)
    with rt.uow() as uow:
        trail = list(uow.session.execute(select(AuditEvent.action, AuditEvent.element).where(
            AuditEvent.case_id == case_id).order_by(AuditEvent.id)))  # fmt: skip
    completed = [element for action, element in trail if action == "task.completed"]
    assert completed == ["Task_CarePlan", "Task_Visit", "Task_AppointIRO"]
    first = trail.index(("task.completed", "Task_CarePlan"))
    assert trail[first + 1][0] != "task.completed", "each completion's rows follow it, in the order recorded"


def test_a_service_reads_the_rows_it_recorded_before_it_commits(rt, case_id):  # type: ignore[no-untyped-def]
    with rt.uow() as uow:
        audit(uow.session, case_id, "sw", "test.first")
        audit(uow.session, case_id, "sw", "test.second")
        count = uow.session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.case_id == case_id, AuditEvent.action.startswith("test.")))  # fmt: skip
        assert count == 2
        uow.commit()
    assert _actions(rt, case_id) == ["test.first", "test.second"]


def test_a_savepoint_rolled_back_takes_back_only_its_own_rows(rt, case_id):  # type: ignore[no-untyped-def]
    with rt.uow() as uow:
        audit(uow.session, case_id, "sw", "test.before")
        try:
            with uow.session.begin_nested():
                audit(uow.session, case_id, "sw", "test.inside")
                uow.session.flush()
                raise RuntimeError("the step inside the savepoint fails")
        except RuntimeError:
            pass
        audit(uow.session, case_id, "sw", "test.after")
        uow.commit()
    assert _actions(rt, case_id) == ["test.before", "test.after"]


def test_rows_recorded_in_a_transaction_that_rolls_back_are_never_written(rt, case_id):  # type: ignore[no-untyped-def]
    with rt.uow() as uow:
        audit(uow.session, case_id, "sw", "test.lost")
        uow.session.flush()
        uow.rollback()
    with rt.uow() as uow:
        audit(uow.session, case_id, "sw", "test.kept")
        uow.commit()
    assert _actions(rt, case_id) == ["test.kept"]


def test_a_row_the_database_refuses_fails_the_flush_and_nothing_of_it_is_written(rt, case_id):  # type: ignore[no-untyped-def]
    with rt.uow() as uow:
        case = uow.session.get(Case, case_id)
        case.error_message = "set in the same flush"
        audit(uow.session, case_id, "sw", "test.good")
        audit(uow.session, 999_999, "sw", "test.no_such_case")  # the foreign key refuses it
        with pytest.raises(IntegrityError):
            uow.commit()
    assert _actions(rt, case_id) == []
    with rt.uow() as uow:
        assert uow.session.get(Case, case_id).error_message is None
        audit(uow.session, case_id, "sw", "test.next")  # the connection is clean for the next unit of work
        uow.commit()
    assert _actions(rt, case_id) == ["test.next"]
