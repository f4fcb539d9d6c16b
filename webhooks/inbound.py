"""``POST /webhooks/events``: signed events from case-management systems (Standard Webhooks).

The raw body is checked before it is parsed: size, then signature and timestamp against every
active sender's valid secrets, then the event's shape. The event is stored and committed before
the answer (202 accepted, or 200 for a repeat of an event already stored), then applied at once
for that child; anything not applied here (a crash, a busy case) the worker's sweep applies.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request
from werkzeug.wrappers import Response

from engine import clock
from engine.errors import InvalidInput, PathwaysError
from engine.services import inbound, senders
from webhooks.http import json_error
from webhooks.signing import SignatureError, verify

MAX_BODY = 256 * 1024  # an event is identifiers and dates: 256 KB is generous
blueprint = Blueprint("webhooks", __name__, url_prefix="/webhooks")
log = logging.getLogger("pathways.webhooks")


def _runtime() -> Any:
    return current_app.extensions["pathways"]


def _body() -> bytes | None:
    """The raw body, or None when it is larger than MAX_BODY (the app reads no more than MAX_CONTENT_LENGTH)."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        return None
    body = request.get_data(cache=True)  # cached: the NUL check (web.security.refuse_nul) may have read it
    return None if len(body) > MAX_BODY else body


def checked_signature() -> tuple[str, str, SignatureError | None]:
    """(sender, webhook-id, None) for a validly signed event, else ("", "", the refusal); checked once
    a request (web.limits counts events per sender with it before the view runs)."""
    if "webhook_signature" not in g:
        body = _body()
        try:
            if body is None:
                raise SignatureError("the event is too large to check")
            sender, webhook_id = verify(senders.sender_keys(_runtime()), request.headers, body, clock.utcnow())
            g.webhook_signature = (sender, webhook_id, None)
        except SignatureError as exc:
            g.webhook_signature = ("", "", exc)
    found: tuple[str, str, SignatureError | None] = g.webhook_signature
    return found


@blueprint.post("/events")
def receive() -> Response:
    rt = _runtime()
    body = _body()
    if body is None:
        return json_error(413, f"the event is larger than {MAX_BODY // 1024} KB")
    sender, webhook_id, refusal = checked_signature()
    if refusal is not None:
        log.warning("event=webhook_refused reason=%r remote=%s", str(refusal), request.remote_addr)
        return json_error(401, str(refusal))
    if not (request.mimetype or "").endswith("json"):
        return json_error(415, "send the event as application/json")
    try:
        raw = _parse(body)
        stored = inbound.receive_event(rt, sender, raw, webhook_id)
    except InvalidInput as exc:
        return json_error(400, exc.message)
    if stored["status"] == "accepted":
        _apply_now(rt, stored)
    response = jsonify(stored)
    response.status_code = 202 if stored["status"] == "accepted" else 200
    response.headers["Cache-Control"] = "no-store"
    return response


def _parse(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"the body is not valid JSON: {exc}") from None


def _apply_now(rt: Any, stored: dict[str, Any]) -> None:
    """Apply the child's events now; whatever fails here stays stored for the worker's sweep."""
    try:
        inbound.apply_events(rt, child_ref=stored["child_ref"])
        shown = inbound.show_event(rt, stored["id"])
        stored.update(event_status=shown["status"], action=shown["action"], reason=shown["reason"])
    except PathwaysError as exc:
        log.warning("event=webhook_apply_deferred id=%s reason=%r", stored["id"], exc.message)
    except Exception:  # stored and committed already: the worker applies it later
        log.exception("event=webhook_apply_deferred id=%s", stored["id"])
    stored.pop("child_ref", None)
