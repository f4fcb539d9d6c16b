"""Recording what subscriptions want to hear, in the same transaction as the change itself.

``emit`` is called where a step opens, an escalation rung is raised, a deadline is breached and a
case completes. It stores the event and one delivery per active subscription that wants its type,
so an event is sent if and only if the change committed (a transactional outbox). With no
subscription for a type nothing is written. The active subscriptions are kept per process and
checked by a stamp read with the step's row lock, so a completion reads them only after they changed.
"""

from __future__ import annotations

import weakref
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock
from engine.persistence.models import Case, Deadline, Delivery, Escalation, HumanTask, OutboundEvent, Subscription
from engine.services._common import STAMPS, jsonable

EVENT_TYPES = ("task.created", "task.overdue", "deadline.breached", "escalation.raised", "case.completed")
_CACHE = "pathways.subscribers"


# Per process and database: (the subscriptions' stamp, the active ones by event type).
_KEPT: weakref.WeakKeyDictionary[Any, tuple[Any, dict[str, list[int]]]] = weakref.WeakKeyDictionary()


def subscribers(session: Session, event_type: str) -> list[int]:
    """Active subscriptions wanting ``event_type``: read once per transaction, or not at all when
    the transaction's stamp (``_common.stamp_columns``) shows the process's copy is current.

    Without autoflush: flushing the caller's pending rows here, before the case row is updated,
    would turn a lost race on a case into a unique-key error instead of the optimistic-lock
    Conflict the services report."""
    wanted = session.info.get(_CACHE)
    if wanted is None:
        stamp, bind = session.info.get(STAMPS, {}).get("subscriptions"), session.get_bind()
        kept = _KEPT.get(bind)
        if stamp is not None and kept is not None and kept[0] == stamp:
            wanted = kept[1]
        else:
            query = select(Subscription.id, Subscription.event_types).where(Subscription.active.is_(True))
            with session.no_autoflush:
                wanted = _by_type(list(session.execute(query)))
            if stamp is not None:  # read after the stamp: never older than it
                _KEPT[bind] = (stamp, wanted)
        session.info[_CACHE] = wanted
    return list(wanted.get(event_type, []))


def _by_type(rows: list[Any]) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for sub_id, types in rows:
        for event_type in types:
            found.setdefault(event_type, []).append(sub_id)
    return found


def emit(
    session: Session,
    event_type: str,
    case: Case,
    *,
    task: HumanTask | None = None,
    deadline: Deadline | None = None,
    escalation: Escalation | None = None,
    **data: Any,
) -> None:
    assert event_type in EVENT_TYPES, event_type
    wanted = subscribers(session, event_type)
    if not wanted:
        return
    now = clock.utcnow()
    refs = jsonable({"child_ref": case.ref, "pathway": case.key, **data})
    event = OutboundEvent(type=event_type, occurred_at=now, case=case, task=task, deadline=deadline,
                          escalation=escalation, data=refs)  # fmt: skip
    session.add(event)
    for subscription_id in wanted:
        session.add(Delivery(event=event, subscription_id=subscription_id, status="pending", attempts=0,
                             next_attempt_at=now, created_at=now))  # fmt: skip


def payload(event: OutboundEvent, app_url: str) -> dict[str, Any]:
    """The body a receiver gets (Standard Webhooks shape: type, timestamp, data): ids and references only."""
    data: dict[str, Any] = {"case_id": event.case_id, **event.data}
    links = {"case": f"{app_url}/cases/{event.case_id}"}
    if event.task_id is not None:
        data["task_id"] = event.task_id
        links["task"] = f"{app_url}/tasks/{event.task_id}"
    if event.deadline_id is not None:
        data["deadline_id"] = event.deadline_id
    if event.escalation_id is not None:
        data["escalation_id"] = event.escalation_id
    data["links"] = links
    return {"id": f"evt_{event.id}", "type": event.type, "timestamp": event.occurred_at.isoformat(), "data": data}
