"""Issue 18: cases at risk, the tracker and the API lists are ranked, filtered, counted and paged in SQL.

Each SQL answer is checked against a reference worked out in Python from every case described
one by one (the way the pages were built before), over cases with mixed reasons, teams, dates
and reasons for delay, on every page. The CSVs stream, and the lists never read a case's state
or a definition's diagram."""

from __future__ import annotations

import csv
import io
import random
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import event, select

from engine import clock, services
from engine.domain.states import CaseStatus
from engine.persistence.models import Case, HumanTask, TrackerChild
from engine.services import accounts, oversight, tracker
from tests.conftest import load
from tests.webclient import Staff, csv_text

TODAY = datetime(2027, 2, 15, 9, tzinfo=UTC)


@pytest.fixture
def many(app, rt, now):
    """60 review-cycle cases over two teams, started on different days, some acted on since."""
    load(rt, "review_cycle.bpmn")
    rng = random.Random(18)
    for n in range(60):
        started = datetime(2026, 12, 1, 9, tzinfo=UTC) + timedelta(days=rng.randint(0, 70))
        now.set(started)
        looked_after = (started.date() - timedelta(days=rng.randint(0, 5))).isoformat()
        team = "north" if n % 3 else "south"
        services.start_case(rt, "test_review_cycle", f"CH-{n:03d}", {"looked_after_date": looked_after}, "sw.alice",
                            team=team)  # fmt: skip
    now.set(TODAY)
    for n in range(60):
        ref = f"CH-{n:03d}"
        if n % 7 == 0:
            services.suspend_case(rt, ref, "tm.carol", "paused for the test")
        elif n % 5 == 0:  # a manager's reason for delay on its first open step
            [task, *_] = services.list_tasks(rt, ref=ref)
            services.record_delay_reason(rt, "court adjourned", "tm.carol", task_id=task["id"])
    return rt


def _reference(rt, person, query: oversight.StuckQuery) -> list[str]:
    """The cases at risk as the old Python ranking found them: every case described, then sorted."""
    today = clock.london_today()
    with rt.uow() as uow:
        session = uow.session
        quiet = oversight._quiet_since(rt, session, today).date()
        ids = oversight.scoped(select(Case.id), person, query.team)
        rows = oversight._describe(session, {i: {} for i in session.scalars(ids)}, today)
    found = []
    for r in rows:
        active, running = r["status"] in ("running", "waiting", "error", "suspended"), r["status"] in (
            "running", "waiting")  # fmt: skip
        late_steps = [date.fromisoformat(t["due"]) for t in r["waiting_at"] if t["overdue"]]
        late_deadlines = [date.fromisoformat(d["due"]) for d in r["deadlines"] if d["breached"]]
        reasons = {
            "overdue": running and bool(late_steps),
            "deadline": active and bool(late_deadlines),
            "error": r["status"] == "error",
            "suspended": r["status"] == "suspended",
            "no_progress": running and date.fromisoformat(r["last_progress"]) < quiet,
        }
        if not any(reasons.values()) or (query.reason and not reasons[query.reason]):
            continue
        if query.no_delay_reason and r["delay_reasons"]:
            continue
        late = (late_steps if reasons["overdue"] else []) + (late_deadlines if reasons["deadline"] else [])
        found.append((r, (today - min(late)).days if late else 0))
    keys = {
        "ref": lambda x: (x[0]["ref"], x[0]["case_id"]),
        "waiting": lambda x: (-x[0]["waiting_days"], x[0]["ref"], x[0]["case_id"]),
        "overdue": lambda x: (-x[1], -x[0]["waiting_days"], x[0]["ref"], x[0]["case_id"]),
    }
    return [r["ref"] for r, _ in sorted(found, key=keys[query.sort])]


def _all_pages(rt, person, query: oversight.StuckQuery) -> tuple[list[str], dict]:
    first = oversight.stuck_cases(rt, person, query)
    refs = [r["ref"] for r in first["rows"]]
    for page in range(2, first["pages"] + 1):
        found = oversight.stuck_cases(rt, person, oversight.StuckQuery(**{**query.__dict__, "page": page}))
        assert found["total"] == first["total"] and len(found["rows"]) <= oversight.PAGE_SIZE
        refs += [r["ref"] for r in found["rows"]]
    return refs, first


@pytest.mark.parametrize("who", ["tm.carol", "hos.hana"])
def test_the_sql_ranking_matches_describing_every_case(many, rt, who):
    person = accounts.person(rt, who)
    checked = 0
    for sort in oversight.SORTS:
        for reason in ["", *oversight.REASONS]:
            for no_delay in (False, True):
                query = oversight.StuckQuery(reason=reason, sort=sort, no_delay_reason=no_delay)
                refs, first = _all_pages(rt, person, query)
                assert refs == _reference(rt, person, query), (sort, reason, no_delay)
                assert first["total"] == len(refs) and first["pages"] == max(1, -(-len(refs) // 25))
                checked += len(refs)
    assert checked > 200  # the data really exercises the ranking
    everything = _reference(rt, person, oversight.StuckQuery())
    assert len(everything) > oversight.PAGE_SIZE  # more than one page


def test_counts_per_reason_ignore_the_filters_and_describe_only_the_page(many, rt):
    carol = accounts.person(rt, "tm.carol")
    counts = oversight.stuck_cases(rt, carol, oversight.StuckQuery())["counts"]
    for reason in oversight.REASONS:
        refs = _reference(rt, carol, oversight.StuckQuery(reason=reason))
        assert counts[reason] == len(refs)
        assert oversight.stuck_cases(rt, carol, oversight.StuckQuery(reason=reason, page=1))["counts"] == counts
    assert counts["suspended"] > 0 and counts["overdue"] > 0 and counts["deadline"] > 0
    described: list[int] = []
    real = oversight._describe
    try:
        oversight._describe = lambda session, found, today: described.append(len(found)) or real(session, found, today)
        oversight.stuck_cases(rt, carol, oversight.StuckQuery())
    finally:
        oversight._describe = real
    assert described == [oversight.PAGE_SIZE]


def test_the_page_links_every_page_and_the_csv_streams_every_case(many, app, rt):
    hana = Staff(app, "hos.hana")
    expected = _reference(rt, accounts.person(rt, "hos.hana"), oversight.StuckQuery())
    pages = -(-len(expected) // 25)
    assert pages >= 2
    page = hana.get("/manage").text
    assert f"page={pages}" in page and "govuk-pagination__next" in page
    second = hana.get("/manage?page=2").text
    assert expected[25] in second and expected[0] not in second.split("govuk-table__body", 1)[1]
    response = hana.client.get("/manage/cases-at-risk.csv", buffered=False)
    assert response.is_streamed and response.status_code == 200
    body = csv_text(b"".join(response.response))
    response.close()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert list(dict.fromkeys(r["child_ref"] for r in rows)) == expected  # long format: a case's rows together


def _tracker_cohort(rt, count: int) -> None:
    """``count`` children on the tracker (two teams, five options, a third achieved), written directly."""
    options = ["adoption", "long_term_fostering", "sgo", "reunification", "connected_person"]
    with rt.uow() as uow:
        session = uow.session
        definition = session.scalar(select(Case.definition_id).limit(1))
        for n in range(count):
            case = Case(ref=f"TR-{n:03d}", key="ppm_to_adm", team="north" if n % 2 else "south",
                        definition_id=definition, status=CaseStatus.COMPLETED, state="{}", state_format="test",
                        version=1, start_data={}, started_at=clock.utcnow(), started_by="test",
                        updated_at=clock.utcnow())  # fmt: skip
            session.add(case)
            session.flush()
            achieved = n % 3 == 0
            session.add(TrackerChild(
                ref=case.ref, team=case.team, case_id=case.id,
                second_review_date=date(2026, 3, 1) + timedelta(days=(n * 7) % 330),
                permanence_option=options[n % 5], derived_route="adoption" if achieved else None,
                derived_on=date(2026, 6, 1) + timedelta(days=n % 200) if achieved else None,
                route="kinship" if n % 11 == 0 else None, achieved_on=date(2026, 9, 1) if n % 11 == 0 else None,
                recorded_revision=0, refreshed_at=clock.utcnow()))  # fmt: skip
        uow.commit()


def test_tracker_figures_are_sql_aggregates_and_the_children_are_paged(app, rt, now):
    now.set(TODAY)
    load(rt, "review_cycle.bpmn")
    services.start_case(rt, "test_review_cycle", "CH-X", {"looked_after_date": "2027-02-10"}, "sw.alice", team="north")
    _tracker_cohort(rt, 130)
    hana = accounts.person(rt, "hos.hana")
    found = tracker.tracker(rt, hana)
    every = list(tracker.tracker_children(rt, hana))
    assert len(every) == 130 == found["cohort"] == found["shown"] and found["pages"] == 3
    assert [c["ref"] for c in found["children"]] == [c["ref"] for c in every[:50]]
    third = tracker.tracker(rt, hana, page=3)["children"]
    assert [c["ref"] for c in third] == [c["ref"] for c in every[100:]]
    assert every == sorted(every, key=lambda c: (c["second_review_date"], c["ref"]))
    # the figures, against counting every child in Python
    assert found["achieved"] == sum(1 for c in every if c["route"])
    assert found["by_route"] == {r: sum(1 for c in every if (c["route"] or "") == r) for r in found["by_route"]}
    for option, routes in found["cross"].items():
        for route, n in routes.items():
            assert n == sum(1 for c in every if c["option"] == option and (c["route"] or "") == route)
    shown = tracker.periods(clock.london_today(), "quarter")
    for p, f in zip(shown, found["figures"], strict=True):
        assert f["reviewed"] == sum(1 for c in every if p.holds(c["second_review_date"]))
        assert f["achieved"] == sum(1 for c in every if c["route"] and p.holds(c["achieved_on"]))
    assert sum(f["reviewed"] for f in found["figures"]) > 0 and sum(f["achieved"] for f in found["figures"]) > 0
    # filters: team, option, outcome
    north = tracker.tracker(rt, hana, team="north", option="sgo", outcome="not_yet")
    expected = [c["ref"] for c in every if c["team"] == "north" and c["option"] == "sgo" and not c["route"]]
    assert [c["ref"] for c in north["children"]] == expected and north["shown"] == len(expected) > 0
    kinship = tracker.tracker(rt, hana, outcome="kinship")
    assert [c["ref"] for c in kinship["children"]] == [c["ref"] for c in every if c["route"] == "kinship"]


def test_tracker_page_filters_pages_and_streams_its_csv(app, rt, now):
    now.set(TODAY)
    load(rt, "review_cycle.bpmn")
    services.start_case(rt, "test_review_cycle", "CH-X", {"looked_after_date": "2027-02-10"}, "sw.alice", team="north")
    _tracker_cohort(rt, 130)
    hana = Staff(app, "hos.hana")
    page = hana.get("/manage/tracker").text
    assert "130 children." in page and "Page 1 of 3" in page and "govuk-pagination__next" in page
    achieved = hana.get("/manage/tracker?outcome=achieved&option=adoption").text
    every = list(tracker.tracker_children(rt, accounts.person(rt, "hos.hana")))
    matching = [c["ref"] for c in every if c["route"] and c["option"] == "adoption"]
    assert f"{len(matching)} of 130 children match" in achieved
    response = hana.client.get("/manage/tracker.csv?what=children&outcome=achieved&option=adoption", buffered=False)
    assert response.is_streamed
    rows = list(csv.DictReader(io.StringIO(csv_text(b"".join(response.response)))))
    response.close()
    assert [r["child_ref"] for r in rows] == matching
    carol = Staff(app, "tm.carol")
    assert carol.client.get("/manage/tracker.csv?what=children&team=south").status_code == 403


def test_lists_never_read_case_state_or_diagrams(many, app, rt):
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        statements.append(statement)

    token = services.create_token(rt, "lists", "hos.hana", ["cases:read", "tasks:read", "deadlines:read"], "test")
    client = app.test_client()
    event.listen(rt.db, "before_cursor_execute", seen)
    try:
        for path in ("/api/v1/tasks", "/api/v1/cases", "/api/v1/deadlines", "/api/v1/tasks?per_page=200"):
            response = client.get(path, headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 200 and response.json["items"], path
    finally:
        event.remove(rt.db, "before_cursor_execute", seen)
    listed = [s for s in statements if "tasks" in s or "deadlines" in s or "cases" in s]
    assert listed
    for statement in listed:
        assert not re.search(r"cases\.state\b|bpmn_xml|definitions\.info|tasks\.data\b", statement), statement
    tasks = client.get("/api/v1/tasks?per_page=200", headers={"Authorization": f"Bearer {token}"}).json
    with rt.uow() as uow:
        open_steps = uow.session.scalars(select(HumanTask).where(HumanTask.status == "open")).all()
        assert tasks["total"] == len(open_steps)
        by_id = {t.id: t for t in open_steps}
        for item in tasks["items"]:
            assert item["ref"] == by_id[item["id"]].case.ref and item["key"] == "test_review_cycle"
    cases = client.get("/api/v1/cases", headers={"Authorization": f"Bearer {token}"}).json
    assert cases["total"] == 60 and all(c["version"] == 1 for c in cases["items"])


def test_the_csv_refuses_before_it_streams(many, app):
    alice = Staff(app, "sw.alice")
    assert alice.client.get("/manage/cases-at-risk.csv").status_code == 403
    carol = Staff(app, "tm.carol")
    assert carol.client.get("/manage/cases-at-risk.csv?team=south").status_code == 403
