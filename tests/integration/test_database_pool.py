"""The connection pool: a connection the database dropped while it sat idle is replaced, not handed out.

Pinging on every checkout cost a round trip on every unit of work (issue 18); only a connection
idle for longer than ``IDLE_BEFORE_PING_S`` is pinged first."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from engine.persistence import database


def _dropped_connection(database_template: dict):  # type: ignore[no-untyped-def]
    """A pool holding one connection that the server has since terminated."""
    engine = database.make_engine(database_template["url"], schema=database_template["schema"])
    with engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    with database_template["engine"].begin() as admin:
        admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    return engine, pid


def test_an_idle_connection_the_server_dropped_is_replaced(database_template, is_postgres, monkeypatch):
    if not is_postgres:
        pytest.skip("SQLite has no server to drop a connection")
    monkeypatch.setattr(database, "IDLE_BEFORE_PING_S", 0.0)  # every checkout counts as after a pause
    engine, dropped = _dropped_connection(database_template)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != dropped
    finally:
        engine.dispose()


def test_a_connection_in_steady_use_is_not_pinged(database_template, is_postgres, monkeypatch):
    """The other side of the saving: within the idle limit no ping runs, so a dropped connection shows."""
    if not is_postgres:
        pytest.skip("SQLite has no server to drop a connection")
    monkeypatch.setattr(database, "IDLE_BEFORE_PING_S", 3600.0)
    engine, _dropped = _dropped_connection(database_template)
    try:
        with pytest.raises(OperationalError), engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        with engine.connect() as conn:  # the pool threw the broken connection away
            assert conn.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        engine.dispose()


def test_a_long_batched_statement_is_parsed_once(database_template, is_postgres):
    """A batched INSERT of audit rows is longer than psycopg caches by default: it was parsed afresh
    on every timer batch and every completion."""
    if not is_postgres:
        pytest.skip("psycopg is the PostgreSQL driver")
    from psycopg import _queries

    engine = database.make_engine(database_template["url"], schema=database_template["schema"])
    values = ", ".join(f"(:a{i}, :b{i})" for i in range(400))  # 800 parameters, over 8,000 characters
    statement = text(f"SELECT count(*) FROM (VALUES {values}) AS v(a, b)")
    params = {f"{k}{i}": i for i in range(400) for k in "ab"}
    try:
        with engine.connect() as conn:
            conn.execute(statement, params)
            before = _queries._query2pg.cache_info().hits
            assert conn.execute(statement, params).scalar_one() == 400
            assert _queries._query2pg.cache_info().hits == before + 1
    finally:
        engine.dispose()


def _round_trips(engine, action) -> int:  # type: ignore[no-untyped-def]
    """Round trips to PostgreSQL while ``action`` runs, from libpq's own trace (a Query or a Sync sent)."""
    import tempfile

    from sqlalchemy import event

    traced = []

    def trace(dbapi_connection, _record, _proxy):  # type: ignore[no-untyped-def]
        dbapi_connection.pgconn.trace(log.fileno())
        traced.append(dbapi_connection)

    with tempfile.NamedTemporaryFile("w+") as log:
        event.listen(engine, "checkout", trace)
        try:
            action()
        finally:
            event.remove(engine, "checkout", trace)
            for connection in traced:
                connection.pgconn.untrace()
        log.seek(0)
        sent = [line.split("\t") for line in log.read().splitlines()]
    return sum(1 for m in sent if len(m) > 3 and m[1] == "F" and m[3] in ("Query", "Sync"))


def test_the_inbox_page_and_a_completion_stay_within_their_round_trips(app, rt, now, is_postgres):
    """Issue 18: the inbox page in at most 9 round trips (7 today, from 17); the PPM first review's
    completion (it meets a clock and opens the next steps with theirs) in 6 (from 13: its open steps
    and clocks are read in one select, and its UPDATEs and audit rows go out with the next statement,
    engine.persistence.pipelining and audit_rows)."""
    if not is_postgres:
        pytest.skip("round trips are PostgreSQL's")
    from engine import services
    from tests.webclient import PPM_START, Staff, first_review_task

    services.start_case(rt, "ppm_to_adm", "CH-RT-1", PPM_START, "sw.alice", team="north")
    bob = Staff(app, "iro.bob")
    bob.get("/?tab=unassigned")  # warm: the session touched, the pool filled
    trips = _round_trips(rt.db, lambda: bob.get("/?tab=unassigned"))
    assert trips <= 9, trips
    task = first_review_task(rt, "CH-RT-1")
    services.claim_task(rt, task["id"], "iro.bob")
    answers = {"first_review_date": "2026-12-18", "ppm_requested": True}
    trips = _round_trips(rt.db, lambda: services.complete_task(rt, task["id"], answers, "iro.bob"))
    assert trips <= 6, trips


def test_a_completions_audit_rows_go_in_one_insert_on_either_database(app, rt, now):
    """Issue 18: SQLite too (one INSERT for a flush's rows, nothing handed back: persistence.audit_rows)."""
    from sqlalchemy import event, func, select

    from engine import services
    from engine.persistence.models import AuditEvent
    from tests.webclient import PPM_START, first_review_task

    services.start_case(rt, "ppm_to_adm", "CH-AU-1", PPM_START, "sw.alice", team="north")
    task = first_review_task(rt, "CH-AU-1")
    services.claim_task(rt, task["id"], "iro.bob")
    seen: list[str] = []
    listener = lambda _c, _cur, statement, *_: seen.append(statement)  # noqa: E731
    event.listen(rt.db, "before_cursor_execute", listener)
    with rt.uow() as uow:
        before = uow.session.scalar(select(func.count()).select_from(AuditEvent))
    services.complete_task(rt, task["id"], {"first_review_date": "2026-12-18", "ppm_requested": True}, "iro.bob")
    event.remove(rt.db, "before_cursor_execute", listener)
    with rt.uow() as uow:
        written = uow.session.scalar(select(func.count()).select_from(AuditEvent)) - before
        actions = uow.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id.desc()).limit(written)).all()
    inserts = [s for s in seen if s.lstrip().upper().startswith("INSERT INTO AUDIT_EVENTS")]
    assert written >= 4 and len(inserts) == 1, (written, len(inserts))
    assert actions[-1] == "task.completed"  # in the order they were recorded


def _prepared(conn, marker: str) -> int:  # type: ignore[no-untyped-def]
    query = text("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE :m")
    return conn.execute(query, {"m": f"%{marker}%"}).scalar_one()


def test_a_transaction_that_only_read_keeps_the_connections_prepared_statements(database_template, is_postgres):
    """psycopg forgets its prepared statements at every ROLLBACK; most units of work only read and
    ended that way, so no statement was ever prepared and each was parsed and planned afresh."""
    if not is_postgres:
        pytest.skip("prepared statements are psycopg's")
    engine = database.make_engine(database_template["url"], schema=database_template["schema"])
    try:
        with engine.connect() as conn:
            for i in range(8):  # psycopg prepares at the fifth execution on a connection
                conn.execute(text("SELECT cast(:x AS integer) + 1 AS read_marker"), {"x": i}).scalar_one()
                conn.rollback()
            assert _prepared(conn, "read_marker") == 1
            conn.rollback()
    finally:
        engine.dispose()


def test_a_transaction_that_wrote_is_still_rolled_back(database_template, is_postgres):
    """The other side: an INSERT, a failed SELECT or a SELECT that took a lock all end as before."""
    if not is_postgres:
        pytest.skip("prepared statements are psycopg's")
    engine = database.make_engine(database_template["url"], schema=database_template["schema"])
    try:
        with engine.connect() as conn:
            conn.execute(text("CREATE TABLE rollback_probe (n integer)"))
            conn.commit()
            conn.execute(text("INSERT INTO rollback_probe VALUES (1)"))
            conn.rollback()
            assert conn.execute(text("SELECT count(*) FROM rollback_probe")).scalar_one() == 0
            conn.rollback()
            with pytest.raises(Exception, match="division by zero"):
                conn.execute(text("SELECT 1 / 0"))
            conn.rollback()  # the failed transaction is rolled back, the connection usable again
            conn.execute(text("SELECT n FROM rollback_probe FOR UPDATE")).all()
            conn.rollback()
            with database_template["engine"].connect() as other:  # the lock was released
                other.execute(text(f"SET search_path TO {database_template['schema']}"))
                other.execute(text("LOCK TABLE rollback_probe IN ACCESS EXCLUSIVE MODE NOWAIT"))
                other.rollback()
            conn.execute(text("DROP TABLE rollback_probe"))
            conn.commit()
    finally:
        engine.dispose()
