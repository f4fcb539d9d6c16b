"""End to end over real HTTP on loopback: a fake case-management system posts signed events that start and
move on a PPM pathway, and receives the signed deliveries of its subscription, failing the first three."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from werkzeug.serving import make_server

from engine import clock, services
from tests.cms import PPM_PAYLOAD, event, signed
from webhooks.outbound import HttpPoster
from webhooks.signing import SignatureError, verify
from worker import tick

REF = "CH-4242"


class FakeCaseSystem:
    """The case-management system's side: it signs and posts events, and receives Pathways' deliveries."""

    def __init__(self, fail_first: int) -> None:
        self.fail_first, self.received, self.answers = fail_first, [], []
        self.secret = ""  # its subscription's signing secret, given to it when the subscription is made
        self.lock = threading.Lock()
        system = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    verify([("pathways", [system.secret])], headers, body, clock.utcnow())
                    signed_ok = True
                except SignatureError:
                    signed_ok = False
                with system.lock:
                    system.received.append((headers["webhook-id"], json.loads(body), signed_ok))
                    code = 500 if system.fail_first > 0 else (200 if signed_ok else 401)
                    system.fail_first -= 1
                    system.answers.append(code)
                self.send_response(code)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/pathways-hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def send(self, app_url: str, sender_secret: str, body: dict) -> tuple[int, dict]:
        raw, headers = signed(sender_secret, body)
        request = urllib.request.Request(f"{app_url}/webhooks/events", data=raw, headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())


@pytest.fixture
def app_url(app) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def cms() -> Iterator[FakeCaseSystem]:
    system = FakeCaseSystem(fail_first=3)
    yield system
    system.server.shutdown()
    system.server.server_close()


def _sweep(rt, now, minutes=0):
    now.advance(minutes=minutes)
    return tick(rt, name="worker-1", poster=HttpPoster(timeout=5, allow_local=True))


def test_a_case_system_starts_and_moves_a_ppm_pathway_and_hears_back_despite_failing_three_times(rt, app_url, cms, now):
    sender_secret = services.add_sender(rt, "lcs", "admin.ash")
    cms.secret = services.add_subscription(rt, cms.url, ["task.created", "case.completed"], "admin.ash")["secret"]

    status, body = cms.send(app_url, sender_secret, event("child.looked_after", REF, "2026-12-18T08:30:00Z",
                                                          PPM_PAYLOAD))  # fmt: skip
    assert (status, body["event_status"]) == (202, "applied")
    case = services.show_case(rt, REF)
    first_steps = ["Task_FamilyNetworkMeeting", "Task_FirstReview", "Task_ParallelPlan"]
    assert sorted(t["element"] for t in case["open_tasks"]) == first_steps

    # The receiver fails the first three requests (one try of each step's message); the worker backs off
    # (30 s +/- 20%) and the second try of each lands.
    for minutes, delivered in ((0, 0), (1, 3)):
        assert _sweep(rt, now, minutes)["webhooks_delivered"] == delivered
    assert cms.answers == [500, 500, 500, 200, 200, 200]
    ids = {msg_id for msg_id, _, _ in cms.received}
    assert len(ids) == 3 and all(ok for _, _, ok in cms.received)  # one message per step, signed every time
    told = [body for _, body, _ in cms.received[3:]]
    assert {b["type"] for b in told} == {"task.created"} and {b["data"]["child_ref"] for b in told} == {REF}
    assert sorted(b["data"]["element"] for b in told) == first_steps
    [subscription] = services.list_subscriptions(rt)
    deliveries = services.list_deliveries(rt, subscription["id"])["items"]
    assert [[a["status_code"] for a in d["attempt_log"]] for d in deliveries] == [[500, 200]] * 3

    # The review is held in the case system: its event does the IRO's step and the pathway moves on.
    now.set(now() + timedelta(days=25))
    review = event("cla_review.held", REF, clock.utcnow().isoformat(), {"ppm_requested": True})
    status, body = cms.send(app_url, sender_secret, review)
    assert (status, body["event_status"]) == (202, "applied")
    [done] = services.list_tasks(rt, ref=REF, status="completed")
    assert (done["element"], done["completed_by"]) == ("Task_FirstReview", "webhook:lcs")
    opened = sorted(t["element"] for t in services.list_tasks(rt, ref=REF) if t["element"] not in first_steps)
    assert opened == ["Task_DecidePPM", "Task_UpdateCarePlan"]  # the steps the review opened

    assert _sweep(rt, now)["webhooks_delivered"] == len(opened)
    told = sorted(b["data"]["element"] for _, b, _ in cms.received[6:])
    assert told == opened and all(ok for _, _, ok in cms.received)
    assert cms.answers[6:] == [200] * len(opened)
