"""The escalation ladder and the outbox: each rung and each message exactly once."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from engine import services
from engine.errors import InvalidInput, NotAllowed
from engine.persistence.models import AuditEvent, Escalation, Notification
from engine.services import accounts, notifications, recipients
from tests.conftest import load, team_mailboxes
from tests.scenario import complete_review_setup
from worker import _single_sqlite_worker, tick
from worker.mail import FileSender


def at(day: str, hour: int = 9) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def _start(rt, ref="CH-1", team="north"):
    team_mailboxes(rt)
    load(rt, "review_cycle.bpmn")
    return services.start_case(rt, "test_review_cycle", ref, {"looked_after_date": "2026-12-18"}, "sw", team=team)


def _escalations(rt):
    with rt.uow() as uow:
        return [(e.key, e.name, e.late) for e in uow.session.scalars(select(Escalation).order_by(Escalation.id))]


def _notes(rt, **where):
    with rt.uow() as uow:
        rows = uow.session.scalars(select(Notification).filter_by(**where).order_by(Notification.id))
        return [(n.channel, n.recipient_role, n.recipient_user, n.recipient_address, n.subject, n.body, n.status)
                for n in rows]  # fmt: skip


class FakeSender:
    def __init__(self, failures: int = 0) -> None:
        self.sent: list[str] = []
        self.failures = failures
        self.lock = threading.Lock()

    def send(self, message) -> None:
        with self.lock:
            if self.failures:
                self.failures -= 1
                raise ConnectionError("smtp down")
            self.sent.append(message.key)


def test_an_overdue_step_climbs_the_ladder_one_rung_at_a_time(rt, now):
    _start(rt)  # "Write the care plan" due Wed 6 Jan 2027
    assert services.escalate_overdue(rt, at("2027-01-06", 23))["escalations_raised"] == 0  # still the 6th
    for day, name in (("2027-01-07", "overdue"), ("2027-01-08", "team_manager"),
                      ("2027-01-15", "services_manager"), ("2027-01-22", "head_of_service")):  # fmt: skip
        services.escalate_overdue(rt, at(day))
        assert services.escalate_overdue(rt, at(day, 15))["escalations_raised"] == 0  # never twice
        step = [e for e in _escalations(rt) if e[0].startswith("task:1:")]
        assert step[-1][1] == name and len(step) == {"overdue": 1, "team_manager": 2, "services_manager": 3,
                                                     "head_of_service": 4}[name]  # fmt: skip
    # by 22 January the declared first-review deadline (due 20 January) has breached too: its own ladder
    assert [k for k, _, _ in _escalations(rt) if k.startswith("deadline:")] == ["deadline:1:1", "deadline:1:2"]
    services.escalate_overdue(rt, at("2027-03-01"))
    assert [e for e in _escalations(rt) if e[0].startswith("task:1:")][-1][0] == "task:1:4"
    assert [late for key, _, late in _escalations(rt) if key.startswith("task:1:")] == [False] * 4
    first = _notes(rt, escalation_id=1)
    assert [(c, r, a) for c, r, _, a, *_ in first] == [
        ("in_app", "social_worker", None), ("email", "social_worker", "social_worker.north@pathways.local"),
        ("in_app", "team_manager", None), ("email", "team_manager", "team_manager.north@pathways.local")]  # fmt: skip
    subject, body = first[1][4], first[1][5]
    assert subject == "Overdue: CH-1 Write the care plan"
    assert "Child CH-1 (Test review cycle): 'Write the care plan' was due on 6 January 2027" in body
    assert "http://127.0.0.1:5000/tasks/1" in body
    actions = [e["action"] for e in services.show_case(rt, "CH-1")["audit"]]
    assert actions.count("escalation.raised") == len(_escalations(rt))


def test_after_downtime_missed_rungs_are_raised_once_and_marked_late(rt, now):
    _start(rt)
    counts = services.escalate_overdue(rt, at("2027-01-20"))
    assert counts == {"escalations_raised": 3, "escalations_late": 3}
    assert [name for _, name, _ in _escalations(rt)] == ["overdue", "team_manager", "services_manager"]
    assert services.escalate_overdue(rt, at("2027-01-20", 10))["escalations_raised"] == 0


def test_a_claimed_step_tells_its_holder_by_name(rt, now):
    _start(rt)
    accounts.add_user(
        rt, "sw.alice", None, ["social_worker"], ["north"], "Alice", "admin", email="alice@council.gov.uk"
    )
    services.claim_task(rt, 1, "sw.alice")
    services.escalate_overdue(rt, at("2027-01-07"))
    holder = _notes(rt, recipient_user="sw.alice", channel="email")
    assert holder[0][3] == "alice@council.gov.uk"  # her own address, not the team's mailbox
    assert services.in_app(rt, user="sw.alice")[0]["subject"] == "Overdue: CH-1 Write the care plan"
    assert [n["subject"] for n in services.in_app(rt, role="team_manager", team="north")] == [
        "Overdue: CH-1 Write the care plan"]  # fmt: skip
    assert services.in_app(rt, role="team_manager", team="south") == []


def test_a_reason_for_delay_stops_the_ladder_and_is_audited(rt, now):
    _start(rt)
    services.escalate_overdue(rt, at("2027-01-07"))
    with pytest.raises(InvalidInput):
        services.record_delay_reason(rt, " ", "tm.carol", task_id=1)
    services.record_delay_reason(rt, "care plan awaits the court's directions", "tm.carol", task_id=1)
    services.escalate_overdue(rt, at("2027-01-30"))
    assert [k for k, _, _ in _escalations(rt) if k.startswith("task:1:")] == ["task:1:1"]  # the step's ladder stopped
    with pytest.raises(NotAllowed, match="already recorded by tm.carol"):
        services.record_delay_reason(rt, "again", "tm.dan", task_id=1)
    acknowledged = [e for e in services.show_case(rt, "CH-1")["audit"] if e["action"] == "escalation.acknowledged"]
    assert (acknowledged[0]["actor"], acknowledged[0]["detail"]) == (
        "tm.carol",
        "care plan awaits the court's directions",
    )


def test_suspended_cases_do_not_escalate(rt, now):
    _start(rt)
    services.suspend_case(rt, "CH-1", "tm", "court adjourned")
    assert services.escalate_overdue(rt, at("2027-01-20"))["escalations_raised"] == 0


def test_a_breached_declared_deadline_escalates_beside_its_step(rt, now):
    _start(rt)
    for task_id, answers in ((1, {"care_plan_date": "2026-12-18"}), (3, {"visit_date": "2026-12-18"}),
                             (2, {"iro_appointed_on": "2026-12-18"})):  # fmt: skip
        services.complete_task(rt, task_id, answers, "sw")
    services.escalate_overdue(rt, at("2027-01-21"))
    keys = [k for k, _, _ in _escalations(rt)]
    assert keys == ["task:4:1"]  # one clock, one ladder: the review step serves the first-review statutory clock
    services.record_delay_reason(rt, "IRO off sick; review booked for 25/01", "tm", deadline_id=1)
    services.escalate_overdue(rt, at("2027-01-25"))
    assert [k for k, _, _ in _escalations(rt)] == ["task:4:1"]  # one reason for delay stops that one ladder


def test_email_is_sent_once_and_failures_back_off_then_dead_letter(rt, now):
    _start(rt)
    services.escalate_overdue(rt, at("2027-01-07"))
    flaky = FakeSender(failures=3)
    t = at("2027-01-07", 10)
    assert services.deliver_notifications(rt, flaky, "w1", t) == {"sent": 0, "retrying": 2, "dead": 0}
    assert services.deliver_notifications(rt, flaky, "w1", t) == {"sent": 0, "retrying": 0, "dead": 0}  # backing off
    t += timedelta(minutes=1)
    assert services.deliver_notifications(rt, flaky, "w1", t) == {"sent": 1, "retrying": 1, "dead": 0}
    t += timedelta(minutes=3)
    assert services.deliver_notifications(rt, flaky, "w1", t)["sent"] == 1
    assert sorted(flaky.sent) == sorted(k for k in _keys(rt, "email"))
    assert services.deliver_notifications(rt, flaky, "w1", t + timedelta(hours=9)) == {"sent": 0, "retrying": 0,
                                                                                       "dead": 0}  # fmt: skip
    services.escalate_overdue(rt, at("2027-01-08"))
    broken, t = FakeSender(failures=10**6), at("2027-01-08", 10)
    for _ in range(notifications.MAX_ATTEMPTS):
        services.deliver_notifications(rt, broken, "w1", t)
        t += timedelta(hours=7)
    assert [s for *_, s in _notes(rt, escalation_id=2, channel="email")] == ["dead"]
    services.redeliver(rt, _ids(rt, "dead")[0])
    assert services.deliver_notifications(rt, FakeSender(), "w1", at("2027-01-09"))["sent"] == 1


def test_an_expired_lease_is_taken_over_and_the_first_workers_late_result_ignored(rt, now):
    _start(rt)
    services.escalate_overdue(rt, at("2027-01-07"))
    lease = rt.settings.outbox_lease
    claimed = notifications._claim(rt, "dead-worker", at("2027-01-07", 10), 50, lease)  # then it was killed
    assert len(claimed) == 2
    assert services.deliver_notifications(rt, FakeSender(), "w2", at("2027-01-07", 10))["sent"] == 0  # leased
    later = at("2027-01-07", 10) + lease + timedelta(seconds=1)
    assert services.deliver_notifications(rt, FakeSender(), "w2", later)["sent"] == 2
    late = {"sent": 0, "retrying": 0, "dead": 0}
    for note in claimed:
        notifications._record(rt, "dead-worker", later, note["id"], None, late)
    assert late["sent"] == 0


def test_the_file_sink_writes_one_message_per_key(rt, now, tmp_path):
    _start(rt)
    services.escalate_overdue(rt, at("2027-01-07"))
    sink = FileSender(tmp_path / "mail", "pathways@test")
    services.deliver_notifications(rt, sink, "w1", at("2027-01-07", 10))
    files = sorted(p.name for p in (tmp_path / "mail").iterdir())
    assert files == ["task_1_1_email_social_worker_mailbox.eml", "task_1_1_email_team_manager_mailbox.eml"]
    text = (tmp_path / "mail" / files[0]).read_text()
    assert "Message-ID: <task.1.1.email.social.worker.mailbox@test>" in text and "CH-1" in text


def test_an_email_is_one_that_mail_systems_accept(rt, now, tmp_path):
    """RFC 5322 headers, marked as sent automatically, plain text and GOV.UK-style HTML, a date in words."""
    from email import message_from_bytes, policy
    from email.utils import parsedate_to_datetime

    _start(rt)
    now.set(at("2027-01-07", 10))
    services.escalate_overdue(rt, at("2027-01-07"))
    sink = FileSender(tmp_path / "mail", "Permanence Pathways <pathways@council.gov.uk>", domain="council.gov.uk")
    services.deliver_notifications(rt, sink, "w1", at("2027-01-07", 10))
    raw = (tmp_path / "mail" / "task_1_1_email_team_manager_mailbox.eml").read_bytes()
    email = message_from_bytes(raw, policy=policy.default)
    assert parsedate_to_datetime(email["Date"]) == at("2027-01-07", 10)
    assert email["Message-ID"] == "<task.1.1.email.team.manager.mailbox@council.gov.uk>"
    assert email["Auto-Submitted"] == "auto-generated" and email["X-Auto-Response-Suppress"] == "All"
    assert email["To"] == "team_manager.north@pathways.local" and email.get_content_type() == "multipart/alternative"
    text, html = email.get_body(("plain",)).get_content(), email.get_body(("html",)).get_content()
    assert "'Write the care plan' was due on 6 January 2027" in text and "06/01/2027" not in text
    assert "(Test review cycle)" in text and "test_review_cycle" not in text  # the pathway's name, not its key
    assert "Do not reply" in text
    assert '<a href="http://127.0.0.1:5000/tasks/1"' in html and "6 January 2027" in html
    assert "#1d70b8" in html and "Permanence Pathways</span>" in html and '<html lang="en">' in html


def test_role_email_goes_to_each_person_holding_it_when_no_mailbox_is_set(rt, now):
    accounts.add_team(rt, "north", "North", "admin")
    accounts.add_team(rt, "south", "South", "admin")
    accounts.add_user(rt, "tm.carol", None, ["team_manager"], ["north"], "Carol", "admin", email="carol@council.gov.uk")
    accounts.add_user(rt, "tm.dee", None, ["team_manager"], ["north"], "Dee", "admin", email="dee@council.gov.uk")
    accounts.add_user(rt, "tm.tom", None, ["team_manager"], ["south"], "Tom", "admin", email="tom@council.gov.uk")
    accounts.add_user(rt, "tm.nomail", None, ["team_manager"], ["north"], "No address", "admin")
    load(rt, "review_cycle.bpmn")
    services.start_case(rt, "test_review_cycle", "CH-1", {"looked_after_date": "2026-12-18"}, "sw", team="north")
    services.escalate_overdue(rt, at("2027-01-07"))
    emails = [(role, user, address) for channel, role, user, address, *_ in _notes(rt, channel="email")]
    assert emails == [
        ("team_manager", "tm.carol", "carol@council.gov.uk"),
        ("team_manager", "tm.dee", "dee@council.gov.uk"),
    ]  # nobody in social_worker has an address
    assert len(_notes(rt, channel="in_app")) == 2  # the app still tells the social worker and the team manager
    recipients.set_mailbox(rt, "north", "team_manager", "tm-north@council.gov.uk", "admin")
    with pytest.raises(InvalidInput, match="not an email address"):
        recipients.set_mailbox(rt, "north", "iro", "not an address", "admin")
    services.escalate_overdue(rt, at("2027-01-08"))  # the next rung goes to the mailbox once
    later = [a for c, _, _, a, *_ in _notes(rt, channel="email", escalation_id=2)]
    assert later == ["tm-north@council.gov.uk"]
    actions = [a for a in _actions(rt) if a.startswith("team.mailbox")]
    assert actions == ["team.mailbox_set"]


def _actions(rt) -> list[str]:
    with rt.reading() as uow:
        return list(uow.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def test_the_worker_tick_runs_every_job(rt, now, tmp_path):
    _start(rt)
    now.set(at("2027-01-07"))
    sender = FakeSender()
    counts = tick(rt, sender, "w1")
    assert counts["escalations_raised"] == 1 and counts["sent"] == 2


def test_a_second_worker_on_sqlite_is_refused(rt, is_postgres):
    if is_postgres:
        pytest.skip("the single-worker lock is for SQLite")
    first = _single_sqlite_worker(rt)
    assert first is not None and _single_sqlite_worker(rt) is None
    first.close()
    again = _single_sqlite_worker(rt)
    assert again is not None
    again.close()


def test_two_workers_on_the_same_due_set_do_each_item_exactly_once(rt, now, is_postgres):
    cases = 40 if is_postgres else 10
    team_mailboxes(rt)
    load(rt, "review_cycle.bpmn")
    for i in range(cases):
        services.start_case(rt, "test_review_cycle", f"CH-{i}", {"looked_after_date": "2026-12-18"}, "sw",
                            team="north")  # fmt: skip
    sender, barrier, errors = FakeSender(), threading.Barrier(2), []

    def worker(name: str) -> None:
        try:
            for day in ("2027-01-07", "2027-01-08", "2027-01-15"):
                barrier.wait()  # real workers share one clock: both sweep the same day together
                services.escalate_overdue(rt, at(day))
                services.deliver_notifications(rt, sender, name, at(day, 10))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in ("w1", "w2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if not is_postgres:  # SQLite: a writer may find the other's lock; that worker simply tries next tick
        errors = [e for e in errors if "busy" not in str(e)]
        for day in ("2027-01-07", "2027-01-08", "2027-01-15"):
            services.escalate_overdue(rt, at(day))
            services.deliver_notifications(rt, sender, "w1", at(day, 10))
    assert errors == []
    # the next tick sends what one worker raised while the other was already sweeping the outbox
    while services.deliver_notifications(rt, sender, "w3", at("2027-01-15", 11))["sent"]:
        pass
    with rt.uow() as uow:
        assert uow.session.scalar(select(func.count(Escalation.id))) == cases * 3
    # per case: overdue to the holder and the TM, then the TM, then the SM
    assert len(sender.sent) == len(set(sender.sent)) == cases * 4


def _keys(rt, channel):
    with rt.uow() as uow:
        return list(uow.session.scalars(select(Notification.key).where(Notification.channel == channel)))


def _ids(rt, status):
    with rt.uow() as uow:
        return list(uow.session.scalars(select(Notification.id).where(Notification.status == status)))


def test_after_downtime_timers_fire_once_in_due_order_marked_late(rt, now):
    load(rt, "review_cycle.bpmn")
    for ref, looked_after in (("CH-C", "2026-12-22"), ("CH-A", "2026-12-18"), ("CH-B", "2026-12-21")):
        now.set(datetime.combine(date.fromisoformat(looked_after), time(10), tzinfo=UTC))
        services.start_case(rt, "test_review_cycle", ref, {"looked_after_date": looked_after}, "sw")
        complete_review_setup(rt, ref, looked_after)
    # the worker was stopped from 20 January to 1 February: three review timers fell due meanwhile
    assert services.fire_due_timers(rt, at("2027-02-01"))["cases_fired"] == 3
    assert services.fire_due_timers(rt, at("2027-02-01", 10))["cases_fired"] == 0
    with rt.uow() as uow:
        query = select(AuditEvent).where(AuditEvent.action == "timer.fired").order_by(AuditEvent.id)
        fired = [(e.after, e.detail) for e in uow.session.scalars(query)]
    assert [after["due"][:10] for after, _ in fired] == ["2027-01-21", "2027-01-22", "2027-01-23"]  # due order
    assert all(after["late"] for after, _ in fired) and "fired late" in fired[0][1]
