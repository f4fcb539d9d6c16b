"""Passwords (argon2id, old hashes replaced at sign-in) and rate limits (issue 19).

Failed sign-ins are throttled per address, per account from an address and per account from
anywhere, so nobody can lock a colleague out by typing their username; inbound events are
limited per sender and the API per token; every refusal is a 429 with ``Retry-After``. The counts
are in the database, shared by every web process, and move on with the injected clock."""

from __future__ import annotations

import hashlib
import secrets

import pytest
from sqlalchemy import func, select, update

from engine import services
from engine.persistence.models import AuditEvent, RateLimit, User
from engine.services import accounts, rate_limits
from engine.services.accounts import DEMO_PASSWORD
from tests.cms import event, signed
from web import create_app


def _web(rt, monkeypatch, **limits: str):  # type: ignore[no-untyped-def]
    """A web process with these limits (RATE_LIMIT_* variables); the demo users exist."""
    for name, value in limits.items():
        monkeypatch.setenv(f"RATE_LIMIT_{name.upper()}", value)
    accounts.ensure_demo_users(rt)
    return create_app({"SECRET_KEY": "test-secret", "TESTING": True}, runtime=rt)


def _sign_in(app, username: str, password: str, address: str = "10.0.0.1"):  # type: ignore[no-untyped-def]
    client = app.test_client()
    environ = {"REMOTE_ADDR": address}
    token = client.get("/login", environ_base=environ).text.split('name="csrf_token" value="')[1].split('"')[0]
    return client.post("/login", data={"csrf_token": token, "username": username, "password": password},
                       environ_base=environ)  # fmt: skip


def test_five_wrong_passwords_hold_back_that_address_not_the_colleague_elsewhere(rt, now, monkeypatch):
    app = _web(rt, monkeypatch)
    for _ in range(5):
        refused = _sign_in(app, "sw.alice", "not the password")
        assert refused.status_code == 401 and "The username or password is not right" in refused.text
    held = _sign_in(app, "sw.alice", DEMO_PASSWORD)  # the right password waits too, from here
    assert held.status_code == 429
    assert "Too many tries to sign in. Wait 15 minutes" in held.text
    assert 0 < int(held.headers["Retry-After"]) <= 15 * 60
    assert 'value="sw.alice"' in held.text  # the form is kept
    elsewhere = _sign_in(app, "sw.alice", DEMO_PASSWORD, address="10.0.0.2")  # Alice at her own desk
    assert elsewhere.status_code == 302
    assert _sign_in(app, "sw.sam", DEMO_PASSWORD).status_code == 302  # a colleague at the first address
    now.advance(minutes=16)
    assert _sign_in(app, "sw.alice", DEMO_PASSWORD).status_code == 302


def test_a_successful_sign_in_is_not_counted(rt, now, monkeypatch):
    app = _web(rt, monkeypatch, sign_in_address="3 per 15 minutes")
    for _ in range(6):
        assert _sign_in(app, "sw.alice", DEMO_PASSWORD).status_code == 302


def test_one_address_guessing_many_accounts_is_held_back(rt, now, monkeypatch):
    app = _web(rt, monkeypatch, sign_in_address="3 per 15 minutes")
    for username in ("sw.alice", "sw.sam", "tm.carol"):
        assert _sign_in(app, username, "guess").status_code == 401
    assert _sign_in(app, "tm.tom", "guess").status_code == 429
    assert _sign_in(app, "tm.tom", DEMO_PASSWORD, address="10.0.0.9").status_code == 302


def test_guessing_one_account_from_many_addresses_is_held_back(rt, now, monkeypatch):
    app = _web(rt, monkeypatch, sign_in_account_anywhere="4 per hour")
    for n in range(4):
        assert _sign_in(app, "sw.alice", "guess", address=f"10.0.1.{n}").status_code == 401
    assert _sign_in(app, "sw.alice", "guess", address="10.0.1.99").status_code == 429
    assert _sign_in(app, "sw.sam", DEMO_PASSWORD, address="10.0.1.99").status_code == 302


def test_the_counts_are_shared_by_every_web_process(rt, now, monkeypatch):
    first, second = _web(rt, monkeypatch), _web(rt, monkeypatch)
    for app in (first, second, first, second, first):
        assert _sign_in(app, "sw.alice", "guess").status_code == 401
    assert _sign_in(second, "sw.alice", DEMO_PASSWORD).status_code == 429


def test_in_memory_counts_are_kept_per_process(rt, now, monkeypatch):
    monkeypatch.setenv("RATE_LIMIT_STORAGE", "memory")
    app = _web(rt, monkeypatch, sign_in_account="2 per 15 minutes")
    for _ in range(2):
        assert _sign_in(app, "sw.alice", "guess").status_code == 401
    assert _sign_in(app, "sw.alice", DEMO_PASSWORD).status_code == 429
    with rt.reading() as uow:
        assert uow.session.scalar(select(func.count()).select_from(RateLimit)) == 0


def test_inbound_events_are_limited_per_sender(rt, now, monkeypatch):
    app = _web(rt, monkeypatch, webhooks="2 per minute")
    lcs, eclipse = services.add_sender(rt, "lcs", "admin.ash"), services.add_sender(rt, "eclipse", "admin.ash")
    client = app.test_client()

    def send(secret: str, ref: str, address: str = "10.0.2.1"):  # type: ignore[no-untyped-def]
        body, headers = signed(secret, event("child.looked_after", ref, "2026-12-01T09:00:00Z"))
        return client.post("/webhooks/events", data=body, headers=headers, environ_base={"REMOTE_ADDR": address})

    assert send(lcs, "CH-1").status_code in (200, 202)
    assert send(lcs, "CH-2", address="10.0.2.2").status_code in (200, 202)  # one sender, two addresses
    refused = send(lcs, "CH-3")
    assert refused.status_code == 429 and refused.json["error"]["code"] == "too_many_requests"
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert send(eclipse, "CH-4").status_code in (200, 202)  # another sender has its own count
    for _ in range(2):  # an unsigned flood is counted per address
        assert client.post("/webhooks/events", data=b"{}", environ_base={"REMOTE_ADDR": "10.0.2.9"}).status_code == 401
    assert client.post("/webhooks/events", data=b"{}", environ_base={"REMOTE_ADDR": "10.0.2.9"}).status_code == 429
    now.advance(seconds=61)
    assert send(lcs, "CH-5").status_code in (200, 202)


def test_the_api_is_limited_per_token(rt, now, monkeypatch):
    app = _web(rt, monkeypatch, api="3 per minute")
    first = services.create_token(rt, "first", "sw.alice", ["cases:read"], "admin.ash")
    second = services.create_token(rt, "second", "sw.alice", ["cases:read"], "admin.ash")
    client = app.test_client()

    def cases(token: str):  # type: ignore[no-untyped-def]
        return client.get("/api/v1/cases", headers={"Authorization": f"Bearer {token}"})

    for _ in range(3):
        assert cases(first).status_code == 200
    refused = cases(first)
    assert refused.status_code == 429 and "try again in" in refused.json["error"]["message"]
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert cases(second).status_code == 200
    with rt.reading() as uow:  # the token itself is never stored as a key
        keys = list(uow.session.scalars(select(RateLimit.key)))
    assert keys and not any(first in key or second in key for key in keys)
    now.advance(seconds=61)
    assert cases(first).status_code == 200


def test_the_worker_prunes_ended_windows(rt, now):
    rate_limits.incr(rt, "ended", 60)
    rate_limits.incr(rt, "running", 3600)
    assert rate_limits.incr(rt, "running", 3600) == 2
    now.advance(minutes=2)
    assert rate_limits.get(rt, "ended") == 0 and rate_limits.get(rt, "running") == 2
    assert rate_limits.incr(rt, "ended", 60) == 1  # an ended window starts afresh
    now.advance(minutes=2)
    assert rate_limits.prune(rt) == 1
    with rt.reading() as uow:
        assert list(uow.session.scalars(select(RateLimit.key))) == ["running"]


def test_passwords_are_argon2id_and_old_scrypt_hashes_are_replaced_at_sign_in(rt, now):
    accounts.add_team(rt, "north", "North", "admin")
    accounts.add_user(rt, "sw.new", "a long enough password", ["social_worker"], ["north"], "New", "admin")
    accounts.add_user(rt, "sw.old", "a long enough password", ["social_worker"], ["north"], "Old", "admin")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(b"an older password", salt=salt, n=2**14, r=8, p=1, dklen=32)
    with rt.uow() as uow:  # as a database from before issue 19 holds it
        uow.session.execute(update(User).where(User.username == "sw.old")
                            .values(password_hash=f"scrypt${2**14}$8$1${salt.hex()}${digest.hex()}"))  # fmt: skip
        uow.commit()

    def stored(username: str) -> str:
        with rt.reading() as uow:
            return str(uow.session.scalar(select(User.password_hash).where(User.username == username)))

    assert stored("sw.new").startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    with pytest.raises(accounts.LoginRefused):
        accounts.authenticate(rt, "sw.old", "not it")
    assert stored("sw.old").startswith("scrypt$")  # a wrong password changes nothing
    assert accounts.authenticate(rt, "sw.old", "an older password").username == "sw.old"
    assert stored("sw.old").startswith("$argon2id$")
    assert accounts.authenticate(rt, "sw.old", "an older password").username == "sw.old"  # the new hash works
    with rt.reading() as uow:
        rehashed = uow.session.scalar(select(func.count()).select_from(AuditEvent)
                                      .where(AuditEvent.action == "user.password_rehashed"))  # fmt: skip
    assert rehashed == 1


def test_wrong_passwords_never_lock_the_account(rt, now):
    accounts.ensure_demo_users(rt)
    for _ in range(20):
        with pytest.raises(accounts.LoginRefused):
            accounts.authenticate(rt, "sw.alice", "wrong password")
    assert accounts.authenticate(rt, "sw.alice", DEMO_PASSWORD).username == "sw.alice"
