"""Leases on outbox rows (email and webhook deliveries), in the Camunda 7 job executor's pattern.

A worker claims a small batch under a lease (``OUTBOX_LEASE_SECONDS``), renews the lease on what
is left once a third of it has gone (the heartbeat), records each item the moment it is done, and
on a graceful stop releases what it has not started. A lease runs out only when its worker died
or hung; then another worker takes the item over, and the first one's late result is ignored (its
lease is no longer its own).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, or_, select, update

from engine import clock
from engine.bootstrap import Runtime
from engine.services._common import commit

T = TypeVar("T")
# A lease this far beyond any we grant was given by a drill run in the future (``--now``). The
# margin is wide: two workers' clocks are read a moment apart (one waits for the other's claim),
# so a lease granted a second "later" than this worker's now is an ordinary, live lease.
DRILL_MARGIN = timedelta(hours=1)


def moment(now: datetime | None) -> datetime:
    """The time a delivery run works at: ``now`` when given (tests, drills), else the clock, read afresh."""
    return clock.require_aware(now, "now") if now is not None else clock.utcnow()


def claimable(model: Any, at: datetime, lease: timedelta) -> ColumnElement[bool]:
    """Not leased, or the lease ran out. A lease far further ahead than any we grant came from a
    drill run in the future (``--now``): it is not honoured, so it cannot hold a message for ever."""
    expires = model.lease_expires_at
    return or_(expires.is_(None), expires < at, expires > at + lease + DRILL_MARGIN)


def renew(rt: Runtime, model: Any, ids: list[int], worker: str, at: datetime, lease: timedelta) -> set[int]:
    """Extend this worker's lease on ``ids``; the ids still this worker's (another may have taken one over)."""
    if not ids:
        return set()
    with rt.uow() as uow:
        mine = model.id.in_(ids) & (model.lease_owner == worker)
        uow.session.execute(update(model).where(mine).values(lease_expires_at=at + lease))
        kept = set(uow.session.scalars(select(model.id).where(mine)))
        commit(uow, "the outbox")
        return kept


class Heartbeat:
    """Renews this worker's lease on the items it has left, once a third of the lease has gone by since
    the claim or the last renewal: a slow server never lets a lease run out, at one UPDATE per third
    of a lease rather than one per item (measured: one per item halved the delivery rate)."""

    def __init__(self, rt: Runtime, model: Any, worker: str, lease: timedelta, now: datetime | None,
                 granted_at: datetime) -> None:  # fmt: skip
        self.rt, self.model, self.worker, self.lease, self.now = rt, model, worker, lease, now
        self.renewed_at = granted_at
        self.lost: set[int] = set()

    def beat(self, ids: list[int]) -> None:
        at = moment(self.now)
        if at - self.renewed_at < self.lease / 3:
            return
        self.lost |= set(ids) - renew(self.rt, self.model, ids, self.worker, at, self.lease)
        self.renewed_at = at

    def mine(self, item_id: int) -> bool:
        """False when another worker took the item over (this one stalled past its lease)."""
        return item_id not in self.lost


def drain(
    rt: Runtime,
    model: Any,
    worker: str,
    now: datetime | None,
    stop: Callable[[], bool],
    claim: Callable[[datetime, timedelta], list[T]],
    handle: Callable[[list[T], Heartbeat], None],
) -> None:
    """Claim a batch (``claim(at, lease)``) and ``handle`` it with its heartbeat, until none is left or ``stop()``."""
    lease = rt.settings.outbox_lease
    while not stop():
        claimed_at = moment(now)
        claimed = claim(claimed_at, lease)
        if not claimed:
            return
        handle(claimed, Heartbeat(rt, model, worker, lease, now, claimed_at))


def release(rt: Runtime, model: Any, ids: list[int], worker: str) -> None:
    """Give back items this worker claimed but did not start (a graceful stop): others take them at once."""
    if not ids:
        return
    with rt.uow() as uow:
        mine = model.id.in_(ids) & (model.lease_owner == worker)
        uow.session.execute(update(model).where(mine).values(lease_owner=None, lease_expires_at=None))
        commit(uow, "the outbox")
