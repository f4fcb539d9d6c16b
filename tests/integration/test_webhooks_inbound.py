"""POST /webhooks/events: signatures, the replay window, rotation, idempotency, order, unmatched and replay."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from engine import services
from engine.services import inbound
from tests.cms import PPM_PAYLOAD, event, signed
from worker import tick

REF = "CH-7001"
LOOKED_AFTER = "2026-12-18T08:30:00Z"


@pytest.fixture
def secret(rt):
    return services.add_sender(rt, "lcs", "admin.ada")


class Poster:
    """A case-management system posting signed events to the test app."""

    def __init__(self, app, secret, now=None):
        self.client, self.secret, self.now = app.test_client(), secret, now

    def raw(self, raw, headers):
        return self.client.post("/webhooks/events", data=raw, headers=headers)

    def __call__(self, body, key=None, status=None, **kwargs):
        self._happened(body)
        response = self.raw(*signed(key or self.secret, body, **kwargs))
        if status is not None:
            assert response.status_code == status, response.text
        return response

    def _happened(self, body) -> None:
        """A case system sends an event when it happens: the clock moves on to it (never back)."""
        occurred = isinstance(body, dict) and _instant(body.get("occurred_at"))
        if self.now is not None and occurred and occurred > self.now.now:
            self.now.set(occurred + timedelta(minutes=1))


def _instant(text):
    try:
        found = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return found if found.tzinfo else None


@pytest.fixture
def post(app, secret, now):
    return Poster(app, secret, now)


def looked_after(ref=REF, at=LOOKED_AFTER, **extra):
    return event("child.looked_after", ref, at, {**PPM_PAYLOAD, **extra})


def review_held(ref=REF, at="2027-01-14T15:00:00Z", **payload):
    return event("cla_review.held", ref, at, {"ppm_requested": True, **payload})


# A looked-after child's first steps: the first review, the family network meeting, the parallel plan
FIRST_STEPS = ["Task_FamilyNetworkMeeting", "Task_FirstReview", "Task_ParallelPlan"]
AFTER_FIRST_REVIEW = ["Task_DecidePPM", "Task_FamilyNetworkMeeting", "Task_ParallelPlan", "Task_UpdateCarePlan"]


def open_steps(rt, ref=REF):
    return sorted(t["element"] for t in services.list_tasks(rt, ref=ref))


def test_a_signed_event_starts_the_pathway_for_the_child(rt, post):
    response = post(looked_after(), status=202)
    body = response.get_json()
    assert body["status"] == "accepted" and body["event_status"] == "applied"
    assert body["action"].startswith("started ppm_to_adm")
    case = services.show_case(rt, REF)
    assert (case["key"], case["team"], case["started_by"]) == ("ppm_to_adm", "north", "webhook:lcs")
    assert open_steps(rt) == FIRST_STEPS
    first_review = next(d for d in case["deadlines"] if d["key"] == "first_review")
    assert first_review["due"] == "2027-01-20"  # 20 working days from the day it happened, 18 Dec


def test_a_repeated_event_is_acknowledged_and_not_applied_twice(rt, post):
    sent = looked_after()
    post(sent, status=202)
    again = post(sent, status=200).get_json()  # the sender retries with a new delivery id and signature
    assert again["status"] == "duplicate" and again["event_status"] == "applied"
    assert services.list_events(rt)["total"] == 1
    assert open_steps(rt) == FIRST_STEPS  # one case, started once


def test_a_case_event_moves_the_waiting_pathway_on_by_message(rt, post):
    post(looked_after(), status=202)
    body = post(review_held(), status=202).get_json()
    assert body["event_status"] == "applied" and "message cla_review.held" in body["action"]
    assert open_steps(rt) == AFTER_FIRST_REVIEW
    case = services.show_case(rt, REF)
    assert next(d for d in case["deadlines"] if d["key"] == "first_review")["status"] == "met"
    [done] = services.list_tasks(rt, ref=REF, status="completed")
    assert (done["element"], done["completed_by"]) == ("Task_FirstReview", "webhook:lcs")
    completed = next(a for a in case["audit"] if a["action"] == "task.completed")
    assert completed["after"]["data"] == {"first_review_date": "2027-01-14", "ppm_requested": True}
    actions = [a["action"] for a in case["audit"]]
    assert "event.applied" in actions and "task.withdrawn" not in actions


@pytest.mark.parametrize(
    "change, status, message",
    [
        ("signature", 401, "does not match"),
        ("old", 401, "5 minutes"),
        ("future", 401, "5 minutes"),
        ("unknown sender", 401, "does not match"),
    ],
)
def test_unsigned_or_stale_events_are_refused_and_not_stored(rt, post, now, change, status, message):
    key = "whsec_" + "A" * 44 if change == "unknown sender" else None
    at = {"old": now() - timedelta(minutes=6), "future": now() + timedelta(minutes=6)}.get(change)
    raw, headers = signed(key or post.secret, looked_after(), at=at)
    if change == "signature":
        raw = raw.replace(b"north", b"south")  # tampered after signing
    response = post.raw(raw, headers)
    assert response.status_code == status
    assert message in response.get_json()["error"]["message"]
    assert response.get_json()["error"]["code"] == "unauthorised"
    assert services.list_events(rt)["total"] == 0


def test_oversized_malformed_and_wrongly_typed_bodies_get_json_errors(rt, post, secret):
    big = event("child.looked_after", REF, LOOKED_AFTER, {"notes": "x" * 300_000})
    assert post(big, status=413).get_json()["error"]["code"] == "too_large"
    broken = post(b'{"id": "e1", "type": ', status=400).get_json()["error"]
    assert "not valid JSON" in broken["message"]
    missing = post({"id": "e2", "type": "child.looked_after"}, status=400).get_json()["error"]["message"]
    assert "occurred_at is required" in missing and "child_ref is required" in missing
    naive = post(event("child.looked_after", REF, "2026-12-18T08:30:00"), status=400).get_json()["error"]
    assert "time zone" in naive["message"]
    named = post(event("child.looked_after", "Jane Smith", LOOKED_AFTER), status=400).get_json()["error"]
    assert "never a name" in named["message"]
    raw, headers = signed(secret, looked_after())
    headers["content-type"] = "text/plain"
    assert post.raw(raw, headers).status_code == 415
    assert services.list_events(rt)["total"] == 0


def test_rotation_keeps_two_secrets_valid_and_retires_the_oldest(rt, post, secret, cli):
    second = cli("senders", "rotate", "lcs").output.strip().splitlines()[-1]
    assert second.startswith("whsec_") and second != secret
    post(looked_after("CH-7002"), key=secret, status=202)
    post(looked_after("CH-7003"), key=second, status=202)
    post(looked_after("CH-7004"), key=[secret, second], status=202)  # a sender mid-rotation signs with both
    third = cli("senders", "rotate", "lcs").output.strip().splitlines()[-1]
    post(looked_after("CH-7005"), key=secret, status=401)  # the oldest is retired now
    post(looked_after("CH-7006"), key=third, status=202)
    post(looked_after("CH-7007"), key=second, status=202)
    listed = json.loads(cli("senders", "list", "--json").output)
    assert listed[0]["valid_secrets"] == 2 and "secret" not in json.dumps(listed).replace("valid_secrets", "")


def test_senders_add_prints_the_secret_once_and_refuses_a_duplicate(rt, cli):
    out = cli("senders", "add", "mosaic").output
    assert "shown once" in out and out.strip().splitlines()[-1].startswith("whsec_")
    assert "already a sender" in cli("senders", "add", "mosaic", ok=False).output
    assert "lower-case" in cli("senders", "add", "Bad Name", ok=False).output


def test_events_arriving_out_of_order_are_applied_in_occurred_at_order(rt, app, secret, now):
    # Stored in the wrong order (a sender's retry queue), then applied by the worker's sweep.
    now.set(datetime(2027, 1, 15, 9, tzinfo=UTC))  # received after both happened
    inbound.receive_event(rt, "lcs", review_held(), "m2")
    inbound.receive_event(rt, "lcs", looked_after(), "m1")
    counts = tick(rt)
    assert counts["events_applied"] == 2
    assert open_steps(rt) == AFTER_FIRST_REVIEW


def test_an_event_older_than_one_already_applied_is_parked_with_the_reason(rt, post):
    post(looked_after(), status=202)
    post(review_held(at="2027-01-14T15:00:00Z"), status=202)
    late = post(review_held(at="2027-01-13T10:00:00Z"), status=202).get_json()
    assert late["event_status"] == "parked" and "out of order" in late["reason"]
    assert open_steps(rt) == AFTER_FIRST_REVIEW


def test_an_event_no_case_waits_for_is_unmatched_then_replayed(rt, post, cli):
    early = post(review_held(), status=202).get_json()
    assert early["event_status"] == "unmatched" and "waits for cla_review.held" in early["reason"]
    post(looked_after(), status=202)  # the pathway starts afterwards
    assert open_steps(rt) == FIRST_STEPS
    replayed = json.loads(cli("events", "replay", str(early["id"]), "--user", "admin.ada", "--json").output)
    assert replayed["status"] == "applied" and replayed["replayed_by"] == "admin.ada"
    assert open_steps(rt) == AFTER_FIRST_REVIEW
    assert "applied" in cli("events", "replay", str(early["id"]), ok=False).output


def test_an_event_with_values_the_step_refuses_is_parked(rt, post):
    post(looked_after(), status=202)
    bad = post(event("cla_review.held", REF, "2027-01-14T15:00:00Z", {}), status=202).get_json()
    assert bad["event_status"] == "parked"
    assert "Hold the first CLA review" in bad["reason"] and "ppm_requested" in bad["reason"]
    assert open_steps(rt) == FIRST_STEPS


def test_a_second_start_for_the_same_child_is_parked_not_duplicated(rt, post):
    post(looked_after(), status=202)
    again = post(looked_after(at="2026-12-19T08:00:00Z"), status=202).get_json()
    assert again["event_status"] == "parked" and "already has an open ppm_to_adm" in again["reason"]


def test_a_start_for_an_unknown_team_is_parked(rt, post):
    body = post(looked_after(team="narnia"), status=202).get_json()
    assert body["event_status"] == "parked" and "no team 'narnia'" in body["reason"]
    assert services.list_tasks(rt, ref=REF) == []


def test_an_unknown_event_type_is_stored_as_ignored(rt, post):
    body = post(event("child.birthday", REF, LOOKED_AFTER), status=202).get_json()
    assert body["event_status"] == "ignored" and "no rule" in body["reason"]


def test_an_event_is_stored_before_the_answer_and_the_worker_applies_it_after_a_crash(rt, post, monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError("the process died after storing the event")

    monkeypatch.setattr(inbound, "apply_events", crash)
    body = post(looked_after(), status=202).get_json()
    assert body["event_status"] == "received"
    monkeypatch.undo()
    assert tick(rt)["events_applied"] == 1
    assert services.show_event(rt, body["id"])["status"] == "applied"
    assert open_steps(rt) == FIRST_STEPS


def test_admins_see_events_and_replay_an_unmatched_one(rt, app, post):
    from tests.webclient import Staff

    early = post(review_held(), status=202).get_json()
    post(looked_after(), status=202)
    admin = Staff(app, "admin.ash")
    page = admin.get("/admin/events").text
    assert "cla_review.held" in page and "no open pathway of child CH-7001 waits for cla_review.held" in page
    assert "lcs" in page and "whsec_" not in page  # senders are listed, their secrets never
    assert admin.get("/admin/events?status=unmatched").text.count('id="event-') == 1
    admin.post(f"/admin/events/{early['id']}/replay")
    assert services.show_event(rt, early["id"])["status"] == "applied"
    assert "Replayed by admin.ash" in admin.get(f"/admin/events?ref={REF}").text
    replays = [a for a in services.show_case(rt, REF)["audit"] if a["actor"] == "webhook:lcs"]
    assert replays, "the replayed event moved the case on, recorded as the sender's"


def test_only_administrators_see_the_events_page(app):
    from tests.webclient import Staff

    Staff(app, "hos.hana").get("/admin/events", status=403)
    assert "Events from case systems" not in Staff(app, "hos.hana").get("/").text


def test_two_appliers_at_once_apply_each_event_exactly_once(rt, app, is_postgres, now):
    """Web requests and workers apply the same child's events together: the child's row lock serialises them."""
    now.set(datetime(2027, 1, 15, 9, tzinfo=UTC))  # received after they happened
    import threading

    rounds = 30 if is_postgres else 8
    for n in range(rounds):
        ref = f"CH-8{n:03d}"
        inbound.receive_event(rt, "lcs", review_held(ref), f"r{n}")
        inbound.receive_event(rt, "lcs", looked_after(ref), f"s{n}")
        barrier = threading.Barrier(2)

        def apply(child: str = ref, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            services.apply_events(rt, child_ref=child)

        threads = [threading.Thread(target=apply) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        services.apply_events(rt, child_ref=ref)  # what a busy sweep left, the next one applies
        assert [e["status"] for e in services.list_events(rt, child_ref=ref)["events"]] == ["applied", "applied"]
        case = services.show_case(rt, ref)
        actions = [a["action"] for a in case["audit"]]
        assert actions.count("case.started") == 1 and actions.count("task.completed") == 1, (n, actions)
        assert open_steps(rt, ref) == AFTER_FIRST_REVIEW


def test_an_event_before_a_step_s_earliest_date_is_parked_then_one_on_time_does_the_step(rt, app, now):
    """Consent witnessed less than 6 weeks after the birth is ineffective (s52(3)): the gate holds for events too."""
    from engine.services.scenarios import run_scenario
    from tests.scenario import WORKFLOWS

    document = json.loads((WORKFLOWS / "scenarios" / "relinquished_baby.json").read_text())
    scenario = dict(document["scenarios"][0], ref="CH-7100")
    cut = next(n for n, s in enumerate(scenario["steps"]) if s.get("do") == "Task_ConsentWitnessed")
    assert run_scenario(rt, "relinquished_baby", {**scenario, "steps": scenario["steps"][:cut]}).passed
    now.set(datetime(2027, 2, 1, 9, tzinfo=UTC))  # received after both consents happened
    inbound.receive_event(rt, "lcs", event("consent.given", "CH-7100", "2027-01-28T11:00:00Z"), "c1")
    services.apply_events(rt)
    [early] = services.list_events(rt, child_ref="CH-7100")["events"]
    assert early["status"] == "parked" and "cannot happen before 29 January 2027" in early["reason"]
    assert "the event says 28/01/2027" in early["reason"] and "Task_ConsentWitnessed" in open_steps(rt, "CH-7100")
    inbound.receive_event(rt, "lcs", event("consent.given", "CH-7100", "2027-01-29T11:00:00Z"), "c2")
    services.apply_events(rt)
    assert services.list_events(rt, child_ref="CH-7100")["events"][0]["status"] == "applied"
    [done] = [t for t in services.list_tasks(rt, ref="CH-7100", status="completed")
              if t["element"] == "Task_ConsentWitnessed"]  # fmt: skip
    assert done["completed_by"] == "webhook:lcs"
