"""API tokens for systems: each acts as a staff account, within its scopes, and only a hash is stored.

A token looks like ``pp_<8 character prefix>_<secret>``. The prefix is kept in the clear so an
administrator can tell tokens apart in a list; the whole token is hashed with SHA-256 (it is 256
random bits, so a slow password hash adds nothing). The account's roles and teams still apply: a
token for a north-team social worker's account cannot complete a south-team step, whatever its
scopes. Tokens are revoked, never deleted.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from engine import clock
from engine.bootstrap import Runtime
from engine.domain.access import Person
from engine.errors import InvalidInput, NotAllowed, NotFound
from engine.persistence.models import ApiToken, User
from engine.services._common import audit, commit
from engine.services.accounts import as_person

SCOPES = {
    "cases:read": "read cases, their steps, deadlines and audit trail",
    "cases:write": "start pathways, and link or unlink brothers and sisters",
    "tasks:read": "list steps",
    "tasks:write": "claim, release and complete steps",
    "deadlines:read": "list deadlines",
    "definitions:read": "list the published pathways",
    "events:read": "read events received from case-management systems",
    "events:write": "replay events received from case-management systems",
    "subscriptions:admin": "manage subscriptions and their deliveries",
}
TOKEN_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,99}$")
_LAST_USED_EVERY = timedelta(minutes=5)  # record use, without a write on every request


@dataclass(frozen=True)
class TokenHolder:
    name: str
    person: Person
    scopes: frozenset[str]


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    rt: Runtime, name: str, username: str, scopes: list[str], actor: str, expires_in_days: int | None = None
) -> str:
    """Make a token acting as ``username`` within ``scopes``; returns it (shown once)."""
    if not TOKEN_NAME.match(name or ""):
        raise InvalidInput("a token name is 2 to 100 lower-case letters, digits, '.', '-' or '_', e.g. lcs-north")
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise InvalidInput(f"choose scopes from {', '.join(SCOPES)}" + (f" (not {', '.join(unknown)})" if unknown
                                                                         else ""))  # fmt: skip
    if expires_in_days is not None and expires_in_days < 1:
        raise InvalidInput("a token expires at least 1 day after it is made")
    with rt.uow() as uow:
        session = uow.session
        user = session.scalar(select(User).where(User.username == username))
        if user is None or not user.active:
            raise NotFound(f"there is no active account {username}: a token acts as an account")
        if session.scalar(select(ApiToken.id).where(ApiToken.name == name)) is not None:
            raise NotAllowed(f"there is already a token called {name}")
        prefix = secrets.token_hex(4)
        token = f"pp_{prefix}_{secrets.token_urlsafe(32)}"
        now = clock.utcnow()
        expires = now + timedelta(days=expires_in_days) if expires_in_days else None
        session.add(ApiToken(name=name, prefix=prefix, token_hash=_hash(token), username=username,
                             scopes=sorted(set(scopes)), created_at=now, created_by=actor,
                             expires_at=expires))  # fmt: skip
        audit(session, None, actor, "token.created", detail=name,
              after={"username": username, "scopes": sorted(set(scopes)), "expires_at": expires})  # fmt: skip
        commit(uow, f"token {name}")
    return token


def authenticate_token(rt: Runtime, token: str) -> TokenHolder:
    """The holder of a bearer token; NotAllowed (without saying why a token failed) otherwise."""
    refused = NotAllowed("the API token is not valid: it may be mistyped, expired or revoked")
    if not token.startswith("pp_") or len(token) > 200:
        raise refused
    digest = _hash(token)
    with rt.uow() as uow:
        row = uow.session.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
        now = clock.utcnow()
        if row is None or row.revoked_at is not None:  # found by its hash: the lookup is the comparison
            raise refused
        if row.expires_at is not None and row.expires_at <= now:
            raise refused
        user = uow.session.scalar(select(User).where(User.username == row.username))
        if user is None or not user.active:
            raise refused
        holder = TokenHolder(row.name, as_person(user), frozenset(row.scopes))
        if row.last_used_at is None or now - row.last_used_at > _LAST_USED_EVERY:
            row.last_used_at = now
            commit(uow, f"token {row.name}")
        return holder


def revoke_token(rt: Runtime, name: str, actor: str) -> None:
    with rt.uow() as uow:
        row = uow.session.scalar(select(ApiToken).where(ApiToken.name == name).with_for_update())
        if row is None:
            raise NotFound(f"there is no token called {name}")
        if row.revoked_at is None:
            row.revoked_at, row.revoked_by = clock.utcnow(), actor
            audit(uow.session, None, actor, "token.revoked", detail=name)
        commit(uow, f"token {name}")


def list_tokens(rt: Runtime) -> list[dict[str, Any]]:
    """Tokens without their secrets (only the prefix, to recognise one)."""
    with rt.uow() as uow:
        rows = uow.session.scalars(select(ApiToken).order_by(ApiToken.name))
        return [{"name": r.name, "prefix": f"pp_{r.prefix}_…", "username": r.username, "scopes": list(r.scopes),
                 "created_at": r.created_at.isoformat(), "created_by": r.created_by,
                 "expires_at": r.expires_at.isoformat() if r.expires_at else None,
                 "last_used_at": r.last_used_at.isoformat() if r.last_used_at else None,
                 "revoked_at": r.revoked_at.isoformat() if r.revoked_at else None} for r in rows]  # fmt: skip
