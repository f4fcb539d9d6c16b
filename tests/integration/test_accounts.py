"""Staff accounts: creation, login, and the demo users."""

from __future__ import annotations

import pytest

from engine.domain.access import ROLE_STEPS
from engine.errors import InvalidInput, NotFound
from engine.services import accounts


def test_demo_users_cover_every_role_and_are_created_once(rt, now):
    created = accounts.ensure_demo_users(rt)
    assert len(created) == len(accounts.DEMO_USERS)
    assert accounts.ensure_demo_users(rt) == []  # idempotent: `make run` calls it every time
    roles = {role for user in accounts.list_users(rt) for role in user["roles"]}
    assert roles == set(ROLE_STEPS)
    assert [u["username"] for u in accounts.list_users(rt, team="north")][:2] == ["adm.dev", "afw.ada"]


def test_login_succeeds_and_a_wrong_or_unknown_one_is_refused(rt, now):
    """Failures are throttled by the web (tests/integration/test_rate_limits.py), never by locking the account."""
    accounts.ensure_demo_users(rt)
    person = accounts.authenticate(rt, "sw.alice", accounts.DEMO_PASSWORD)
    assert person.may_act_on("social_worker", "north") and not person.may_act_on("social_worker", "south")
    with pytest.raises(accounts.LoginRefused):
        accounts.authenticate(rt, "sw.alice", "wrong password")
    with pytest.raises(accounts.LoginRefused):
        accounts.authenticate(rt, "nobody", "whatever password")


def test_accounts_are_validated(rt, now):
    accounts.add_team(rt, "north", "North", "admin")
    for args, message in (
        (("Bad Name", "long enough pw", ["social_worker"], ["north"]), "usernames"),
        (("sw.x", "short", ["social_worker"], ["north"]), "at least 12"),
        (("sw.x", "long enough pw", ["wizard"], ["north"]), "unknown or missing roles: wizard"),
        (("sw.x", "long enough pw", ["social_worker"], ["east"]), "no such team: east"),
    ):
        with pytest.raises(InvalidInput, match=message):
            accounts.add_user(rt, *args, display_name="X", actor="admin")
    accounts.add_user(rt, "sw.x", None, ["social_worker"], ["north"], "SSO only", "admin")
    with pytest.raises(InvalidInput, match="already a user"):
        accounts.add_user(rt, "sw.x", None, ["social_worker"], ["north"], "again", "admin")
    with pytest.raises(accounts.LoginRefused):  # single sign-on accounts have no password
        accounts.authenticate(rt, "sw.x", "long enough pw")
    assert accounts.person(rt, "sw.x").teams == frozenset({"north"})
    with pytest.raises(NotFound):
        accounts.person(rt, "nobody")
