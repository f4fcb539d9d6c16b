"""Email through a real, slow SMTP server: each message sent once (issue 15, defect 4).

Before: 50 emails claimed under one 120 s lease, sent one by one and recorded at the end; at 2.4 s
a message the other worker re-claimed them and the first one's results were discarded (each sent
3-4 times, still pending with 0 attempts). A plain SIGTERM re-sent 33. Here the lease is 6 s and
the server takes 0.25 s a message: 40 messages take well over the lease, so without the heartbeat a
second worker would take them over. The clock is the real one (a lease must run out).
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from engine import services
from engine.persistence.models import Notification
from tests.smtp import SlowSmtp
from worker.mail import SmtpSender

PATHWAYS = Path(sys.executable).with_name("pathways")


def _pending(rt, count: int) -> None:
    with rt.uow() as uow:
        now = datetime.now(UTC)
        for n in range(count):
            uow.session.add(Notification(key=f"test:{n}:email:team_manager", channel="email", recipient_role="tm",
                                         recipient_address="tm.north@pathways.local", subject=f"Overdue {n}",
                                         body="CH-1: overdue", status="pending", attempts=0, next_attempt_at=now,
                                         created_at=now))  # fmt: skip
        uow.session.commit()


def _rows(rt) -> list[tuple[str, int, str | None]]:
    with rt.uow() as uow:
        query = select(Notification.status, Notification.attempts, Notification.lease_owner).order_by(Notification.id)
        return [tuple(row) for row in uow.session.execute(query)]


def test_two_workers_on_a_slow_mail_server_send_each_email_once(rt):
    rt.settings = dataclasses.replace(rt.settings, outbox_lease_seconds=6)
    _pending(rt, 40)
    with SlowSmtp(delay=0.25) as smtp:
        sender = SmtpSender(smtp.url, "permanence-pathways@pathways.local")
        counts: list[dict] = []
        workers = [threading.Thread(target=lambda w=w: counts.append(services.deliver_notifications(rt, sender, w)))
                   for w in ("worker-1", "worker-2")]  # fmt: skip
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    assert len(smtp.received) == 40, f"{len(smtp.received) - len(set(smtp.received))} sent twice"
    assert len(set(smtp.received)) == 40
    assert sum(c["sent"] for c in counts) == 40
    assert set(_rows(rt)) == {("sent", 1, None)}


def test_sigterm_finishes_the_email_in_hand_and_releases_the_rest(rt, subprocess_database_url, tmp_path):
    _pending(rt, 12)
    with SlowSmtp(delay=0.3) as smtp:
        env = {**os.environ, "DATABASE_URL": subprocess_database_url, "SMTP_URL": smtp.url,
               "TIMER_POLL_SECONDS": "0.2", "MAIL_DIR": str(tmp_path / "mail")}  # fmt: skip
        worker = subprocess.Popen([str(PATHWAYS), "worker"], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True)  # fmt: skip
        try:
            assert smtp.wait_for(3), "the worker sent nothing"
            worker.send_signal(signal.SIGTERM)
            _, log = worker.communicate(timeout=120)
        finally:  # a failure here must not leave a worker running (it loaded the machine for an hour once)
            if worker.poll() is None:
                worker.kill()
                worker.communicate()
        assert worker.returncode == 0, log
        assert "event=stopped" in log
        sent_before_stop = len(smtp.received)
        rows = _rows(rt)
        assert sum(status == "sent" for status, _, _ in rows) == sent_before_stop < 12
        assert all(owner is None for _, _, owner in rows), "what was not started is released, not leased"
        counts = services.deliver_notifications(rt, SmtpSender(smtp.url, "pp@pathways.local"), "next-worker")
    assert counts["sent"] == 12 - sent_before_stop
    assert sorted(smtp.received) == sorted(set(smtp.received)) and len(smtp.received) == 12
