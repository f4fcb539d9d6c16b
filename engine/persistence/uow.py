"""Unit of work: one transaction per service call; rolls back unless the service commits.

A reading unit (``read_only=True``, for lists and pages that change nothing) runs its statements
without a transaction of its own: each sees what was committed when it ran, exactly as in a READ
COMMITTED transaction, but with no BEGIN and no ROLLBACK round trips (PostgreSQL), and without
taking SQLite's write lock, which every transaction here takes (BEGIN IMMEDIATE). A reading
unit that tries to write is refused before anything is sent."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.orm import Session, sessionmaker

READ_ONLY = "pathways.read_only"


class UnitOfWork:
    def __init__(self, sessions: sessionmaker[Session], read_only: bool = False) -> None:
        self._sessions = sessions
        self._read_only = read_only
        self.session: Session

    def __enter__(self) -> Self:
        self.session = self._sessions()
        if self._read_only:
            self.session.info[READ_ONLY] = True
            options: dict[str, object] = {READ_ONLY: True}  # SQLite: no BEGIN IMMEDIATE (its driver autocommits)
            if self.session.get_bind().dialect.name == "postgresql":
                options["isolation_level"] = "AUTOCOMMIT"  # psycopg sends no BEGIN (a client-side setting)
            self.session.connection(execution_options=options)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if not self._read_only:  # a reading unit's rows stay readable after it ends (nothing to undo)
            self.session.rollback()
        self.session.close()

    def commit(self) -> None:
        if self._read_only:
            raise RuntimeError("a reading unit of work cannot commit")
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()

    @property
    def dialect(self) -> str:
        return self.session.get_bind().dialect.name
