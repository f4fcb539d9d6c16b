"""Delivering the outbox: claim due email with a lease, send outside the transaction, record each result.

Leases follow engine.services.leases: renewed as a batch goes on, each outcome recorded as it
happens. A worker killed mid-send leaves a lease that expires; another worker then sends that
one message again (the only repeat possible), and it carries its outbox key as the Message-ID,
so a receiver can recognise it. Failures back off exponentially with jitter and are
dead-lettered after ``MAX_ATTEMPTS``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import or_, select, true, update

from engine import clock
from engine.bootstrap import Runtime
from engine.persistence.models import Notification
from engine.services import leases
from engine.services._common import commit

MAX_ATTEMPTS = 8


@dataclass(frozen=True)
class OutboundEmail:
    key: str  # also the Message-ID: repeats after a crash can be recognised
    to: str
    subject: str
    body: str


class Undeliverable(Exception):
    """A sender's answer that trying again cannot change (an address or template the provider
    refuses): the message is dead-lettered at once, with the reason, for an administrator."""


class Sender(Protocol):
    def send(self, message: OutboundEmail) -> None:
        """Send or raise; the outbox records the outcome."""


def backoff(attempts: int, rng: random.Random | None = None) -> timedelta:
    """30 s, 1 min, 2 min ... capped at 6 h, each with +/-20% jitter."""
    base = min(30 * 2 ** max(attempts - 1, 0), 6 * 3600)
    return timedelta(seconds=base * (rng or random).uniform(0.8, 1.2))


def deliver_notifications(
    rt: Runtime, sender: Sender, worker: str, now: datetime | None = None, batch: int = 10,
    stop: Callable[[], bool] = lambda: False,
) -> dict[str, int]:  # fmt: skip
    """Send due email, a small claimed batch at a time, each recorded as soon as it is sent or failed.

    Before each message the lease on the rest of the batch is renewed when a third of it has gone
    (``leases.Heartbeat``), so a slow mail server never lets another worker take over and send them
    again; ``stop()`` (the worker's SIGTERM) ends the run after the message in hand and releases
    the rest."""
    counts = {"sent": 0, "retrying": 0, "dead": 0}

    def send_batch(claimed: list[dict[str, Any]], heartbeat: leases.Heartbeat) -> None:
        for index, note in enumerate(claimed):
            rest = [n["id"] for n in claimed[index:]]
            if stop():
                leases.release(rt, Notification, rest, worker)
                return
            heartbeat.beat(rest)
            if not heartbeat.mine(note["id"]):
                continue  # our lease ran out (this worker hung) and another worker has the message now
            _record(rt, worker, leases.moment(now), note["id"], _send(sender, note), counts)

    leases.drain(rt, Notification, worker, now, stop, lambda at, lease: _claim(rt, worker, at, batch, lease),
                 send_batch)  # fmt: skip
    return counts


def _send(sender: Sender, note: dict[str, Any]) -> str | None:
    """None when sent, else the reason; an ``Undeliverable`` one starts with ``UNDELIVERABLE``."""
    try:
        sender.send(OutboundEmail(note["key"], note["to"], note["subject"], note["body"]))
        return None
    except Undeliverable as exc:
        return f"{UNDELIVERABLE}: {exc}"[:1000]
    except Exception as exc:  # delivery failures are recorded and retried, never raised into the job
        return f"{type(exc).__name__}: {exc}"[:1000]


UNDELIVERABLE = "Undeliverable"


def _claim(rt: Runtime, worker: str, at: datetime, batch: int, lease: timedelta) -> list[dict[str, Any]]:
    with rt.uow() as uow:
        query = (
            select(Notification)
            .where(Notification.channel == "email", Notification.status == "pending",
                   Notification.next_attempt_at <= at, leases.claimable(Notification, at, lease))
            .order_by(Notification.next_attempt_at, Notification.id)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )  # fmt: skip
        rows = list(uow.session.scalars(query))
        for row in rows:
            row.lease_owner, row.lease_expires_at = worker, at + lease
        claimed = [{"id": r.id, "key": r.key, "to": r.recipient_address or "", "subject": r.subject, "body": r.body}
                   for r in rows]  # fmt: skip
        commit(uow, "the outbox")
        return claimed


def _record(rt: Runtime, worker: str, at: datetime, note_id: int, error: str | None, counts: dict[str, int]) -> None:
    """One message's outcome, in its own short transaction, if the lease is still this worker's."""
    with rt.uow() as uow:
        row = uow.session.get(Notification, note_id, with_for_update=True)
        if row is None or row.lease_owner != worker:  # our lease expired and another worker took it
            return
        row.attempts += 1
        row.lease_owner = row.lease_expires_at = None
        if error is None:
            row.status, row.sent_at, row.last_error = "sent", at, None
            counts["sent"] += 1
        elif row.attempts >= MAX_ATTEMPTS or error.startswith(UNDELIVERABLE):
            row.status, row.last_error = "dead", error
            counts["dead"] += 1
        else:
            row.next_attempt_at, row.last_error = at + backoff(row.attempts), error
            counts["retrying"] += 1
        commit(uow, "the outbox")


def redeliver(rt: Runtime, notification_id: int) -> None:
    """Put a dead-lettered message back in the queue (an administrator's action)."""
    with rt.uow() as uow:
        uow.session.execute(
            update(Notification).where(Notification.id == notification_id, Notification.status == "dead")
            .values(status="pending", attempts=0, next_attempt_at=clock.utcnow(), last_error=None)
        )  # fmt: skip
        commit(uow, "the outbox")


def in_app(rt: Runtime, role: str | None = None, team: str | None = None, user: str | None = None,
           limit: int = 50) -> list[dict[str, Any]]:  # fmt: skip
    """In-app notifications for the inbox: a user's own, and their role's in their team."""
    with rt.uow() as uow:
        query = select(Notification).where(Notification.channel == "in_app")
        clauses = []
        if user:
            clauses.append(Notification.recipient_user == user)
        if role:
            in_team = Notification.recipient_team == team if team else true()
            clauses.append((Notification.recipient_role == role) & Notification.recipient_user.is_(None) & in_team)
        if clauses:
            query = query.where(or_(*clauses))
        rows = uow.session.scalars(query.order_by(Notification.id.desc()).limit(limit))
        return [{"id": r.id, "subject": r.subject, "link": r.link, "status": r.status,
                 "created_at": r.created_at.isoformat()} for r in rows]  # fmt: skip
