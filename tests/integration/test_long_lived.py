"""A child's case lives for years: 600 review cycles through the services still advance correctly."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from engine import services
from engine.persistence.models import Case
from tests.conftest import load


def _months(day: date, n: int) -> str:
    from engine.calendar import add_months

    return add_months(day, n).isoformat()


@pytest.mark.slow
def test_six_hundred_reviews_then_the_case_closes(rt, now):
    load(rt, "review_cycle.bpmn")
    services.start_case(rt, "test_review_cycle", "CH-LONG", {"looked_after_date": "2026-12-18"}, "sw")
    for element, data in (("Task_CarePlan", {"care_plan_date": "2026-12-18"}),
                          ("Task_Visit", {"visit_date": "2026-12-18"}),
                          ("Task_AppointIRO", {"iro_appointed_on": "2026-12-18"})):  # fmt: skip
        task = next(t for t in services.list_tasks(rt, ref="CH-LONG") if t["element"] == element)
        services.complete_task(rt, task["id"], data, "sw")
    review_day = date(2027, 1, 19)
    sizes = []
    for i in range(600):
        now.set(datetime.combine(review_day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=10))
        [task] = services.list_tasks(rt, ref="CH-LONG")
        assert task["element"] == "Task_HoldReview"
        answers = {"review_date": review_day.isoformat(), "continue_reviews": i < 599}
        services.complete_task(rt, task["id"], answers, "iro")
        if i % 100 == 0:
            # each review re-anchors on the actual date of the one before (3 m after the first, then 6 m)
            months = 3 if i == 0 else 6
            assert services.list_tasks(rt, ref="CH-LONG")[0]["due"] == _months(review_day, months)
            with rt.uow() as uow:
                sizes.append(len(uow.session.query(Case).filter_by(ref="CH-LONG").one().state))
        review_day += timedelta(days=7)
    [close] = services.list_tasks(rt, ref="CH-LONG")
    assert close["element"] == "Task_Close"
    services.complete_task(rt, close["id"], {"closed_on": (review_day - timedelta(days=7)).isoformat()}, "tm")
    case = services.show_case(rt, "CH-LONG")
    assert case["status"] == "completed"
    assert max(sizes) < 1.5 * min(sizes)  # the saved state does not grow with the case's age
    # the first review serves the declared first-review clock (one clock, one row); each later one has its own
    assert sum(1 for d in case["deadlines"] if d["key"] == "Task_HoldReview") == 599
