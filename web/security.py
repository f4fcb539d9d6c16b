"""Sessions, the signed-in person, CSRF and response headers.

The session cookie holds a session token, the username and a CSRF token, signed with SECRET_KEY;
the session itself lives on the server (engine.services.staff_sessions), so sign-out, a password
change or an administrator ends it for real, and it has an absolute and an idle limit. The
person (roles and teams) is read afresh on every request, so a deactivated account or a changed
team takes effect at once. Login itself is engine.services.accounts: an SSO (OpenID Connect) adapter
would call ``sign_in(username)`` after its own callback instead of checking a password.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import abort, current_app, g, redirect, request, session, url_for
from werkzeug.wrappers import Response

from engine.domain.access import Person
from engine.services import staff_sessions
from webhooks.http import is_machine_path

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"
PASSIVE = frozenset({"auth.session_status"})  # requests that do not count as activity


def runtime() -> Any:
    return current_app.extensions["pathways"]


def sign_in(username: str) -> None:
    session.clear()  # a fresh session on login: no fixation
    session["sid"] = staff_sessions.open_session(runtime(), username)
    session["user"] = username
    session["csrf"] = secrets.token_urlsafe(32)
    session.permanent = True


def sign_out() -> None:
    token = session.get("sid")
    if token:
        staff_sessions.close_session(runtime(), str(token))
    session.clear()


def session_token() -> str | None:
    token = session.get("sid")
    return str(token) if token else None


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return str(session["csrf"])


def check_csrf() -> None:
    """Every state-changing request carries the session's token (form field or X-CSRF-Token header)."""
    if request.method in SAFE_METHODS or request.endpoint == "static":
        return
    if is_machine_path(request.path):  # signed (webhooks) or token-authenticated (API): no cookies
        return
    sent = request.form.get(CSRF_FIELD) or request.headers.get("X-CSRF-Token") or ""
    expected = session.get("csrf") or ""
    if not expected or not hmac.compare_digest(str(sent), str(expected)):
        abort(400, description="This form has expired. Go back, reload the page and try again.")


_NUL_JSON = re.compile(rb"\\u0000", re.IGNORECASE)


def refuse_nul() -> None:
    """A NUL character is never valid input, and PostgreSQL cannot store or even compare it: refuse it first."""
    values = [*request.args.values(), *request.form.values(), *(request.view_args or {}).values()]
    body = request.get_data(cache=True) if request.is_json else b""
    if any("\x00" in str(v) for v in values) or b"\x00" in body or _NUL_JSON.search(body):
        abort(400, description="The request contains a NUL character, which is never valid here.")


def load_person() -> None:
    g.person = None
    token = session.get("sid")
    if not token:
        if "user" in session:
            session.clear()  # a cookie from before server-side sessions: it opens nothing now
        return
    # asking how long the session has left (the timeout warning) is not activity: it must not keep it open
    passive = request.endpoint in PASSIVE or request.headers.get("X-Timeout-Autosave") == "1"
    g.session_live = staff_sessions.live_session(runtime(), str(token), touch=not passive)
    g.person = g.session_live.person
    if g.person is None:  # signed out, revoked, expired or deactivated: the old cookie opens nothing
        session.clear()


def person() -> Person:
    found: Person | None = g.get("person")
    if found is None:
        abort(401)
    return found


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if g.get("person") is None:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapped


def safe_next(target: str | None, default: str) -> str:
    """Only same-site paths after login (no open redirect)."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


def csp_nonce() -> str:
    """One nonce a request, for the GOV.UK template's inline 'js-enabled' script."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return str(g.csp_nonce)


def content_security_policy(form_targets: str = "") -> str:
    """``form_targets``: origins besides this one a form may lead to (signing out at the identity provider)."""
    return ("default-src 'self'; img-src 'self' data:; font-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            f"script-src 'self' 'nonce-{csp_nonce()}'; frame-ancestors 'none'; "
            f"form-action 'self'{' ' + form_targets if form_targets else ''}")  # fmt: skip


def secure_headers(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    # the sign-out form leads on to the identity provider's own sign-out: browsers check form-action on the redirect
    found = current_app.extensions.get("pathways_sso")
    response.headers.setdefault("Content-Security-Policy", content_security_policy(found.origin() if found else ""))
    if g.get("person") is not None:
        response.headers.setdefault("Cache-Control", "no-store")  # case data stays off shared caches
    return response
