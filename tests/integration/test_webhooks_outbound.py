"""Subscriptions: events recorded with the change, signed deliveries, backoff, dead letters, 410, redelivery."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from engine import services
from engine.errors import InvalidInput, NotAllowed
from engine.persistence.models import AuditEvent, OutboundEvent, Subscription
from engine.services import subscriptions
from engine.services.subscriptions import PostResult
from tests.conftest import load
from webhooks.outbound import signed_headers
from webhooks.signing import SignatureError, verify

HOOK = "https://lcs.example.gov.uk/pathways-hooks"


def at(day: str, hour: int = 9) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


class Receiver:
    """A subscriber's endpoint: answers with the given codes in turn (then 200), keeps what it got."""

    def __init__(self, *codes: int | None, retry_after: int | None = None) -> None:
        self.codes, self.retry_after = list(codes), retry_after
        self.got: list[tuple[str, dict, dict]] = []
        self.lock = threading.Lock()

    def post(self, outgoing):
        with self.lock:
            headers = signed_headers(outgoing, int(datetime.now(UTC).timestamp()))
            self.got.append((outgoing.url, headers, json.loads(outgoing.body)))
            code = self.codes.pop(0) if self.codes else 200
        if code is None:
            return PostResult(None, "no answer: connection refused")
        return PostResult(
            code, None if code < 300 else f"HTTP {code}", self.retry_after if code in (429, 503) else None, 12
        )

    def types(self) -> list[str]:
        return [body["type"] for _, _, body in self.got]


def _start(rt, ref="CH-1"):
    load(rt, "review_cycle.bpmn")
    return services.start_case(rt, "test_review_cycle", ref, {"looked_after_date": "2026-12-18"}, "sw", team="north")


def _subscribe(rt, *types, url=HOOK):
    return services.add_subscription(rt, url, list(types) or ["task.created"], "admin.ash", "LCS integration")


def _deliver(rt, receiver, when, worker="w1", batch=50):
    return services.deliver_webhooks(rt, receiver, worker, when, batch)


def _events(rt):
    with rt.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(OutboundEvent))


def test_a_subscription_needs_a_safe_url_and_known_event_types(rt, now):
    with pytest.raises(InvalidInput, match="https"):
        _subscribe(rt, url="http://lcs.example.gov.uk/hooks")
    with pytest.raises(InvalidInput, match="https"):
        _subscribe(rt, url="ftp://lcs.example.gov.uk/hooks")
    with pytest.raises(InvalidInput, match="unknown event type task.deleted"):
        _subscribe(rt, "task.deleted")
    with pytest.raises(InvalidInput, match="at least one"):
        services.add_subscription(rt, HOOK, [], "admin.ash")
    made = _subscribe(rt, "task.created", url="http://127.0.0.1:8099/hooks")  # loopback: plain http is fine
    assert made["secret"].startswith("whsec_") and made["active"]
    assert "secret" not in services.list_subscriptions(rt)[0]
    assert "whsec_" not in json.dumps(services.list_subscriptions(rt))


def test_nothing_is_recorded_while_nobody_subscribes(rt, now):
    _start(rt)
    assert _events(rt) == 0


def test_a_new_step_is_delivered_signed_with_references_only(rt, now):
    sub = _subscribe(rt, "task.created")
    _start(rt)
    receiver = Receiver()
    assert _deliver(rt, receiver, at("2026-12-18", 10)) == {"webhooks_delivered": 1, "webhooks_retrying": 0,
                                                            "webhooks_dead": 0}  # fmt: skip
    url, headers, body = receiver.got[0]
    assert url == HOOK and body["type"] == "task.created"
    data = body["data"]
    assert (data["child_ref"], data["pathway"], data["element"], data["role"]) == (
        "CH-1",
        "test_review_cycle",
        "Task_CarePlan",
        "social_worker",
    )
    assert data["task_id"] and data["links"]["task"].endswith(f"/tasks/{data['task_id']}")
    assert data["due_date"] == "2027-01-06"
    raw = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    assert verify([("pathways", [sub["secret"]])], headers, raw, datetime.now(UTC)) == (
        "pathways",
        headers["webhook-id"],
    )
    with pytest.raises(SignatureError):
        verify([("pathways", [services.add_subscription(rt, HOOK, ["task.created"], "a")["secret"]])], headers, raw,
               datetime.now(UTC))  # fmt: skip
    assert _deliver(rt, receiver, at("2026-12-18", 11))["webhooks_delivered"] == 0  # delivered once only
    [log] = services.list_deliveries(rt, sub["id"], status="delivered", per_page=1)["items"][0]["attempt_log"]
    assert log["status_code"] == 200


def test_a_receiver_failing_three_times_gets_the_same_message_with_backoff(rt, now):
    sub = _subscribe(rt, "task.created")
    _start(rt)
    receiver = Receiver(500, None, 503, retry_after=600)
    t = at("2026-12-18", 10)
    assert _deliver(rt, receiver, t)["webhooks_retrying"] == 1  # 500
    assert _deliver(rt, receiver, t + timedelta(seconds=20))["webhooks_retrying"] == 0  # backing off: 30 s +/- 20%
    assert _deliver(rt, receiver, t + timedelta(seconds=40))["webhooks_retrying"] == 1  # refused
    t += timedelta(seconds=40)
    assert _deliver(rt, receiver, t + timedelta(seconds=80))["webhooks_retrying"] == 1  # 503, Retry-After 600 s
    t += timedelta(seconds=80)
    assert _deliver(rt, receiver, t + timedelta(seconds=300))["webhooks_delivered"] == 0  # Retry-After honoured
    assert _deliver(rt, receiver, t + timedelta(seconds=601))["webhooks_delivered"] == 1
    [delivery] = services.list_deliveries(rt, sub["id"])["items"]
    assert [a["status_code"] for a in delivery["attempt_log"]] == [500, None, 503, 200]
    assert delivery["attempt_log"][1]["error"] == "no answer: connection refused"
    assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == ("delivered", 4, 200)
    assert len({h["webhook-id"] for _, h, _ in receiver.got}) == 1  # one message id across its retries


def test_after_the_retry_limit_a_delivery_is_dead_lettered_then_redelivered_by_hand(rt, now):
    sub = _subscribe(rt, "task.created")
    _start(rt)
    broken, t = Receiver(*([500] * 100)), at("2026-12-18", 10)
    for _ in range(subscriptions.MAX_ATTEMPTS):
        _deliver(rt, broken, t)
        t += timedelta(hours=7)
    dead = services.list_deliveries(rt, sub["id"], status="dead")["items"]
    assert len(dead) == 1 and dead[0]["attempts"] == subscriptions.MAX_ATTEMPTS
    assert len(dead[0]["attempt_log"]) == subscriptions.MAX_ATTEMPTS
    assert _deliver(rt, Receiver(), t + timedelta(days=1))["webhooks_delivered"] == 0  # dead letters wait for a person
    again = services.redeliver_delivery(rt, dead[0]["id"], "admin.ash")
    assert again["status"] == "pending"
    with pytest.raises(NotAllowed, match="already waiting"):
        services.redeliver_delivery(rt, dead[0]["id"], "admin.ash")
    assert _deliver(rt, Receiver(), t + timedelta(days=1))["webhooks_delivered"] == 1
    with rt.uow() as uow:
        [audit] = uow.session.scalars(select(AuditEvent).where(AuditEvent.action == "delivery.redelivered"))
        assert audit.actor == "admin.ash" and audit.after["status"] == "pending"


def test_410_gone_disables_the_subscription_and_nothing_more_is_queued(rt, now):
    sub = _subscribe(rt, "task.created")
    _start(rt, "CH-1")
    assert _deliver(rt, Receiver(410), at("2026-12-18", 10)) == {"webhooks_delivered": 0, "webhooks_retrying": 0,
                                                                 "webhooks_dead": 1}  # fmt: skip
    shown = services.show_subscription(rt, sub["id"])
    assert not shown["active"] and "410 Gone" in shown["disabled_reason"]
    assert shown["deliveries"] == {"gone": 1}
    _start(rt, "CH-2")
    assert services.show_subscription(rt, sub["id"])["deliveries"] == {"gone": 1}  # disabled: nothing queued
    [gone] = services.list_deliveries(rt, sub["id"], "gone")["items"]
    with pytest.raises(NotAllowed, match="disabled"):
        services.redeliver_delivery(rt, gone["id"], "admin.ash")
    services.update_subscription(rt, sub["id"], "admin.ash", active=True)
    services.redeliver_delivery(rt, gone["id"], "admin.ash")
    _start(rt, "CH-3")
    receiver = Receiver()
    assert _deliver(rt, receiver, at("2026-12-18", 11))["webhooks_delivered"] == 2
    assert sorted(b["data"]["child_ref"] for _, _, b in receiver.got) == ["CH-1", "CH-3"]


def test_a_rotated_secret_signs_with_both_until_the_next_rotation(rt, now):
    sub = _subscribe(rt, "task.created")
    new = services.rotate_subscription_secret(rt, sub["id"], "admin.ash")
    _start(rt)
    receiver = Receiver()
    _deliver(rt, receiver, at("2026-12-18", 10))
    _, headers, body = receiver.got[0]
    raw = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    for secret in (sub["secret"], new):
        verify([("pathways", [secret])], headers, raw, datetime.now(UTC))
    assert len(headers["webhook-signature"].split()) == 2
    services.rotate_subscription_secret(rt, sub["id"], "admin.ash")
    assert services.show_subscription(rt, sub["id"])["valid_secrets"] == 2


def test_overdue_steps_breached_deadlines_and_completion_reach_subscribers(rt, now):
    sub = _subscribe(rt, "task.overdue", "escalation.raised", "deadline.breached", "case.completed")
    _start(rt)
    for task_id, answers in ((1, {"care_plan_date": "2026-12-18"}), (3, {"visit_date": "2026-12-18"}),
                             (2, {"iro_appointed_on": "2026-12-18"})):  # fmt: skip
        services.complete_task(rt, task_id, answers, "sw")
    services.mark_breached_deadlines(rt, at("2027-01-21"))  # the first-review clock passed on 20 Jan
    services.escalate_overdue(rt, at("2027-01-21"))
    receiver = Receiver()
    _deliver(rt, receiver, at("2027-01-21", 10))
    # one clock, one ladder: the review step serves the first-review deadline, so one rung is raised
    assert sorted(receiver.types()) == ["deadline.breached", "escalation.raised", "task.overdue"]
    breach = next(b for _, _, b in receiver.got if b["type"] == "deadline.breached")["data"]
    assert (breach["key"], breach["due_date"]) == ("first_review", "2027-01-20")
    overdue = next(b for _, _, b in receiver.got if b["type"] == "task.overdue")["data"]
    assert (overdue["element"], overdue["role"]) == ("Task_HoldReview", "iro")
    services.escalate_overdue(rt, at("2027-01-22"))  # the next rung: an escalation, not a second "overdue"
    _deliver(rt, receiver, at("2027-01-22", 10))
    assert receiver.types()[3:] == ["escalation.raised"]  # the step, which serves the deadline
    now.set(at("2027-01-22", 12))
    task = next(t for t in services.list_tasks(rt, ref="CH-1") if t["element"] == "Task_HoldReview")
    services.complete_task(rt, task["id"], {"review_date": "2027-01-22", "continue_reviews": False}, "iro")
    task = next(t for t in services.list_tasks(rt, ref="CH-1") if t["element"] == "Task_Close")
    services.complete_task(rt, task["id"], {"closed_on": "2027-01-22"}, "tm")
    _deliver(rt, receiver, at("2027-01-22", 13))
    assert receiver.types()[-1] == "case.completed"
    assert receiver.got[-1][2]["data"]["outcome"] == "no longer looked after"
    assert services.show_subscription(rt, sub["id"])["deliveries"] == {"delivered": 5}


def test_an_expired_lease_is_taken_over_and_the_first_workers_late_result_ignored(rt, now):
    sub = _subscribe(rt, "task.created")
    _start(rt)
    t = at("2026-12-18", 10)
    lease = rt.settings.outbox_lease
    claimed = subscriptions._claim(rt, "dead-worker", t, 50, lease)  # then it was killed mid-post
    assert len(claimed) == 1
    assert _deliver(rt, Receiver(), t, "w2")["webhooks_delivered"] == 0  # leased
    later = t + lease + timedelta(seconds=1)
    assert _deliver(rt, Receiver(), later, "w2")["webhooks_delivered"] == 1
    late = {"webhooks_delivered": 0, "webhooks_retrying": 0, "webhooks_dead": 0}
    subscriptions._record(rt, "dead-worker", later, claimed[0].delivery_id, PostResult(200), late)
    assert late["webhooks_delivered"] == 0
    assert all(len(d["attempt_log"]) == 1 for d in services.list_deliveries(rt, sub["id"])["items"])


def test_subscription_changes_are_audited_and_never_deleted(rt, now):
    sub = _subscribe(rt, "task.created")
    services.update_subscription(rt, sub["id"], "admin.ash", active=False)
    assert services.show_subscription(rt, sub["id"])["disabled_reason"] == "disabled by admin.ash"
    with rt.uow() as uow:
        actions = list(uow.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
        assert actions == ["subscription.added", "subscription.changed"]
        with pytest.raises(Exception, match="never deleted"):
            uow.session.execute(Subscription.__table__.delete())


def test_an_administrator_adds_a_subscription_sees_its_secret_once_and_its_delivery_log(rt, app):
    import re

    from tests.webclient import PPM_START, Staff

    admin = Staff(app, "admin.ash")
    assert "No subscriptions yet" in admin.get("/admin/subscriptions").text
    refused = admin.post("/admin/subscriptions", {"url": "http://lcs.example.gov.uk/hooks",
                                                  "event_types": ["task.created"]}, status=400).text  # fmt: skip
    assert "There is a problem" in refused and "use https://" in refused and 'value="http://lcs.example' in refused
    chosen = {"url": HOOK, "description": "LCS north", "event_types": ["task.created", "case.completed"]}
    page = admin.post("/admin/subscriptions", chosen, status=200).text
    secret = re.search(r"whsec_[A-Za-z0-9+/=]+", page).group(0)
    sub_id = services.list_subscriptions(rt)[0]["id"]
    assert "whsec_" not in admin.get(f"/admin/subscriptions/{sub_id}").text  # shown once only
    assert "whsec_" not in admin.get("/admin/subscriptions").text
    services.start_case(rt, "ppm_to_adm", "CH-9001", PPM_START, "sw.alice", team="north")
    services.deliver_webhooks(rt, Receiver(503), "w1", at("2026-12-18", 10))
    log = admin.get(f"/admin/subscriptions/{sub_id}").text
    assert "task.created" in log and "CH-9001" in log and ": 503," in log and "Waiting to be sent" in log
    services.deliver_webhooks(rt, Receiver(410), "w1", at("2026-12-19", 10))
    shown = admin.get(f"/admin/subscriptions/{sub_id}").text
    assert "Disabled: the receiver answered 410 Gone" in shown
    admin.post(f"/admin/subscriptions/{sub_id}/active", {"active": "true"})
    [gone] = services.list_deliveries(rt, sub_id, "gone")["items"]
    admin.post(f"/admin/deliveries/{gone['id']}/redeliver")
    receiver = Receiver()
    services.deliver_webhooks(rt, receiver, "w1", at("2026-12-19", 11))
    raw = json.dumps(receiver.got[0][2], sort_keys=True, separators=(",", ":")).encode()
    verify([("x", [secret])], receiver.got[0][1], raw, datetime.now(UTC))
    rotated = admin.post(f"/admin/subscriptions/{sub_id}/rotate", status=200).text
    assert "New secret made" in rotated and re.search(r"whsec_[A-Za-z0-9+/=]+", rotated).group(0) != secret
    asked = admin.post(f"/admin/subscriptions/{sub_id}/active", {"active": "false"}, status=200).text
    assert "Disable this subscription?" in asked and HOOK in asked  # asked on a page of its own first
    assert services.show_subscription(rt, sub_id)["active"]
    admin.post(f"/admin/subscriptions/{sub_id}/active", {"active": "false", "confirmed": "yes"})
    assert not services.show_subscription(rt, sub_id)["active"]


def test_only_administrators_manage_subscriptions(app):
    from tests.webclient import Staff

    manager = Staff(app, "hos.hana")
    manager.get("/admin/subscriptions", status=403)
    manager.post("/admin/subscriptions", {"url": HOOK, "event_types": ["task.created"]}, status=403)


def test_the_cli_adds_and_lists_subscriptions_without_secrets(cli):
    made = cli("subscriptions", "add", HOOK, "--type", "task.created", "--type", "case.completed", "--user", "admin")
    secret = made.output.strip().splitlines()[-1]
    assert secret.startswith("whsec_")
    listed = cli("subscriptions", "list").output
    assert HOOK in listed and "case.completed,task.created" in listed and secret not in listed
    assert "unknown event type" in cli("subscriptions", "add", HOOK, "--type", "task.gone", ok=False).stderr


def test_two_workers_deliver_each_message_exactly_once(rt, now, is_postgres):
    sub = _subscribe(rt, "task.created")
    load(rt, "review_cycle.bpmn")
    cases = 40 if is_postgres else 10
    for i in range(cases):
        services.start_case(rt, "test_review_cycle", f"CH-{i}", {"looked_after_date": "2026-12-18"}, "sw",
                            team="north")  # fmt: skip
    receiver, barrier, errors = Receiver(), threading.Barrier(2), []

    def worker(name: str) -> None:
        try:
            barrier.wait()
            while _deliver(rt, receiver, at("2026-12-18", 10), name, batch=7)["webhooks_delivered"]:
                pass
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in ("w1", "w2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if not is_postgres:  # SQLite: a writer may find the other's lock; that worker simply tries next tick
        errors = [e for e in errors if "busy" not in str(e)]
    assert errors == []
    while _deliver(rt, receiver, at("2026-12-18", 11), "w3")["webhooks_delivered"]:
        pass
    ids = [headers["webhook-id"] for _, headers, _ in receiver.got]
    assert len(ids) == len(set(ids)) == cases
    assert services.show_subscription(rt, sub["id"])["deliveries"] == {"delivered": cases}


def test_the_delivery_log_is_paged(rt, app):
    from tests.webclient import PPM_START, Staff

    sub = _subscribe(rt, "task.created")
    for n in range(30):
        services.start_case(rt, "ppm_to_adm", f"CH-77{n:02d}", PPM_START, "sw.alice", team="north")
    page = Staff(app, "admin.ash").get(f"/admin/subscriptions/{sub['id']}?page=2").text
    assert "govuk-pagination" in page and f"/admin/subscriptions/{sub['id']}?page=1" in page
    # each case opens three steps (the first review, the family network meeting, the parallel plan):
    # 90 deliveries, 25 a page, so page 2 is full
    assert page.count('<tr class="govuk-table__row" id="delivery-') == 25
    last = Staff(app, "admin.ash").get(f"/admin/subscriptions/{sub['id']}?page=4").text
    assert last.count('<tr class="govuk-table__row" id="delivery-') == 15


def test_a_process_keeps_the_subscriptions_and_sees_every_change_at_once(rt, now):
    """Completions read the active subscriptions only after they changed (a stamp read with the row
    lock says so), and a subscription added, disabled or re-enabled counts from the next completion."""
    from sqlalchemy import event

    from engine.persistence.models import Delivery

    load(rt, "review_cycle.bpmn")
    ref = "CH-SUB-1"
    services.start_case(rt, "test_review_cycle", ref, {"looked_after_date": "2026-12-18"}, "sw.alice")
    now.set(at("2027-01-19"))
    reads: list[str] = []
    event.listen(rt.db, "before_cursor_execute",
                 lambda _c, _cur, stmt, *_: reads.append(stmt) if "FROM subscriptions" in stmt else None)  # fmt: skip

    def complete(element: str, answers: dict) -> None:
        task = next(t for t in services.list_tasks(rt, ref=ref) if t["element"] == element)
        services.complete_task(rt, task["id"], answers, "sw.alice")

    def deliveries() -> int:
        with rt.uow() as uow:
            return uow.session.scalar(select(func.count()).select_from(Delivery)) or 0

    def listed() -> list[str]:
        return [s for s in reads if "WHERE subscriptions.active" in s]

    complete("Task_CarePlan", {"care_plan_date": "2026-12-18"})  # opens two steps: no subscriber yet
    assert deliveries() == 0 and len(listed()) == 1
    complete("Task_Visit", {"visit_date": "2026-12-18"})
    assert len(listed()) == 1  # unchanged: the kept copy served
    sub = services.add_subscription(rt, HOOK, ["task.created"], "admin")
    complete("Task_AppointIRO", {"iro_appointed_on": "2026-12-18"})  # opens the review
    assert deliveries() == 1 and len(listed()) == 2
    services.update_subscription(rt, sub["id"], "admin", active=False)
    complete("Task_HoldReview", {"review_date": "2027-01-19", "continue_reviews": True})  # the next review opens
    assert deliveries() == 1 and len(listed()) == 3
    services.update_subscription(rt, sub["id"], "admin", active=True)
    complete("Task_HoldReview", {"review_date": "2027-01-19", "continue_reviews": True})
    assert deliveries() == 2
