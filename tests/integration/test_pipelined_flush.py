"""A flush's single-row UPDATEs go out without waiting for their answers (PostgreSQL, issue 18), and
every guarantee holds: a row count other than one is a lost update (StaleDataError, a Conflict for
the service), a database error in a queued statement is raised as SQLAlchemy raises any other, and
the connection is clean for the next unit of work."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from engine import services
from engine.persistence.models import Case, HumanTask
from tests.conftest import load
from tests.integration.test_database_pool import _round_trips
from tests.scenario import complete_review_setup


@pytest.fixture
def review(rt, now, is_postgres):  # type: ignore[no-untyped-def]
    if not is_postgres:
        pytest.skip("SQLite has no round trips to save: its flush runs as ever")
    load(rt, "review_cycle.bpmn")
    services.start_case(rt, "test_review_cycle", "CH-P1", {"looked_after_date": "2026-12-18"}, "sw")
    complete_review_setup(rt, "CH-P1", "2026-12-18")
    now.set(datetime(2027, 1, 19, 10, tzinfo=UTC))  # the review's day
    return rt


def _open_review(rt):  # type: ignore[no-untyped-def]
    return next(t for t in services.list_tasks(rt, ref="CH-P1") if t["element"] == "Task_HoldReview")


def test_a_review_completion_takes_six_round_trips(review):
    task = _open_review(review)
    answers = {"review_date": "2027-01-19", "continue_reviews": True}
    trips = _round_trips(review.db, lambda: services.complete_task(review, task["id"], answers, "iro"))
    assert trips <= 6, trips  # BEGIN, the locked step, its rows, two write batches (with the audit rows), COMMIT
    assert _open_review(review)["id"] != task["id"]  # the next review is open: it all happened


def test_a_case_changed_behind_the_flush_is_a_lost_update_and_nothing_is_written(review):
    with review.uow() as uow:
        case = uow.session.scalars(select(Case).where(Case.ref == "CH-P1")).one()
        with review.db.begin() as other:  # someone else saves the case meanwhile
            other.execute(text("UPDATE cases SET version = version + 1 WHERE ref = 'CH-P1'"))
        case.error_message = "changed here"
        with pytest.raises(StaleDataError, match="0 were matched .checked when the flush's queued statements"):
            uow.session.flush()
    with review.uow() as uow:
        assert uow.session.scalars(select(Case.error_message).where(Case.ref == "CH-P1")).one() is None


def test_a_failing_queued_update_raises_as_any_database_error_and_the_connection_is_clean(review):
    with review.uow() as uow:
        step = uow.session.scalars(select(HumanTask).where(HumanTask.status == "open")).first()
        step_id = step.id
        step.deadline_id = 999_999  # no such deadline: the foreign key refuses it
        step.title = "changed"
        with pytest.raises(IntegrityError):
            uow.session.flush()
    with review.uow() as uow:  # the same, with the next step's INSERT after it: raised there, by SQLAlchemy
        step = uow.session.get(HumanTask, step_id)
        step.deadline_id = 999_999
        uow.session.add(HumanTask(case_id=step.case_id, key=step.key, spiff_id="test-only", element="Task_X",
                                  title="test.only", status="open", created_at=step.created_at))  # fmt: skip
        with pytest.raises(IntegrityError, match="foreign key"):
            uow.session.flush()
    for _ in range(3):  # every pooled connection is out of pipeline mode, its transaction ended
        with review.uow() as uow:
            assert uow.session.scalar(text("SELECT 1")) == 1
            assert uow.session.connection().connection.dbapi_connection._pipeline is None
    task = _open_review(review)
    services.complete_task(review, task["id"], {"review_date": "2027-01-19", "continue_reviews": True}, "iro")
    with review.uow() as uow:
        assert uow.session.scalar(select(HumanTask.title).where(HumanTask.id == step_id)) != "changed"
        assert uow.session.scalar(select(HumanTask.id).where(HumanTask.title == "test.only")) is None


def test_a_conflict_found_by_the_queued_check_reaches_the_person_as_a_conflict(review, monkeypatch):
    from engine.errors import Conflict
    from engine.services import _steps

    original = _steps.sync

    def sync_then_someone_else_saves(rt, session, case, *args, **kwargs):  # type: ignore[no-untyped-def]
        original(rt, session, case, *args, **kwargs)
        # the case row is locked by this transaction, so the version moves in it, behind the ORM's back
        session.connection().execute(text("UPDATE cases SET version = version + 1 WHERE id = :id"), {"id": case.id})

    monkeypatch.setattr(_steps, "sync", sync_then_someone_else_saves)
    monkeypatch.setattr("engine.services.tasks._steps", _steps)
    task = _open_review(review)
    with pytest.raises(Conflict, match="at the same moment"):
        services.complete_task(review, task["id"], {"review_date": "2027-01-19", "continue_reviews": True}, "iro")
    assert _open_review(review)["id"] == task["id"]  # nothing was written
