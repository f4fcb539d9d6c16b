"""GOV.UK Notify as the email sender: the real client against a local server that checks its JWT and payloads."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from engine import services
from engine.config import Settings
from engine.persistence.models import Notification
from engine.services.notifications import OutboundEmail
from tests.conftest import load, team_mailboxes
from tests.notify import ALERT_TEMPLATE, API_KEY, SERVICE_ID, TEMPLATE, LocalNotify
from worker.mail import sender_for
from worker.notify import NotifySender


def at(day: str, hour: int = 9) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def _overdue(rt) -> None:  # type: ignore[no-untyped-def]
    team_mailboxes(rt)
    load(rt, "review_cycle.bpmn")
    services.start_case(rt, "test_review_cycle", "CH-1", {"looked_after_date": "2026-12-18"}, "sw", team="north")
    services.escalate_overdue(rt, at("2027-01-07"))  # two emails: the social worker's and the team manager's


def _emails(rt) -> list[Notification]:  # type: ignore[no-untyped-def]
    with rt.reading() as uow:
        return list(uow.session.scalars(select(Notification).where(Notification.channel == "email")
                                        .order_by(Notification.id)))  # fmt: skip


def test_escalation_email_goes_through_notify_with_the_outbox_key_as_reference(rt, now):
    _overdue(rt)
    with LocalNotify() as notify:
        sender = NotifySender(API_KEY, TEMPLATE, base_url=notify.url)
        assert services.deliver_notifications(rt, sender, "w1", at("2027-01-07", 10))["sent"] == 2
        assert notify.refused == []
        emails = _emails(rt)
        assert [m["reference"] for m in notify.accepted] == [e.key for e in emails]
        first = notify.accepted[0]
        assert first["email_address"] == emails[0].recipient_address and first["template_id"] == TEMPLATE
        assert first["personalisation"]["subject"] == "Overdue: CH-1 Write the care plan"
        assert "was due on 6 January 2027" in first["personalisation"]["body"]
        assert first["personalisation"]["link"] == "http://127.0.0.1:5000/tasks/1"
        assert {e.status for e in _emails(rt)} == {"sent"}


def test_a_notify_outage_is_retried_with_the_same_reference(rt, now):
    _overdue(rt)
    with LocalNotify() as notify:
        notify.fail_next = 1
        sender = NotifySender(API_KEY, TEMPLATE, base_url=notify.url)
        counts = services.deliver_notifications(rt, sender, "w1", at("2027-01-07", 10))
        assert counts == {"sent": 1, "retrying": 1, "dead": 0}
        retrying = next(e for e in _emails(rt) if e.status == "pending")
        assert "500" in (retrying.last_error or "")
        services.deliver_notifications(rt, sender, "w1", at("2027-01-07", 11))
        references = [m["reference"] for m in notify.accepted]
        assert sorted(references) == sorted(e.key for e in _emails(rt)) and len(set(references)) == 2
        assert {e.status for e in _emails(rt)} == {"sent"}


def test_an_address_or_key_notify_refuses_is_dead_lettered_at_once(rt, now):
    _overdue(rt)
    with rt.uow() as uow:  # an address Notify will not take
        first = uow.session.scalars(select(Notification).where(Notification.channel == "email")).first()
        assert first is not None
        first.recipient_address = "team_manager.north"
        uow.commit()
    with LocalNotify() as notify:
        counts = services.deliver_notifications(rt, NotifySender(API_KEY, TEMPLATE, base_url=notify.url), "w1",
                                                at("2027-01-07", 10))  # fmt: skip
        assert counts == {"sent": 1, "retrying": 0, "dead": 1}
        dead = next(e for e in _emails(rt) if e.status == "dead")
        assert dead.attempts == 1 and "Not a valid email address" in (dead.last_error or "")
        wrong_key = f"pathways_test-{SERVICE_ID}-00000000-0000-0000-0000-000000000000"
        with pytest.raises(Exception, match="AuthError|Invalid token"):
            NotifySender(wrong_key, TEMPLATE, base_url=notify.url).send(
                OutboundEmail("task:9:1:email:x", "a@council.gov.uk", "s", "b")
            )
        assert notify.refused[-1][0] == 403


def test_each_kind_of_message_may_have_its_own_template(rt, now):
    with LocalNotify() as notify:
        sender = NotifySender(API_KEY, TEMPLATE, {"alert": ALERT_TEMPLATE}, base_url=notify.url)
        sender.send(OutboundEmail("alert:1:Task_Alert:1:email:iro:mailbox", "iro@council.gov.uk",
                                  "Alert: CH-1 Third placement move", "See http://127.0.0.1:5000/cases/1"))  # fmt: skip
        sender.send(OutboundEmail("task:1:1:email:team_manager:mailbox", "tm@council.gov.uk", "Overdue", "Body"))
        assert [m["template_id"] for m in notify.accepted] == [ALERT_TEMPLATE, TEMPLATE]


def test_the_worker_chooses_notify_when_its_key_is_set(tmp_path):
    settings = Settings(notify_api_key=API_KEY, notify_template_id=TEMPLATE, notify_templates=f"alert={ALERT_TEMPLATE}",
                        mail_dir=tmp_path)  # fmt: skip
    chosen = sender_for(settings)
    assert isinstance(chosen, NotifySender) and chosen.templates == {"alert": ALERT_TEMPLATE}
    with pytest.raises(ValueError, match="NOTIFY_TEMPLATE_ID is needed"):
        sender_for(Settings(notify_api_key=API_KEY))
    assert type(sender_for(Settings(mail_dir=tmp_path))).__name__ == "FileSender"
