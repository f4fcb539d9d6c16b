"""Kill real workers (two at once on PostgreSQL) with SIGKILL at random moments while work falls due:
nothing lost, nothing doubled: every timer, every escalation rung and every email exactly once.

The wall-clock waits here only choose when to kill the process; the worker's own time is fixed
with ``pathways worker --now`` (a drill clock: it starts there and moves on with real time).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine import clock, services
from engine.persistence.models import AuditEvent, Case, Escalation, Notification
from tests.conftest import load, team_mailboxes
from tests.scenario import complete_review_setup

START = datetime(2027, 1, 4, 9, tzinfo=UTC)
PATHWAYS = Path(sys.executable).with_name("pathways")


def _seed(rt, cases: int) -> None:
    """Cases whose clocks are staggered over ten days, so work falls due on every day of the run."""
    team_mailboxes(rt)
    load(rt, "review_cycle.bpmn")
    for i in range(cases):
        ref, looked_after = f"CH-{i}", (date(2026, 12, 14) + timedelta(days=i % 10)).isoformat()
        with clock.frozen(
            datetime.combine(date.fromisoformat(looked_after), datetime.min.time(), tzinfo=UTC) + timedelta(hours=10)
        ):  # each started the day the child became looked after
            services.start_case(rt, "test_review_cycle", ref, {"looked_after_date": looked_after}, "sw", team="north")
            if i % 2:  # half wait on the review's boundary timer; half have an overdue step
                complete_review_setup(rt, ref, looked_after)


def _worker(env: dict, at: datetime, *args: str) -> subprocess.Popen:
    return subprocess.Popen([str(PATHWAYS), "worker", "--now", at.isoformat(), *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip


def _count(rt, query) -> int:
    with rt.uow() as uow:
        return uow.session.scalar(query)


def _wait_until_working(rt, process: subprocess.Popen, limit: float = 6.0) -> None:
    """Return once the worker has written its first audit row this run (or after ``limit`` seconds)."""
    before = _count(rt, select(func.count(AuditEvent.id)))
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and process.poll() is None:
        if _count(rt, select(func.count(AuditEvent.id))) != before:
            return
        time.sleep(0.02)


def _unfinished(rt, at: datetime) -> bool:
    """Was due work left when the worker died (a timer, a rung or an email)?"""
    timers = _count(rt, select(func.count(Case.id)).where(Case.next_timer_due <= at, Case.status.in_(
        ("running", "waiting"))))  # fmt: skip
    emails = _count(rt, select(func.count(Notification.id)).where(Notification.status == "pending",
                                                                   Notification.next_attempt_at <= at))  # fmt: skip
    return bool(timers or emails)


@pytest.mark.slow
def test_fifty_kills_while_work_falls_due_lose_nothing_and_double_nothing(
    rt, now, subprocess_database_url, is_postgres, tmp_path
):
    _seed(rt, cases=120)
    env = {**os.environ, "DATABASE_URL": subprocess_database_url, "MAIL_DIR": str(tmp_path / "mail"),
           "TIMER_POLL_SECONDS": "0.2"}  # fmt: skip
    rng = random.Random(20261123)
    kills = 50 if is_postgres else 20
    interrupted = 0
    for day in range(kills):
        at = START + timedelta(days=day * 30 / kills)  # the worker's clock moves on a little each restart
        processes = [_worker(env, at) for _ in range(2 if is_postgres else 1)]  # SQLite runs one worker
        try:
            _wait_until_working(rt, processes[0])
            time.sleep(rng.uniform(0.0, 0.15))  # chooses the kill point only: the worker's clock is fixed
        finally:  # killed whatever happened: a failing test must not leave workers running
            for process in processes:
                process.send_signal(signal.SIGKILL)
                process.wait(timeout=30)
        interrupted += _unfinished(rt, at)
    last = START + timedelta(days=30)
    for _ in range(20):  # recovery: sweep until nothing is left (a killed worker's email leases must expire)
        done = subprocess.run([str(PATHWAYS), "worker", "--once", "--now", last.isoformat()], env=env,
                              capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
        if not _unfinished(rt, last) and "escalations raised: 0" in done.stdout:
            break
        last += timedelta(minutes=3)  # past the lease of any email a killed worker had claimed
    print(f"{interrupted} of {kills} kills landed while due work was unfinished")
    assert interrupted >= kills // 5, f"only {interrupted} of {kills} kills landed while work was due"
    _assert_exactly_once(rt, last)


def _assert_exactly_once(rt, at: datetime) -> None:
    escalations = _count(rt, select(func.count(Escalation.id)))
    assert escalations > 0
    assert _count(rt, select(func.count(func.distinct(Escalation.key)))) == escalations
    audited = _count(rt, select(func.count(AuditEvent.id)).where(AuditEvent.action == "escalation.raised"))
    assert audited == escalations  # raised and audited in one transaction: never one without the other
    fired = _count(rt, select(func.count(AuditEvent.id)).where(AuditEvent.action == "timer.fired"))
    assert fired == 60  # each waiting case's review timer fired exactly once
    assert not _unfinished(rt, at)
    notes = _count(rt, select(func.count(Notification.id)))
    assert _count(rt, select(func.count(func.distinct(Notification.key)))) == notes
    emails = _count(rt, select(func.count(Notification.id)).where(Notification.channel == "email"))
    assert _count(rt, select(func.count(Notification.id)).where(Notification.status == "sent")) == emails
    assert notes == 2 * emails  # every email has its in-app twin
    assert _count(rt, select(func.count(Notification.id)).where(Notification.channel == "email",
                                                                Notification.attempts != 1)) == 0  # fmt: skip
    assert services.escalate_overdue(rt, at) == {"escalations_raised": 0, "escalations_late": 0}
