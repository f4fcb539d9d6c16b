"""Reliability benchmark (issue 15): the escalation sweep over a backlog, and email through a real SMTP server.

    .venv/bin/python bench/reliability_bench.py [--steps 2000] [--emails 300]

On SQLite, then PostgreSQL when reachable:

- ``sweep``: N overdue steps (cloned from one real case), the first sweep raising every rung due,
  in batches of 20 in short transactions. Printed per step, with ``ratio_small_to_large`` of the
  per-step cost at N/5 and at N (1.0 = flat in the backlog).
- ``quiet``: the sweep again when every step is fully escalated (the query leaves them out).
  ``ratio_quiet_to_first`` is its cost against the first sweep.
- ``complete``: ``complete_task`` on an overdue step while a sweep runs in another thread, against
  the same call with no sweep: ``ratio_complete_during_sweep`` (it waited 5.25 s behind one
  transaction of 500 locks before).
- ``email``: M messages to a local SMTP server that answers at once (``tests/smtp.py``), a
  lease renewed before each and each recorded as sent: ``emails_per_s``.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _common  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from engine import clock, services  # noqa: E402
from engine.bootstrap import bootstrap  # noqa: E402
from engine.config import Settings  # noqa: E402
from engine.persistence import database  # noqa: E402
from engine.persistence.models import Case, HumanTask, Notification  # noqa: E402
from tests.conftest import DIAGRAMS  # noqa: E402
from tests.smtp import SlowSmtp  # noqa: E402
from worker.mail import SmtpSender  # noqa: E402

SEEDED = datetime(2026, 12, 18, 9, tzinfo=UTC)
FIRST_RUNG = datetime(2027, 1, 7, 9, tzinfo=UTC)
ALL_RUNGS = datetime(2027, 1, 22, 9, tzinfo=UTC)


def _runtime(url: str, db):  # type: ignore[no-untyped-def]
    database.upgrade(db)
    return bootstrap(Settings(database_url=url), db=db)


def seed(rt, steps: int, prefix: str) -> list[int]:  # type: ignore[no-untyped-def]
    """``steps`` cases cloned from one real case, each with one step overdue since 6 Jan 2027."""
    with clock.using(lambda: SEEDED):
        services.start_case(rt, "test_review_cycle", f"{prefix}-SEED", {"looked_after_date": "2026-12-18"}, "bench",
                            team="north")  # fmt: skip
    with rt.uow() as uow:
        seedcase = uow.session.query(Case).filter(Case.ref == f"{prefix}-SEED").one()
        for n in range(steps):
            case = Case(ref=f"{prefix}-{n}", key=seedcase.key, team="north", definition=seedcase.definition,
                        status="running", state=seedcase.state, state_format=seedcase.state_format, start_data={},
                        started_at=SEEDED, started_by="bench", updated_at=SEEDED)  # fmt: skip
            uow.session.add(case)
            uow.session.flush()
            uow.session.add(HumanTask(case_id=case.id, key=case.key, spiff_id=str(uuid.uuid4()),
                                      element="Task_CarePlan",
                                      title="Write the care plan", role="social_worker", team="north",
                                      due_date=date(2027, 1, 6), status="open", created_at=SEEDED))  # fmt: skip
        uow.session.commit()
        return [seedcase.id]


def sweep_per_step(rt, steps: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """(first sweep seconds per step, quiet sweep seconds) for ``steps`` overdue steps."""
    start = time.perf_counter()
    raised = services.escalate_overdue(rt, ALL_RUNGS)["escalations_raised"]
    first = time.perf_counter() - start
    assert raised >= 4 * steps, raised
    start = time.perf_counter()
    assert services.escalate_overdue(rt, ALL_RUNGS)["escalations_raised"] == 0
    return first / steps, time.perf_counter() - start


def complete_during_sweep(rt, steps: int, reps: int = 9) -> float:  # type: ignore[no-untyped-def]
    """Median complete_task during a first-rung sweep of ``steps`` steps over median without one."""
    alone, during = [], []
    for rep in range(reps):
        seed(rt, steps if rep % 2 else 0, f"C{rep}")
        [task] = services.list_tasks(rt, ref=f"C{rep}-SEED")
        sweeper = threading.Thread(target=services.escalate_overdue, args=(rt, FIRST_RUNG))
        if rep % 2:
            sweeper.start()
        with clock.using(lambda: FIRST_RUNG):
            start = time.perf_counter()
            services.complete_task(rt, task["id"], {"care_plan_date": "2027-01-06"}, "bench")
            (during if rep % 2 else alone).append(time.perf_counter() - start)
        if rep % 2:
            sweeper.join()
    return statistics.median(during) / statistics.median(alone)


def emails_per_s(rt, emails: int) -> float:  # type: ignore[no-untyped-def]
    with rt.uow() as uow:
        now = datetime.now(UTC)
        for n in range(emails):
            uow.session.add(Notification(key=f"bench:{n}:email:tm", channel="email", recipient_address="tm@x.local",
                                         subject="Overdue", body="CH-1", status="pending", attempts=0,
                                         next_attempt_at=now, created_at=now))  # fmt: skip
        uow.session.commit()
    with SlowSmtp(delay=0.0) as smtp:
        start = time.perf_counter()
        sent = services.deliver_notifications(rt, SmtpSender(smtp.url, "bench@x.local"), "bench")["sent"]
        elapsed = time.perf_counter() - start
    assert sent == emails == len(set(smtp.received)), (sent, len(smtp.received))
    return emails / elapsed


def run(label: str, make_db, steps: int, emails: int) -> None:  # type: ignore[no-untyped-def]
    figures = {}
    for size in (steps // 5, steps):
        url, db = make_db()
        rt = _runtime(url, db)
        services.publish_files(rt, [("review_cycle.bpmn", (DIAGRAMS / "review_cycle.bpmn").read_bytes())], "bench")
        seed(rt, size, "B")
        figures[size] = sweep_per_step(rt, size)
        db.dispose()
    url, db = make_db()
    rt = _runtime(url, db)
    services.publish_files(rt, [("review_cycle.bpmn", (DIAGRAMS / "review_cycle.bpmn").read_bytes())], "bench")
    ratio_complete = complete_during_sweep(rt, max(steps // 5, 20))
    rate = emails_per_s(rt, emails)
    db.dispose()
    (small_step, _), (large_step, quiet) = figures[steps // 5], figures[steps]
    print(f"{label} sweep steps={steps} ms_per_step={large_step * 1000:.2f} quiet_sweep_ms={quiet * 1000:.1f} "
          f"ratio_small_to_large={large_step / small_step:.2f} ratio_quiet_to_first={quiet / (large_step * steps):.3f} "
          f"ratio_complete_during_sweep={ratio_complete:.2f} emails_per_s={rate:.0f}")  # fmt: skip


def _sqlite():  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    return url, database.make_engine(url)


SCHEMAS: list[str] = []  # dropped when the run ends


def _postgres(url: str):  # type: ignore[no-untyped-def]
    schema = f"bench_rel_{uuid.uuid4().hex[:8]}"
    SCHEMAS.append(schema)
    admin = create_engine(database.normalise_url(url))
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    admin.dispose()
    engine = database.make_engine(url, schema=schema)
    return url, engine


def main() -> None:
    parser = _common.parser(__doc__.split("\n")[0], steps=100, emails=30)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--emails", type=int, default=300)
    args = _common.parse(parser)
    run("sqlite", _sqlite, args.steps, args.emails)
    if not _common.postgres_reachable(args.database_url):
        print("postgres unreachable")
        return
    try:
        run("postgres", lambda: _postgres(args.database_url), args.steps, args.emails)
    finally:
        admin = create_engine(database.normalise_url(args.database_url))
        with admin.begin() as conn:
            for schema in SCHEMAS:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()


if __name__ == "__main__":
    main()
