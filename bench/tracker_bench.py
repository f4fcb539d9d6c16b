"""Permanence tracker benchmark on PostgreSQL: what does the worker's refresh cost, full and incremental?

    .venv/bin/python bench/tracker_bench.py [--children 20000] [--teams 150]

Seeds N children with a completed second review (PPM cases written with INSERT ... SELECT from
generate_series, in a private schema dropped at the end; the tracker never loads a case's
state, so the clones carry a placeholder). Then measures, in one run:

- the first (full) refresh over every case;
- an incremental refresh after 1% of the cases changed (what the worker does each sweep);
- a refresh with nothing changed (the cost of a quiet sweep);
- the tracker page's service call for a team manager (one team) and a head of service (all).

Ends with ``full_s=X incremental_ratio=Y idle_ratio=Z``: incremental and idle as fractions of full.
"""

from __future__ import annotations

import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _common  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from engine import clock, services  # noqa: E402
from engine.bootstrap import bootstrap  # noqa: E402
from engine.config import Settings  # noqa: E402
from engine.domain.access import Person  # noqa: E402
from engine.persistence import database  # noqa: E402
from engine.services import tracker  # noqa: E402

WORKFLOWS = Path(__file__).resolve().parents[1] / "workflows"
OPTIONS = ["reunification", "connected_person", "long_term_fostering", "adoption", "residential"]


def _seed(conn, children: int, teams: int) -> None:  # type: ignore[no-untyped-def]
    definition = conn.execute(text("SELECT id FROM definitions WHERE key = 'ppm_to_adm'")).scalar_one()
    conn.execute(
        text("""
        INSERT INTO cases (ref, key, team, definition_id, status, state, state_format, version, start_data,
                           started_at, started_by, updated_at)
        SELECT 'B-' || g, 'ppm_to_adm', 'team-' || (g % :teams), :definition, 'completed', '{}', 'bench', 1,
               '{}'::json, now() - interval '400 days', 'bench', now() - interval '30 days'
        FROM generate_series(1, :n) AS g"""),
        {"teams": teams, "definition": definition, "n": children},
    )
    conn.execute(
        text("""
        INSERT INTO tasks (case_id, spiff_id, element, title, status, created_at, completed_by, completed_at, data)
        SELECT c.id, md5(c.id::text || 'review'), 'Task_SecondReview', 'Second review', 'completed',
               now() - interval '200 days', 'iro', now() - interval '30 days',
               json_build_object('second_review_date', (current_date - (c.id % 700))::text, 'plan_ratified', true,
                                 'permanence_option', (ARRAY[:o1, :o2, :o3, :o4, :o5])[1 + c.id % 5],
                                 'contingency_plan', 'long_term_fostering')
        FROM cases c WHERE c.ref LIKE 'B-%'"""),
        dict(zip(["o1", "o2", "o3", "o4", "o5"], OPTIONS, strict=True)),
    )


def _timed(run):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = run()
    return time.perf_counter() - started, result


def main() -> None:
    parser = _common.parser(__doc__, children=200, teams=4)
    parser.add_argument("--children", type=int, default=20000)
    parser.add_argument("--teams", type=int, default=150)
    args = _common.parse(parser)
    pg_url = args.database_url
    schema = f"bench_tracker_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = f"{pg_url}?options=-csearch_path%3D{schema}"
    try:
        rt = bootstrap(Settings(database_url=url))
        database.upgrade(rt.db)
        services.publish_directory(rt, WORKFLOWS, "bench")
        with rt.db.begin() as conn:
            _seed(conn, args.children, args.teams)
            conn.execute(text("ANALYZE"))
        print(f"seeded {args.children} children after their second review across {args.teams} teams")
        full, counts = _timed(lambda: services.refresh_tracker(rt))
        print(f"full refresh: {full:.2f} s ({counts['tracker']} children)")
        with rt.db.begin() as conn:  # 1% of the cases change (a step done, a timer fired)
            conn.execute(text("UPDATE cases SET updated_at = now() WHERE ref LIKE 'B-%' AND id % 100 = 0"))
        with clock.frozen(datetime.now(UTC) + timedelta(minutes=15)):  # the next sweep
            incremental, _ = _timed(lambda: services.refresh_tracker(rt))
        with clock.frozen(datetime.now(UTC) + timedelta(minutes=30)):  # the sweep after: nothing changed
            idle, _ = _timed(lambda: services.refresh_tracker(rt))
        manager = Person("tm.bench", frozenset({"team_manager"}), frozenset({"team-7"}))
        head = Person("hos.bench", frozenset({"head_of_service"}), frozenset())
        team_page, found = _timed(lambda: tracker.tracker(rt, manager))
        all_page, everything = _timed(lambda: tracker.tracker(rt, head))
        print(f"incremental refresh (1% changed): {incremental * 1000:.0f} ms; quiet sweep: {idle * 1000:.0f} ms")
        print(f"tracker for one team ({found['cohort']} children): {team_page * 1000:.0f} ms; "
              f"for a head of service ({everything['cohort']} children): {all_page * 1000:.0f} ms")  # fmt: skip
        print(f"full_s={full:.2f} incremental_ratio={incremental / full:.3f} idle_ratio={idle / full:.4f}")
        rt.db.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


if __name__ == "__main__":
    main()
