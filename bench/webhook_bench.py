"""Inbound events benchmark: signed events per second accepted and applied, against complete_task calls.

    .venv/bin/python bench/webhook_bench.py [--children 150]

Three interleaved runs of the same work on one database (SQLite, then PostgreSQL when reachable):

- ``start``: a signed ``child.looked_after`` POSTed to /webhooks/events (Flask test client, the
  whole request: size check, signature over every valid secret, store and commit, then apply:
  start ``ppm_to_adm`` for the child);
- ``message``: a signed ``cla_review.held`` that does the child's first review by BPMN message;
- ``complete``: the same first review done by ``services.complete_task`` (no HTTP, no signature).

Prints per-operation medians and ``ratio_message_to_complete=…`` (1.0 = an event costs what a
practitioner's completion costs) with ``events_per_s=…``, one line per database.

Then the outbound side, also interleaved: ``complete_task`` while a subscription to every event
type is active (each completion also records its ``task.created`` events and deliveries) against
the same call with the subscription disabled, printed as ``ratio_subscribed_complete=…``; and the
worker's delivery job against a receiver that answers at once (claim, sign, record), printed as
``deliveries_per_s=…``.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _common  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from engine import clock, services  # noqa: E402
from engine.bootstrap import bootstrap  # noqa: E402
from engine.config import Settings  # noqa: E402
from engine.persistence import database  # noqa: E402
from engine.services import accounts  # noqa: E402
from engine.services.subscriptions import Outgoing, PostResult  # noqa: E402
from tests.cms import PPM_PAYLOAD, event, signed  # noqa: E402
from tests.scenario import publish_workflows  # noqa: E402
from web import create_app  # noqa: E402

NOW = datetime(2026, 12, 18, 9, tzinfo=UTC)


def run(url: str, db, children: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    database.upgrade(db)
    rt = bootstrap(Settings(database_url=url), db=db)
    clock.install(lambda: NOW)
    publish_workflows(rt)
    accounts.ensure_demo_users(rt)  # the teams the events name
    secret = services.add_sender(rt, "bench-cms", "bench")
    services.rotate_sender(rt, "bench-cms", "bench")  # two valid secrets: the signature check tries both
    client = create_app({"SECRET_KEY": "bench", "TESTING": True}, runtime=rt).test_client()
    times: dict[str, list[float]] = {"start": [], "message": [], "complete": []}

    def post(body: dict) -> None:
        raw, headers = signed(secret, body)
        began = time.perf_counter()
        response = client.post("/webhooks/events", data=raw, headers=headers)
        elapsed = time.perf_counter() - began
        assert response.status_code == 202 and response.get_json()["event_status"] == "applied", response.text
        times["message" if body["type"] == "cla_review.held" else "start"].append(elapsed)

    for n in range(children):  # interleaved, so drift on a noisy machine hits all three alike
        ref, other = f"EV-{n}", f"CT-{n}"
        post(event("child.looked_after", ref, "2026-12-18T08:00:00Z", PPM_PAYLOAD))
        post(event("cla_review.held", ref, "2026-12-18T08:30:00Z", {"ppm_requested": True}))
        start = {k: v for k, v in PPM_PAYLOAD.items() if k != "team"} | {"looked_after_date": "2026-12-18"}
        services.start_case(rt, "ppm_to_adm", other, start, "bench", team="north")
        [review] = [t for t in services.list_tasks(rt, ref=other) if t["element"] == "Task_FirstReview"]
        began = time.perf_counter()
        services.complete_task(rt, review["id"], {"first_review_date": "2026-12-18", "ppm_requested": True}, "bench")
        times["complete"].append(time.perf_counter() - began)
    times.update(_outbound(rt, children))
    clock.install(None)
    medians = {k: statistics.median(v) * 1000 for k, v in times.items() if k != "deliver"}
    return {**medians, "deliveries_per_s": len(times["deliver"]) / sum(times["deliver"])}


class _Instant:
    def post(self, outgoing: Outgoing) -> PostResult:
        return PostResult(204)


def _outbound(rt, children: int) -> dict[str, list[float]]:  # type: ignore[no-untyped-def]
    from engine.services.outbox import EVENT_TYPES

    sub = services.add_subscription(rt, "https://receiver.example/hooks", list(EVENT_TYPES), "bench")
    times: dict[str, list[float]] = {"subscribed": [], "unsubscribed": [], "deliver": []}
    start = {k: v for k, v in PPM_PAYLOAD.items() if k != "team"} | {"looked_after_date": "2026-12-18"}
    for n in range(children):
        for series, active in (("subscribed", True), ("unsubscribed", False)):
            services.update_subscription(rt, sub["id"], "bench", active=active)
            ref = f"OB-{series[0]}-{n}"
            services.start_case(rt, "ppm_to_adm", ref, start, "bench", team="north")
            [review] = [t for t in services.list_tasks(rt, ref=ref) if t["element"] == "Task_FirstReview"]
            began = time.perf_counter()
            services.complete_task(rt, review["id"], {"first_review_date": "2026-12-18", "ppm_requested": True},
                                   "bench")  # fmt: skip
            times[series].append(time.perf_counter() - began)
    services.update_subscription(rt, sub["id"], "bench", active=True)
    while True:
        began = time.perf_counter()
        done = services.deliver_webhooks(rt, _Instant(), "bench", NOW)["webhooks_delivered"]
        if not done:
            break
        times["deliver"].extend([(time.perf_counter() - began) / done] * done)
    return times


def report(name: str, medians: dict[str, float]) -> None:
    ratio = medians["message"] / medians["complete"]
    per_s = 1000 / ((medians["start"] + medians["message"]) / 2)
    print(f"{name}: start event {medians['start']:.1f} ms, message event {medians['message']:.1f} ms, "
          f"complete_task {medians['complete']:.1f} ms (medians)")  # fmt: skip
    print(f"{name}: ratio_message_to_complete={ratio:.2f} ratio_start_to_complete="
          f"{medians['start'] / medians['complete']:.2f} events_per_s={per_s:.0f}")  # fmt: skip
    print(
        f"{name}: complete_task subscribed {medians['subscribed']:.1f} ms, unsubscribed "
        f"{medians['unsubscribed']:.1f} ms: ratio_subscribed_complete="
        f"{medians['subscribed'] / medians['unsubscribed']:.2f} deliveries_per_s={medians['deliveries_per_s']:.0f}"
    )


def main() -> None:
    parser = _common.parser(__doc__, children=10)
    parser.add_argument("--children", type=int, default=150)
    args = _common.parse(parser)
    pg_url = args.database_url
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        db = database.make_engine(url)
        report("sqlite", run(url, db, args.children))
        db.dispose()
    try:
        admin = create_engine(database.normalise_url(pg_url))
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    except Exception as exc:  # noqa: BLE001 - PostgreSQL is optional for the benchmark
        print(f"postgresql: skipped ({type(exc).__name__})")
        return
    try:
        db = database.make_engine(pg_url, schema=schema)
        report("postgresql", run(pg_url, db, args.children))
        db.dispose()
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))


if __name__ == "__main__":
    main()
