"""Demo data for `make run`: the demo users, and a few children's cases at different points.

Idempotent: cases are created only when no DEMO- case exists. References only, never names.
Dates are relative to today, so the inbox shows work due soon, due later and overdue.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from engine import clock
from engine.bootstrap import Runtime
from engine.persistence.models import Case
from engine.services.accounts import ensure_demo_users
from engine.services.cases import start_case
from engine.services.tasks import claim_task, complete_task, list_tasks

# ref, team, days since looked after, first review done (days ago) or None, claimed by
DEMO_CASES = [
    ("DEMO-1001", "north", 45, 20, "sw.alice"),
    ("DEMO-1002", "north", 12, None, None),
    ("DEMO-1003", "north", 33, None, None),  # first review overdue: the worker escalates it
    ("DEMO-1004", "north", 60, 35, None),
    ("DEMO-1005", "south", 20, None, None),
]


def ensure_demo_data(rt: Runtime) -> dict[str, list[str]]:
    users = ensure_demo_users(rt)
    with rt.uow() as uow:
        if uow.session.scalar(select(Case.id).where(Case.ref.like("DEMO-%")).limit(1)) is not None:
            return {"users": users, "cases": []}
    today = clock.london_today()
    for ref, team, looked_after, reviewed, holder in DEMO_CASES:
        start = {"date_of_birth": (today - timedelta(days=365 * 4)).isoformat(), "in_care_proceedings": False,
                 "looked_after_date": (today - timedelta(days=looked_after)).isoformat()}  # fmt: skip
        start_case(rt, "ppm_to_adm", ref, start, "demo", team=team)
        if reviewed is not None:
            [review] = list_tasks(rt, ref=ref)
            answers = {"first_review_date": (today - timedelta(days=reviewed)).isoformat(), "ppm_requested": True}
            complete_task(rt, review["id"], answers, "iro.bob")
        if holder:
            plan = next(t for t in list_tasks(rt, ref=ref) if t["role"] == "social_worker")
            claim_task(rt, plan["id"], holder)
    return {"users": users, "cases": [c[0] for c in DEMO_CASES]}
