"""Posting deliveries to subscribers: Standard Webhooks signatures over HTTP (the worker's ``Poster``).

Every valid secret of the subscription signs the body (space-separated ``v1,`` values), so a
receiver part-way through a rotation accepts it with either. The timestamp is the moment of
sending, not of the event: receivers refuse anything more than 5 minutes old.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from engine import clock
from engine.services.subscriptions import Outgoing, PostResult, refused_destination
from webhooks.signing import signature

USER_AGENT = "PermanencePathways-Webhooks/1"


def signed_headers(outgoing: Outgoing, timestamp: int) -> dict[str, str]:
    signatures = signature(outgoing.secrets, outgoing.msg_id, timestamp, outgoing.body)
    return {"webhook-id": outgoing.msg_id, "webhook-timestamp": str(timestamp), "webhook-signature": signatures,
            "Content-Type": "application/json", "User-Agent": USER_AGENT}  # fmt: skip


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not an instruction: a signed body is never re-sent to another address."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class HttpPoster:
    """Posts with a timeout and no redirects; the host is checked again before each post, as a name's
    addresses can change after the subscription was made (``allow_local``: development only)."""

    def __init__(self, timeout: float = 10.0, allow_local: bool = False) -> None:
        self.timeout, self.allow_local = timeout, allow_local
        self.opener = urllib.request.build_opener(_NoRedirects)

    def post(self, outgoing: Outgoing) -> PostResult:
        problem = refused_destination(urlsplit(outgoing.url).hostname or "", self.allow_local)
        if problem:
            return PostResult(None, f"not sent: the URL now points at {problem}")
        timestamp = int(clock.utcnow().timestamp())
        request = urllib.request.Request(outgoing.url, data=outgoing.body, method="POST",
                                         headers=signed_headers(outgoing, timestamp))  # fmt: skip
        started = time.monotonic()
        try:
            with self.opener.open(request, timeout=self.timeout) as response:
                return PostResult(response.status, None, None, _ms(started))
        except urllib.error.HTTPError as exc:
            return PostResult(exc.code, f"HTTP {exc.code} {exc.reason}"[:1000], _retry_after(exc), _ms(started))
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            return PostResult(None, f"no answer: {reason}"[:1000], None, _ms(started))


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _retry_after(exc: urllib.error.HTTPError) -> int | None:
    value = (exc.headers or {}).get("Retry-After", "")
    value = value.strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 9 else None
