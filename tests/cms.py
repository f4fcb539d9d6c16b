"""A fake case-management system: builds events and signs them as Standard Webhooks senders do."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from engine import clock
from webhooks.signing import signature

PPM_PAYLOAD = {"date_of_birth": "2020-03-01", "in_care_proceedings": False, "team": "north"}


def event(type_: str, ref: str, occurred_at: str, payload: dict[str, Any] | None = None,
          id_: str | None = None) -> dict[str, Any]:  # fmt: skip
    return {"id": id_ or f"evt_{uuid.uuid4().hex[:12]}", "type": type_, "occurred_at": occurred_at,
            "child_ref": ref, "payload": payload or {}}  # fmt: skip


def signed(secret: str | list[str], body: dict[str, Any] | bytes, msg_id: str | None = None,
           at: datetime | None = None) -> tuple[bytes, dict[str, str]]:  # fmt: skip
    """The body and Standard Webhooks headers, signed with one secret or several (a rotation)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    msg_id = msg_id or f"msg_{uuid.uuid4().hex[:16]}"
    stamp = int((at or clock.utcnow()).timestamp())
    secrets = [secret] if isinstance(secret, str) else secret
    return raw, {"webhook-id": msg_id, "webhook-timestamp": str(stamp),
                 "webhook-signature": signature(secrets, msg_id, stamp, raw),
                 "content-type": "application/json"}  # fmt: skip
