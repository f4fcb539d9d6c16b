"""A local stand-in for GOV.UK Notify's email endpoint, on loopback, that checks what the real one checks.

``POST /v2/notifications/email`` with ``Authorization: Bearer <JWT>``: the token must be HS256,
signed with the API key's secret, ``iss`` the key's service id and ``iat`` within 30 seconds of
now (Notify's rule); the JSON must have an ``email_address`` that looks like one, a known
``template_id``, the personalisation the template needs, and a ``reference``. Answers as Notify
does: 201 with the notification, 400 ``ValidationError`` or ``BadRequestError``, 403
``AuthError``; ``fail_next`` makes the next answers 500 (a Notify outage). Every accepted
request is kept, so a test can see a message sent twice.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt

SERVICE_ID = "7a2f2a4e-6a4d-4d57-9f32-0c1d5f0b7a11"
SECRET = "0b3c6bd1-5a5c-4d1e-8c2c-1f3e7f9a2b44"
API_KEY = f"pathways_test-{SERVICE_ID}-{SECRET}"
TEMPLATE = "f33517ff-2a88-4f6e-b855-c550268ce08a"
ALERT_TEMPLATE = "a1e7c2d4-93b1-4c54-8a6e-2f3d9b8c7e10"
NEEDS = {TEMPLATE: {"subject", "body"}, ALERT_TEMPLATE: {"subject", "body", "link"}}


class LocalNotify(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.accepted: list[dict[str, Any]] = []
        self.refused: list[tuple[int, str]] = []
        self.fail_next = 0
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> LocalNotify:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: LocalNotify

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        if self.path != "/v2/notifications/email":
            return self._answer(404, "NotFoundError", "no such endpoint")
        problem = self._token_problem()
        if problem:
            return self._answer(403, "AuthError", problem)
        try:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        except ValueError:
            return self._answer(400, "BadRequestError", "the body is not JSON")
        with self.server.lock:
            outage = self.server.fail_next > 0
            self.server.fail_next -= outage
        if outage:
            return self._answer(500, "Exception", "Internal server error")
        address, template = str(body.get("email_address", "")), body.get("template_id")
        if "@" not in address or "." not in address.rsplit("@", 1)[-1]:
            return self._answer(400, "ValidationError", "email_address Not a valid email address")
        if template not in NEEDS:
            return self._answer(400, "BadRequestError", "Template not found")
        missing = NEEDS[template] - set(body.get("personalisation") or {})
        if missing:
            return self._answer(400, "BadRequestError", f"Missing personalisation: {', '.join(sorted(missing))}")
        if not body.get("reference"):
            return self._answer(400, "ValidationError", "reference is required here")
        with self.server.lock:
            self.server.accepted.append(body)
        notification = {"id": str(uuid.uuid4()), "reference": body["reference"], "template": {"id": template},
                        "content": {"subject": body["personalisation"]["subject"], "body": "...",
                                    "from_email": "pathways@notifications.service.gov.uk"}}  # fmt: skip
        return self._send(201, notification)

    def _token_problem(self) -> str:
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer" or not token:
            return "Unauthorized: authentication token must be provided"
        try:
            header = jwt.get_unverified_header(token)
            claims = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_iat": False})
        except jwt.PyJWTError as exc:
            return f"Invalid token: {exc}"
        if header.get("alg") != "HS256" or header.get("typ") != "JWT":
            return "Invalid token: algorithm used is not HS256"
        if claims.get("iss") != SERVICE_ID:
            return "Invalid token: service not found"
        if abs(time.time() - float(claims.get("iat", 0))) > 30:
            return "Invalid token: expired, check that your system clock is accurate"
        return ""

    def _answer(self, status: int, error: str, message: str) -> None:
        with self.server.lock:
            self.server.refused.append((status, message))
        self._send(status, {"status_code": status, "errors": [{"error": error, "message": message}]})

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        raw = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)
