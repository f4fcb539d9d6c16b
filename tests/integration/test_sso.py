"""Single sign-on through a real OpenID provider on loopback (node-oidc-provider), never a mock (issue 19).

The happy path with group-mapped roles; a token for another audience, an expired one, a bad
signature and a wrong nonce refused; a replayed callback refused; a person in no mapped group
refused; a group removed in the directory between two sign-ins; an account an administrator made
linked at first sign-in; passwords switched off; sign-out ending the provider's session too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import select

from engine.persistence.models import AuditEvent, User
from engine.services import accounts, sso
from tests.oidc import APP_URL, CLIENT_ID, CLIENT_SECRET, OTHER_ID, OTHER_SECRET, LocalProvider, sign_in_at, token_for
from web import create_app
from web import sso as web_sso

ALICE = {
    "oid": "oid-alice",
    "name": "Alice Example",
    "email": "alice@council.gov.uk",
    "preferred_username": "alice@council.gov.uk",
    "groups": ["g-tm-north"],
}
BOB = {"oid": "oid-bob", "name": "Bob Example", "email": "bob@council.gov.uk", "groups": ["g-unknown"]}
CARLA = {"oid": "oid-carla", "name": "Carla Example", "email": "Carla@Council.gov.uk", "groups": ["g-sw-north"]}
PEOPLE = {
    "alice": {"sub": "sub-alice", "claims": ALICE},
    "bob": {"sub": "sub-bob", "claims": BOB},
    "carla": {"sub": "sub-carla", "claims": CARLA},
}


@pytest.fixture(scope="module")
def provider():  # type: ignore[no-untyped-def]
    found = LocalProvider(PEOPLE)
    yield found
    found.stop()


@pytest.fixture
def sso_app(rt, now, provider, monkeypatch):  # type: ignore[no-untyped-def]
    now.set(datetime.now(UTC))  # the provider stamps tokens with the real time
    provider.set_people(PEOPLE)
    for name, value in {"OIDC_DISCOVERY_URL": provider.discovery_url, "OIDC_CLIENT_ID": CLIENT_ID,
                        "OIDC_CLIENT_SECRET": CLIENT_SECRET, "OIDC_CREATE_ACCOUNTS": "1",
                        "OIDC_LABEL": "Sign in with Microsoft"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    for team in ("north", "south"):
        accounts.add_team(rt, team, team.title(), "admin")
    sso.map_group(rt, "g-tm-north", "team_manager", "north", "admin")
    sso.map_group(rt, "g-sw-north", "social_worker", "north", "admin")
    return create_app({"SECRET_KEY": "test-secret", "TESTING": True}, runtime=rt)


def _sign_in(app, login: str):  # type: ignore[no-untyped-def]
    """The whole flow: the app's button, the provider's login page, the app's callback. (client, callback answer)"""
    client = app.test_client()
    assert "Sign in with Microsoft" in client.get("/login").text
    start = client.get("/sso/login?next=/")
    assert start.status_code == 302
    query = parse_qs(urlsplit(start.headers["Location"]).query)
    assert query["code_challenge_method"] == ["S256"] and query["state"] and query["nonce"]
    back = sign_in_at(start.headers["Location"], login, f"{APP_URL}/sso/callback")
    parts = urlsplit(back)
    return client, client.get(f"{parts.path}?{parts.query}"), f"{parts.path}?{parts.query}"


def _actions(rt) -> list[tuple[str, str, str | None]]:  # type: ignore[no-untyped-def]
    with rt.reading() as uow:
        return [(a.actor, a.action, a.detail) for a in uow.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def _user(rt, **where):  # type: ignore[no-untyped-def]
    with rt.reading() as uow:
        return uow.session.scalars(select(User).filter_by(**where)).one()


def test_sign_in_through_the_provider_with_group_mapped_roles_and_out_again(sso_app, rt, provider):
    client, answer, _ = _sign_in(sso_app, "alice")
    assert answer.status_code == 302 and answer.headers["Location"] == "/"
    alice = _user(rt, email="alice@council.gov.uk")
    assert (alice.username, alice.roles, alice.teams, alice.display_name) == (
        "alice", ["team_manager"], ["north"], "Alice Example")  # fmt: skip
    assert alice.sso_subject == f"{provider.issuer}#oid-alice" and alice.password_hash is None
    assert client.get("/").status_code == 200  # signed in
    assert ("single sign-on", "user.created", "alice at first single sign-on") in _actions(rt)
    out = client.post("/logout", data={"csrf_token": client.get("/").text.split('name="csrf_token" value="')[1]
                                       .split('"')[0]})  # fmt: skip
    ending = urlsplit(out.headers["Location"])
    assert f"{ending.scheme}://{ending.netloc}" == provider.issuer and ending.path == "/session/end"
    hint = parse_qs(ending.query)
    assert hint["id_token_hint"] and hint["post_logout_redirect_uri"] == ["http://localhost/login?signed_out=1"]
    assert client.get("/").status_code == 302  # signed out here too
    again, answer, _ = _sign_in(sso_app, "alice")  # the same account, found by its subject
    assert answer.status_code == 302 and _user(rt, sso_subject=f"{provider.issuer}#oid-alice").username == "alice"


def test_a_replayed_callback_is_refused(sso_app, rt):
    client, answer, callback = _sign_in(sso_app, "alice")
    assert answer.status_code == 302
    replay = client.get(callback)
    assert replay.status_code == 400 and "already been used or has expired" in replay.text
    stranger = sso_app.test_client().get(callback)  # another browser with the stolen address
    assert stranger.status_code == 400


def test_a_person_in_no_mapped_group_is_refused_and_no_account_made(sso_app, rt):
    _client, answer, _ = _sign_in(sso_app, "bob")
    assert answer.status_code == 403 and "not in a group that gives a role" in answer.text
    with rt.reading() as uow:
        assert uow.session.scalar(select(User).where(User.email == "bob@council.gov.uk")) is None
    assert ("bob@council.gov.uk", "login.refused", "single sign-on: in no group that has a role here") in _actions(rt)


def test_a_group_removed_between_two_sign_ins_removes_its_role(sso_app, rt, provider):
    _sign_in(sso_app, "alice")
    assert _user(rt, username="alice").roles == ["team_manager"]
    moved = {**PEOPLE, "alice": {**PEOPLE["alice"], "claims": {**PEOPLE["alice"]["claims"], "groups": ["g-sw-north"]}}}
    provider.set_people(moved)  # the directory: Alice left the managers' group
    client, answer, _ = _sign_in(sso_app, "alice")
    assert answer.status_code == 302
    alice = _user(rt, username="alice")
    assert alice.roles == ["social_worker"] and alice.teams == ["north"]
    assert client.get("/manage").status_code == 403  # no longer a manager's page for her
    assert ("single sign-on", "user.sso_updated", "alice") in _actions(rt)
    provider.set_people({**PEOPLE, "alice": {**PEOPLE["alice"], "claims": {**PEOPLE["alice"]["claims"], "groups": []}}})
    _client, refused, _ = _sign_in(sso_app, "alice")
    assert refused.status_code == 403  # in no mapped group at all now


def test_an_account_an_administrator_made_is_linked_at_first_sign_in(sso_app, rt, provider, monkeypatch):
    monkeypatch.setenv("OIDC_CREATE_ACCOUNTS", "0")
    app = create_app({"SECRET_KEY": "test-secret", "TESTING": True}, runtime=rt)
    _client, refused, _ = _sign_in(app, "alice")  # no account, and none made at sign-in
    assert refused.status_code == 403 and "no Permanence Pathways account for you yet" in refused.text
    accounts.add_user(
        rt, "sw.carla", None, ["social_worker"], ["north"], "Carla", "admin", email="carla@council.gov.uk"
    )
    client, answer, _ = _sign_in(app, "carla")
    assert answer.status_code == 302
    carla = _user(rt, username="sw.carla")
    assert carla.sso_subject == f"{provider.issuer}#oid-carla" and carla.email == "Carla@Council.gov.uk"
    assert ("sw.carla", "user.sso_linked", "linked by address Carla@Council.gov.uk") in _actions(rt)


def test_local_passwords_can_be_switched_off(sso_app, rt, monkeypatch):
    monkeypatch.setenv("LOCAL_PASSWORDS", "off")
    accounts.add_user(rt, "sw.local", "a long enough password", ["social_worker"], ["north"], "Local", "admin")
    app = create_app({"SECRET_KEY": "test-secret", "TESTING": True}, runtime=rt)
    client = app.test_client()
    page = client.get("/login").text
    assert "Sign in with Microsoft" in page and 'name="password"' not in page
    with client.session_transaction() as session:  # as a form kept from before would carry it
        session["csrf"] = token = "kept-token"
    refused = client.post("/login", data={"csrf_token": token, "username": "sw.local",
                                          "password": "a long enough password"})  # fmt: skip
    assert refused.status_code == 400 and "passwords are not used here" in refused.text


def _checked(provider, token: str, nonce: str) -> dict:  # type: ignore[no-untyped-def]
    config = web_sso.SsoConfig(provider.discovery_url, CLIENT_ID, CLIENT_SECRET, f"{APP_URL}/sso/callback")
    return web_sso.validate_id_token(token, web_sso.Provider(config), nonce)


def test_tokens_for_another_audience_expired_badly_signed_or_with_another_nonce_are_refused(sso_app, rt, now, provider):
    good = token_for(provider, "alice", CLIENT_ID, CLIENT_SECRET, nonce="n-1")
    assert _checked(provider, good, "n-1")["oid"] == "oid-alice"
    with pytest.raises(web_sso.SignInProblem, match="nonce"):
        _checked(provider, good, "another nonce")
    other = token_for(provider, "alice", OTHER_ID, OTHER_SECRET, nonce="n-2")  # real, but issued to another app
    with pytest.raises(web_sso.SignInProblem, match="aud"):
        _checked(provider, other, "n-2")
    head, body, signature = good.split(".")
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    with pytest.raises(web_sso.SignInProblem):
        _checked(provider, f"{head}.{body}.{flipped}", "n-1")
    with pytest.raises(web_sso.SignInProblem):  # another body under the same signature
        _checked(provider, f"{head}.{other.split('.')[1]}.{signature}", "n-1")
    now.advance(hours=2)  # the ID token lives an hour
    with pytest.raises(web_sso.SignInProblem, match="exp"):
        _checked(provider, good, "n-1")
    now.set(datetime.now(UTC) - timedelta(hours=1))  # issued "in the future" by this clock
    with pytest.raises(web_sso.SignInProblem, match="issued in the future"):
        _checked(provider, good, "n-1")


def test_the_provider_refuses_a_code_used_twice(sso_app, provider):
    client = sso_app.test_client()
    start = client.get("/sso/login")
    back = sign_in_at(start.headers["Location"], "alice", f"{APP_URL}/sso/callback")
    code = parse_qs(urlsplit(back).query)["code"][0]
    parts = urlsplit(back)
    assert client.get(f"{parts.path}?{parts.query}").status_code == 302
    metadata = requests.get(provider.discovery_url, timeout=30).json()
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": f"{APP_URL}/sso/callback"}
    again = requests.post(metadata["token_endpoint"], data=form, auth=(CLIENT_ID, CLIENT_SECRET), timeout=30)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_administrators_keep_the_group_table_on_a_page_and_at_the_command_line(app, rt, cli):
    from tests.webclient import Staff

    admin = Staff(app, "admin.ash")
    page = admin.get("/admin/sso").text
    assert "No group gives a role yet" in page and "Single sign-on is not set up" in page
    admin.post("/admin/sso", {"group_id": "0b5c-tm-north", "role": "team_manager", "team": "north"})
    refused = admin.post("/admin/sso", {"group_id": "0b5c-tm-north", "role": "team_manager", "team": "north"},
                         status=400).text  # fmt: skip
    assert "already gives team_manager in north" in refused and 'value="0b5c-tm-north"' in refused
    assert "unknown role" in admin.post("/admin/sso", {"group_id": "g", "role": "wizard"}, status=400).text
    [found] = sso.list_group_maps(rt)
    assert (found["group_id"], found["role"], found["team"], found["created_by"]) == (
        "0b5c-tm-north", "team_manager", "north", "admin.ash")  # fmt: skip
    Staff(app, "tm.carol").get("/admin/sso", status=403)
    asked = admin.post(f"/admin/sso/{found['id']}/remove", status=200).text
    assert "Stop this group giving a role?" in asked and "0b5c-tm-north" in asked and "Team manager" in asked
    assert len(sso.list_group_maps(rt)) == 1  # nothing removed until confirmed
    admin.post(f"/admin/sso/{found['id']}/remove", {"confirmed": "yes"})
    assert sso.list_group_maps(rt) == []
    assert ("admin.ash", "sso.group_unmapped", "0b5c-tm-north: team_manager north") in _actions(rt)
    assert "group hos gives head_of_service" in cli("sso", "map-group", "hos", "--role", "head_of_service").output
    assert "0: " not in cli("sso", "groups").output and "hos gives head_of_service" in cli("sso", "groups").output
    assert "unknown role 'wizard'" in cli("sso", "map-group", "x", "--role", "wizard", ok=False).stderr
    assert "give --email with --sso" in cli("users", "add", "x.y", "--name", "X", "--role", "social_worker", "--sso",
                                            ok=False).output  # fmt: skip
