"""A flush's UPDATEs go out without waiting for their answers, on PostgreSQL (issue 18).

SQLAlchemy's unit of work sends a flush one statement at a time and waits for each answer: on a
completion, the update of the deadline met, of the case and of the step each cost a round trip.
An UPDATE of one row by its primary key needs no answer but its row count, which the unit of
work checks against the one row it meant to change (for a case, the row with the version it
read: the optimistic check). So, while a session flushes, such an UPDATE is queued in psycopg's
pipeline mode instead, the unit of work is told the one row it expects, and the statement is
sent with the next one that needs an answer (an INSERT handing back its ids, a SELECT) or at the
end of the flush, in one round trip. Every queued UPDATE's real row count is checked then, still
inside the flush: a count other than 1 raises StaleDataError exactly as the unit of work would
have (the service turns it into a Conflict and the transaction never commits), and a database
error in a queued statement is raised wrapped as SQLAlchemy wraps any other.

Only single-row UPDATEs without RETURNING, and a flush's audit rows (one INSERT of a known number
of rows, ``engine.persistence.audit_rows``), are queued, only during a flush, only outside a
savepoint; everything else runs as it always did.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, event, exc
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from engine.persistence.audit_rows import QUEUED_ROWS

_FLUSHING = "pathways.pipeline_flushing"  # on the Connection's info while its session flushes
_QUEUED = "pathways.pipeline_queued"


@dataclass
class _Queue:
    pipeline: Any  # psycopg's Pipeline, entered
    updates: list[tuple[Any, str, Any, int]] = field(default_factory=list)  # cursor, statement, parameters, rows


def install(engine: Engine, sessions: sessionmaker[Session]) -> None:
    """Queue flushes' UPDATEs on ``engine`` (PostgreSQL only) for the sessions ``sessions`` makes."""
    if engine.dialect.name != "postgresql":
        return
    from psycopg import Pipeline

    if not Pipeline.is_supported():  # a libpq older than 14: every flush runs as it always did
        return
    event.listen(sessions, "before_flush", _flushing)
    event.listen(sessions, "after_flush", _flushed)
    if event.contains(engine, "do_execute", _execute):  # another session factory on the same engine
        return
    event.listen(engine, "do_execute", _execute)
    event.listen(engine, "do_executemany", _execute_many)
    event.listen(engine, "do_execute_no_params", _send_first)  # runs as ever, after what is queued
    event.listen(engine, "rollback", _abandon)  # a flush that failed part-way never reached after_flush
    event.listen(engine, "checkin", _checked_in)


def _flushing(session: Session, *_: Any) -> None:
    if session.in_nested_transaction():
        return
    session.connection().info[_FLUSHING] = True


def _flushed(session: Session, *_: Any) -> None:
    connection = session.connection()
    connection.info.pop(_FLUSHING, None)
    _send(connection.info)


def _info(context: Any) -> dict[str, Any] | None:
    try:
        return context.root_connection.info  # type: ignore[no-any-return]
    except NotImplementedError:  # the dialect's first connect (server version and the like)
        return None


def _expected(info: dict[str, Any], context: Any, parameters: Any) -> int | None:
    """The rows a statement that can wait for its answer must change: 1 for a flush's UPDATE, one a
    parameter set for the audit rows' INSERT (``engine.persistence.audit_rows``); None for the rest."""
    if not info.get(_FLUSHING) or (context.compiled is not None and context.compiled.effective_returning):
        return None
    if context.isupdate and not context.executemany:
        return 1
    if context.isinsert and context.execution_options.get(QUEUED_ROWS):
        return len(parameters) if context.executemany else 1  # not checked: an INSERT writes every row or fails
    return None


def _enqueue(info: dict[str, Any], cursor: Any, statement: str, parameters: Any, context: Any, expected: int,
             many: bool = False) -> None:  # fmt: skip
    """Send the statement in pipeline mode (entered for the first one) without waiting for its answer."""
    queue: _Queue | None = info.get(_QUEUED)
    if queue is None:
        pipeline = cursor.connection.pipeline()
        pipeline.__enter__()
        queue = info[_QUEUED] = _Queue(pipeline)
    (cursor.executemany if many else cursor.execute)(statement, parameters)
    queue.updates.append((cursor, statement, parameters, expected))
    context._rowcount = expected  # what the unit of work expects; the real count is checked in _send


def _execute(cursor: Any, statement: str, parameters: Any, context: Any) -> bool:
    info = _info(context)
    if info is None:
        return False
    queue: _Queue | None = info.get(_QUEUED)
    expected = _expected(info, context, parameters)
    if expected is not None:
        _enqueue(info, cursor, statement, parameters, context, expected)
        return True
    if queue is None:
        return False
    cursor.execute(statement, parameters)  # goes out with the queued UPDATEs: one round trip for all
    _send(info, wrap=False)  # an error is raised for SQLAlchemy to wrap, with this statement
    return True


def _execute_many(cursor: Any, statement: str, parameters: Any, context: Any) -> bool:
    """The audit rows' INSERT rides the flush's pipeline (psycopg queues each row, unanswered);
    any other statement of many rows runs as it always did, after what is queued."""
    info = _info(context)
    if info is None:
        return False
    expected = _expected(info, context, parameters)
    if expected is None:
        _send(info)
        return False
    _enqueue(info, cursor, statement, parameters, context, expected, many=True)
    return True


def _send_first(cursor: Any, statement: str, *args: Any) -> bool:
    info = _info(args[-1]) if args[-1] is not None else None
    if info is not None:
        _send(info)
    return False  # SQLAlchemy executes it, out of pipeline mode


def _send(info: dict[str, Any], wrap: bool = True) -> None:
    """Send what is queued, wait for every answer, and check each queued UPDATE changed its one row.

    ``wrap``: a database error is raised as SQLAlchemy raises one (outside its own execution)."""
    queue: _Queue | None = info.pop(_QUEUED, None)
    if queue is None:
        return
    try:
        queue.pipeline.__exit__(None, None, None)  # leaves pipeline mode, whatever the answers
    except Exception as error:
        import psycopg

        if not wrap or not isinstance(error, psycopg.Error):
            raise
        _cursor, statement, parameters, _rows = queue.updates[-1]
        raise exc.DBAPIError.instance(statement, parameters, error, psycopg.Error) from error
    for cursor, statement, _parameters, rows in queue.updates:
        if statement.startswith("UPDATE ") and cursor.rowcount != rows:  # an INSERT wrote every row or failed
            raise StaleDataError(
                f"UPDATE statement on table '{statement.split()[1]}' expected to update {rows} row(s); "
                f"{cursor.rowcount} were matched (checked when the flush's queued statements were sent)."
            )


def _reset(info: dict[str, Any]) -> None:
    info.pop(_FLUSHING, None)
    queue: _Queue | None = info.pop(_QUEUED, None)
    if queue is not None:  # an error left it: leave pipeline mode, whatever it holds is rolled back
        try:
            queue.pipeline.__exit__(None, None, None)
        except Exception:  # noqa: BLE001 - the transaction is being rolled back anyway
            pass


def _checked_in(_dbapi_connection: Any, record: Any) -> None:
    _reset(record.info)


def _abandon(connection: Any) -> None:
    _reset(connection.info)
