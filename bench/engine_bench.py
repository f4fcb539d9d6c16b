"""Engine benchmark: the cost of completing one step, and how it changes as a case ages.

Measures, on the test review-cycle diagram (lanes, forms, a non-interrupting boundary timer,
a parallel split/join, script tasks and a loop; 15 flow nodes and 15 flows):

  (a) bare SpiffWorkflow in memory: complete a task + engine steps;
  (b) the minimal persistent baseline: load one JSON row, deserialize, complete, serialize with
      the stock serializer, update that row, commit;
  (c) our ``complete_task`` service end to end (task, deadline and audit rows, compacted state);

on SQLite and (when reachable) PostgreSQL, for cases with 10 and with 200 completed steps.
Each figure is the median of --reps completions: (a) and (b) restore the exact age-N state before
every rep (untimed); (c) completes --reps consecutive steps from age N (its cost is flat). On each
database, (b) and (c) at both ages are interleaved rep by rep so machine noise hits all alike. Prints one
line per figure and last ``ratio_sqlite=X ratio_postgres=Y growth_sqlite=Z`` where
ratio = (c)/(b) at 10 steps and growth = (c) at 200 / (c) at 10.

Stock SpiffWorkflow stops walking its task tree at depth 1000 (about 200 loops of this diagram),
so for (a) and (b) only the iterator depth limit is raised; our engine compacts instead. The
diagram's timer returns a date, so (a) and (b) also run with engine.bpmn.patches applied (the
clock hook and date-aware timeDate); everything else in them is stock.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _common  # noqa: E402
from SpiffWorkflow.bpmn import BpmnWorkflow  # noqa: E402
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment  # noqa: E402
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer  # noqa: E402
from SpiffWorkflow.bpmn.util.task import BpmnTaskIterator  # noqa: E402
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser  # noqa: E402
from SpiffWorkflow.camunda.serializer import DEFAULT_CONFIG  # noqa: E402
from SpiffWorkflow.util.task import TaskIterator, TaskState  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from engine import clock, services  # noqa: E402
from engine.bootstrap import bootstrap  # noqa: E402
from engine.bpmn import patches  # noqa: E402
from engine.bpmn.scripting import calendar_helpers  # noqa: E402
from engine.calendar import WorkingCalendar  # noqa: E402
from engine.config import Settings  # noqa: E402
from engine.persistence import database  # noqa: E402

DIAGRAM = Path(__file__).resolve().parents[1] / "tests" / "diagrams" / "review_cycle.bpmn"
KEY = "test_review_cycle"
SETUP = [("Task_CarePlan", {"care_plan_date": date(2026, 12, 18)}), ("Task_Visit", {"visit_date": date(2026, 12, 18)}),
         ("Task_AppointIRO", {"iro_appointed_on": date(2026, 12, 18)})]  # fmt: skip
REVIEW = {"review_date": date(2027, 1, 19), "continue_reviews": True}


def _raise_depth_limit() -> None:
    TaskIterator.__init__.__defaults__ = (None, 10**7, True, None)
    BpmnTaskIterator.__init__.__defaults__ = (None, 10**7, True, False, None)


# --- (a) and (b): stock SpiffWorkflow -------------------------------------------------------
def _stock() -> tuple[Any, Any, Any]:
    parser = CamundaParser()
    parser.add_bpmn_file(str(DIAGRAM))
    spec = (parser.get_spec(KEY), parser.get_subprocess_specs(KEY))
    registry = BpmnWorkflowSerializer.configure(DEFAULT_CONFIG)
    registry.register(date, lambda v: {"value": v.isoformat()}, lambda v: date.fromisoformat(v["value"]))
    calendar = WorkingCalendar()
    script_engine = PythonScriptEngine(environment=TaskDataEnvironment(calendar_helpers(lambda: calendar)))
    return spec, BpmnWorkflowSerializer(registry), script_engine


def _stock_complete(wf: BpmnWorkflow, element: str, values: dict) -> None:
    task = next(t for t in wf.get_tasks(state=TaskState.READY, manual=True) if t.task_spec.bpmn_id == element)
    task.data = {**task.data, **values}
    task.run()
    wf.do_engine_steps()


def _stock_at_age(spec: Any, script_engine: Any, age: int) -> BpmnWorkflow:
    wf = BpmnWorkflow(spec[0], spec[1], script_engine=script_engine)
    wf.task_tree.data.update({"looked_after_date": date(2026, 12, 18)})
    wf.do_engine_steps()
    for element, values in SETUP:
        _stock_complete(wf, element, values)
    for _ in range(age - len(SETUP)):
        _stock_complete(wf, "Task_HoldReview", REVIEW)
    return wf


def bench_in_memory(age: int, reps: int) -> float:
    spec, serializer, script_engine = _stock()
    snapshot = serializer.serialize_json(_stock_at_age(spec, script_engine, age))
    times = []
    for _ in range(reps):
        wf = serializer.deserialize_json(snapshot)  # untimed: every rep starts at exactly ``age``
        wf.script_engine = script_engine
        start = time.perf_counter()
        _stock_complete(wf, "Task_HoldReview", REVIEW)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


class Baseline:
    """(b): one JSON row per age, reset to the exact age-N state before each timed rep."""

    def __init__(self, url: str, ages: tuple[int, ...]) -> None:
        spec, self.serializer, self.script_engine = _stock()
        self.snapshots = {
            age: self.serializer.serialize_json(_stock_at_age(spec, self.script_engine, age)) for age in ages
        }
        self.db = database.make_engine(url)
        self.table = f"bench_baseline_{uuid.uuid4().hex[:8]}"
        with self.db.begin() as conn:
            conn.execute(text(f"CREATE TABLE {self.table} (id INTEGER PRIMARY KEY, state TEXT NOT NULL)"))
            for age, snapshot in self.snapshots.items():
                conn.execute(text(f"INSERT INTO {self.table} (id, state) VALUES (:a, :s)"), {"a": age, "s": snapshot})

    def once(self, age: int) -> float:
        with self.db.begin() as conn:  # untimed reset
            conn.execute(
                text(f"UPDATE {self.table} SET state = :s WHERE id = :a"), {"a": age, "s": self.snapshots[age]}
            )
        start = time.perf_counter()
        with self.db.begin() as conn:
            state = conn.execute(text(f"SELECT state FROM {self.table} WHERE id = :a"), {"a": age}).scalar_one()
            loaded = self.serializer.deserialize_json(state)
            loaded.script_engine = self.script_engine
            _stock_complete(loaded, "Task_HoldReview", REVIEW)
            new_state = self.serializer.serialize_json(loaded)
            conn.execute(text(f"UPDATE {self.table} SET state = :s WHERE id = :a"), {"a": age, "s": new_state})
        return time.perf_counter() - start

    def close(self) -> None:
        with self.db.begin() as conn:
            conn.execute(text(f"DROP TABLE {self.table}"))
        self.db.dispose()


# --- (c): our service -----------------------------------------------------------------------
def _service_runtime(url: str) -> tuple[Any, Any]:
    if database.is_sqlite(database.normalise_url(url)):
        rt = bootstrap(Settings(database_url=url))
        database.upgrade(rt.db)
        return rt, None
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(database.normalise_url(url))
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    db = database.make_engine(url, schema=schema)
    database.upgrade(db)
    return bootstrap(Settings(database_url=url), db=db), (admin, schema)


def _complete_next(rt: Any, ref: str, element: str, values: dict) -> float:
    task = next(t for t in services.list_tasks(rt, ref=ref) if t["element"] == element)
    answers = {k: v.isoformat() if isinstance(v, date) else v for k, v in values.items()}
    start = time.perf_counter()
    services.complete_task(rt, task["id"], answers, "bench")
    return time.perf_counter() - start


def _warm_up(rt: Any) -> None:
    """Untimed: fill the statement, expression and spec caches before anything is measured."""
    services.start_case(rt, KEY, "BENCH-WARM", {"looked_after_date": "2026-12-18"}, "bench")
    for element, values in SETUP:
        _complete_next(rt, "BENCH-WARM", element, values)
    for _ in range(10):
        _complete_next(rt, "BENCH-WARM", "Task_HoldReview", REVIEW)


def bench_backend(url: str, ages: tuple[int, ...], reps: int) -> dict[str, float]:
    """(b) and (c) for every age, interleaved rep by rep so machine noise hits all figures alike."""
    rt, cleanup = _service_runtime(url)
    baseline = Baseline(url, ages)
    try:
        services.publish_files(rt, [(DIAGRAM.name, DIAGRAM.read_bytes())], "bench")
        _warm_up(rt)
        for age in ages:
            ref = f"BENCH-{age}"
            services.start_case(rt, KEY, ref, {"looked_after_date": "2026-12-18"}, "bench")
            for element, values in SETUP:
                _complete_next(rt, ref, element, values)
            for _ in range(age - len(SETUP)):
                _complete_next(rt, ref, "Task_HoldReview", REVIEW)
        times: dict[str, list[float]] = {f"{m}{a}": [] for m in "bc" for a in ages}
        for _ in range(reps):
            for age in ages:
                times[f"b{age}"].append(baseline.once(age))
                times[f"c{age}"].append(_complete_next(rt, f"BENCH-{age}", "Task_HoldReview", REVIEW))
        return {name: statistics.median(values) * 1000 for name, values in times.items()}
    finally:
        baseline.close()
        rt.db.dispose()
        if cleanup:
            admin, schema = cleanup
            with admin.begin() as conn:
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            admin.dispose()


def main() -> None:
    parser = _common.parser(__doc__.split("\n")[0], reps=3, ages="10,40")
    parser.add_argument("--reps", type=int, default=30, help="completions measured per figure")
    parser.add_argument("--ages", default="10,200", help="completed steps before measuring")
    args = _common.parse(parser)
    ages = tuple(int(a) for a in args.ages.split(","))
    low, high = min(ages), max(ages)
    _raise_depth_limit()
    patches.apply()
    clock.install(lambda: datetime(2027, 1, 19, 10, tzinfo=UTC))
    backends = {"sqlite": f"sqlite:///{tempfile.mkdtemp()}/bench.db"}
    if _common.postgres_reachable(args.database_url):
        backends["postgres"] = args.database_url
    figures: dict[str, dict[str, float]] = {}
    for age in ages:
        print(f"a_in_memory_ms age={age} {bench_in_memory(age, args.reps):.3f}", flush=True)
    for name, url in backends.items():
        figures[name] = bench_backend(url, ages, args.reps)
        for age in ages:
            print(f"b_baseline_ms db={name} age={age} {figures[name][f'b{age}']:.3f}", flush=True)
            print(f"c_service_ms db={name} age={age} {figures[name][f'c{age}']:.3f}", flush=True)
    ratio = {n: f[f"c{low}"] / f[f"b{low}"] for n, f in figures.items()}
    growth = {n: f[f"c{high}"] / f[f"c{low}"] for n, f in figures.items()}
    for name in figures:
        base_growth = figures[name][f"b{high}"] / figures[name][f"b{low}"]
        print(f"baseline_growth_{name}={base_growth:.2f} service_growth_{name}={growth[name]:.2f}")
    postgres = f"{ratio['postgres']:.2f}" if "postgres" in ratio else "unreachable"
    print(json.dumps({"ratio": ratio, "growth": growth}))
    print(f"ratio_sqlite={ratio['sqlite']:.2f} ratio_postgres={postgres} growth_sqlite={growth['sqlite']:.2f}")


if __name__ == "__main__":
    main()
