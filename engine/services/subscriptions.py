"""Subscriptions: systems told of events here, and the worker's delivery of them from the outbox.

A delivery is claimed with a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), posted outside the
transaction by a ``Poster`` the worker supplies (signing and HTTP live in ``webhooks/``), and its
outcome recorded with one delivery-log row per attempt. A 2xx answer delivers it. Anything else
backs off exponentially with jitter (a ``Retry-After`` is honoured) and, after ``MAX_ATTEMPTS``,
is dead-lettered. 410 Gone disables the subscription. Each delivery keeps one ``webhook-id``
(``msg_<delivery id>``) across retries, so a receiver can drop repeats. An administrator can put a
delivery back in the queue.
"""

from __future__ import annotations

import ipaddress
import json
import socket
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit

from sqlalchemy import func, select

from engine import clock
from engine.bootstrap import Runtime
from engine.errors import FormInvalid, InvalidInput, NotAllowed, NotFound
from engine.persistence.models import Delivery, DeliveryAttempt, Subscription
from engine.services import leases
from engine.services._common import audit, commit
from engine.services.notifications import backoff
from engine.services.outbox import EVENT_TYPES, payload
from engine.services.senders import first_secret, rotated, valid

MAX_ATTEMPTS = 10  # 30 s doubling to a 6 h cap: about 8.5 hours of trying before the dead letter
STATUSES = ("pending", "delivered", "dead", "gone")
PARALLEL_POSTS = 8


@dataclass(frozen=True)
class Outgoing:
    delivery_id: int
    url: str
    secrets: list[str]  # every valid secret signs it, so a receiver mid-rotation accepts it
    msg_id: str
    body: bytes


@dataclass(frozen=True)
class PostResult:
    status_code: int | None  # None: no answer (refused, timed out)
    error: str | None = None
    retry_after: int | None = None  # seconds, from the receiver's Retry-After
    duration_ms: int = 0

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class Poster(Protocol):
    def post(self, outgoing: Outgoing) -> PostResult:
        """Sign and send; never raise (a failure is a result)."""


# --- managing subscriptions -------------------------------------------------------------------


def check_url(url: str, allow_local: bool = False) -> str:
    """https to another system's public address. With ``allow_local`` (development, ALLOW_LOCAL_SUBSCRIPTIONS),
    http or https to this machine too. The host is resolved: a name pointing at this machine, a private
    network or a link-local address (the cloud metadata service) is refused, whatever the URL says."""
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        host = None
    if parts.scheme not in ("http", "https") or not host:
        raise InvalidInput("the URL must start with https:// and name a host, e.g. https://lcs.example.gov.uk/hooks")
    if len(url) > 500:
        raise InvalidInput("the URL is longer than 500 characters")
    addresses = _addresses(host)
    problem = _refused(addresses, allow_local)
    if problem:
        raise InvalidInput(f"the URL points at {problem}: subscriptions send to other systems' public addresses")
    if parts.scheme == "http" and not (allow_local and addresses and all(a.is_loopback for a in addresses)):
        raise InvalidInput("use https:// (plain http is allowed only to this machine, in development)")
    return url


Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _addresses(host: str) -> list[Address]:
    """What ``host`` resolves to here (an IPv4-mapped IPv6 address as its IPv4 one); [] when it does not."""
    try:
        found = {str(info[4][0]) for info in socket.getaddrinfo(host.strip("[]"), None)}
    except (OSError, UnicodeError, ValueError):
        return []
    addresses: list[Address] = []
    for text in sorted(found):
        address = ipaddress.ip_address(text.split("%")[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        addresses.append(address)
    return addresses


def refused_destination(host: str, allow_local: bool = False) -> str | None:
    """What is wrong with sending to ``host`` (each address it resolves to), or None when it is fine.

    A name that does not resolve here is not refused: it is resolved again at each delivery."""
    return _refused(_addresses(host), allow_local)


def _refused(addresses: list[Address], allow_local: bool) -> str | None:
    for address in addresses:
        if address.is_loopback and allow_local:
            continue
        if address.is_loopback:
            return f"this machine ({address})"
        if address.is_link_local:
            return f"a link-local address ({address}, like the cloud metadata service)"
        if not address.is_global:
            return f"a private or reserved address ({address})"
    return None


def check_types(types: list[str] | None) -> list[str]:
    chosen = sorted(set(types or []))
    unknown = [t for t in chosen if t not in EVENT_TYPES]
    if unknown:
        raise InvalidInput(f"unknown event type {', '.join(unknown)}: choose from {', '.join(EVENT_TYPES)}")
    if not chosen:
        raise InvalidInput(f"choose at least one event type: {', '.join(EVENT_TYPES)}")
    return chosen


def add_subscription(rt: Runtime, url: str, event_types: list[str], actor: str, description: str = "") -> dict:
    """A new subscription; the answer holds its signing secret, shown this once.

    Raises FormInvalid naming every field that needs correcting (the address and the event types)."""
    errors: dict[str, str] = {}
    try:
        url = check_url(url, rt.settings.allow_local_subscriptions)
    except InvalidInput as exc:
        errors["url"] = exc.message
    try:
        types = check_types(event_types)
    except InvalidInput as exc:
        errors["event_types"] = exc.message
    if errors:
        raise FormInvalid(errors, {"url": url, "event_types": list(event_types or []), "description": description})
    with rt.uow() as uow:
        now = clock.utcnow()
        entries, secret = first_secret()
        row = Subscription(url=url, description=(description or "").strip()[:200], event_types=types,
                           secrets=entries, active=True, created_at=now, created_by=actor, updated_at=now)  # fmt: skip
        uow.session.add(row)
        uow.session.flush()
        audit(uow.session, None, actor, "subscription.added", detail=f"{row.id} {url}",
              after={"url": url, "event_types": types})  # fmt: skip
        shown = _view(row)
        commit(uow, "the subscription")
    return {**shown, "secret": secret}


def update_subscription(
    rt: Runtime,
    subscription_id: int,
    actor: str,
    *,
    url: str | None = None,
    event_types: list[str] | None = None,
    description: str | None = None,
    active: bool | None = None,
) -> dict[str, Any]:
    with rt.uow() as uow:
        row = _subscription(uow.session, subscription_id, lock=True)
        before = _view(row)
        if url is not None:
            row.url = check_url(url, rt.settings.allow_local_subscriptions)
        if event_types is not None:
            row.event_types = check_types(event_types)
        if description is not None:
            row.description = description.strip()[:200]
        if active is not None:
            row.active, row.disabled_reason = active, None if active else f"disabled by {actor}"
        row.updated_at = clock.utcnow()
        after = _view(row)
        changed = {k: after[k] for k in ("url", "event_types", "description", "active") if after[k] != before[k]}
        audit(uow.session, None, actor, "subscription.changed", detail=str(row.id),
              before={k: before[k] for k in changed}, after=changed)  # fmt: skip
        commit(uow, "the subscription")
        return after


def rotate_subscription_secret(rt: Runtime, subscription_id: int, actor: str) -> str:
    """A new signing secret; deliveries carry signatures with it and the previous one until the next rotation."""
    with rt.uow() as uow:
        row = _subscription(uow.session, subscription_id, lock=True)
        row.secrets, secret = rotated(row.secrets)
        row.updated_at = clock.utcnow()
        audit(uow.session, None, actor, "subscription.rotated", detail=str(row.id))
        commit(uow, "the subscription")
    return secret


def list_subscriptions(rt: Runtime) -> list[dict[str, Any]]:
    with rt.uow() as uow:
        rows = list(uow.session.scalars(select(Subscription).order_by(Subscription.id)))
        counts = _status_counts(uow.session, [r.id for r in rows])
        return [{**_view(r), "deliveries": counts.get(r.id, {})} for r in rows]


def show_subscription(rt: Runtime, subscription_id: int) -> dict[str, Any]:
    with rt.uow() as uow:
        row = _subscription(uow.session, subscription_id)
        return {**_view(row), "deliveries": _status_counts(uow.session, [row.id]).get(row.id, {})}


def _status_counts(session: Any, ids: list[int]) -> dict[int, dict[str, int]]:
    found: dict[int, dict[str, int]] = {}
    query = (select(Delivery.subscription_id, Delivery.status, func.count())
             .where(Delivery.subscription_id.in_(ids)).group_by(Delivery.subscription_id, Delivery.status))  # fmt: skip
    for sub_id, status, count in session.execute(query):
        found.setdefault(sub_id, {})[status] = count
    return found


def _view(row: Subscription) -> dict[str, Any]:
    return {"id": row.id, "url": row.url, "description": row.description, "event_types": list(row.event_types),
            "active": row.active, "disabled_reason": row.disabled_reason, "valid_secrets": len(valid(row.secrets)),
            "created_at": row.created_at.isoformat(), "created_by": row.created_by,
            "updated_at": row.updated_at.isoformat()}  # fmt: skip


def _subscription(session: Any, subscription_id: int, lock: bool = False) -> Subscription:
    query = select(Subscription).where(Subscription.id == subscription_id)
    row = session.scalar(query.with_for_update() if lock else query)
    if row is None:
        raise NotFound(f"there is no subscription {subscription_id}")
    return row


# --- the delivery log ---------------------------------------------------------------------------


def list_deliveries(
    rt: Runtime, subscription_id: int, status: str | None = None, page: int = 1, per_page: int = 50
) -> dict[str, Any]:
    """A subscription's deliveries, newest first, each with its attempts (status codes and errors)."""
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"status is one of {', '.join(STATUSES)}")
    page, per_page = max(page, 1), min(max(per_page, 1), 200)
    with rt.uow() as uow:
        session = uow.session
        _subscription(session, subscription_id)
        query = select(Delivery).where(Delivery.subscription_id == subscription_id)
        if status:
            query = query.where(Delivery.status == status)
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = list(session.scalars(query.order_by(Delivery.id.desc()).offset((page - 1) * per_page).limit(per_page)))
        attempts: dict[int, list[dict[str, Any]]] = {}
        if rows:
            found = session.scalars(select(DeliveryAttempt).where(DeliveryAttempt.delivery_id.in_([r.id for r in rows]))
                                    .order_by(DeliveryAttempt.id))  # fmt: skip
            for a in found:
                attempts.setdefault(a.delivery_id, []).append(
                    {"at": a.attempted_at.isoformat(), "status_code": a.status_code, "error": a.error,
                     "duration_ms": a.duration_ms})  # fmt: skip
        items = [{**_delivery_view(r), "attempt_log": attempts.get(r.id, [])} for r in rows]
        return {"items": items, "total": total, "page": page, "per_page": per_page}


def _delivery_view(row: Delivery) -> dict[str, Any]:
    event = row.event
    return {"id": row.id, "subscription_id": row.subscription_id, "msg_id": f"msg_{row.id}",
            "event": f"evt_{event.id}", "type": event.type,
            "case_id": event.case_id, "child_ref": event.data.get("child_ref"), "status": row.status,
            "attempts": row.attempts, "last_status_code": row.last_status_code, "last_error": row.last_error,
            "next_attempt_at": row.next_attempt_at.isoformat() if row.next_attempt_at else None,
            "created_at": row.created_at.isoformat(),
            "delivered_at": row.delivered_at.isoformat() if row.delivered_at else None}  # fmt: skip


def redeliver_delivery(rt: Runtime, delivery_id: int, actor: str) -> dict[str, Any]:
    """Send a delivery again (dead, gone, or delivered but lost by the receiver); audited."""
    with rt.uow() as uow:
        row = uow.session.scalar(select(Delivery).where(Delivery.id == delivery_id).with_for_update())
        if row is None:
            raise NotFound(f"there is no delivery {delivery_id}")
        if row.status == "pending":
            raise NotAllowed("this delivery is already waiting to be sent")
        subscription = _subscription(uow.session, row.subscription_id)
        if not subscription.active:
            raise NotAllowed("the subscription is disabled: enable it first, then redeliver")
        before = row.status
        row.status, row.attempts, row.next_attempt_at = "pending", 0, clock.utcnow()
        row.lease_owner = row.lease_expires_at = None
        audit(uow.session, row.event.case_id, actor, "delivery.redelivered",
              detail=f"delivery {row.id} ({row.event.type})", before={"status": before},
              after={"status": "pending", "subscription": row.subscription_id})  # fmt: skip
        shown = _delivery_view(row)
        commit(uow, "the delivery")
        return shown


# --- delivering ---------------------------------------------------------------------------------


def deliver_webhooks(
    rt: Runtime, poster: Poster, worker: str, now: datetime | None = None, batch: int = 20,
    stop: Callable[[], bool] = lambda: False,
) -> dict[str, int]:  # fmt: skip
    """Post every due delivery, several at once (one slow receiver does not hold up the rest).

    Each outcome is recorded as soon as its post returns, and the lease on the rest of the batch
    is renewed as it goes on (engine.services.leases); ``stop()`` lets the posts in hand finish
    and releases the ones not started."""
    counts = {"webhooks_delivered": 0, "webhooks_retrying": 0, "webhooks_dead": 0}
    leases.drain(
        rt,
        Delivery,
        worker,
        now,
        stop,
        lambda at, lease: _claim(rt, worker, at, batch, lease),
        lambda claimed, heartbeat: _post_batch(rt, poster, worker, now, claimed, heartbeat, stop, counts),
    )
    return counts


def _post_batch(rt: Runtime, poster: Poster, worker: str, now: datetime | None, claimed: list[Outgoing],
                heartbeat: leases.Heartbeat, stop: Callable[[], bool], counts: dict[str, int]) -> None:  # fmt: skip
    with ThreadPoolExecutor(max_workers=min(PARALLEL_POSTS, len(claimed))) as pool:
        futures = {pool.submit(_post, poster, out): out.delivery_id for out in claimed}
        waiting = set(futures.values())
        for future in as_completed(futures):
            waiting.discard(futures[future])
            if future.cancelled():
                continue
            _record(rt, worker, leases.moment(now), futures[future], future.result(), counts)
            if stop():
                not_started = [futures[f] for f in futures if f.cancel()]
                leases.release(rt, Delivery, not_started, worker)
                waiting -= set(not_started)
            else:
                heartbeat.beat(sorted(waiting))


def _post(poster: Poster, outgoing: Outgoing) -> PostResult:
    try:
        return poster.post(outgoing)
    except Exception as exc:  # a poster should not raise; if it does, it is a failed attempt like any other
        return PostResult(None, f"{type(exc).__name__}: {exc}"[:1000])


def _claim(rt: Runtime, worker: str, at: datetime, batch: int, lease: timedelta) -> list[Outgoing]:
    with rt.uow() as uow:
        query = (
            select(Delivery)
            .join(Subscription, Delivery.subscription_id == Subscription.id)
            .where(Delivery.status == "pending", Delivery.next_attempt_at <= at, Subscription.active.is_(True),
                   leases.claimable(Delivery, at, lease))
            .order_by(Delivery.next_attempt_at, Delivery.id)
            .limit(batch)
            .with_for_update(of=Delivery, skip_locked=True)
        )  # fmt: skip
        rows = list(uow.session.scalars(query))
        subs = {s.id: s for s in uow.session.scalars(select(Subscription).where(
            Subscription.id.in_({r.subscription_id for r in rows})))}  # fmt: skip
        claimed = []
        for row in rows:
            row.lease_owner, row.lease_expires_at = worker, at + lease
            body = json.dumps(payload(row.event, rt.settings.app_url), sort_keys=True, separators=(",", ":"))
            sub = subs[row.subscription_id]
            claimed.append(Outgoing(row.id, sub.url, valid(sub.secrets), f"msg_{row.id}", body.encode()))
        commit(uow, "the webhook outbox")
        return claimed


def _record(rt: Runtime, worker: str, at: datetime, delivery_id: int, result: PostResult,
            counts: dict[str, int]) -> None:  # fmt: skip
    """One delivery's outcome, in its own short transaction, if the lease is still this worker's."""
    with rt.uow() as uow:
        session = uow.session
        row = session.get(Delivery, delivery_id, with_for_update=True)
        if row is None or row.lease_owner != worker:  # our lease ran out and another worker took it
            return
        row.attempts += 1
        row.lease_owner = row.lease_expires_at = None
        row.last_status_code, row.last_error = result.status_code, result.error
        session.add(DeliveryAttempt(delivery_id=row.id, subscription_id=row.subscription_id, attempted_at=at,
                                    status_code=result.status_code, error=result.error,
                                    duration_ms=result.duration_ms, worker=worker))  # fmt: skip
        counts[_outcome(session, row, result, at)] += 1
        commit(uow, "the webhook outbox")


def _outcome(session: Any, row: Delivery, result: PostResult, at: datetime) -> str:
    if result.ok:
        row.status, row.delivered_at, row.next_attempt_at = "delivered", at, None
        return "webhooks_delivered"
    if result.status_code == 410:
        row.status, row.next_attempt_at = "gone", None
        _disable_gone(session, row.subscription_id, at)
        return "webhooks_dead"
    if row.attempts >= MAX_ATTEMPTS:
        row.status, row.next_attempt_at = "dead", None
        return "webhooks_dead"
    wait = backoff(row.attempts)
    if result.retry_after is not None:
        wait = max(wait, timedelta(seconds=min(result.retry_after, 6 * 3600)))
    row.next_attempt_at = at + wait
    return "webhooks_retrying"


def _disable_gone(session: Any, subscription_id: int, at: datetime) -> None:
    """The receiver says the endpoint is gone for good: stop sending (an administrator can enable it again)."""
    sub = session.get(Subscription, subscription_id)
    if sub is None or not sub.active:
        return
    sub.active, sub.updated_at = False, at
    sub.disabled_reason = f"the receiver answered 410 Gone on {at.astimezone(clock.LONDON):%d/%m/%Y %H:%M}"
    audit(session, None, "system", "subscription.disabled", detail=f"{sub.id} {sub.url}: {sub.disabled_reason}",
          before={"active": True}, after={"active": False})  # fmt: skip
