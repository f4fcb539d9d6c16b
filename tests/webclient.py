"""Drive the web app as a member of staff: sign in, follow forms with their CSRF token, answer steps."""

from __future__ import annotations

import codecs
import re
from datetime import date
from typing import Any

from flask import Flask
from werkzeug.test import TestResponse

from engine.services.accounts import DEMO_PASSWORD

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_VERSION = re.compile(r'name="case_version" value="(\d+)"')
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def csv_text(body: bytes | TestResponse) -> str:
    """A downloaded CSV as text: it must start with UTF-8's byte order mark (so Excel reads it as UTF-8)."""
    raw = body if isinstance(body, bytes) else body.get_data()
    assert raw.startswith(codecs.BOM_UTF8), raw[:20]
    return raw.decode("utf-8-sig")


def form_fields(answers: dict[str, Any]) -> dict[str, str]:
    """Answers as the browser posts them: dates in three boxes, yes/no radios."""
    posted: dict[str, str] = {}
    for name, value in answers.items():
        if isinstance(value, bool):
            posted[name] = "yes" if value else "no"
        elif isinstance(value, str) and _ISO_DAY.match(value):
            day = date.fromisoformat(value)
            posted.update({f"{name}-day": str(day.day), f"{name}-month": str(day.month), f"{name}-year": str(day.year)})
        else:
            posted[name] = str(value)
    return posted


PPM_START = {"date_of_birth": "2020-03-01", "looked_after_date": "2026-12-18", "in_care_proceedings": False}


def first_review_task(rt: Any, ref: str) -> dict[str, Any]:
    """The open "Hold the first CLA review" step of a PPM case."""
    from engine import services

    return next(t for t in services.list_tasks(rt, ref=ref) if t["element"] == "Task_FirstReview")


def finish_early_planning(rt: Any, ref: str, day: str = "2026-12-18") -> None:
    """Complete a PPM case's family network meeting and parallel plan (open from its start)."""
    from tests.scenario import complete_open, early_planning_answers

    complete_open(rt, ref, early_planning_answers(day))


def care_plan_step(rt: Any, ref: str) -> dict[str, Any]:
    """A PPM case in the north team, moved on past the IRO's first review to the social worker's care-plan step."""
    from engine import services

    services.start_case(rt, "ppm_to_adm", ref, PPM_START, "sw.alice", team="north")
    review = first_review_task(rt, ref)
    services.complete_task(rt, review["id"], {"first_review_date": "2026-12-18", "ppm_requested": True}, "iro.bob")
    return next(t for t in services.list_tasks(rt, ref=ref) if t["element"] == "Task_UpdateCarePlan")


class Staff:
    def __init__(self, app: Flask, username: str, password: str = DEMO_PASSWORD) -> None:
        self.username = username
        self.client = app.test_client()
        page = self.client.get("/login")
        self.csrf = _CSRF.search(page.text).group(1)  # type: ignore[union-attr]
        response = self.client.post("/login", data={"csrf_token": self.csrf, "username": username,
                                                    "password": password})  # fmt: skip
        assert response.status_code == 302, response.text
        self.csrf = _CSRF.search(self.client.get("/", follow_redirects=True).text).group(1)  # type: ignore[union-attr]

    def get(self, path: str, status: int = 200) -> TestResponse:
        response = self.client.get(path)
        assert response.status_code == status, (path, response.status_code, response.text[:2000])
        return response

    def post(self, path: str, data: dict[str, Any] | None = None, status: int = 302) -> TestResponse:
        response = self.client.post(path, data={"csrf_token": self.csrf, **(data or {})})
        assert response.status_code == status, (path, response.status_code, response.text[:3000])
        return response

    def open_task(self, task_id: int) -> str:
        """Open the task page; return its case version (as the form carries it)."""
        page = self.get(f"/tasks/{task_id}")
        return _VERSION.search(page.text).group(1)  # type: ignore[union-attr]

    def complete(self, task_id: int, status: int = 302, version: str | None = None, **answers: Any) -> TestResponse:
        version = version or self.open_task(task_id)
        data = {"action": "complete", "case_version": version, **form_fields(answers)}
        return self.post(f"/tasks/{task_id}", data, status=status)
