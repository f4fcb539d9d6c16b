"""Who may see and act on what: pure rules, no I/O.

A person holds one or more **roles** and belongs to one or more **teams**. A step belongs to a
role (its BPMN lane or candidate group) and to the team holding the case. A person may act on a
step when they hold its role and either belong to its team, or are a head of service or an
administrator (who cover every team). Staff accounts carry names; children never do.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

# Account roles; each lets a person act on steps in these diagram roles (lanes / candidate groups).
ROLE_STEPS: dict[str, frozenset[str]] = {
    "social_worker": frozenset({"social_worker", "cic_social_worker"}),
    "team_manager": frozenset({"team_manager"}),
    "services_manager": frozenset({"services_manager", "nominated_officer"}),
    "head_of_service": frozenset({"head_of_service"}),
    "iro": frozenset({"iro"}),
    "adoption_fostering_worker": frozenset({"adoption_social_worker", "adoption_team", "sgo_assessor"}),
    "legal": frozenset({"legal"}),
    "adm": frozenset({"adm"}),
    "panel_support": frozenset({"panel_support", "permanency_panel", "adoption_panel"}),
    "process_owner": frozenset(),
    "admin": frozenset(),
}
ALL_TEAMS_ROLES = frozenset({"head_of_service", "admin"})
MANAGER_ROLES = frozenset({"team_manager", "services_manager", "head_of_service"})
STARTER_ROLES = frozenset({"social_worker"}) | MANAGER_ROLES  # may start a pathway for a child
MODELLER_ROLES = frozenset({"process_owner"})  # edit, approve and publish diagrams; migrate cases


@dataclass(frozen=True)
class Person:
    username: str
    roles: frozenset[str]
    teams: frozenset[str]

    @property
    def step_roles(self) -> frozenset[str]:
        return frozenset().union(*(ROLE_STEPS.get(r, frozenset()) for r in self.roles))

    @property
    def all_teams(self) -> bool:
        return bool(self.roles & ALL_TEAMS_ROLES)

    def may_act_on(self, step_role: str | None, step_team: str | None) -> bool:
        return step_role in self.step_roles and self.may_see_team(step_team)

    @property
    def has_inbox(self) -> bool:
        """Steps can come to this person: practitioners, and managers of steps in their teams."""
        return bool(self.step_roles) or self.oversees

    @property
    def oversees(self) -> bool:
        """Managers see every role's steps in their teams (to assign them), not only their own role's."""
        return bool(self.roles & MANAGER_ROLES)

    @property
    def may_start_pathways(self) -> bool:
        return bool(self.roles & STARTER_ROLES)

    @property
    def models_pathways(self) -> bool:
        return bool(self.roles & MODELLER_ROLES)

    def may_see_team(self, team: str | None) -> bool:
        return self.all_teams or team is None or team in self.teams

    def may_view_step(self, step_role: str | None, step_team: str | None) -> bool:
        """Look at a step (and its case): those who may act on it, and managers of its team."""
        return self.may_act_on(step_role, step_team) or self.may_assign_in(step_team)

    def may_assign_in(self, team: str | None) -> bool:
        """Team managers (and above) assign and reassign steps within their teams."""
        return self.oversees and (self.all_teams or team in self.teams)


def unknown_roles(roles: Iterable[str]) -> list[str]:
    return sorted(set(roles) - set(ROLE_STEPS))


# Passwords: argon2id (argon2-cffi) at OWASP's minimum (19 MiB, 2 passes, 1 lane), salted, the
# parameters stored in the hash. Hashes from before (scrypt, N=2^14) still verify and are
# replaced at the next sign-in (``password_needs_rehash``), as are argon2 hashes with weaker
# parameters than these.
_ARGON2 = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1, hash_len=32, salt_len=16, type=Type.ID)


def hash_password(password: str) -> str:
    return _ARGON2.hash(password)


def check_password(password: str, stored: str) -> bool:
    if stored.startswith("$argon2"):
        try:
            return _ARGON2.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=32)
    return hmac.compare_digest(candidate.hex(), digest)


def password_needs_rehash(stored: str) -> bool:
    """True for a hash made before argon2id, or with weaker parameters than today's."""
    if not stored.startswith("$argon2"):
        return True
    try:
        return _ARGON2.check_needs_rehash(stored)
    except InvalidHashError:
        return True
