"""Database engines and the schema migrations (Alembic, run programmatically)."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def normalise_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 here (the only driver we install)."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _begin_immediate(conn: Any) -> None:
    from engine.persistence.uow import READ_ONLY

    if not conn.get_execution_options().get(READ_ONLY):  # a reading unit of work takes no lock
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, schema: str | None = None) -> Engine:
    """The engine for ``url``; on PostgreSQL ``schema`` is the search path (tests and benches use a private one)."""
    url = normalise_url(url)
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        # The driver's own transaction handling is off so that every transaction starts with
        # BEGIN IMMEDIATE: a writer then waits its turn (busy_timeout) instead of failing with
        # "database is locked" when its read snapshot went stale (web and worker share the file).
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10, "isolation_level": None})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _begin_immediate)
        return engine
    _cache_long_statements()
    connect_args = {"options": f"-csearch_path={schema}"} if schema else {}
    engine = create_engine(url, pool_size=10, max_overflow=10, connect_args=connect_args)
    event.listen(engine, "checkin", _checked_in)
    event.listen(engine, "checkout", lambda conn, record, _proxy: _ping_if_idle(engine.dialect, conn, record))
    event.listen(engine, "begin", _began)
    event.listen(engine, "before_cursor_execute", _sending)
    event.listen(engine, "rollback", _end_unwritten)
    return engine


def _cache_long_statements() -> None:
    """Let psycopg keep its parse of long statements too.

    psycopg caches the conversion of a statement's placeholders only up to 4,096 characters and 50
    parameters; a batched INSERT of many rows (a timer batch's steps and deadlines; its audit rows,
    before they went in one statement of one row's parameters) is longer, so it was parsed afresh
    every time: 7 ms for each timer batch's audit insert (issue 18). Its cache holds 128
    statements, so the memory stays bounded. The limits are module settings of psycopg's (checked)."""
    from psycopg import _queries

    if hasattr(_queries, "MAX_CACHED_STATEMENT_LENGTH") and hasattr(_queries, "MAX_CACHED_STATEMENT_PARAMS"):
        _queries.MAX_CACHED_STATEMENT_LENGTH = max(_queries.MAX_CACHED_STATEMENT_LENGTH, 65_536)
        _queries.MAX_CACHED_STATEMENT_PARAMS = max(_queries.MAX_CACHED_STATEMENT_PARAMS, 2_000)


# psycopg prepares a statement on a connection after its fifth execution there (parse and plan
# once, then only bind and run: about half the server's time for a completion's statements), but
# forgets every prepared statement at each ROLLBACK, in case the rollback undid DDL. Most units
# of work only read and end with ROLLBACK, so nothing ever reached five. A transaction that sent
# nothing but SELECTs ends with COMMIT instead: the same for the data (it changed nothing; its
# row locks are released either way), and the connection keeps its prepared statements (issue 18).
_WROTE = "pathways.wrote"
_READ = re.compile(r"\s*SELECT\b", re.IGNORECASE)


def _began(conn: Any) -> None:
    conn.info[_WROTE] = False


def _sending(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
    if not _READ.match(statement):
        conn.info[_WROTE] = True


def _end_unwritten(conn: Any) -> None:
    """Before SQLAlchemy rolls back: commit instead when the transaction only read."""
    from psycopg.pq import TransactionStatus

    if conn.invalidated or conn.info.get(_WROTE, True):
        return
    dbapi_connection = conn.connection.dbapi_connection
    if dbapi_connection.info.transaction_status != TransactionStatus.INTRANS:  # failed, or idle already
        return
    try:
        dbapi_connection.commit()  # SQLAlchemy's ROLLBACK that follows finds no transaction: no-op
    except Exception:  # noqa: BLE001 - a lost connection: the ROLLBACK that follows meets it and is handled
        return


# A connection back from the pool after a pause is checked before use (the database may have
# restarted, or a firewall dropped the idle connection); one in steady use is not: pinging on
# every checkout (``pool_pre_ping``) cost a round trip on every unit of work (issue 18).
IDLE_BEFORE_PING_S = 10.0


def _checked_in(_dbapi_connection: Any, record: Any) -> None:
    record.info["idle_since"] = time.monotonic()


def _ping_if_idle(dialect: Any, dbapi_connection: Any, record: Any) -> None:
    since = record.info.get("idle_since")
    if since is None or time.monotonic() - since < IDLE_BEFORE_PING_S:
        return
    try:
        dialect.do_ping(dbapi_connection)
    except Exception as exc:  # the pool discards this connection and checks out another
        raise DisconnectionError("the idle connection was closed") from exc


_FLUSHES = "pathways.flushes"


def flush_count(session: Session) -> int:
    """How many flushes this session has made: a service that read rows without flushing can tell
    whether what was pending then has been written since."""
    return int(session.info.get(_FLUSHES, 0))


def _flushed(session: Session, _context: Any) -> None:
    session.info[_FLUSHES] = flush_count(session) + 1


def _refuse_writes(session: Session, _context: Any, _instances: Any) -> None:
    from engine.persistence.uow import READ_ONLY

    if session.info.get(READ_ONLY) and (session.new or session.dirty or session.deleted):
        raise RuntimeError("a reading unit of work tried to write: use rt.uow() for a change")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    from engine.persistence import audit_rows, pipelining, summary

    sessions = sessionmaker(engine, expire_on_commit=False)
    event.listen(sessions, "before_flush", _refuse_writes)
    summary.install(sessions)
    event.listen(sessions, "after_flush", _flushed)
    pipelining.install(engine, sessions)
    audit_rows.install(sessions)  # after the pipeline: its INSERT is queued with the flush's UPDATEs
    return sessions


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    command.upgrade(alembic_config(engine), revision)
