"""Raising the escalation ladder for overdue steps and breached deadlines, once per rung.

Safe with N workers: the subjects are claimed with ``FOR UPDATE SKIP LOCKED`` (PostgreSQL), and
every rung and message has a unique key, so a race can only ever record it once. A rung whose day
passed while the worker was down is raised on the next sweep and marked late.

A sweep walks every candidate in small batches (``batch``, by id), each in a short transaction
of its own, so it holds a few row locks for moments, not hundreds for a minute (issue 15: a
practitioner completing an overdue step waited 5.25 s behind one transaction of 500). Steps and
deadlines whose top rung is raised are left out by the query itself; there is no cap, so the
thousandth overdue step is escalated in the same sweep as the first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import clock
from engine.bootstrap import Runtime
from engine.domain.escalation import RUNG_WORDS, TOP_LEVEL, Rung, due_rungs, parse_intervals
from engine.domain.forms import long_date
from engine.domain.states import CaseStatus, DeadlineStatus, TaskStatus
from engine.errors import InvalidInput, NotAllowed, NotFound
from engine.persistence.models import Case, Deadline, Escalation, HumanTask, Notification
from engine.services import outbox
from engine.services._common import SERVED_BY_OPEN_STEP, SYSTEM, audit, commit, pause_between_batches, refresh_calendar
from engine.services.recipients import email_recipients

log = logging.getLogger(__name__)
_ADVANCING = (CaseStatus.RUNNING, CaseStatus.WAITING)
_UNMET = (DeadlineStatus.RUNNING, DeadlineStatus.BREACHED)


def escalate_overdue(rt: Runtime, now: datetime | None = None, batch: int = 20,
                     stop: Callable[[], bool] = lambda: False) -> dict[str, int]:  # fmt: skip
    """Raise every rung whose day has come for open overdue steps and breached declared deadlines.

    ``stop()`` (the worker's SIGTERM) is asked between batches: what is left waits for the next sweep."""
    at = clock.require_aware(now, "now") if now is not None else clock.utcnow()
    today = at.astimezone(clock.LONDON).date()
    intervals = parse_intervals(rt.settings.escalation_intervals)
    counts = {"escalations_raised": 0, "escalations_late": 0}
    with clock.frozen(at):
        for candidates in (_overdue_tasks, _breached_deadlines):
            after: int | None = 0
            while after is not None and not stop():
                after = _escalate_batch(rt, candidates, today, intervals, batch, after, counts)
                if after is not None:
                    pause_between_batches(rt)
    return counts


def _escalate_batch(rt: Runtime, candidates: Any, today: Any, intervals: tuple[int, int, int], batch: int,
                    after: int, counts: dict[str, int]) -> int | None:  # fmt: skip
    """One short transaction over the next ``batch`` candidates after id ``after``; None when there are no more."""
    with rt.uow() as uow:
        session = uow.session
        calendar = refresh_calendar(rt, session)
        subjects: list[HumanTask | Deadline] = candidates(session, today, batch, after)
        if not subjects:
            return None
        raised = _raised_keys(session, subjects)
        for subject in subjects:
            if subject.due_date is None:
                continue
            for rung in due_rungs(subject.due_date, today, calendar, intervals):
                if f"{_key(subject)}:{rung.level}" not in raised and _raise(rt, session, subject, rung, today):
                    counts["escalations_raised"] += 1
                    counts["escalations_late"] += rung.raise_on < today
        commit(uow, "escalations")
        return subjects[-1].id


def _raised_keys(session: Session, subjects: list[HumanTask | Deadline]) -> set[str]:
    """Rungs already recorded for this batch, in one query (not one per step or deadline)."""
    task_ids = [s.id for s in subjects if isinstance(s, HumanTask)]
    deadline_ids = [s.id for s in subjects if isinstance(s, Deadline)]
    if not subjects:
        return set()
    query = select(Escalation.key).where(
        or_(Escalation.task_id.in_(task_ids), Escalation.deadline_id.in_(deadline_ids))
    )
    return set(session.scalars(query))


def _overdue_tasks(session: Session, today: Any, batch: int, after: int) -> list[HumanTask]:
    top_raised = exists().where(Escalation.task_id == HumanTask.id, Escalation.level == TOP_LEVEL)
    query = (
        select(HumanTask)
        .join(Case, HumanTask.case_id == Case.id)
        .where(
            HumanTask.id > after,
            HumanTask.status == TaskStatus.OPEN,
            HumanTask.due_date < today,
            HumanTask.delay_reason.is_(None),
            Case.status.in_(_ADVANCING),
            ~top_raised,
        )  # fmt: skip
        .order_by(HumanTask.id)
        .limit(batch)
        .with_for_update(of=HumanTask, skip_locked=True)
    )
    return list(session.scalars(query))


def _breached_deadlines(session: Session, today: Any, batch: int, after: int) -> list[Deadline]:
    """Declared deadlines only: a step's own due date is escalated through the step itself, and so is a
    deadline while an open step serves it (one clock, one ladder)."""
    top_raised = exists().where(Escalation.deadline_id == Deadline.id, Escalation.level == TOP_LEVEL)
    query = (
        select(Deadline)
        .join(Case, Deadline.case_id == Case.id)
        .where(Deadline.id > after, Deadline.status.in_(_UNMET), Deadline.met_at.is_(None),
               Deadline.due_date < today, Deadline.delay_reason.is_(None), Deadline.key != Deadline.element,
               Case.status.in_(_ADVANCING), ~top_raised, ~SERVED_BY_OPEN_STEP)
        .order_by(Deadline.id)
        .limit(batch)
        .with_for_update(of=Deadline, skip_locked=True)
    )  # fmt: skip
    return list(session.scalars(query))


def _key(subject: HumanTask | Deadline) -> str:
    return f"{'task' if isinstance(subject, HumanTask) else 'deadline'}:{subject.id}"


def _raise(rt: Runtime, session: Session, subject: HumanTask | Deadline, rung: Rung, today: Any) -> bool:
    """Record one rung with its messages; False when another worker recorded it first."""
    case = session.get(Case, subject.case_id)
    assert case is not None
    try:
        with session.begin_nested():
            escalation = Escalation(
                key=f"{_key(subject)}:{rung.level}", case_id=case.id, level=rung.level, name=rung.name,
                task_id=subject.id if isinstance(subject, HumanTask) else None,
                deadline_id=subject.id if isinstance(subject, Deadline) else None,
                due_date=subject.due_date, raise_on=rung.raise_on, raised_at=clock.utcnow(),
                late=rung.raise_on < today,
            )  # fmt: skip
            session.add(escalation)
            session.flush()
            for notification in _messages(rt, session, case, subject, rung, escalation):
                session.add(notification)
            _emit(session, case, subject, escalation)
            session.flush()
    except IntegrityError:
        return False
    title = subject.title if isinstance(subject, HumanTask) else subject.name
    log.info("event=escalation case=%s element=%s level=%s late=%s", case.ref, subject.element, rung.name,
             str(escalation.late).lower())  # fmt: skip
    audit(session, case.id, SYSTEM, "escalation.raised", element=subject.element,
          detail=f"{RUNG_WORDS[rung.name].capitalize()}: {title} was due "
          f"{long_date(subject.due_date) if subject.due_date else 'on no date'}"
          + (" (raised late)" if escalation.late else ""),
          after={"level": rung.level, "name": rung.name, "notify": list(rung.notify)})  # fmt: skip
    return True


def _emit(session: Session, case: Case, subject: HumanTask | Deadline, escalation: Escalation) -> None:
    """Tell subscribers: every rung is an escalation; the first rung on a step is also the step being overdue."""
    task = subject if isinstance(subject, HumanTask) else None
    deadline = subject if isinstance(subject, Deadline) else None
    title = subject.title if isinstance(subject, HumanTask) else subject.name
    outbox.emit(session, "escalation.raised", case, task=task, deadline=deadline, escalation=escalation,
                level=escalation.level, rung=escalation.name, element=subject.element, title=title,
                due_date=subject.due_date, late=escalation.late)  # fmt: skip
    if task is not None and escalation.name == "overdue":
        outbox.emit(session, "task.overdue", case, task=task, element=task.element, title=task.title,
                    role=task.role, assignee=task.assignee, due_date=task.due_date)  # fmt: skip


def _recipients(case: Case, subject: HumanTask | Deadline, rung: Rung) -> list[tuple[str | None, str | None]]:
    """(role, user) pairs, each once; the holder is the step's assignee, or its role when nobody has claimed it.

    An unclaimed team manager's step has the team manager as its holder too: told once (issue 15:
    the two messages shared a key, the rung rolled back on the unique key and was never recorded)."""
    found: list[tuple[str | None, str | None]] = []
    for role in rung.notify:
        if role != "holder":
            found.append((role, None))
        elif isinstance(subject, HumanTask):
            found.append((subject.role, subject.assignee))
        else:
            found.append(("social_worker", None))
    return list(dict.fromkeys(found))


def _messages(rt: Runtime, session: Session, case: Case, subject: HumanTask | Deadline, rung: Rung,
              escalation: Escalation) -> list[Notification]:  # fmt: skip
    """In the app for each role (or holder) told, and by email to each person's own address or the
    team's mailbox for the role (engine.services.recipients)."""
    title = subject.title if isinstance(subject, HumanTask) else subject.name
    link = f"{rt.settings.app_url}/tasks/{subject.id}" if isinstance(subject, HumanTask) else (
        f"{rt.settings.app_url}/cases/{case.id}")  # fmt: skip
    words = RUNG_WORDS[rung.name]
    level = words[:1].upper() + words[1:]
    subject_line = f"{level}: {case.ref} {title}"
    due = long_date(subject.due_date) if subject.due_date else "an unknown date"
    body = (f"Child {case.ref} ({case.definition.name}): '{title}' was due on {due} and is not done.\n"
            f"{level}. Record a reason for delay to stop further escalation.\n{link}\n")  # fmt: skip
    now = clock.utcnow()
    messages = []
    for role, user in _recipients(case, subject, rung):
        person = f"{role}:{user}" if user else f"{role}"  # the key names the person told: unique per person
        messages.append(Notification(
            key=f"{escalation.key}:in_app:{person}", case_id=case.id, escalation_id=escalation.id, channel="in_app",
            recipient_role=role, recipient_team=case.team, recipient_user=user, subject=subject_line, body=body,
            link=link, status="unread", attempts=0, created_at=now,
        ))  # fmt: skip
        for to in email_recipients(session, role, case.team, user):
            messages.append(Notification(
                key=f"{escalation.key}:email:{role}:{to.who}", case_id=case.id, escalation_id=escalation.id,
                channel="email", recipient_role=role, recipient_team=case.team, recipient_user=to.user,
                recipient_address=to.address, subject=subject_line, body=body, link=link, status="pending",
                attempts=0, next_attempt_at=now, created_at=now,
            ))  # fmt: skip
    return messages


def _same_clock(session: Session, subject: HumanTask | Deadline) -> list[HumanTask | Deadline]:
    """A step and the declared deadline it serves are one clock: what is recorded on one holds for both."""
    if isinstance(subject, HumanTask):
        return [subject.serves] if subject.serves is not None else []
    return list(session.scalars(select(HumanTask).where(HumanTask.deadline_id == subject.id,
                                                        HumanTask.status == TaskStatus.OPEN)))  # fmt: skip


def record_delay_reason(
    rt: Runtime, reason: str, actor: str, task_id: int | None = None, deadline_id: int | None = None
) -> dict[str, Any]:
    """A manager's reason for delay: shown on the case, and it stops the ladder for that step or deadline."""
    if not (reason or "").strip():
        raise InvalidInput("give the reason for the delay")
    if (task_id is None) == (deadline_id is None):
        raise InvalidInput("say which step or which deadline the reason is for")
    with rt.uow() as uow:
        subject: HumanTask | Deadline | None = (
            uow.session.get(HumanTask, task_id) if task_id is not None else uow.session.get(Deadline, deadline_id)
        )
        if subject is None:
            raise NotFound(f"there is no {'step' if task_id is not None else 'deadline'} {task_id or deadline_id}")
        # The case's row lock, as a completion takes it: of two managers at once the second sees the
        # first one's reason, and a step completed meanwhile is seen done (its summary stays true).
        uow.session.execute(select(Case.id).where(Case.id == subject.case_id).with_for_update())
        uow.session.refresh(subject)
        if subject.delay_reason:
            raise NotAllowed(f"a reason for delay was already recorded by {subject.delay_recorded_by}")
        subject.delay_reason, subject.delay_recorded_by = reason, actor
        subject.delay_recorded_at = clock.utcnow()
        for twin in _same_clock(uow.session, subject):  # one clock: one reason for delay stops its one ladder
            if not twin.delay_reason:
                twin.delay_reason, twin.delay_recorded_by, twin.delay_recorded_at = reason, actor, clock.utcnow()
        audit(uow.session, subject.case_id, actor, "escalation.acknowledged", element=subject.element,
              detail=reason, after={"reason": reason})  # fmt: skip
        commit(uow, "the reason for delay")
        return {"case_id": subject.case_id, "element": subject.element, "reason": reason, "recorded_by": actor}
