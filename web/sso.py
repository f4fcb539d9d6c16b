"""Single sign-on with OpenID Connect (Authlib's OAuth 2 client, joserfc for the ID token), Microsoft
Entra ID first; any provider with a discovery document works the same way.

The authorisation code flow with PKCE (S256): ``/sso/login`` keeps a fresh ``state``, ``nonce``
and code verifier in the session and sends the browser to the provider; ``/sso/callback``
takes them back out (once: a replayed callback finds nothing and is refused), exchanges the code
with the client secret and the verifier, and checks the ID token: its signature against the
provider's published keys (fetched again once when a key is unknown: a rotation), the issuer,
the audience (and ``azp`` when there are several), the expiry and issue time (by the engine's
clock, a minute's leeway) and the nonce. engine.services.sso then finds the account and its roles.
Signing out also ends the provider's session where it offers an ``end_session_endpoint``.

Configuration (environment): ``OIDC_DISCOVERY_URL`` (Entra ID:
``https://login.microsoftonline.com/<tenant>/v2.0/.well-known/openid-configuration``),
``OIDC_CLIENT_ID``, ``OIDC_CLIENT_SECRET``, and optionally ``OIDC_SCOPES`` ("openid profile
email"), ``OIDC_GROUPS_CLAIM`` ("groups"), ``OIDC_CREATE_ACCOUNTS`` (1: make an account at a
mapped person's first sign-in), ``OIDC_LABEL`` (the button), ``OIDC_REDIRECT_URI`` (default
``APP_URL/sso/callback``) and ``LOCAL_PASSWORDS`` (``off``: only single sign-on).
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from flask import Blueprint, Flask, current_app, redirect, render_template, request, session
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from werkzeug.wrappers import Response

from engine import clock
from engine.services import sso
from web import security

blueprint = Blueprint("sso", __name__)
PENDING = "sso_pending"
ID_TOKEN = "sso_id_token"
MAX_PENDING = 5  # sign-ins started in several tabs
PENDING_SECONDS = 600  # a sign-in left at the provider for longer is started again
LEEWAY_SECONDS = 60
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256"]


class SignInProblem(Exception):
    """The sign-in could not be checked: say so, never sign anyone in."""


@dataclass(frozen=True)
class SsoConfig:
    discovery_url: str
    client_id: str
    client_secret: str
    redirect_uri: str
    scopes: str = "openid profile email"
    groups_claim: str = "groups"
    create_accounts: bool = False
    label: str = "Sign in with your council account"
    timeout: float = 10.0

    @classmethod
    def from_env(cls, app_url: str) -> SsoConfig | None:
        url = os.environ.get("OIDC_DISCOVERY_URL", "").strip()
        if not url:
            return None
        client_id, secret = os.environ.get("OIDC_CLIENT_ID", "").strip(), os.environ.get("OIDC_CLIENT_SECRET", "")
        if not client_id or not secret:
            raise RuntimeError("OIDC_DISCOVERY_URL is set: OIDC_CLIENT_ID and OIDC_CLIENT_SECRET are needed too")
        return cls(url, client_id, secret, os.environ.get("OIDC_REDIRECT_URI") or f"{app_url.rstrip('/')}/sso/callback",
                   os.environ.get("OIDC_SCOPES", "openid profile email"), os.environ.get("OIDC_GROUPS_CLAIM", "groups"),
                   os.environ.get("OIDC_CREATE_ACCOUNTS", "") in ("1", "true", "yes"),
                   os.environ.get("OIDC_LABEL", "Sign in with your council account"))  # fmt: skip


class Provider:
    """The provider's discovery document and keys, kept an hour per process (a key rotation refetches)."""

    def __init__(self, config: SsoConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None
        self._fetched = 0.0

    def _get(self, url: str) -> Any:
        try:
            response = requests.get(url, timeout=self.config.timeout)
            response.raise_for_status()
            return response.json()
        except (requests.RequestException, ValueError) as exc:
            raise SignInProblem(f"the sign-in service could not be reached ({type(exc).__name__})") from exc

    def metadata(self) -> dict[str, Any]:
        with self._lock:
            if self._metadata is None or time.monotonic() - self._fetched > 3600:
                found = self._get(self.config.discovery_url)
                for needed in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri"):
                    if not found.get(needed):
                        raise SignInProblem(f"the sign-in service's discovery document has no {needed}")
                self._metadata, self._keys, self._fetched = found, None, time.monotonic()
            return self._metadata

    def origin(self) -> str:
        """Where the provider's sign-out lives (its discovery document's origin until that is read)."""
        found = self._metadata.get("end_session_endpoint") if self._metadata else None
        parts = urlsplit(found or self.config.discovery_url)
        return f"{parts.scheme}://{parts.netloc}"

    def keys(self, refresh: bool = False) -> KeySet:
        metadata = self.metadata()
        with self._lock:
            if self._keys is None or refresh:
                self._keys = KeySet.import_key_set(self._get(metadata["jwks_uri"]))
            return self._keys


def provider() -> Provider | None:
    found: Provider | None = current_app.extensions.get("pathways_sso")
    return found


def validate_id_token(id_token: str, found: Provider, nonce: str) -> dict[str, Any]:
    """The ID token's claims, once its signature, issuer, audience, times and nonce are right."""
    config, metadata = found.config, found.metadata()
    try:
        try:
            token = jwt.decode(id_token, found.keys(), algorithms=ALGORITHMS)
        except JoseError:  # an unknown key may be a rotation: fetch the keys once more
            token = jwt.decode(id_token, found.keys(refresh=True), algorithms=ALGORITHMS)
        claims = dict(token.claims)
        jwt.JWTClaimsRegistry(
            now=int(clock.utcnow().timestamp()), leeway=LEEWAY_SECONDS,
            iss={"essential": True, "value": metadata["issuer"]}, aud={"essential": True, "value": config.client_id},
            exp={"essential": True}, iat={"essential": True}, sub={"essential": True},
            nonce={"essential": True, "value": nonce},
        ).validate(claims)  # fmt: skip
    except (JoseError, ValueError) as exc:
        raise SignInProblem(f"the sign-in could not be checked: {exc}") from exc
    audience = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if len(audience) > 1 and claims.get("azp") != config.client_id:
        raise SignInProblem("the sign-in could not be checked: it was issued to another application (azp)")
    return claims


@blueprint.get("/sso/login")
def login() -> Response:
    found = provider()
    if found is None:
        return redirect("/login")
    state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
    pending = {k: v for k, v in (session.get(PENDING) or {}).items() if time.time() - v["at"] < PENDING_SECONDS}
    pending = dict(list(pending.items())[-(MAX_PENDING - 1) :])
    pending[state] = {"nonce": nonce, "verifier": verifier, "next": request.args.get("next") or "", "at": time.time()}
    session[PENDING] = pending
    try:
        endpoint = found.metadata()["authorization_endpoint"]
    except SignInProblem as exc:
        return _problem(str(exc), 503)
    query = {"response_type": "code", "client_id": found.config.client_id, "redirect_uri": found.config.redirect_uri,
             "scope": found.config.scopes, "state": state, "nonce": nonce, "response_mode": "query",
             "code_challenge": create_s256_code_challenge(verifier), "code_challenge_method": "S256"}  # fmt: skip
    return redirect(f"{endpoint}?{urlencode(query)}")


@blueprint.get("/sso/callback")
def callback() -> Response | tuple[str, int]:
    found = provider()
    if found is None:
        return redirect("/login")
    pending = dict(session.get(PENDING) or {})
    started = pending.pop(request.args.get("state") or "", None)
    session[PENDING] = pending  # a state is used once: a replayed callback finds nothing
    if started is None or time.time() - started["at"] > PENDING_SECONDS:
        return _problem("This sign-in has already been used or has expired. Sign in again.", 400)
    if request.args.get("error"):
        why = request.args.get("error_description") or request.args["error"]
        return _problem(f"The sign-in service did not sign you in: {why[:300]}", 401)
    try:
        claims = _claims(found, request.args.get("code") or "", started)
        person = sso.sign_in(security.runtime(), claims, found.config.create_accounts, found.config.groups_claim)
    except SignInProblem as exc:
        current_app.logger.warning("event=sso_refused reason=%r", str(exc))
        return _problem(f"You could not be signed in: {exc}. Try again; if it keeps happening, tell your "
                        "administrator the time.", 401)  # fmt: skip
    except sso.SsoRefused as exc:
        return _problem(exc.message, 403)
    id_token = claims.pop("_id_token", "")
    security.sign_in(person.username)
    if len(id_token) < 2500:  # kept for the provider's sign-out (id_token_hint); the cookie stays small
        session[ID_TOKEN] = id_token
    target = security.safe_next(started["next"], "/")
    return redirect(target)


def _claims(found: Provider, code: str, started: dict[str, Any]) -> dict[str, Any]:
    if not code:
        raise SignInProblem("the sign-in service sent no code")
    metadata, config = found.metadata(), found.config
    client = OAuth2Session(config.client_id, config.client_secret, redirect_uri=config.redirect_uri,
                           token_endpoint_auth_method="client_secret_basic")  # fmt: skip
    try:
        token = client.fetch_token(metadata["token_endpoint"], grant_type="authorization_code", code=code,
                                   code_verifier=started["verifier"], timeout=config.timeout)  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - any failure of the exchange is the same to the person
        raise SignInProblem(f"the code could not be exchanged ({type(exc).__name__}: {str(exc)[:200]})") from exc
    id_token = token.get("id_token")
    if not id_token:
        raise SignInProblem("the sign-in service sent no ID token")
    claims = validate_id_token(id_token, found, started["nonce"])
    claims["_id_token"] = id_token
    return claims


def end_session_url(post_logout: str) -> str | None:
    """Where to send the browser to end the provider's session too (None: the provider has no such endpoint)."""
    found = provider()
    hint = session.get(ID_TOKEN)
    if found is None or not hint:
        return None
    try:
        endpoint = found.metadata().get("end_session_endpoint")
    except SignInProblem:
        return None
    if not endpoint:
        return None
    query = {"id_token_hint": hint, "post_logout_redirect_uri": post_logout, "client_id": found.config.client_id,
             "state": secrets.token_urlsafe(16)}  # fmt: skip
    return f"{endpoint}?{urlencode(query)}"


def _problem(message: str, status: int) -> tuple[str, int]:
    return render_template("error.html", title="You could not be signed in", message=message), status


def local_passwords() -> bool:
    return os.environ.get("LOCAL_PASSWORDS", "on").strip().lower() not in ("off", "0", "no", "false")


def install(app: Flask, app_url: str) -> None:
    config = SsoConfig.from_env(app_url)
    app.extensions["pathways_sso"] = Provider(config) if config else None
    app.register_blueprint(blueprint)
