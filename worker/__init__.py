"""The worker process: APScheduler is only the metronome; due work lives in database rows.

Each tick calls one service (``fire_due_timers``), which claims due cases with row locks
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL) and commits case by case.
"""

from __future__ import annotations

import logging

from apscheduler.schedulers.blocking import BlockingScheduler

from engine import services
from engine.bootstrap import Runtime

log = logging.getLogger("pathways.worker")


def tick(rt: Runtime) -> dict[str, int]:
    counts = services.fire_due_timers(rt)
    if any(counts.values()):
        log.info("timer sweep %s", counts)
    return counts


def run(rt: Runtime) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if rt.is_sqlite:
        log.info("SQLite database: run a single worker (use PostgreSQL for several)")
    scheduler = BlockingScheduler(timezone="UTC")
    scheduler.add_job(tick, "interval", args=[rt], seconds=rt.settings.timer_poll_seconds,
                      max_instances=1, coalesce=True, id="fire_due_timers")  # fmt: skip
    log.info("worker started: timer sweep every %ss", rt.settings.timer_poll_seconds)
    tick(rt)
    scheduler.start()
