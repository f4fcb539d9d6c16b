"""Staff accounts: create, authenticate, look up, and the demo users.

Authentication lives only here, so an authority can put its single sign-on (OpenID Connect)
in front: an SSO login maps to ``person(username)`` and never calls ``authenticate``.
"""

from __future__ import annotations

import functools
import re
import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from engine import clock
from engine.bootstrap import Runtime
from engine.domain.access import Person, check_password, hash_password, password_needs_rehash, unknown_roles
from engine.errors import InvalidInput, NotFound, PathwaysError
from engine.persistence.models import Team, User
from engine.services import staff_sessions
from engine.services._common import audit, commit
from engine.services.recipients import valid_address

USERNAME = re.compile(r"^[a-z][a-z0-9._-]{1,99}$")
MIN_PASSWORD = 12
DEMO_PASSWORD = "pathways-demo-2026"  # printed in the README; demo databases only
DEMO_TEAMS = {"north": "North children in care team", "south": "South children in care team"}
DEMO_USERS = [  # username, display name, roles, teams
    ("sw.alice", "Alice Social Worker", ["social_worker"], ["north"]),
    ("sw.sam", "Sam Social Worker", ["social_worker"], ["south"]),
    ("tm.carol", "Carol Team Manager", ["team_manager"], ["north"]),
    ("tm.tom", "Tom Team Manager", ["team_manager"], ["south"]),
    ("sm.sara", "Sara Services Manager", ["services_manager"], ["north", "south"]),
    ("hos.hana", "Hana Head of Service", ["head_of_service"], []),
    ("iro.bob", "Bob Independent Reviewing Officer", ["iro"], ["north", "south"]),
    ("afw.ada", "Ada Adoption and Fostering Worker", ["adoption_fostering_worker"], ["north", "south"]),
    ("legal.lee", "Lee Childcare Lawyer", ["legal"], ["north", "south"]),
    ("adm.dev", "Dev Agency Decision Maker", ["adm"], ["north", "south"]),
    ("panel.pat", "Pat Panel Support", ["panel_support"], ["north", "south"]),
    ("po.erin", "Erin Process Owner", ["process_owner"], []),
    ("po.omar", "Omar Process Owner", ["process_owner"], []),  # the second pair of eyes on a diagram
    ("admin.ash", "Ash Administrator", ["admin"], []),
]


class LoginRefused(PathwaysError):
    """The username or password is not right."""


def as_person(user: User) -> Person:
    return Person(user.username, frozenset(user.roles), frozenset(user.teams))


def add_user(rt: Runtime, username: str, password: str | None, roles: list[str], teams: list[str],
             display_name: str, actor: str, email: str | None = None) -> dict[str, Any]:  # fmt: skip
    if not USERNAME.match(username or ""):
        raise InvalidInput("usernames are lower case letters, digits and . _ - (e.g. sw.alice)")
    if password is not None and len(password) < MIN_PASSWORD:
        raise InvalidInput(f"passwords need at least {MIN_PASSWORD} characters")
    if not roles or unknown_roles(roles):
        raise InvalidInput(f"unknown or missing roles: {', '.join(unknown_roles(roles)) or 'none given'}")
    with rt.uow() as uow:
        known = set(uow.session.scalars(select(Team.name)))
        missing = sorted(set(teams) - known)
        if missing:
            raise InvalidInput(f"no such team: {', '.join(missing)} (add it with `pathways teams add`)")
        email = valid_address(email) if email else None
        user = User(username=username, display_name=display_name or username, email=email,
                    password_hash=hash_password(password) if password else None, roles=sorted(set(roles)),
                    teams=sorted(set(teams)), active=True, failed_logins=0, created_at=clock.utcnow())  # fmt: skip
        uow.session.add(user)
        try:
            uow.session.flush()
        except IntegrityError:
            raise InvalidInput(f"there is already a user {username}") from None
        audit(uow.session, None, actor, "user.created", detail=username, after={"roles": roles, "teams": teams})
        commit(uow, "the user")
        return _describe(user)


def add_team(rt: Runtime, name: str, title: str, actor: str) -> None:
    if not USERNAME.match(name or ""):
        raise InvalidInput("team names are lower case letters, digits and . _ - (e.g. north)")
    with rt.uow() as uow:
        if uow.session.get(Team, name) is not None:
            raise InvalidInput(f"there is already a team {name}")
        uow.session.add(Team(name=name, title=title or name))
        audit(uow.session, None, actor, "team.created", detail=f"{name}: {title}")
        commit(uow, "the team")


@functools.lru_cache(maxsize=1)
def _decoy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def authenticate(rt: Runtime, username: str, password: str) -> Person:
    """Check a password; every outcome is audited. A hash from before argon2id is replaced by one
    made now (the password is in hand only here).

    No number of failures locks the account: anyone could then lock a colleague out by typing
    their username. Guessing is throttled by web.limits instead, per address and per account
    from an address (issue 19). An unknown or inactive username costs one password check too
    (against a decoy hash), so the answer's timing does not tell which usernames exist."""
    with rt.uow() as uow:
        user = uow.session.scalar(select(User).where(User.username == username).with_for_update())
        now = clock.utcnow()
        if user is None or not user.active or user.password_hash is None:
            check_password(password, _decoy_hash())
            raise LoginRefused()
        if not check_password(password, user.password_hash):
            user.failed_logins += 1
            audit(uow.session, None, username, "login.failed")
            commit(uow, "the account")
            raise LoginRefused()
        if password_needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
            audit(uow.session, None, username, "user.password_rehashed", detail="argon2id")
        user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
        audit(uow.session, None, username, "login.succeeded")
        commit(uow, "the account")
        return as_person(user)


def set_password(rt: Runtime, username: str, password: str, actor: str) -> int:
    """Change a password; every session of the account ends (audited). Returns how many ended."""
    if len(password or "") < MIN_PASSWORD:
        raise InvalidInput(f"passwords need at least {MIN_PASSWORD} characters")
    with rt.uow() as uow:
        user = uow.session.scalar(select(User).where(User.username == username).with_for_update())
        if user is None:
            raise NotFound(f"there is no user {username}")
        user.password_hash, user.failed_logins, user.locked_until = hash_password(password), 0, None
        audit(uow.session, None, actor, "user.password_changed", detail=username)
        ended = staff_sessions.revoke_in(uow.session, username, actor, "the password was changed")
        commit(uow, "the account")
        return ended


def person(rt: Runtime, username: str) -> Person:
    with rt.uow() as uow:
        user = uow.session.scalar(select(User).where(User.username == username, User.active.is_(True)))
        if user is None:
            raise NotFound(f"no active user {username}")
        return as_person(user)


def list_users(rt: Runtime, team: str | None = None) -> list[dict[str, Any]]:
    with rt.uow() as uow:
        users = uow.session.scalars(select(User).order_by(User.username))
        return [_describe(u) for u in users if team is None or team in u.teams]


def list_teams(rt: Runtime) -> list[dict[str, str]]:
    with rt.uow() as uow:
        return [{"name": t.name, "title": t.title} for t in uow.session.scalars(select(Team).order_by(Team.name))]


def _describe(user: User) -> dict[str, Any]:
    return {"username": user.username, "display_name": user.display_name, "roles": list(user.roles),
            "teams": list(user.teams), "active": user.active}  # fmt: skip


def ensure_demo_users(rt: Runtime) -> list[str]:
    """Create the demo teams and one user per role, if missing (idempotent). Returns those created."""
    created = []
    with rt.uow() as uow:
        existing_teams = set(uow.session.scalars(select(Team.name)))
        existing_users = set(uow.session.scalars(select(User.username)))
    for name, title in DEMO_TEAMS.items():
        if name not in existing_teams:
            add_team(rt, name, title, "demo")
    for username, display_name, roles, teams in DEMO_USERS:
        if username not in existing_users:
            add_user(
                rt,
                username,
                DEMO_PASSWORD,
                roles,
                teams,
                display_name,
                "demo",
                email=f"{username}@{rt.settings.mail_domain}",
            )  # the file sink shows each person's mail
            created.append(username)
    return created
