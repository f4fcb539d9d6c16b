"""Fixtures: a migrated database per test (SQLite by default, PostgreSQL with TEST_DATABASE_URL),
an injected clock, and the test diagrams. No test sleeps or reads wall-clock time."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from engine import clock
from engine.bootstrap import Runtime, bootstrap
from engine.config import Settings
from engine.persistence import database
from engine.persistence.models import Base

DIAGRAMS = Path(__file__).parent / "diagrams"
START = datetime(2026, 12, 18, 9, 0, tzinfo=UTC)
TEST_SETTINGS = {"allow_local_subscriptions": True}  # receivers in tests listen on loopback


def pytest_report_header() -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    return f"database: {'PostgreSQL ' + url if url else 'SQLite (set TEST_DATABASE_URL for PostgreSQL)'}"


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Migrate once per session: a SQLite file to copy, or a private PostgreSQL schema."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        template = tmp_path_factory.mktemp("db") / "template.db"
        engine = database.make_engine(f"sqlite:///{template}")
        database.upgrade(engine)
        engine.dispose()
        yield {"kind": "sqlite", "template": template}
        return
    schema = f"pp_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(database.normalise_url(url))
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine = database.make_engine(url, schema=schema)  # the pool as production has it
    database.upgrade(engine)
    yield {"kind": "postgresql", "engine": engine, "schema": schema, "url": url}
    engine.dispose()
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture
def rt(database_template: dict, tmp_path: Path) -> Iterator[Runtime]:
    if database_template["kind"] == "sqlite":
        path = tmp_path / "pathways.db"
        shutil.copy(database_template["template"], path)
        runtime = bootstrap(Settings(database_url=f"sqlite:///{path}", mail_dir=tmp_path / "mail", **TEST_SETTINGS))
        yield runtime
        runtime.db.dispose()
        return
    engine = database_template["engine"]
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    yield bootstrap(
        Settings(database_url=database_template["url"], mail_dir=tmp_path / "mail", **TEST_SETTINGS), db=engine
    )


@pytest.fixture
def subprocess_database_url(rt: Runtime, database_template: dict) -> str:
    """The URL a separate process (a real worker) uses to reach this test's database."""
    if database_template["kind"] == "sqlite":
        return rt.settings.database_url
    return f"{database_template['url']}?options=-csearch_path%3D{database_template['schema']}"


@pytest.fixture
def is_postgres(database_template: dict) -> bool:
    return database_template["kind"] == "postgresql"


@pytest.fixture
def now() -> Iterator[clock.SettableClock]:
    """The injected clock, starting Fri 18 Dec 2026 09:00 UTC."""
    source = clock.SettableClock(START)
    clock.install(source)
    yield source
    clock.install(None)


@pytest.fixture
def diagrams() -> Path:
    return DIAGRAMS


def load(rt: Runtime, *names: str) -> None:
    from engine import services

    services.publish_files(rt, [(n, (DIAGRAMS / n).read_bytes()) for n in names], "test")


def team_mailboxes(rt: Runtime) -> None:
    """Teams north and south, each role's email going to the team's mailbox for it
    (``role.team@pathways.local``), as an administrator sets with ``pathways teams mailbox``."""
    from engine.domain.access import ROLE_STEPS
    from engine.services import accounts, recipients

    if recipients.list_mailboxes(rt):
        return
    known = {t["name"] for t in accounts.list_teams(rt)}
    for team in ("north", "south"):
        if team not in known:
            accounts.add_team(rt, team, team.title(), "admin")
        for role in sorted(set().union(*ROLE_STEPS.values())):
            recipients.set_mailbox(rt, team, role, f"{role}.{team}@pathways.local", "admin")


@pytest.fixture
def app(rt: Runtime, now: clock.SettableClock, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The web app on the test database, with the workflows and the demo users (one per role)."""
    import functools
    from dataclasses import replace

    from engine.services import accounts
    from tests.scenario import publish_workflows
    from web import create_app

    monkeypatch.setattr(accounts, "hash_password", functools.lru_cache(accounts.hash_password))  # one hash: fast
    # Pathway tests move the injected clock on by weeks with the same people signed in: sessions last
    # as long as the test here (tests/integration/test_web_sessions.py puts the real limits back).
    monkeypatch.setattr(rt, "settings", replace(rt.settings, session_hours=24 * 3650, session_idle_minutes=10**7))
    publish_workflows(rt)
    accounts.ensure_demo_users(rt)
    return create_app({"SECRET_KEY": "test-secret", "TESTING": True}, runtime=rt)


@pytest.fixture
def cli(rt):
    from pathways.cli import main

    runner = CliRunner()

    def run(*args: str, ok: bool = True):
        result = runner.invoke(main, list(args), obj=rt, catch_exceptions=False)
        assert (result.exit_code == 0) is ok, result.output + result.stderr
        return result

    return run
