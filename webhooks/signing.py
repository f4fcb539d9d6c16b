"""Standard Webhooks signatures (https://www.standardwebhooks.com), for events in and deliveries out.

- A secret is ``whsec_<base64 key>``; the key is the base64-decoded part.
- The signed content is ``{webhook-id}.{webhook-timestamp}.{body}`` (the raw body bytes).
- ``webhook-signature`` holds one or more space-separated ``v1,<base64 HMAC-SHA256>`` values,
  so a sender in the middle of a rotation can sign with both secrets.
- A timestamp more than ``TOLERANCE`` away from now is refused: an old message cannot be replayed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

TOLERANCE = timedelta(minutes=5)
PREFIX = "whsec_"


class SignatureError(Exception):
    """The request is not signed by a known sender, or is too old or too new."""


def key_of(secret: str) -> bytes:
    try:
        return base64.b64decode(secret.removeprefix(PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a webhook secret is whsec_ followed by base64") from None


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value for one secret."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key_of(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature(secrets: Iterable[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value signed with every secret given (space-separated), as during a rotation."""
    return " ".join(sign(secret, msg_id, timestamp, body) for secret in secrets)


def verify(
    candidates: Iterable[tuple[str, list[str]]], request_headers: Mapping[str, str], body: bytes, now: datetime
) -> tuple[str, str]:
    """Return (sender name, webhook-id) when a signature matches one of a sender's secrets.

    Every candidate secret is checked with a constant-time comparison; which one failed is never
    said, so an attacker learns nothing from the answer."""
    msg_id = request_headers.get("webhook-id", "")
    stamp = request_headers.get("webhook-timestamp", "")
    given = request_headers.get("webhook-signature", "")
    if not msg_id or not stamp or not given:
        raise SignatureError("webhook-id, webhook-timestamp and webhook-signature headers are required")
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):  # a 400-digit one overflowed (a 500)
        raise SignatureError("webhook-timestamp must be whole seconds since 1970 (UTC)")
    timestamp = int(stamp)
    if abs(now.timestamp() - timestamp) > TOLERANCE.total_seconds():
        raise SignatureError("webhook-timestamp is more than 5 minutes from now: check the sender's clock")
    offered = [part.split(",", 1)[1] for part in given.split() if part.startswith("v1,")]
    matched = None
    for name, secrets in candidates:
        for secret in secrets:
            expected = sign(secret, msg_id, timestamp, body).split(",", 1)[1]
            for signature in offered:  # no early exit: the time taken does not depend on where a match is
                if hmac.compare_digest(expected.encode(), signature.encode()) and matched is None:
                    matched = name
    if matched is None:
        raise SignatureError("the signature does not match: check the sender's secret")
    return matched, msg_id
