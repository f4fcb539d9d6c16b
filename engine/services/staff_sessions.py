"""Server-side sign-in sessions (OWASP ASVS L2 V3.3): the browser's cookie carries a random token, and
this table its SHA-256, so a session ends for real when it is revoked: on sign-out, when the
password changes, when the account is deactivated, or by an administrator.

Each session has an absolute end (``session_hours`` after sign-in, however active it is) and an
idle limit (``session_idle_minutes`` without a request). Rows are revoked, never deleted: they
are the record of who was signed in when.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from engine import clock
from engine.bootstrap import Runtime
from engine.domain.access import Person
from engine.persistence.models import User, WebSession
from engine.services._common import audit, commit

TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(rt: Runtime, username: str) -> str:
    """A new session for a person who has just signed in; the token goes in their cookie, only."""
    token, now = secrets.token_urlsafe(32), clock.utcnow()
    with rt.uow() as uow:
        uow.session.add(WebSession(id=_digest(token), username=username, created_at=now, last_seen_at=now,
                                   expires_at=now + timedelta(hours=rt.settings.session_hours)))  # fmt: skip
        commit(uow, "the session")
    return token


def session_person(rt: Runtime, token: str) -> Person | None:
    """The person a live session belongs to; None (and the session ended, with the reason) otherwise."""
    return live_session(rt, token).person


@dataclass(frozen=True)
class Live:
    """A session as a request finds it: whose it is, and when it will end if nothing more happens."""

    person: Person | None
    ends_at: datetime | None = None
    final: bool = False  # True: the end is the absolute limit, which staying active cannot move

    def seconds_left(self, now: datetime) -> int:
        return max(0, int((self.ends_at - now).total_seconds())) if self.ends_at else 0


def live_session(rt: Runtime, token: str, touch: bool = True, force: bool = False) -> Live:
    """The session behind a cookie. ``touch``: this request counts as activity (the last-seen time moves,
    written at most once a minute, or now with ``force``: "stay signed in"); a page asking how long is left
    does not count, or asking would keep a forgotten session open for ever.

    One read (the session and its account together) on every request; a write only when the session
    ends or its last-seen time is due to move."""
    from engine.services.accounts import as_person

    now, digest = clock.utcnow(), _digest(token)
    with rt.reading() as uow:
        found = uow.session.execute(
            select(WebSession, User).outerjoin(User, (User.username == WebSession.username) & User.active.is_(True))
            .where(WebSession.id == digest)
        ).first()  # fmt: skip
    if found is None or found[0].revoked_at is not None:
        return Live(None)
    row, user = found
    ended = _why_ended(rt, row, user is not None, now)
    seen = row.last_seen_at
    if ended or (touch and (force or now - row.last_seen_at >= TOUCH_EVERY)):
        with rt.uow() as uow:
            live = uow.session.get(WebSession, digest, with_for_update=True)
            if live is None or live.revoked_at is not None:
                return Live(None)
            if ended:
                live.revoked_at, live.revoked_by, live.revoked_reason = now, "system", ended
            else:
                live.last_seen_at = seen = max(live.last_seen_at, now)
            commit(uow, "the session")
    if ended or user is None:
        return Live(None)
    idle_end = seen + timedelta(minutes=rt.settings.session_idle_minutes)
    final = row.expires_at <= idle_end
    return Live(as_person(user), min(idle_end, row.expires_at), final)


def _why_ended(rt: Runtime, row: WebSession, active: bool, now: Any) -> str | None:
    if not active:
        return "the account was deactivated"
    if now >= row.expires_at:
        return f"the {rt.settings.session_hours}-hour limit was reached"
    if now - row.last_seen_at >= timedelta(minutes=rt.settings.session_idle_minutes):
        return f"idle for {rt.settings.session_idle_minutes} minutes"
    return None


def close_session(rt: Runtime, token: str) -> None:
    """Sign-out: this browser's session ends now."""
    with rt.uow() as uow:
        row = uow.session.get(WebSession, _digest(token))
        if row is not None and row.revoked_at is None:
            row.revoked_at, row.revoked_by, row.revoked_reason = clock.utcnow(), row.username, "signed out"
        commit(uow, "the session")


def revoke_in(session: Any, username: str, actor: str, reason: str) -> int:
    """End every live session of ``username`` inside the caller's transaction (audited); how many ended."""
    live = (WebSession.username == username) & WebSession.revoked_at.is_(None)
    ended = session.execute(update(WebSession).where(live).values(
        revoked_at=clock.utcnow(), revoked_by=actor, revoked_reason=reason)).rowcount  # fmt: skip
    audit(session, None, actor, "sessions.revoked", detail=f"{username}: {reason}", after={"sessions": ended})
    return int(ended or 0)


def revoke_sessions(rt: Runtime, username: str, actor: str, reason: str = "revoked by an administrator") -> int:
    with rt.uow() as uow:
        ended = revoke_in(uow.session, username, actor, reason)
        commit(uow, "the sessions")
        return ended


def list_sessions(rt: Runtime, username: str) -> list[dict[str, Any]]:
    with rt.uow() as uow:
        rows = uow.session.scalars(select(WebSession).where(WebSession.username == username)
                                   .order_by(WebSession.created_at.desc()).limit(50))  # fmt: skip
        return [{"started": r.created_at.isoformat(), "last_seen": r.last_seen_at.isoformat(),
                 "ends": r.expires_at.isoformat(), "revoked": r.revoked_at.isoformat() if r.revoked_at else None,
                 "reason": r.revoked_reason} for r in rows]  # fmt: skip
