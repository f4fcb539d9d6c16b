"""The worker process: APScheduler is only the metronome; due work lives in database rows.

Each tick calls the engine's services in turn (apply stored case-system events, fire due BPMN
timers, raise escalations, deliver the outbox: email, then subscribers' webhooks; refresh the
permanence tracker). Every service claims its rows with row locks (``FOR UPDATE SKIP LOCKED``
on PostgreSQL) and records each item under a unique key, so several workers can run side by side
and a worker killed at any instant loses nothing. On SQLite one worker runs; a second says so and
stops.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy.engine import make_url

from engine import services
from engine.bootstrap import Runtime
from engine.services.notifications import Sender
from engine.services.subscriptions import Poster
from webhooks.outbound import HttpPoster
from worker.mail import sender_for

log = logging.getLogger("pathways.worker")


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def tick(rt: Runtime, sender: Sender | None = None, name: str | None = None, poster: Poster | None = None
         ) -> dict[str, int]:  # fmt: skip
    """One sweep. A failing job is logged and the others still run."""
    sender = sender or sender_for(rt.settings)
    poster = poster or HttpPoster()
    name = name or worker_id()
    jobs: list[tuple[str, Callable[[], dict[str, int]]]] = [
        ("events", lambda: services.apply_events(rt)),
        ("timers", lambda: services.fire_due_timers(rt)),
        ("escalations", lambda: services.escalate_overdue(rt)),
        ("deliveries", lambda: services.deliver_notifications(rt, sender, name)),
        ("webhooks", lambda: services.deliver_webhooks(rt, poster, name)),
        ("tracker", lambda: services.refresh_tracker(rt)),
    ]
    counts: dict[str, int] = {}
    for job, run_job in jobs:
        try:
            counts.update(run_job())
        except Exception:
            log.exception("event=job_failed job=%s worker=%s", job, name)
    if any(counts.values()):
        log.info("event=sweep worker=%s %s", name, " ".join(f"{k}={v}" for k, v in counts.items()))
    return counts


def _single_sqlite_worker(rt: Runtime) -> IO[Any] | None:
    """Hold an exclusive lock beside the SQLite file; None if another worker holds it."""
    database = make_url(str(rt.db.url)).database or "pathways.db"
    lock = open(Path(database).with_suffix(".worker.lock"), "w")  # noqa: SIM115 - held for the process lifetime
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        lock.close()
        return None
    return lock


def run(rt: Runtime) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    lock = None
    if rt.is_sqlite:
        lock = _single_sqlite_worker(rt)
        if lock is None:
            log.error("event=refused reason='another worker is already running on this SQLite database; "
                      "SQLite runs one worker (use PostgreSQL for several)'")  # fmt: skip
            sys.exit(1)
        log.info("event=start database=sqlite note='single worker'")
    sender, name, poster = sender_for(rt.settings), worker_id(), HttpPoster()
    scheduler = BlockingScheduler(timezone="UTC")
    scheduler.add_job(tick, "interval", args=[rt, sender, name, poster], seconds=rt.settings.timer_poll_seconds,
                      max_instances=1, coalesce=True, id="sweep")  # fmt: skip
    log.info("event=start worker=%s every=%ss", name, rt.settings.timer_poll_seconds)
    tick(rt, sender, name, poster)
    try:
        scheduler.start()
    finally:
        if lock is not None:
            lock.close()
