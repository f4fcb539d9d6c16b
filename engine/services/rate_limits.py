"""Request counts in fixed windows, kept in the database so that every web process shares them.

web.limits adapts these to Flask-Limiter (the ``limits`` storage interface). Times are the
engine's clock (seconds since 1970), so a test moves a window on with its injected clock.
One statement a call: an upsert that starts the window afresh once it has ended."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, case, delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from engine import clock
from engine.bootstrap import Runtime
from engine.persistence.models import RateLimit


def now() -> float:
    return clock.utcnow().timestamp()


def incr(rt: Runtime, key: str, expiry: int, amount: int = 1) -> int:
    """Add ``amount`` to ``key``'s window (a new window of ``expiry`` seconds if there is none or it
    ended) and return the window's count."""
    at = now()
    insert = (sqlite_insert if rt.is_sqlite else pg_insert)(RateLimit)
    ended = RateLimit.expires_at <= at
    statement = insert.values(key=key, hits=amount, expires_at=at + expiry).on_conflict_do_update(
        index_elements=[RateLimit.key],
        set_={"hits": func.coalesce(_when(ended, amount, RateLimit.hits + amount), amount),
              "expires_at": _when(ended, at + expiry, RateLimit.expires_at)},
    ).returning(RateLimit.hits)  # fmt: skip
    with rt.uow() as uow:
        hits = int(uow.session.execute(statement).scalar_one())
        uow.commit()
    return hits


def _when(condition: Any, then: Any, otherwise: Any) -> Any:
    return case((condition, then), else_=otherwise)


def get(rt: Runtime, key: str) -> int:
    """The count in ``key``'s current window (0 when it has ended or never began)."""
    with rt.reading() as uow:
        hits = uow.session.scalar(select(RateLimit.hits).where(RateLimit.key == key, RateLimit.expires_at > now()))
    return int(hits or 0)


def get_expiry(rt: Runtime, key: str) -> float:
    """When ``key``'s window ends (the engine's clock; now when there is none)."""
    with rt.reading() as uow:
        expires = uow.session.scalar(select(RateLimit.expires_at).where(RateLimit.key == key))
    at = now()
    return float(expires) if expires is not None and expires > at else at


def clear(rt: Runtime, key: str) -> None:
    with rt.uow() as uow:
        uow.session.execute(delete(RateLimit).where(RateLimit.key == key))
        uow.commit()


def clear_all(rt: Runtime) -> int:
    with rt.uow() as uow:
        removed = _removed(uow.session.execute(delete(RateLimit)))
        uow.commit()
    return removed


def prune(rt: Runtime) -> int:
    """Remove the windows that have ended (the worker, every few minutes): they count for nothing."""
    with rt.uow() as uow:
        removed = _removed(uow.session.execute(delete(RateLimit).where(RateLimit.expires_at <= now())))
        uow.commit()
    return removed


def _removed(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount or 0)
