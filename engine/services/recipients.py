"""Who an email goes to: the person's own address, or a team mailbox an administrator set.

A message for a named person (a step's holder) goes to their ``users.email`` (filled in by an
administrator or from the single sign-on token). A message for a role in a team goes to that
team's mailbox for the role where an administrator configured one (``pathways teams mailbox``),
otherwise to each active person holding the role in the team who has an address. Nobody with an
address means no email: the message is still in the app, and the log says so.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.bootstrap import Runtime
from engine.domain.access import ROLE_STEPS, Person
from engine.errors import InvalidInput, NotFound
from engine.persistence.models import Team, TeamMailbox, User
from engine.services._common import audit, commit

log = logging.getLogger("pathways.mail")
ADDRESS = re.compile(r"^[^@\s<>,;\"]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


@dataclass(frozen=True)
class Recipient:
    who: str  # a username, or "mailbox": part of the outbox key, so each person's message is one row
    address: str
    user: str | None


def email_recipients(session: Session, role: str | None, team: str | None, user: str | None = None) -> list[Recipient]:
    """Kept for the rest of the unit of work: a sweep escalating a thousand steps asks once per role and team."""
    cache: dict[tuple[str | None, ...], list[Recipient]] = session.info.setdefault(_CACHE, {})
    key = (role, team, user)
    if key not in cache:
        cache[key] = _email_recipients(session, role, team, user)
    return cache[key]


_CACHE = "pathways.email_recipients"


def _email_recipients(session: Session, role: str | None, team: str | None, user: str | None) -> list[Recipient]:
    if user:
        person = session.scalar(select(User).where(User.username == user, User.active.is_(True)))
        if person is not None and person.email:
            return [Recipient(user, person.email, user)]
    mailbox = _mailbox(session, role, team)
    if mailbox:
        return [Recipient("mailbox", mailbox, None)]
    if user or not role:
        log.warning("event=no_email_address user=%s role=%s team=%s", user or "-", role or "-", team or "-")
        return []
    holders = [u for u in session.scalars(select(User).where(User.active.is_(True), User.email.is_not(None)))
               if _holds(u, role, team)]  # fmt: skip
    if not holders:
        log.warning("event=no_email_address role=%s team=%s", role, team or "-")
    return [Recipient(u.username, u.email or "", u.username) for u in sorted(holders, key=lambda u: u.username)]


def _mailbox(session: Session, role: str | None, team: str | None) -> str | None:
    if not role or not team:
        return None
    found = session.get(TeamMailbox, (team, role))
    return found.address if found is not None else None


def _holds(user: User, role: str, team: str | None) -> bool:
    person = Person(user.username, frozenset(user.roles), frozenset(user.teams))
    return role in person.step_roles and (team is None or person.may_see_team(team))


def valid_address(address: str) -> str:
    address = (address or "").strip()
    if len(address) > 300 or not ADDRESS.match(address):
        raise InvalidInput(f"{address!r} is not an email address (like tm-north@council.gov.uk)")
    return address


def set_mailbox(rt: Runtime, team: str, role: str, address: str | None, actor: str) -> None:
    """Set (or with ``address`` None, remove) the shared mailbox for ``role`` in ``team``; audited."""
    known_roles = set().union(*ROLE_STEPS.values())
    if role not in known_roles:
        raise InvalidInput(f"unknown role {role!r}: one of {', '.join(sorted(known_roles))}")
    with rt.uow() as uow:
        if uow.session.get(Team, team) is None:
            raise NotFound(f"there is no team {team}")
        found = uow.session.get(TeamMailbox, (team, role))
        before = {"address": found.address} if found is not None else None
        if address is None:
            if found is None:
                raise NotFound(f"team {team} has no mailbox for {role}")
            uow.session.delete(found)
            after = None
        else:
            address = valid_address(address)
            if found is None:
                uow.session.add(TeamMailbox(team=team, role=role, address=address))
            else:
                found.address = address
            after = {"address": address}
        audit(uow.session, None, actor, "team.mailbox_set" if address else "team.mailbox_removed",
              detail=f"{team} {role}", before=before, after=after)  # fmt: skip
        commit(uow, "the team mailbox")


def list_mailboxes(rt: Runtime) -> list[dict[str, str]]:
    with rt.reading() as uow:
        rows = uow.session.scalars(select(TeamMailbox).order_by(TeamMailbox.team, TeamMailbox.role))
        return [{"team": m.team, "role": m.role, "address": m.address} for m in rows]
