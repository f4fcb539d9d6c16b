"""Firing BPMN timers that have fallen due. One case failing never stops the sweep."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from engine import clock
from engine.bootstrap import Runtime
from engine.domain.states import CaseStatus, DeadlineStatus
from engine.persistence.models import Case, Deadline
from engine.services import _steps, outbox
from engine.services._common import (
    SYSTEM,
    audit,
    commit,
    keep_stamps,
    pause_between_batches,
    refresh_calendar,
    spec_for,
    stamp_columns,
)

log = logging.getLogger(__name__)
_ADVANCING = (CaseStatus.RUNNING, CaseStatus.WAITING)


def fire_due_timers(rt: Runtime, now: datetime | None = None, batch: int | None = None,
                    stop: Callable[[], bool] = lambda: False) -> dict[str, int]:  # fmt: skip
    """Fire every timer due at ``now`` (default: the clock), earliest first, a claimed batch at a time.

    Each batch is claimed with ``FOR UPDATE SKIP LOCKED`` (PostgreSQL), so workers take disjoint
    batches; each case fires in its own savepoint, so one broken case never stops the sweep. A timer
    that fires more than an hour after it fell due (the worker was down) is recorded as late.
    A case fires once per sweep: one whose repeating timer is still due after
    ``patches.MAX_CYCLE_FIRINGS`` firings goes on in the next sweep, never round this loop again.
    ``stop()`` (the worker's SIGTERM) is asked between batches. A batch is 20 cases on PostgreSQL
    (row locks held briefly) and 100 on SQLite, where each batch is followed by a pause for waiting
    writers (``pause_between_batches``): fewer, larger batches keep that pause cheap.
    """
    batch = batch or (100 if rt.is_sqlite else 20)
    at = clock.require_aware(now, "--now") if now is not None else clock.utcnow()
    fired, skip, failed_ids = 0, set[int](), set[int]()  # skip: failed, or fired and still due (a capped cycle)
    with clock.frozen(at):
        while not stop():
            done, failed, still_due = _fire_batch(rt, at, batch, skip)
            fired += done
            failed_ids |= failed
            skip |= failed | still_due
            if done + len(failed) == 0:
                break
            pause_between_batches(rt)
        breached = mark_breached_deadlines(rt, at)
    return {"cases_fired": fired, "cases_failed": len(failed_ids), "deadlines_breached": breached}


_Fired = tuple[int, set[int], set[int]]  # how many fired; the ids that failed; the fired ids due again at once


def _fire_batch(rt: Runtime, at: datetime, batch: int, skip: set[int]) -> _Fired:
    """Fast path: the whole batch in one transaction (writes batched). If anything fails, the batch is
    rolled back and redone case by case in savepoints, so the broken case is isolated and skipped."""
    try:
        return _fire_claimed(rt, at, batch, skip, isolate=False)
    except Exception:
        log.warning("event=timer_batch_retry reason='a case failed; redoing the batch case by case'")
        return _fire_claimed(rt, at, batch, skip, isolate=True)


def _fire_claimed(rt: Runtime, at: datetime, batch: int, skip: set[int], isolate: bool) -> _Fired:
    with rt.uow() as uow:
        session = uow.session
        query = (  # the stamps of what a process keeps in the same select; each diagram once, not per case
            select(Case, *stamp_columns())
            .options(selectinload(Case.definition))
            .where(Case.next_timer_due <= at, Case.status.in_(_ADVANCING))
            .order_by(Case.next_timer_due, Case.id)
            .limit(batch)
            .with_for_update(of=Case, skip_locked=True)
        )
        if skip:
            query = query.where(Case.id.not_in(skip))
        claimed = session.execute(query).all()
        cases = [row[0] for row in claimed]
        if claimed:
            keep_stamps(session, claimed[0][1:])
        refresh_calendar(rt, session)
        rows = _steps.preload(session, [c.id for c in cases])
        fired, failed = 0, set[int]()
        for case in cases:
            if not isolate:
                _fire(rt, session, case, at, rows[case.id])
                fired += 1
                continue
            try:
                with session.begin_nested():
                    _fire(rt, session, case, at, rows[case.id])
                fired += 1
            except Exception:  # one broken case must not block the sweep
                failed.add(case.id)
                log.exception("event=timer_failed case=%s key=%s", case.ref, case.key)
        # a capped cycle leaves its case due: not round this sweep again (the skip list stays short)
        still_due = {
            c.id for c in cases if c.id not in failed and c.next_timer_due is not None and c.next_timer_due <= at
        }
        commit(uow, "the timer sweep")
        return fired, failed, still_due


def _fire(rt: Runtime, session: Session, case: Case, at: datetime, rows: _steps._Rows) -> None:
    spec, due = spec_for(rt, session, case.definition), case.next_timer_due
    workflow, result = rt.bpmn.attempt(lambda: rt.bpmn.load(spec, case.state), rt.bpmn.fire_timers)
    late = due is not None and (at - due).total_seconds() > 3600
    elements = [e for e in result.completed if e]
    audit(session, case.id, SYSTEM, "timer.fired", detail=f"due {due.isoformat() if due else '?'}"
          + (" (fired late: the worker was not running)" if late else ""),
          after={"elements": elements, "due": due.isoformat() if due else None, "late": late})  # fmt: skip
    _steps.sync(rt, session, case, workflow, result, SYSTEM, rows)
    log.info("event=timer_fired case=%s key=%s elements=%s due=%s late=%s", case.ref, case.key,
             ",".join(elements) or "-", due.isoformat() if due else "?", str(late).lower())  # fmt: skip


def mark_breached_deadlines(rt: Runtime, at: datetime, batch: int = 100) -> int:
    """Running deadlines whose day has passed (London time) become breached, once, audited.

    A short transaction per ``batch`` (row locks held briefly, ``SKIP LOCKED`` between workers)."""
    total = 0
    while done := _mark_breached_batch(rt, at, batch):
        total += done
    return total


def _mark_breached_batch(rt: Runtime, at: datetime, batch: int) -> int:
    today = at.astimezone(clock.LONDON).date()
    with rt.uow() as uow:
        query = (
            select(Deadline)
            .where(Deadline.status == DeadlineStatus.RUNNING, Deadline.due_date < today)
            .order_by(Deadline.id)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
        rows = list(uow.session.scalars(query))
        wanted = bool(outbox.subscribers(uow.session, "deadline.breached"))
        for deadline in rows:
            deadline.status = DeadlineStatus.BREACHED
            if wanted:
                case = uow.session.get(Case, deadline.case_id)
                assert case is not None
                _steps.breached(uow.session, case, deadline)
            audit(uow.session, deadline.case_id, SYSTEM, "deadline.breached", element=deadline.element,
                  detail=deadline.name, after={"due": deadline.due_date})  # fmt: skip
        commit(uow, "deadlines")
        return len(rows)
