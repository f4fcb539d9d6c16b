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
