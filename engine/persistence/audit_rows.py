"""A transaction's audit rows go to the database in one INSERT that hands nothing back (issue 18).

A completion writes four to eight audit rows. As ORM objects they went out in an INSERT ...
RETURNING (the unit of work wants every new row's id), which waits for its answer, and each row
went through the unit of work's bookkeeping. Nothing reads an audit row's id back (the trail is
append-only and read by query), so when a session flushes, its new audit rows are taken out of
the session and written by one INSERT statement for all of them (executemany), in the order they
were added, compiled once. On PostgreSQL psycopg queues it with the flush's UPDATEs
(``engine.persistence.pipelining``): it goes out with the next statement that needs an answer, and
an error in it is raised then, inside the flush, as any other.

Everything else holds as it did: the rows are written in the same transaction, before anything
else of the flush (an audit row refers to a case already written); a query, a savepoint or the
commit flushes first as it always did, so a service reads its own rows; a rollback (of the
transaction or of a savepoint they were written in) takes them back with everything else.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, event, insert, inspect
from sqlalchemy.orm import Session, sessionmaker

from engine.persistence.models import AuditEvent

COLUMNS = ("case_id", "at", "actor", "action", "element", "detail", "before", "after")
QUEUED_ROWS = "pathways.queued_rows"  # execution option: the flush's pipeline may queue this INSERT
_INSERT = insert(cast(Table, AuditEvent.__table__)).execution_options(**{QUEUED_ROWS: True})  # compiled once


def _write(session: Session, _context: Any, _instances: Any) -> None:
    events = sorted((obj for obj in session.new if type(obj) is AuditEvent), key=lambda e: inspect(e).insert_order or 0)
    if not events:
        return
    for row in events:
        session.expunge(row)
    session.connection().execute(_INSERT, [{name: getattr(e, name) for name in COLUMNS} for e in events])


def install(sessions: sessionmaker[Session]) -> None:
    """Write audit rows this way in every session ``sessions`` makes (after the pipeline is set up)."""
    event.listen(sessions, "before_flush", _write)
