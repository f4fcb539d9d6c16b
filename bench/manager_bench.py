"""Manager benchmark: a team manager's and a head of service's pages at 1k, 10k and 100k cases (PostgreSQL).

    .venv/bin/python bench/manager_bench.py [--sizes 1000,10000,100000] [--requests 30] [--quick]

For each size, in a private schema dropped at the end, it seeds PPM-to-ADM cases as
``inbox_bench`` does (one real case cloned with fresh task ids and spread due dates, by COPY),
teams of about 670 cases each (so a team manager's scope stays the same size while the
authority grows), a permanence-tracker row per child, a head of service who oversees every team,
and an API token for each person. Then it times whole requests through the Flask test client,
interleaved request by request so machine noise hits every figure alike:

- cases at risk (the page, and the CSV up to its first case's row), where cases wait, the permanence tracker,
  one case's page, and the API's tasks and cases lists; for the team manager and the head of
  service.

Ends with one line:
``hos_at_risk_p95_ms=… hos_tracker_p95_ms=… hos_api_tasks_p95_ms=… growth_hos_at_risk=…``
(growth: p95 at the largest size over p95 at the one before). Figures are printed, never asserted.
"""

from __future__ import annotations

import gc
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _common  # noqa: E402
import inbox_bench  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from engine import services  # noqa: E402
from engine.bootstrap import bootstrap  # noqa: E402
from engine.config import Settings  # noqa: E402
from engine.domain.access import hash_password  # noqa: E402
from engine.persistence import database  # noqa: E402

TEAM_SIZE = 670
PAGES = ("at_risk", "at_risk_csv", "where", "tracker", "case", "api_tasks", "api_cases")


def _extra_seed(rt: Any) -> None:
    """A head of service over every team, and every child on the tracker (a synthetic cohort)."""
    password = hash_password(inbox_bench.PASSWORD)
    with rt.db.begin() as conn:
        conn.execute(text(
            "INSERT INTO users (username, display_name, password_hash, roles, teams, active, failed_logins, "
            "created_at) VALUES ('hos.bench', 'hos.bench', :p, CAST('[\"head_of_service\"]' AS JSON), "
            "CAST('[]' AS JSON), true, 0, now())"), {"p": password})  # fmt: skip
        conn.execute(text("""
            INSERT INTO tracker_children (ref, team, case_id, second_review_date, permanence_option,
                                          contingency_plan, derived_route, derived_on, recorded_revision,
                                          refreshed_at)
            SELECT ref, team, id, DATE '2026-12-31' - (id % 700),
                   (ARRAY['adoption', 'long_term_fostering', 'sgo', 'reunification', 'kinship'])[1 + id % 5],
                   'long_term_fostering',
                   CASE WHEN id % 3 = 0 THEN 'adoption' END,
                   CASE WHEN id % 3 = 0 THEN DATE '2026-12-31' - (id % 300) END, 0, now()
            FROM cases"""))  # fmt: skip
    services.fold_tallies(rt)  # as the worker does every few seconds
    with rt.db.connect() as conn:  # as autovacuum leaves a table: statistics and the visibility map
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))


def _signed_in(app: Any, username: str) -> Any:
    return inbox_bench._signed_in(app, username)[0]


def _timed_request(client: Any, path: str, headers: dict[str, str] | None = None, first_byte: bool = False) -> float:
    began = time.perf_counter()
    response = client.get(path, headers=headers or {}, buffered=not first_byte)
    if first_byte:  # the first case's row, not only the header
        received = ""
        for chunk in response.response:
            received += chunk.decode() if isinstance(chunk, bytes) else chunk
            if received.count("\n") >= 2:
                break
        elapsed = time.perf_counter() - began
        response.close()
        assert response.status_code == 200 and received.count("\n") >= 2, path
        return elapsed
    elapsed = time.perf_counter() - began
    assert response.status_code == 200, (path, response.status_code, response.get_data(as_text=True)[:300])
    return elapsed


def measure(rt: Any, requests: int, teams: int) -> dict[str, dict[str, float]]:
    from web import create_app

    app = create_app({"SECRET_KEY": "bench"}, runtime=rt)
    gc.freeze()  # as web/wsgi.py, `pathways serve` and the worker do once started
    team = f"team{min(42, teams):03d}"
    people = {"tm": f"tm.{team}", "hos": "hos.bench"}
    clients = {who: _signed_in(app, name) for who, name in people.items()}
    tokens = {who: services.create_token(rt, f"bench-{who}", name, ["cases:read", "tasks:read"], "bench")
              for who, name in people.items()}  # fmt: skip
    with rt.db.connect() as conn:
        case_id = conn.execute(text("SELECT min(id) FROM cases WHERE team = :t"), {"t": team}).scalar_one()
    paths = {"at_risk": "/manage", "at_risk_csv": "/manage/cases-at-risk.csv",
             "where": "/manage/where?pathway=ppm_to_adm", "tracker": "/manage/tracker", "case": f"/cases/{case_id}",
             "api_tasks": "/api/v1/tasks", "api_cases": "/api/v1/cases"}  # fmt: skip
    samples: dict[str, dict[str, list[float]]] = {who: {p: [] for p in PAGES} for who in people}

    def once(who: str, page: str) -> float:
        api = page.startswith("api_")
        headers = {"Authorization": f"Bearer {tokens[who]}"} if api else None
        return _timed_request(clients[who], paths[page], headers, first_byte=page == "at_risk_csv")

    for who in people:  # warm caches, connections and the template cache
        for page in PAGES:
            once(who, page)
    for _ in range(requests):
        for who in people:
            for page in PAGES:
                samples[who][page].append(once(who, page))
    return {who: {f"{p}_p50": statistics.median(v) * 1000 for p, v in pages.items()}
            | {f"{p}_p95": _common.percentile(v, 95) * 1000 for p, v in pages.items()}
            for who, pages in samples.items()}  # fmt: skip


def run_size(url: str, cases: int, requests: int) -> dict[str, dict[str, float]]:
    schema = f"bench_manager_{uuid.uuid4().hex[:8]}"
    admin = create_engine(database.normalise_url(url))
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    db = database.make_engine(url, schema=schema)
    teams = max(1, cases // TEAM_SIZE)
    try:
        database.upgrade(db)
        rt = bootstrap(Settings(database_url=url), db=db)
        services.publish_directory(rt, inbox_bench.WORKFLOWS, "bench")
        inbox_bench.seed(rt, cases, teams)
        _extra_seed(rt)
        return measure(rt, requests, teams)
    finally:
        db.dispose()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def main() -> None:
    parser = _common.parser(__doc__, sizes="200,500", requests=3)
    parser.add_argument("--sizes", default="1000,10000,100000", help="cases seeded, one schema each")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per page and person")
    args = _common.parse(parser)
    if not _common.postgres_reachable(args.database_url):
        print("postgres unreachable: the manager benchmark measures PostgreSQL only")
        return
    sizes = [int(n) for n in args.sizes.split(",")]
    figures = {}
    for cases in sizes:
        figures[cases] = run_size(args.database_url, cases, args.requests)
        for who, found in figures[cases].items():
            line = "  ".join(f"{p} {found[p + '_p50']:.1f}/{found[p + '_p95']:.1f}" for p in PAGES)
            print(f"cases={cases} {who} p50/p95 ms: {line}", flush=True)
    largest, before = sizes[-1], sizes[-2] if len(sizes) > 1 else sizes[-1]
    hos = figures[largest]["hos"]
    for who in ("tm", "hos"):
        growth = "  ".join(f"{p} {figures[largest][who][p + '_p95'] / figures[before][who][p + '_p95']:.2f}"
                           for p in PAGES)  # fmt: skip
        print(f"growth {before} -> {largest} ({who}, p95): {growth}")
    growth_at_risk = hos["at_risk_p95"] / figures[before]["hos"]["at_risk_p95"]
    print(f"hos_at_risk_p95_ms={hos['at_risk_p95']:.1f} hos_tracker_p95_ms={hos['tracker_p95']:.1f} "
          f"hos_api_tasks_p95_ms={hos['api_tasks_p95']:.1f} growth_hos_at_risk={growth_at_risk:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
