"""Calendar feeds: each person's steps, clocks, gates and panel dates at a secret address that
Outlook and Google Calendar subscribe to (web.calendars writes them as RFC 5545 iCalendar).

- A **person's feed**: every open step they hold (on its due date), the day a step's gate opens
  (``not_before``: it cannot be done sooner), the unmet clocks of every case in which they hold a
  step, and the panel steps of those cases.
- A **team feed** (managers, for a team they manage): every open step and unmet clock of the
  team's cases.

The address carries a random token; the database keeps only its SHA-256, so the address is shown
once, when it is made. A person may make a new address (the old one stops) or stop it. A feed
is worked out afresh on every fetch, so it shows every change at the calendar's next refresh;
what may be seen is checked then too (a person who left, or a manager moved off the team, gets
nothing). Only child references and step names appear, never a child's name. Every event's UID
is stable (the step's or clock's id), so a changed date moves the event rather than adding one.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select

from engine import clock
from engine.bootstrap import Runtime
from engine.domain.access import Person
from engine.domain.forms import long_date
from engine.domain.states import ACTIVE_CASE_STATUSES, DeadlineStatus, TaskStatus
from engine.errors import NotAllowed, NotFound
from engine.persistence.models import CalendarFeed, Case, Deadline, HumanTask, User
from engine.services._common import audit, commit

PANEL_ROLES = frozenset({"permanency_panel", "adoption_panel", "panel_support"})
UNMET = (DeadlineStatus.EXPECTED, DeadlineStatus.RUNNING, DeadlineStatus.BREACHED)


@dataclass(frozen=True)
class FeedEvent:
    uid: str  # stable: the same step or clock is the same event at every refresh
    day: date
    summary: str
    description: str
    link: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_feed(rt: Runtime, person: Person, team: str | None = None) -> str:
    """A new secret address for ``person`` (or their view of ``team``); the one it replaces stops. Returns the token."""
    if team is not None and not person.may_assign_in(team):
        raise NotAllowed(f"only managers of team {team} have its calendar")
    token = "cal_" + secrets.token_urlsafe(32)
    with rt.uow() as uow:
        old = uow.session.scalars(select(CalendarFeed).where(
            CalendarFeed.username == person.username, CalendarFeed.revoked_at.is_(None),
            CalendarFeed.team.is_(None) if team is None else CalendarFeed.team == team)).all()  # fmt: skip
        for feed in old:
            feed.revoked_at, feed.revoked_by = clock.utcnow(), person.username
        uow.session.add(CalendarFeed(token_hash=_digest(token), username=person.username, team=team,
                                     created_at=clock.utcnow()))  # fmt: skip
        audit(uow.session, None, person.username, "calendar.created", detail=f"team {team}" if team else "own steps",
              after={"replaced": len(old)})  # fmt: skip
        commit(uow, "the calendar address")
    return token


def revoke_feed(rt: Runtime, person: Person, feed_id: int) -> None:
    with rt.uow() as uow:
        feed = uow.session.get(CalendarFeed, feed_id, with_for_update=True)
        if feed is None or feed.username != person.username or feed.revoked_at is not None:
            raise NotFound("there is no such calendar address of yours")
        feed.revoked_at, feed.revoked_by = clock.utcnow(), person.username
        audit(uow.session, None, person.username, "calendar.revoked",
              detail=f"team {feed.team}" if feed.team else "own steps")  # fmt: skip
        commit(uow, "the calendar address")


def list_feeds(rt: Runtime, person: Person) -> list[dict[str, Any]]:
    with rt.reading() as uow:
        rows = uow.session.scalars(
            select(CalendarFeed)
            .where(CalendarFeed.username == person.username, CalendarFeed.revoked_at.is_(None))
            .order_by(CalendarFeed.id)
        )
        return [{"id": f.id, "team": f.team, "created_at": f.created_at, "last_used_at": f.last_used_at}
                for f in rows]  # fmt: skip


def feed(rt: Runtime, token: str) -> tuple[str, list[FeedEvent]]:
    """(the calendar's name, its events) for a live address; NotFound for an unknown or stopped one."""
    with rt.uow() as uow:
        session = uow.session
        found = session.scalar(select(CalendarFeed).where(CalendarFeed.token_hash == _digest(token or "")))
        user = None
        if found is not None and found.revoked_at is None:
            user = session.scalar(select(User).where(User.username == found.username, User.active.is_(True)))
        if found is None or user is None:
            raise NotFound("this calendar address has stopped: make a new one in Permanence Pathways")
        person = Person(user.username, frozenset(user.roles), frozenset(user.teams))
        if found.team is not None and not person.may_assign_in(found.team):
            raise NotFound("this calendar address has stopped: you no longer manage the team")
        if found.last_used_at is None or (clock.utcnow() - found.last_used_at).total_seconds() > 3600:
            found.last_used_at = clock.utcnow()  # when a calendar last fetched it, to the hour
            commit(uow, "the calendar address")
        if found.team is not None:
            name = f"Permanence Pathways: team {found.team}"
            return name, _events(rt, session, [Case.team == found.team], None)
        return f"Permanence Pathways: {user.display_name}", _events(rt, session, None, user.username)


def _events(rt: Runtime, session: Any, team_cases: list[Any] | None, holder: str | None) -> list[FeedEvent]:
    base = rt.settings.app_url.rstrip("/")
    live = Case.status.in_([str(s) for s in ACTIVE_CASE_STATUSES])
    steps = select(HumanTask, Case.ref).join(Case, Case.id == HumanTask.case_id).where(
        HumanTask.status == TaskStatus.OPEN, live)  # fmt: skip
    if holder is not None:
        held = list(session.execute(steps.where(HumanTask.assignee == holder)))
        case_ids = sorted({task.case_id for task, _ in held})
        panels = list(session.execute(steps.where(HumanTask.case_id.in_(case_ids), HumanTask.role.in_(PANEL_ROLES),
                                                  HumanTask.assignee.is_distinct_from(holder))))  # fmt: skip
        rows = held + panels
    else:
        rows = list(session.execute(steps.where(*(team_cases or []))))
        case_ids = sorted({task.case_id for task, _ in rows})
    events: list[FeedEvent] = []
    for task, ref in rows:
        link = f"{base}/tasks/{task.id}"
        kind = "Panel" if task.role in PANEL_ROLES else "Due"
        who = f"held by {task.assignee}" if task.assignee else f"not yet claimed ({task.role})"
        if task.due_date:
            about = f"{ref}: {task.title}, due {long_date(task.due_date)}, {who}."
            events.append(FeedEvent(f"step-{task.id}", task.due_date, f"{kind}: {task.title} – {ref}", about, link))
        if task.not_before:
            why = f" ({task.not_before_source})." if task.not_before_source else "."
            about = f"{ref}: {task.title} cannot be done before {long_date(task.not_before)}{why}"
            events.append(
                FeedEvent(f"gate-{task.id}", task.not_before, f"Can start: {task.title} – {ref}", about, link)
            )
    clocks = session.execute(select(Deadline, Case.ref).join(Case, Case.id == Deadline.case_id).where(
        Deadline.case_id.in_(case_ids), Deadline.status.in_([str(s) for s in UNMET]), live))  # fmt: skip
    for deadline, ref in clocks:
        state = "passed" if deadline.due_date < clock.london_today() else "due"
        about = (f"{ref}: {deadline.name}, {state} {long_date(deadline.due_date)} "
                 f"({deadline.rule_status}: {deadline.source}).")  # fmt: skip
        events.append(FeedEvent(f"deadline-{deadline.id}", deadline.due_date, f"Deadline: {deadline.name} – {ref}",
                                about, f"{base}/cases/{deadline.case_id}"))  # fmt: skip
    return sorted(events, key=lambda e: (e.day, e.uid))
