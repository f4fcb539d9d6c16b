"""Case-management systems that may post events: each has its own signing secrets (Standard Webhooks).

A secret is ``whsec_`` and a base64 key of 32 random bytes. It is shown once, when made. Rotating
adds a new secret and keeps the previous one valid, so the sender can switch without losing
events; a further rotation retires the oldest (kept, marked retired, never deleted).
"""

from __future__ import annotations

import base64
import re
import secrets
from typing import Any

from sqlalchemy import select

from engine import clock
from engine.bootstrap import Runtime
from engine.errors import InvalidInput, NotAllowed, NotFound
from engine.persistence.models import WebhookSender
from engine.services._common import audit, commit

SENDER_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{1,99}$")
VALID_AT_ONCE = 2


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def add_sender(rt: Runtime, name: str, actor: str) -> str:
    """Register a sender; returns its secret (shown once)."""
    if not SENDER_NAME.match(name or ""):
        raise InvalidInput("a sender name is 2 to 100 lower-case letters, digits, - or _, e.g. liquidlogic-lcs")
    with rt.uow() as uow:
        if uow.session.scalar(select(WebhookSender.id).where(WebhookSender.name == name)) is not None:
            raise NotAllowed(f"there is already a sender called {name}: rotate its secret instead")
        now = clock.utcnow()
        entries, secret = first_secret()
        uow.session.add(WebhookSender(name=name, secrets=entries, active=True, created_at=now,
                                      created_by=actor, updated_at=now))  # fmt: skip
        audit(uow.session, None, actor, "sender.added", detail=name)
        commit(uow, f"sender {name}")
    return secret


def rotate_sender(rt: Runtime, name: str, actor: str) -> str:
    """Add a new secret; the previous one stays valid until the next rotation. Returns the new secret."""
    with rt.uow() as uow:
        sender = _sender(uow.session, name, lock=True)
        sender.secrets, secret = rotated(sender.secrets)
        sender.updated_at = clock.utcnow()
        audit(
            uow.session, None, actor, "sender.rotated", detail=name, after={"valid_secrets": len(valid(sender.secrets))}
        )
        commit(uow, f"sender {name}")
    return secret


def set_sender_active(rt: Runtime, name: str, active: bool, actor: str) -> None:
    with rt.uow() as uow:
        sender = _sender(uow.session, name, lock=True)
        before, sender.active, sender.updated_at = sender.active, active, clock.utcnow()
        audit(uow.session, None, actor, "sender.enabled" if active else "sender.disabled", detail=name,
              before={"active": before}, after={"active": active})  # fmt: skip
        commit(uow, f"sender {name}")


def sender_keys(rt: Runtime) -> list[tuple[str, list[str]]]:
    """(name, valid secrets) for every active sender: what a signature is checked against."""
    with rt.uow() as uow:
        found = uow.session.scalars(select(WebhookSender).where(WebhookSender.active.is_(True)))
        return [(s.name, valid(s.secrets)) for s in found]


def list_senders(rt: Runtime) -> list[dict[str, Any]]:
    """Senders without their secrets."""
    with rt.uow() as uow:
        found = uow.session.scalars(select(WebhookSender).order_by(WebhookSender.name))
        return [{"name": s.name, "active": s.active, "created_at": s.created_at.isoformat(), "created_by": s.created_by,
                 "valid_secrets": len(valid(s.secrets)),
                 "last_rotated_at": s.secrets[-1]["added_at"]} for s in found]  # fmt: skip


def first_secret() -> tuple[list[dict[str, Any]], str]:
    secret = new_secret()
    return [_entry(secret)], secret


def rotated(entries: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str]:
    """A new secret added; all but the newest ``VALID_AT_ONCE`` retired (kept, marked). Returns (entries, secret)."""
    secret = new_secret()
    entries = [dict(e) for e in entries] + [_entry(secret)]  # a new list: the JSON column sees the change
    for old in [e for e in entries if not e.get("retired_at")][:-VALID_AT_ONCE]:
        old["retired_at"] = clock.utcnow().isoformat()
    return entries, secret


def valid(entries: list[dict[str, Any]]) -> list[str]:
    return [e["secret"] for e in entries if not e.get("retired_at")]


def _entry(secret: str) -> dict[str, Any]:
    return {"secret": secret, "added_at": clock.utcnow().isoformat(), "retired_at": None}


def _sender(session: Any, name: str, lock: bool = False) -> WebhookSender:
    query = select(WebhookSender).where(WebhookSender.name == name)
    sender = session.scalar(query.with_for_update() if lock else query)
    if sender is None:
        raise NotFound(f"there is no sender called {name}")
    return sender
