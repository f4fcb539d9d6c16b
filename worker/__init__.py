"""The worker process: APScheduler is only the metronome; due work lives in database rows.

Each job calls one engine service (apply stored case-system events, fire due BPMN timers, raise
escalations, deliver the outbox: email, then subscribers' webhooks; refresh the permanence
tracker; fold the managers' kept counts). Every service claims its rows in small batches with
row locks (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), in short transactions, and records each
item under a unique key, so several workers can run side by side and a worker killed at any
instant loses nothing.

Each job is its own APScheduler job on its own thread: a slow mail server holds up email only,
never timers or escalations (issue 15: one slow job skipped 31-39 sweeps of everything). SIGTERM
and SIGINT stop gracefully: no job starts again, timers and escalations stop between batches,
email and webhooks finish the item in hand and release the rest, and the process exits when the
running jobs have returned. On SQLite one worker runs; a second says so and stops.
"""

from __future__ import annotations

import fcntl
import gc
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.engine import make_url

from engine import services
from engine.bootstrap import Runtime
from engine.services import rate_limits
from engine.services.notifications import Sender
from engine.services.subscriptions import Poster
from webhooks.outbound import HttpPoster
from worker.mail import sender_for

log = logging.getLogger("pathways.worker")
Job = Callable[[], dict[str, int]]


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def jobs(rt: Runtime, sender: Sender, name: str, poster: Poster, stop: Callable[[], bool] = lambda: False
         ) -> dict[str, Job]:  # fmt: skip
    """The worker's jobs by name, in the order one sweep runs them."""
    return {
        "events": lambda: services.apply_events(rt),
        "timers": lambda: services.fire_due_timers(rt, stop=stop),
        "escalations": lambda: services.escalate_overdue(rt, stop=stop),
        "deliveries": lambda: services.deliver_notifications(rt, sender, name, stop=stop),
        "webhooks": lambda: services.deliver_webhooks(rt, poster, name, stop=stop),
        "tracker": lambda: services.refresh_tracker(rt),
        "tallies": lambda: services.fold_tallies(rt, stop=stop),
        "rate_limits": lambda: {"rate_limit_windows_pruned": rate_limits.prune(rt)},
    }


def _poster(rt: Runtime) -> HttpPoster:
    return HttpPoster(allow_local=rt.settings.allow_local_subscriptions)


def run_job(job: str, run: Job, name: str) -> dict[str, int]:
    """One job's run: a failure is logged and the job runs again at its next turn."""
    try:
        counts = run()
    except Exception:
        log.exception("event=job_failed job=%s worker=%s", job, name)
        return {}
    if any(counts.values()):
        log.info("event=job job=%s worker=%s %s", job, name, " ".join(f"{k}={v}" for k, v in counts.items()))
    return counts


def tick(rt: Runtime, sender: Sender | None = None, name: str | None = None, poster: Poster | None = None
         ) -> dict[str, int]:  # fmt: skip
    """One sweep of every job in turn (``pathways worker --once``, tests). A failing job is logged, the rest run."""
    name = name or worker_id()
    counts: dict[str, int] = {}
    for job, run in jobs(rt, sender or sender_for(rt.settings), name, poster or _poster(rt)).items():
        counts.update(run_job(job, run, name))
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


def run(rt: Runtime, stop: threading.Event | None = None) -> None:
    """Run every job on its own thread every ``timer_poll_seconds`` until SIGTERM or SIGINT (or ``stop``)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # each job logs what it did itself
    lock = None
    if rt.is_sqlite:
        lock = _single_sqlite_worker(rt)
        if lock is None:
            log.error("event=refused reason='another worker is already running on this SQLite database; "
                      "SQLite runs one worker (use PostgreSQL for several)'")  # fmt: skip
            sys.exit(1)
        log.info("event=start database=sqlite note='single worker'")
    stop = stop or threading.Event()
    _stop_on_signals(stop)
    name = worker_id()
    found = jobs(rt, sender_for(rt.settings), name, _poster(rt), stop.is_set)
    gc.freeze()  # startup objects live as long as the process: no full collection walks them (web/wsgi.py)
    scheduler = BackgroundScheduler(timezone="UTC", executors={"default": ThreadPoolExecutor(len(found))})
    for job, work in found.items():
        scheduler.add_job(run_job, "interval", args=[job, work, name], seconds=rt.settings.timer_poll_seconds,
                          max_instances=1, coalesce=True, id=job, name=job,
                          next_run_time=datetime.now(UTC))  # fmt: skip
    log.info("event=start worker=%s every=%ss jobs=%s", name, rt.settings.timer_poll_seconds, ",".join(found))
    scheduler.start()
    try:
        while not stop.wait(0.5):
            pass
        log.info("event=stopping worker=%s note='finishing the items in hand'", name)
        scheduler.shutdown(wait=True)
        log.info("event=stopped worker=%s", name)
    finally:
        if lock is not None:
            lock.close()


def _stop_on_signals(stop: threading.Event) -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
