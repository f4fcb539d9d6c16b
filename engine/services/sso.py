"""Single sign-on: the account for a person the identity provider vouched for, and their roles.

web.sso speaks OpenID Connect (authorisation code with PKCE, the ID token checked) and hands over
the token's claims; this finds the account and works out its roles, and knows nothing of the
protocol. Every outcome is audited.

- The account is found by the provider's **stable subject** (Entra ID's ``oid``, else ``sub``),
  qualified by the issuer. An account an administrator made for single sign-on
  (``pathways users add --sso --email ...``, no password) is linked at the person's first
  sign-in by that address. Otherwise an account is made at first sign-in only when the
  administrator allows it (``OIDC_CREATE_ACCOUNTS=1``).
- **Roles and teams** come from the token's groups through the table an administrator keeps
  (``pathways sso map-group GROUP --role R --team T``), worked out afresh at every sign-in: a
  group removed in the directory removes its role at the next sign-in. A person in no mapped
  group is refused. With no group mapped at all (SSO used only to sign in), the roles an
  administrator gave the account stay as they are.
- The address from the token (``email``, else an address-like ``preferred_username``) becomes
  the account's, so email goes to the person's own mailbox.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from engine import clock
from engine.bootstrap import Runtime
from engine.domain.access import ROLE_STEPS, Person
from engine.errors import InvalidInput, NotFound, PathwaysError
from engine.persistence.models import SsoGroupMap, Team, User
from engine.services._common import audit, commit
from engine.services.recipients import ADDRESS

ACTOR = "single sign-on"


class SsoRefused(PathwaysError):
    """The identity provider vouched for this person, but they may not use this service (yet)."""


def subject_of(claims: dict[str, Any]) -> str:
    stable = claims.get("oid") or claims.get("sub")
    if not stable or not claims.get("iss"):
        raise SsoRefused("the sign-in did not say who you are (no subject): try again")
    return f"{claims['iss']}#{stable}"


def _address(claims: dict[str, Any]) -> str | None:
    for candidate in (claims.get("email"), claims.get("preferred_username"), claims.get("upn")):
        if isinstance(candidate, str) and len(candidate) <= 300 and ADDRESS.match(candidate.strip()):
            return candidate.strip()
    return None


def _groups(claims: dict[str, Any], claim: str) -> list[str]:
    found = claims.get(claim) or []
    return [str(g) for g in found] if isinstance(found, list) else [str(found)]


def roles_from_groups(maps: Iterable[SsoGroupMap], groups: Iterable[str]) -> tuple[list[str], list[str]]:
    held = set(groups)
    chosen = [m for m in maps if m.group_id in held]
    return sorted({m.role for m in chosen}), sorted({m.team for m in chosen if m.team})


def sign_in(rt: Runtime, claims: dict[str, Any], allow_create: bool = False, groups_claim: str = "groups") -> Person:
    """The person for a validated ID token's claims (raises SsoRefused, audited, when they may not sign in)."""
    subject = subject_of(claims)
    address = _address(claims)
    with rt.uow() as uow:
        session = uow.session
        maps = list(session.scalars(select(SsoGroupMap)))
        roles, teams = roles_from_groups(maps, _groups(claims, groups_claim))
        user, linked = _find_account(session, subject, address)
        who = user.username if user else address or subject
        if maps and not roles:
            _refuse(uow, who, "in no group that has a role here",
                    "Your account is not in a group that gives a role in Permanence Pathways. Ask your "
                    "administrator to add you to the right group.")  # fmt: skip
        if user is None and not allow_create:
            _refuse(
                uow,
                who,
                "no account, and accounts are not made at sign-in",
                "There is no Permanence Pathways account for you yet. Ask your administrator to make one.",
            )
        if user is None and not roles:
            _refuse(
                uow,
                who,
                "no group maps, so no role to give a new account",
                "Your account has no role in Permanence Pathways. Ask your administrator.",
            )
        if user is not None and not user.active:
            _refuse(
                uow,
                who,
                "the account is not active",
                "Your Permanence Pathways account has been closed. Ask your administrator.",
            )
        if user is None:
            user = _create(session, claims, subject, address, roles, teams)
        if linked:
            user.sso_subject = subject
            audit(session, None, user.username, "user.sso_linked", detail=f"linked by address {address}")
        _update(session, user, claims, address, roles if maps else None, teams)
        user.last_login_at = clock.utcnow()
        audit(session, None, user.username, "login.succeeded", detail="single sign-on")
        commit(uow, "the account")
        return Person(user.username, frozenset(user.roles), frozenset(user.teams))


def _find_account(session: Any, subject: str, address: str | None) -> tuple[User | None, bool]:
    """(the account, whether it is being linked now): by subject, else an unlinked SSO account with the address."""
    user = session.scalar(select(User).where(User.sso_subject == subject).with_for_update())
    if user is not None or not address:
        return user, False
    user = session.scalar(select(User).where(
        func.lower(User.email) == address.lower(), User.password_hash.is_(None),
        User.sso_subject.is_(None)).with_for_update())  # fmt: skip
    return user, user is not None


def _update(session: Any, user: User, claims: dict[str, Any], address: str | None, roles: list[str] | None,
            teams: list[str]) -> None:  # fmt: skip
    """Roles and teams from the groups (``roles`` None: the account's own stay), the address and the name."""
    before = {"roles": list(user.roles), "teams": list(user.teams), "email": user.email}
    if roles is not None:
        user.roles, user.teams = roles, teams
    if address:
        user.email = address
    if isinstance(claims.get("name"), str) and claims["name"].strip():
        user.display_name = claims["name"].strip()[:200]
    after = {"roles": list(user.roles), "teams": list(user.teams), "email": user.email}
    if after != before:
        audit(session, None, ACTOR, "user.sso_updated", detail=user.username, before=before, after=after)


def _refuse(uow: Any, who: str, why: str, message: str) -> None:
    """Record the refusal in the sign-in's own transaction (nothing else of it is kept), then refuse."""
    uow.session.rollback()
    audit(uow.session, None, who[:200], "login.refused", detail=f"single sign-on: {why}")
    commit(uow, "the refusal")
    raise SsoRefused(message)


def _create(session: Any, claims: dict[str, Any], subject: str, address: str | None, roles: list[str],
            teams: list[str]) -> User:  # fmt: skip
    base = re.sub(r"[^a-z0-9._-]", "", (address or str(claims.get("preferred_username") or "")).split("@")[0].lower())
    base = (base if re.match(r"^[a-z]", base) else f"u{base}")[:90] or "user"
    username, n = base, 1
    while session.scalar(select(User.id).where(User.username == username)) is not None:
        n += 1
        username = f"{base}{n}"
    name = str(claims.get("name") or username)[:200]
    user = User(username=username, display_name=name, email=address, password_hash=None, sso_subject=subject,
                roles=roles, teams=teams, active=True, failed_logins=0, created_at=clock.utcnow())  # fmt: skip
    session.add(user)
    session.flush()
    audit(session, None, ACTOR, "user.created", detail=f"{username} at first single sign-on",
          after={"roles": roles, "teams": teams})  # fmt: skip
    return user


# --- the group table an administrator keeps --------------------------------------------------
def map_group(rt: Runtime, group_id: str, role: str, team: str | None, actor: str) -> dict[str, Any]:
    group_id = (group_id or "").strip()
    if not group_id or len(group_id) > 200:
        raise InvalidInput("give the group's id as the directory shows it (Entra ID: its object id)")
    if role not in ROLE_STEPS:
        raise InvalidInput(f"unknown role {role!r}: one of {', '.join(sorted(ROLE_STEPS))}")
    with rt.uow() as uow:
        if team is not None and uow.session.get(Team, team) is None:
            raise InvalidInput(f"no such team: {team} (add it with `pathways teams add`)")
        row = SsoGroupMap(group_id=group_id, role=role, team=team, created_at=clock.utcnow(), created_by=actor)
        uow.session.add(row)
        try:
            uow.session.flush()
        except IntegrityError:
            raise InvalidInput(f"group {group_id} already gives {role}" + (f" in {team}" if team else "")) from None
        audit(uow.session, None, actor, "sso.group_mapped", detail=f"{group_id}: {role} {team or ''}".strip())
        commit(uow, "the group map")
        return _describe(row)


def unmap_group(rt: Runtime, map_id: int, actor: str) -> None:
    """Stop a group giving a role (audited, with what it gave): it takes effect at each person's next sign-in."""
    with rt.uow() as uow:
        row = uow.session.get(SsoGroupMap, map_id)
        if row is None:
            raise NotFound(f"there is no group map {map_id}")
        audit(uow.session, None, actor, "sso.group_unmapped", detail=f"{row.group_id}: {row.role} {row.team or ''}",
              before=_describe(row))  # fmt: skip
        uow.session.delete(row)
        commit(uow, "the group map")


def list_group_maps(rt: Runtime) -> list[dict[str, Any]]:
    with rt.reading() as uow:
        rows = uow.session.scalars(select(SsoGroupMap).order_by(SsoGroupMap.group_id, SsoGroupMap.role))
        return [_describe(r) for r in rows]


def _describe(row: SsoGroupMap) -> dict[str, Any]:
    return {"id": row.id, "group_id": row.group_id, "role": row.role, "team": row.team, "created_by": row.created_by}
