"""Reading units of work: pages that change nothing run without a transaction of their own (no BEGIN
and no ROLLBACK round trips on PostgreSQL, no write lock on SQLite), and can never write."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import select, text

from engine import services
from engine.domain.access import Person
from engine.persistence.models import Team


def _in_transaction(uow) -> bool:  # type: ignore[no-untyped-def]
    raw = uow.session.connection().connection.dbapi_connection
    if isinstance(raw, psycopg.Connection):
        return raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE
    return bool(raw.in_transaction)


def test_a_reading_unit_holds_no_transaction_and_a_writing_one_does(rt):
    with rt.reading() as uow:
        uow.session.execute(select(Team.name)).all()
        assert not _in_transaction(uow)
    with rt.uow() as uow:
        uow.session.execute(select(Team.name)).all()
        assert _in_transaction(uow)


def test_a_reading_unit_refuses_to_write(rt):
    with rt.reading() as uow:
        uow.session.add(Team(name="team-x", title="X"))
        with pytest.raises(RuntimeError, match="reading unit of work tried to write"):
            uow.session.flush()
        with pytest.raises(RuntimeError, match="cannot commit"):
            uow.commit()
    with rt.uow() as uow:
        assert uow.session.scalar(select(Team).where(Team.name == "team-x")) is None


def test_the_inbox_reads_while_another_transaction_holds_the_write_lock(rt, is_postgres):
    """On SQLite every transaction takes the write lock (BEGIN IMMEDIATE): a page read inside one
    would wait for the worker's sweep to commit. A reading unit does not wait."""
    person = Person("sw.alice", frozenset({"social_worker"}), frozenset({"team-a"}))
    with rt.uow() as writer:
        writer.session.add(Team(name="team-held", title="Held"))
        writer.session.flush()  # the write lock (SQLite) or the row (PostgreSQL) is held from here
        if not is_postgres:
            writer.session.execute(text("SELECT 1"))
        page = services.inbox(rt, person, tab="mine")
        assert page["total"] == 0 and page["rows"] == []
        assert services.list_definitions(rt) == []
