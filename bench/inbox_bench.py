"""Inbox benchmark: England's looked-after population on PostgreSQL; how fast are the inbox and completing a step?

    .venv/bin/python bench/inbox_bench.py [--cases 100000] [--teams 150] [--requests 200]

Seeds N PPM-to-ADM cases across the teams (in a private schema, dropped at the end). One real
case is run through the engine to its second and third steps (the social worker's care-plan step
and the team manager's PPM decision); the rest are clones with fresh task ids and spread due
dates, written with COPY. Then, through the Flask test client (the whole request: session,
access check, query, template):

- inbox page latency for a social worker ("My tasks") and a team manager ("My team's tasks");
- completion latency: a social worker completes the care-plan step on distinct cases (the full
  service path: row lock, load state, run SpiffWorkflow, sync steps and deadlines, audit, commit);
- the inbox query in-process against a bare indexed SQL select of the same 25 rows.

Ends with ``inbox_p95_ms=X complete_p95_ms=Y inbox_ratio=Z``.
"""

from __future__ import annotations

import gc
import io
import random
import re
import statistics
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _common  # noqa: E402
from sqlalchemy import create_engine, select, text  # noqa: E402

from engine import clock, services  # noqa: E402
from engine.bootstrap import bootstrap  # noqa: E402
from engine.config import Settings  # noqa: E402
from engine.domain.access import hash_password  # noqa: E402
from engine.persistence import database, summary  # noqa: E402
from engine.persistence.models import Case, Deadline, HumanTask  # noqa: E402
from engine.services import accounts  # noqa: E402

WORKFLOWS = Path(__file__).resolve().parents[1] / "workflows"
TODAY = datetime(2027, 1, 4, 9, tzinfo=UTC)
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
SW_PER_TEAM = 4
PASSWORD = "bench-password-2026"


def _copy(conn: Any, table: str, columns: list[str], rows: list[tuple]) -> None:
    """COPY rows in (tab-separated text; NULL as \\N)."""
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join("\\N" if v is None else str(v).replace("\\", "\\\\").replace("\t", "\\t")
                               .replace("\n", "\\n") for v in row) + "\n")  # fmt: skip
    buffer.seek(0)
    with conn.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        while chunk := buffer.read(1 << 20):
            copy.write(chunk)


def _finish_early_planning(rt: Any, ref: str) -> None:
    """A PPM case's family network meeting and parallel plan, done on the day it started."""
    answers = {
        "Task_FamilyNetworkMeeting": {"family_meeting_held": True, "family_meeting_date": "2026-12-18"},
        "Task_ParallelPlan": {
            "parallel_plan_date": "2026-12-18",
            "main_plan": "reunification",
            "parallel_plan": "adoption",
            "ffa_considered": "considered_not_suitable",
        },
    }
    for task in services.list_tasks(rt, ref=ref):
        if task["element"] in answers:
            services.complete_task(rt, task["id"], answers[task["element"]], "bench")


def _template(rt: Any) -> dict[str, Any]:
    clock.install(lambda: datetime(2026, 12, 18, 9, tzinfo=UTC))
    start = {"date_of_birth": "2020-03-01", "looked_after_date": "2026-12-18", "in_care_proceedings": False}
    services.start_case(rt, "ppm_to_adm", "TEMPLATE", start, "bench", team="team001")
    _finish_early_planning(rt, "TEMPLATE")  # as before these steps existed: 2 open steps a case
    [review] = [t for t in services.list_tasks(rt, ref="TEMPLATE") if t["element"] == "Task_FirstReview"]
    clock.install(lambda: datetime(2026, 12, 21, 9, tzinfo=UTC))  # recorded the day it was held
    services.complete_task(rt, review["id"], {"first_review_date": "2026-12-21", "ppm_requested": True}, "bench")
    clock.install(lambda: TODAY)
    with rt.db.connect() as conn:
        case = dict(conn.execute(select(Case.__table__).where(Case.ref == "TEMPLATE")).mappings().one())
        tasks = [dict(r) for r in conn.execute(select(HumanTask.__table__).where(
            HumanTask.case_id == case["id"], HumanTask.status == "open")).mappings()]  # fmt: skip
        deadlines = [dict(r) for r in conn.execute(select(Deadline.__table__).where(
            Deadline.case_id == case["id"])).mappings()]  # fmt: skip
    return {"case": case, "tasks": tasks, "deadlines": deadlines}


def _json(value: Any) -> str:
    import json

    return json.dumps(value)


def seed(rt: Any, cases: int, teams: int) -> None:
    started = time.perf_counter()
    names = [f"team{i:03d}" for i in range(1, teams + 1)]
    password = hash_password(PASSWORD)
    now = TODAY.isoformat()
    with rt.db.begin() as conn:
        conn.execute(text("INSERT INTO teams (name, title) VALUES (:n, :n)"), [{"n": n} for n in names])
        users = [{"u": f"sw{i}.{team}", "r": '["social_worker"]', "t": _json([team])}
                 for team in names for i in range(1, SW_PER_TEAM + 1)]  # fmt: skip
        users += [{"u": f"tm.{team}", "r": '["team_manager"]', "t": _json([team])} for team in names]
        conn.execute(text(
            "INSERT INTO users (username, display_name, password_hash, roles, teams, active, failed_logins, created_at)"
            " VALUES (:u, :u, :p, CAST(:r AS JSON), CAST(:t AS JSON), true, 0, :c)"),
            [{**u, "p": password, "c": now} for u in users])  # fmt: skip
    template = _template(rt)
    case, tasks, deadlines = template["case"], template["tasks"], template["deadlines"]
    ids = sorted(set(UUID.findall(case["state"])))
    case_cols = [c for c in case if c != "id"] + ["id"]
    task_cols = [c for c in tasks[0] if c != "id"]
    deadline_cols = [c for c in deadlines[0] if c != "id"]
    rng = random.Random(7)
    first_id = case["id"] + 1
    raw = rt.db.raw_connection()
    try:
        for block in range(0, cases - 1, 5000):
            case_rows, task_rows, deadline_rows = [], [], []
            for n in range(block, min(block + 5000, cases - 1)):
                case_id, team = first_id + n, names[n % teams]
                fresh = {old: str(uuid.uuid4()) for old in ids}
                state = UUID.sub(lambda m, f=fresh: f.get(m.group(0), m.group(0)), case["state"])
                shift = timedelta(days=rng.randint(-40, 60))
                row = {**case, "id": case_id, "ref": f"CH-{100000 + n}", "team": team, "state": state,
                       "start_data": _json(case["start_data"])}  # fmt: skip
                case_rows.append(tuple(_pg(row[c]) for c in case_cols))
                for task in tasks:
                    sw = f"sw{(n // teams) % SW_PER_TEAM + 1}.{team}" if task["role"] == "social_worker" else None
                    moved = {**task, "case_id": case_id, "team": team, "assignee": sw,
                             "spiff_id": fresh.get(task["spiff_id"], task["spiff_id"]),
                             "due_date": task["due_date"] + shift if task["due_date"] else None}  # fmt: skip
                    task_rows.append(tuple(_pg(moved[c]) for c in task_cols))
                for deadline in deadlines:
                    moved = {**deadline, "case_id": case_id, "due_date": deadline["due_date"] + shift,
                             "met_by": _json(deadline["met_by"])}  # fmt: skip
                    deadline_rows.append(tuple(_pg(moved[c]) for c in deadline_cols))
            _copy(raw, "cases", case_cols, case_rows)
            _copy(raw, "tasks", task_cols, task_rows)
            _copy(raw, "deadlines", deadline_cols, deadline_rows)
            raw.commit()
            print(f"  seeded {min(block + 5000, cases - 1) + 1:,} cases", file=sys.stderr, flush=True)
    finally:
        raw.close()
    with rt.db.begin() as conn:
        conn.execute(text("SELECT setval(pg_get_serial_sequence('cases', 'id'), (SELECT max(id) FROM cases))"))
        conn.execute(text("ANALYZE"))  # without statistics the summary's subqueries are planned as scans
        summary.refresh(conn)  # COPY bypasses the session that keeps each case's summary
    services.fold_tallies(rt)  # as the worker does every few seconds (the triggers counted every row COPY wrote)
    with rt.db.connect() as conn:  # as autovacuum leaves a table: statistics and the visibility map
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
    print(f"seeded {cases:,} cases, {len(tasks) * cases:,} open steps, {teams} teams in "
          f"{time.perf_counter() - started:.0f} s", flush=True)  # fmt: skip


def _pg(value: Any) -> Any:
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, dict | list):
        return _json(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _ms(samples: list[float]) -> tuple[float, float]:
    return statistics.median(samples) * 1000, _common.percentile(samples, 95) * 1000


def _timed(call: Any, times: int) -> list[float]:
    samples = []
    for _ in range(times):
        began = time.perf_counter()
        call()
        samples.append(time.perf_counter() - began)
    return samples


def _signed_in(app: Any, username: str) -> tuple[Any, str]:
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    response = client.post("/login", data={"csrf_token": token, "username": username, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    return client, token


def measure(rt: Any, requests: int, teams: int) -> dict[str, float]:
    from web import create_app

    app = create_app({"SECRET_KEY": "bench"}, runtime=rt)
    gc.freeze()  # as web/wsgi.py, `pathways serve` and the worker do once started
    team = f"team{min(42, teams):03d}"
    sw, sw_token = _signed_in(app, f"sw1.{team}")
    tm, _ = _signed_in(app, f"tm.{team}")

    def page(client: Any, path: str) -> None:
        response = client.get(path)
        assert response.status_code == 200 and 'data-task="' in response.get_data(as_text=True), path

    for client, path in ((sw, "/?tab=mine"), (tm, "/?tab=team")):  # warm caches and connections
        _timed(lambda c=client, p=path: page(c, p), 5)
    figures: dict[str, float] = {}
    for label, client, path in (("sw_mine", sw, "/?tab=mine"), ("tm_team", tm, "/?tab=team"),
                                ("tm_overdue", tm, "/?tab=team&overdue=1")):  # fmt: skip
        figures[f"{label}_p50"], figures[f"{label}_p95"] = _ms(_timed(lambda c=client, p=path: page(c, p), requests))

    person = accounts.person(rt, f"sw1.{team}")
    with rt.db.connect() as conn:
        todo = list(conn.execute(text(
            "SELECT t.id, c.version FROM tasks t JOIN cases c ON c.id = t.case_id WHERE t.assignee = :u "
            "AND t.status = 'open' AND t.element = 'Task_UpdateCarePlan' ORDER BY t.id"),
            {"u": person.username}))  # fmt: skip
    todo = todo[: min(len(todo), requests)]
    samples = []
    for task_id, version in todo:
        began = time.perf_counter()
        answers = {f"care_plan_updated_date-{k}": v for k, v in (("day", "4"), ("month", "1"), ("year", "2027"))}
        response = sw.post(f"/tasks/{task_id}", data={"csrf_token": sw_token, "action": "complete",
                                                      "case_version": str(version), **answers})  # fmt: skip
        samples.append(time.perf_counter() - began)
        assert response.status_code == 302, response.get_data(as_text=True)[:1000]
    figures["complete_p50"], figures["complete_p95"] = _ms(samples)
    figures["completed"] = len(samples)

    # The inbox query in-process, against a bare indexed select of the same rows.
    tm_person = accounts.person(rt, f"tm.{team}")
    ours = _timed(lambda: services.inbox(rt, tm_person, tab="team"), requests)
    bare_sql = text(
        "SELECT t.id, t.title, t.due_date, t.assignee, c.ref FROM tasks t JOIN cases c ON c.id = t.case_id "
        "WHERE t.status = 'open' AND t.team = :team ORDER BY t.due_date, t.id LIMIT 25")  # fmt: skip
    expected = [r["id"] for r in services.inbox(rt, tm_person, tab="team")["rows"]]
    with rt.db.connect() as conn:
        assert [r[0] for r in conn.execute(bare_sql, {"team": team})] == expected, "the bare select differs"
        bare = _timed(lambda: list(conn.execute(bare_sql, {"team": team})), requests)
    figures["inbox_query_ms"], _ = _ms(ours)
    figures["bare_select_ms"], _ = _ms(bare)
    figures["inbox_ratio"] = figures["inbox_query_ms"] / figures["bare_select_ms"]
    return figures


def main() -> None:
    parser = _common.parser(__doc__, cases=400, teams=4, requests=10)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--teams", type=int, default=150)
    parser.add_argument("--requests", type=int, default=200)
    args = _common.parse(parser)
    schema = f"bench_inbox_{uuid.uuid4().hex[:8]}"
    admin = create_engine(database.normalise_url(args.database_url))
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    db = database.make_engine(args.database_url, schema=schema)
    try:
        database.upgrade(db)
        rt = bootstrap(Settings(database_url=args.database_url), db=db)
        services.publish_directory(rt, WORKFLOWS, "bench")
        seed(rt, args.cases, args.teams)
        figures = measure(rt, args.requests, args.teams)
    finally:
        db.dispose()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()
    for label, key in (("social worker (My tasks)", "sw_mine"), ("team manager (team's tasks)", "tm_team"),
                       ("team manager (overdue filter)", "tm_overdue")):  # fmt: skip
        print(f"inbox page, {label:30} p50 {figures[key + '_p50']:.1f} ms  p95 {figures[key + '_p95']:.1f} ms")
    print(f"complete a step ({figures['completed']:.0f} distinct cases):  p50 {figures['complete_p50']:.1f} ms  "
          f"p95 {figures['complete_p95']:.1f} ms")  # fmt: skip
    print(f"inbox query in-process {figures['inbox_query_ms']:.2f} ms; "
          f"bare indexed select {figures['bare_select_ms']:.2f} ms")  # fmt: skip
    inbox_p95 = max(figures["sw_mine_p95"], figures["tm_team_p95"], figures["tm_overdue_p95"])
    print(
        f"inbox_p95_ms={inbox_p95:.1f} complete_p95_ms={figures['complete_p95']:.1f} "
        f"inbox_ratio={figures['inbox_ratio']:.2f}"
    )


if __name__ == "__main__":
    main()
