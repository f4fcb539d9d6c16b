"""Worker benchmark: N cases whose timers all fall due at once; how fast do 1 and 2 workers fire them?

    .venv/bin/python bench/worker_bench.py [--cases 10000]

The cases are cloned from one real case (the benchmark measures firing, not setting up). Each
timer firing is the full service path: claim the case with a row lock, load its state, fire the
timer, run on to the end, write the outcome and audit rows, save, commit. The bare figure is
SpiffWorkflow alone in memory (refresh_timers + do_engine_steps on live objects). Two workers run
only on PostgreSQL; SQLite runs one. Ends with ``timers_per_s_sqlite=X timers_per_s_postgres=Y``.
"""

from __future__ import annotations

import multiprocessing
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _common  # noqa: E402
from sqlalchemy import create_engine, insert, select, text  # noqa: E402

from engine import clock, services  # noqa: E402
from engine.bootstrap import bootstrap  # noqa: E402
from engine.bpmn.runtime import Engine  # noqa: E402
from engine.config import Settings  # noqa: E402
from engine.persistence import database  # noqa: E402
from engine.persistence.models import Case  # noqa: E402

DIAGRAM = Path(__file__).with_name("timer_only.bpmn")
DUE = "2027-01-20"
FIRE_AT = datetime(2027, 1, 21, 9, tzinfo=UTC)


def _engine(url: str, schema: str | None):
    return database.make_engine(url, schema=schema)


def seed(url: str, schema: str | None, cases: int) -> None:
    db = _engine(url, schema)
    database.upgrade(db)
    rt = bootstrap(Settings(database_url=url), db=db)
    services.publish_files(rt, [(DIAGRAM.name, DIAGRAM.read_bytes())], "bench")
    clock.install(lambda: datetime(2027, 1, 4, 9, tzinfo=UTC))
    services.start_case(rt, "bench_timer", "BENCH-0", {"timer_due": DUE}, "bench")
    clock.install(None)
    with db.begin() as conn:
        template = dict(conn.execute(select(Case.__table__).where(Case.ref == "BENCH-0")).mappings().one())
        template.pop("id")
        rows = [{**template, "ref": f"BENCH-{i}"} for i in range(1, cases)]
        for start in range(0, len(rows), 2000):
            conn.execute(insert(Case.__table__), rows[start : start + 2000])
    db.dispose()


def _fire(url: str, schema: str | None, go, results) -> None:  # a worker process
    db = _engine(url, schema)
    rt = bootstrap(Settings(database_url=url), db=db)
    go.wait()
    counts = services.fire_due_timers(rt, FIRE_AT)
    results.put(counts["cases_fired"])
    db.dispose()


def run_workers(url: str, schema: str | None, workers: int) -> tuple[float, int]:
    context = multiprocessing.get_context("spawn")
    go, results = context.Event(), context.Queue()
    processes = [context.Process(target=_fire, args=(url, schema, go, results)) for _ in range(workers)]
    for process in processes:
        process.start()
    time.sleep(3)  # let every worker import and connect before the start signal (not timed)
    start = time.perf_counter()
    go.set()
    fired = sum(results.get() for _ in processes)
    elapsed = time.perf_counter() - start
    for process in processes:
        process.join()
    return elapsed, fired


def bare(cases: int) -> float:
    engine = Engine()
    spec = engine.build_spec("bench_timer", [(DIAGRAM.name, DIAGRAM.read_bytes())])
    clock.install(lambda: datetime(2027, 1, 4, 9, tzinfo=UTC))
    flows = [engine.start(spec, {"timer_due": date.fromisoformat(DUE)})[0] for _ in range(cases)]
    clock.install(lambda: FIRE_AT)
    start = time.perf_counter()
    for workflow in flows:
        workflow.refresh_timers()
        workflow.do_engine_steps()
    elapsed = time.perf_counter() - start
    clock.install(None)
    assert all(w.is_completed() for w in flows)
    return elapsed


def _postgres_schema(url: str) -> str | None:
    try:
        admin = create_engine(database.normalise_url(url))
        schema = f"bench_worker_{uuid.uuid4().hex[:8]}"
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        admin.dispose()
        return schema
    except Exception:
        return None


def _drop(url: str, schema: str) -> None:
    admin = create_engine(database.normalise_url(url))
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


def main() -> None:
    parser = _common.parser(__doc__.split("\n")[0], cases=200)
    parser.add_argument("--cases", type=int, default=10_000)
    args = _common.parse(parser)
    bare_s = bare(args.cases)
    print(f"bare_spiffworkflow cases={args.cases} seconds={bare_s:.2f} timers_per_s={args.cases / bare_s:.0f}")
    best: dict[str, float] = {}
    sqlite_url = f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    seed(sqlite_url, None, args.cases)
    elapsed, fired = run_workers(sqlite_url, None, 1)
    best["sqlite"] = fired / elapsed
    print(f"sqlite workers=1 fired={fired} seconds={elapsed:.2f} timers_per_s={fired / elapsed:.0f} "
          f"ratio_to_bare={elapsed / bare_s:.1f}")  # fmt: skip
    for workers in (1, 2):
        schema = _postgres_schema(args.database_url)
        if schema is None:
            print("postgres unreachable")
            break
        try:
            seed(args.database_url, schema, args.cases)
            elapsed, fired = run_workers(args.database_url, schema, workers)
        finally:
            _drop(args.database_url, schema)
        best["postgres"] = max(best.get("postgres", 0.0), fired / elapsed)
        print(f"postgres workers={workers} fired={fired} seconds={elapsed:.2f} timers_per_s={fired / elapsed:.0f} "
              f"ratio_to_bare={elapsed / bare_s:.1f}")  # fmt: skip
    postgres = f"{best['postgres']:.0f}" if "postgres" in best else "unreachable"
    print(f"timers_per_s_sqlite={best['sqlite']:.0f} timers_per_s_postgres={postgres}")


if __name__ == "__main__":
    main()
