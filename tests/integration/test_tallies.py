"""The counts the database keeps (issue 18): every change to a step, a case or a tracker row is counted
by a trigger in its own transaction, folding never changes a count, and the lists' totals and the
managers' figures read from them agree with counting the rows."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlalchemy import func, select, text

from engine import services
from engine.persistence import tallies
from engine.persistence.models import TallyDelta
from engine.services import accounts, listings, oversight, tracker
from tests.conftest import load

REFS = [f"CH-{n:03d}" for n in range(12)]


def _kept_equals_counted(rt) -> None:
    with rt.uow() as uow:
        assert tallies.kept(uow.session) == tallies.recount(uow.session)


def _start_many(rt) -> None:
    load(rt, "review_cycle.bpmn")
    for n, ref in enumerate(REFS):
        services.start_case(rt, "test_review_cycle", ref, {"looked_after_date": "2026-12-18"}, "sw.alice",
                            team="north" if n % 3 else "south")  # fmt: skip


def _complete(rt, ref: str, element: str, answers: dict) -> None:
    task = next(t for t in services.list_tasks(rt, ref=ref) if t["element"] == element)
    services.complete_task(rt, task["id"], answers, "sw.alice")


def test_every_change_is_counted_with_it_and_folding_keeps_every_count(rt, now):
    _start_many(rt)
    _kept_equals_counted(rt)
    for ref in REFS[:6]:
        _complete(rt, ref, "Task_CarePlan", {"care_plan_date": "2026-12-18"})
    services.suspend_case(rt, REFS[7], "tm.carol", "court adjourned")
    services.cancel_case(rt, REFS[8], "tm.carol", "opened in error")
    _kept_equals_counted(rt)
    with rt.uow() as uow:  # a rolled-back change leaves no count behind
        uow.session.execute(text("UPDATE tasks SET status = 'cancelled' WHERE status = 'open'"))
    _kept_equals_counted(rt)
    with rt.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(TallyDelta)) > 0
    assert services.fold_tallies(rt, batch=7)["tallies_folded"] > 7  # several batches
    with rt.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(TallyDelta)) == 0
    _kept_equals_counted(rt)
    services.resume_case(rt, REFS[7], "tm.carol", "hearing listed")  # counted again after a fold
    _kept_equals_counted(rt)
    with rt.uow() as uow:
        north = tallies.total(uow.session, "cases", ["north"], k1="test_review_cycle")
        everyone = tallies.total(uow.session, "cases", None, k1="test_review_cycle")
    assert (north, everyone) == (sum(1 for n in range(12) if n % 3), 12)


def test_the_worker_folds_the_counts(rt, now):
    from worker import tick

    _start_many(rt)
    assert tick(rt)["tallies_folded"] > 0
    assert tick(rt)["tallies_folded"] == 0
    _kept_equals_counted(rt)


@pytest.mark.parametrize("who", ["sw.alice", "tm.carol", "sm.sara", "hos.hana", "iro.bob", "admin.ash", "po.erin"])
def test_list_totals_from_the_tallies_equal_counting_the_rows(app, rt, now, who):
    _start_many(rt)
    for ref in REFS[:4]:
        _complete(rt, ref, "Task_CarePlan", {"care_plan_date": "2026-12-18"})
    person = accounts.person(rt, who)
    for filters in ({}, {"team": "north"}, {"team": "south"}, {"role": "social_worker"}, {"role": "team_manager"},
                    {"team": "elsewhere"}):  # fmt: skip
        found = listings.tasks_page(rt, person, per_page=200, **filters)
        assert found["total"] == len(found["items"]), (who, filters)
        assert found["total"] == listings.tasks_page(rt, person, per_page=200, assignee=None, case_id=None,
                                                     **filters)["total"]  # fmt: skip
    for filters in ({}, {"team": "north"}, {"status": "running"}, {"status": "suspended"},
                    {"key": "test_review_cycle"}, {"key": "ppm_to_adm"}):  # fmt: skip
        found = listings.cases_page(rt, person, per_page=200, **filters)
        assert found["total"] == len(found["items"]), (who, filters)
    services.suspend_case(rt, REFS[1], "tm.carol", "paused")
    assert listings.cases_page(rt, person, status="suspended")["total"] == len(
        listings.cases_page(rt, person, status="suspended", per_page=200)["items"])  # fmt: skip


def test_where_cases_wait_counts_every_open_step_and_pages_the_cases_behind_a_badge(app, rt, now):
    _start_many(rt)
    hana, carol = accounts.person(rt, "hos.hana"), accounts.person(rt, "tm.carol")
    for person, team in ((hana, None), (carol, "north")):
        counts = oversight.where_cases_wait(rt, person, "test_review_cycle")["elements"]
        with rt.uow() as uow:
            query = text("SELECT element, count(*) FROM tasks WHERE status = 'open'"
                         + (" AND team = :team" if team else "") + " GROUP BY element")  # fmt: skip
            expected = dict(uow.session.execute(query, {"team": team}).all())
        assert {e: c["waiting"] for e, c in counts.items()} == expected
    behind = oversight.cases_waiting_at(rt, hana, "test_review_cycle", "Task_CarePlan")
    assert behind["total"] == len(REFS) == len(behind["rows"]) and behind["pages"] == 1
    with pytest.raises(Exception, match="pages count from 1"):
        oversight.cases_waiting_at(rt, hana, "test_review_cycle", "Task_CarePlan", page=0)


def test_a_large_badge_is_paged(app, rt, now, monkeypatch):
    monkeypatch.setattr(oversight, "WAITING_PAGE", 5)
    _start_many(rt)
    hana = accounts.person(rt, "hos.hana")
    pages = [oversight.cases_waiting_at(rt, hana, "test_review_cycle", "Task_CarePlan", page=n) for n in (1, 2, 3)]
    assert [p["pages"] for p in pages] == [3, 3, 3] and [len(p["rows"]) for p in pages] == [5, 5, 2]
    refs = [r["ref"] for p in pages for r in p["rows"]]
    assert sorted(refs) == REFS  # every case once, in due order
    dues = [(r["due"], r["task_id"]) for p in pages for r in p["rows"]]
    assert dues == sorted(dues)


def test_the_tracker_figures_follow_a_managers_recorded_outcome(app, rt, now):
    _start_many(rt)
    with rt.uow() as uow:
        for n, ref in enumerate(REFS[:5]):
            uow.session.execute(text(
                "INSERT INTO tracker_children (ref, team, case_id, second_review_date, permanence_option, "
                "recorded_revision, refreshed_at) SELECT ref, team, id, :day, 'adoption', 0, updated_at "
                "FROM cases WHERE ref = :ref"), {"ref": ref, "day": date(2026, 11, 2 + n)})  # fmt: skip
        uow.commit()
    _kept_equals_counted(rt)
    hana = accounts.person(rt, "hos.hana")
    before = tracker.tracker(rt, hana)
    assert before["cohort"] == 5 and before["achieved"] == 0
    revision = tracker.tracker_child(rt, hana, REFS[0])["revision"]
    tracker.record_tracking(rt, hana, REFS[0], {"route": "adoption", "achieved_on": "2026-12-01"}, revision)
    after = tracker.tracker(rt, hana)
    assert after["achieved"] == 1 and after["by_route"]["adoption"] == 1
    assert sum(f["achieved"] for f in after["figures"]) == 1
    _kept_equals_counted(rt)


def test_two_workers_folding_at_once_lose_and_double_nothing(rt, now, is_postgres):
    if not is_postgres:
        pytest.skip("SQLite runs one worker")
    _start_many(rt)
    for ref in REFS:
        _complete(rt, ref, "Task_CarePlan", {"care_plan_date": "2026-12-18"})
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def fold() -> None:
        try:
            barrier.wait()
            services.fold_tallies(rt, batch=3)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=fold) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with rt.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(TallyDelta)) == 0
    _kept_equals_counted(rt)
