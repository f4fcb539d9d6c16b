"""Shared wiring for the CLI, the web app and the worker: one ``bootstrap(settings)``."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine as DatabaseEngine
from sqlalchemy.orm import Session, sessionmaker

from engine.bpmn.definition import PUBLISHED
from engine.bpmn.runtime import Engine
from engine.config import Settings
from engine.persistence import database
from engine.persistence.uow import UnitOfWork


@dataclass
class Runtime:
    settings: Settings
    db: DatabaseEngine
    sessions: sessionmaker[Session]
    bpmn: Engine

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.sessions)

    def reading(self) -> UnitOfWork:
        """A unit of work for a page or list that changes nothing (no transaction: see UnitOfWork)."""
        return UnitOfWork(self.sessions, read_only=True)

    @property
    def is_sqlite(self) -> bool:
        return self.db.dialect.name == "sqlite"


def bootstrap(settings: Settings | None = None, db: DatabaseEngine | None = None) -> Runtime:
    settings = settings or Settings.from_env()
    db = db or database.make_engine(settings.database_url)
    PUBLISHED.forget()  # a new runtime may be a new database whose row ids were used before
    return Runtime(settings=settings, db=db, sessions=database.session_factory(db), bpmn=Engine())
