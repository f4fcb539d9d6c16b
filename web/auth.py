"""Sign in and sign out. Passwords are checked by engine.services.accounts; guesses are throttled by web.limits."""

from __future__ import annotations

from flask import Blueprint, g, jsonify, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from engine import clock
from engine.services import accounts, staff_sessions
from web import security, sso

blueprint = Blueprint("auth", __name__)


def login_target() -> str:
    return security.safe_next(request.values.get("next"), url_for("inbox.index"))


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int]:
    """Sign in with a local password. Failures are throttled per address and per account from an
    address (web.limits), never by locking the account."""
    target = login_target()
    if request.method == "GET":
        return login_page(target, "", None)
    if not sso.local_passwords():
        return login_page(target, "", "Sign in with your council account: passwords are not used here"), 400
    username = (request.form.get("username") or "").strip().lower()
    password = request.form.get("password") or ""
    if not username or not password:
        error = "Enter your username and password"
        return login_page(target, username, error), 400
    try:
        accounts.authenticate(security.runtime(), username, password)
    except accounts.LoginRefused:
        error = ("The username or password is not right. After several wrong tries you will have to wait "
                 "a few minutes before trying again.")  # fmt: skip
        return login_page(target, username, error), 401
    security.sign_in(username)
    return redirect(target)


def login_page(target: str, username: str, error: str | None) -> str:
    found = sso.provider()
    return render_template("login.html", next=target, username=username, error=error, passwords=sso.local_passwords(),
                           sso_label=found.config.label if found else None)  # fmt: skip


@blueprint.get("/healthz")
def healthz() -> Response:
    """For load balancers and monitoring: the app is up and its database answers. No sign-in, no data."""
    from flask import jsonify

    accounts.list_teams(security.runtime())
    return jsonify(status="ok", database="ok")


@blueprint.post("/logout")
def logout() -> Response:
    """Sign out here, and at the identity provider too where the person signed in through it."""
    ending = sso.end_session_url(url_for("auth.login", signed_out=1, _external=True))
    security.sign_out()
    return redirect(ending or url_for("auth.login", signed_out=1))


def _time_left(live: staff_sessions.Live | None) -> Response:
    if live is None or live.person is None:
        return jsonify(signed_in=False, seconds_left=0, final=True)
    return jsonify(signed_in=True, seconds_left=live.seconds_left(clock.utcnow()), final=live.final)


@blueprint.get("/session")
def session_status() -> Response:
    """How long the session has left if nothing more happens (for the timeout warning). Asking is not activity."""
    return _time_left(g.get("session_live"))


@blueprint.post("/session/extend")
def session_extend() -> Response:
    """The timeout warning's "stay signed in": the idle limit starts again from now (never past the absolute one)."""
    token = security.session_token()
    live = staff_sessions.live_session(security.runtime(), token, force=True) if token else None
    return _time_left(live)


@blueprint.post("/session/end")
def session_end() -> Response:
    """The timeout warning ran out: end the session here (the provider's session is left to its own limits)."""
    security.sign_out()
    return jsonify(signed_in=False)
