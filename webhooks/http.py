"""JSON answers for machines (webhook senders and API clients): one error shape everywhere.

``{"error": {"status": 400, "code": "invalid_input", "message": "...", "details": {...}}}``
"""

from __future__ import annotations

from typing import Any

from flask import jsonify
from werkzeug.wrappers import Response

CODES = {400: "invalid_input", 401: "unauthorised", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
         409: "conflict", 413: "too_large", 415: "unsupported_media_type", 422: "invalid_input",
         429: "too_many_requests", 500: "server_error", 503: "unavailable"}  # fmt: skip
MACHINE_PATHS = ("/webhooks/", "/api/")


def json_error(status: int, message: str, /, **details: Any) -> Response:
    body: dict[str, Any] = {"status": status, "code": CODES.get(status, "error"), "message": message}
    if details:
        body["details"] = details
    response = jsonify({"error": body})
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def is_machine_path(path: str) -> bool:
    return path.startswith(MACHINE_PATHS)
