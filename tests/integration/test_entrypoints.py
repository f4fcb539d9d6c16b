"""The web app's entry points and the worker tick call the engine's services."""

from __future__ import annotations

from datetime import UTC, datetime

from engine import services
from tests.conftest import load
from tests.scenario import complete_review_setup
from web import create_app
from worker import tick


def test_the_home_page_is_the_inbox_behind_sign_in_and_health_needs_none(rt, now):
    client = create_app({"TESTING": True, "SECRET_KEY": "k"}, runtime=rt).test_client()
    assert client.get("/").headers["Location"] == "/login?next=/"
    assert client.get("/healthz").get_json() == {"status": "ok", "database": "ok"}


def test_worker_tick_fires_due_timers(rt, now):
    load(rt, "review_cycle.bpmn")
    services.start_case(rt, "test_review_cycle", "CH-1", {"looked_after_date": "2026-12-18"}, "sw")
    complete_review_setup(rt, "CH-1", "2026-12-18")
    assert tick(rt)["cases_fired"] == 0
    now.set(datetime(2027, 1, 21, 6, tzinfo=UTC))
    assert tick(rt)["cases_fired"] == 1
    assert "Task_ChaseReview" in [t["element"] for t in services.list_tasks(rt, ref="CH-1")]


def test_the_production_entry_point_builds_the_app_and_freezes_its_startup_objects(rt, subprocess_database_url):
    """``gunicorn 'web.wsgi:app'`` (README): in a process of its own, as a server would load it."""
    import os
    import subprocess
    import sys

    code = ("import gc, json; from web.wsgi import app; r = app.test_client().get('/healthz');"
            "print(json.dumps([gc.get_freeze_count() > 1000, r.status_code, r.get_json()]))")  # fmt: skip
    env = {**os.environ, "DATABASE_URL": subprocess_database_url, "SECRET_KEY": "test-secret"}
    found = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert found.stdout.strip().splitlines()[-1] == '[true, 200, {"database": "ok", "status": "ok"}]'
