"""Rate limits (Flask-Limiter): sign-in, inbound events and the API, with 429 and ``Retry-After``.

- **Sign-in**: failed attempts are counted per address, per account from one address, and per
  account from anywhere (a much higher limit, against guessing from many addresses). A person
  who mistypes five times waits; a colleague typing the same username elsewhere does not, so
  nobody can lock anyone else out (the account lock this replaces let anyone do that).
- **Inbound events** (``/webhooks/events``): per sender, once the signature is checked; an
  unsigned or badly signed flood is counted per address.
- **The API** (``/api/v1``): per token (a digest of it, never the token), else per address.

The counts live in the database by default (``rate_limits``; every web process shares them, no
new server), or in memory (``RATE_LIMIT_STORAGE=memory``: per process). Each limit is set in
the environment in Flask-Limiter's notation ("5 per 15 minutes"; several with ";"). Behind a
reverse proxy, set ``TRUSTED_PROXIES`` to the number of proxies so the address is the client's.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from typing import Any

from flask import Flask, current_app, render_template, request
from flask_limiter import Limiter, RateLimitExceeded
from limits.storage import Storage
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

from engine.bootstrap import Runtime
from engine.services import rate_limits
from webhooks.http import is_machine_path, json_error

LIMITS = {  # name: (environment variable, default)
    "sign_in_address": ("RATE_LIMIT_SIGN_IN_ADDRESS", "50 per 15 minutes"),
    "sign_in_account": ("RATE_LIMIT_SIGN_IN_ACCOUNT", "5 per 15 minutes"),
    "sign_in_account_anywhere": ("RATE_LIMIT_SIGN_IN_ACCOUNT_ANYWHERE", "50 per hour"),
    "webhooks": ("RATE_LIMIT_WEBHOOKS", "120 per minute"),
    "api": ("RATE_LIMIT_API", "600 per minute"),
}


class DatabaseStorage(Storage):
    """The ``limits`` storage interface over engine.services.rate_limits (one statement a call).

    Windows are kept in the engine's clock; ``get_expiry`` answers in wall-clock seconds, which
    is what Flask-Limiter subtracts ``time.time()`` from for ``Retry-After``."""

    STORAGE_SCHEME = ["pathways+database"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions)
        self.rt: Runtime = options["runtime"]

    @property
    def base_exceptions(self) -> type[Exception]:
        return SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        return rate_limits.incr(self.rt, key, int(expiry), amount)

    def get(self, key: str) -> int:
        return rate_limits.get(self.rt, key)

    def get_expiry(self, key: str) -> float:
        return rate_limits.get_expiry(self.rt, key) - rate_limits.now() + time.time()

    def check(self) -> bool:
        try:
            rate_limits.get(self.rt, "check")
        except SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        return rate_limits.clear_all(self.rt)

    def clear(self, key: str) -> None:
        rate_limits.clear(self.rt, key)


def _address() -> str:
    return f"address:{request.remote_addr or 'unknown'}"


def _username() -> str:
    return (request.form.get("username") or "").strip().lower()[:100]


def _account_at_address() -> str:
    return f"account:{_username()}@{request.remote_addr or 'unknown'}"


def _account() -> str:
    return f"account:{_username()}"


def _token() -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _address()
    return "token:" + hashlib.sha256(token.strip().encode()).hexdigest()[:32]


def _sender() -> str:
    """The verified sender (kept in ``g`` for the view, which then checks nothing twice), else the address."""
    from webhooks.inbound import checked_signature

    sender, _webhook_id, _refusal = checked_signature()
    return f"sender:{sender}" if sender else _address()


def _failed_sign_in(response: Response) -> bool:
    return response.status_code == 401


def _limit(name: str) -> str:
    variable, default = LIMITS[name]
    return os.environ.get(variable, default)


def _wait() -> int:
    """Whole seconds until the limit that refused this request lets it through again."""
    limiter: Limiter = current_app.extensions["pathways_limiter"]
    current = limiter.current_limit
    if current is None:
        return 60
    return max(1, math.ceil(current.reset_at - time.time()))


def _in_words(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} seconds"
    return f"{round(seconds / 60)} minutes"


def install(app: Flask, rt: Runtime) -> Limiter:
    """Rate limits on this app's sign-in, inbound events and API (call after the blueprints are registered)."""
    proxies = int(os.environ.get("TRUSTED_PROXIES", "0") or 0)
    if proxies > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]
    memory = os.environ.get("RATE_LIMIT_STORAGE", "database").strip().lower() == "memory"
    limiter = Limiter(
        key_func=_address,
        app=app,
        storage_uri="memory://" if memory else "pathways+database://",
        storage_options={} if memory else {"runtime": rt},
        strategy="fixed-window",
        headers_enabled=True,
        enabled=app.config.get("RATELIMIT_ENABLED", True),
    )
    app.extensions["pathways_limiter"] = limiter

    views = app.view_functions
    login = views["auth.login"]
    for name, key in (("sign_in_address", _address), ("sign_in_account", _account_at_address),
                      ("sign_in_account_anywhere", _account)):  # fmt: skip
        login = limiter.limit(_limit(name), key_func=key, methods=["POST"], deduct_when=_failed_sign_in)(login)
    views["auth.login"] = login
    views["webhooks.receive"] = limiter.limit(_limit("webhooks"), key_func=_sender)(views["webhooks.receive"])
    limiter.limit(_limit("api"), key_func=_token)(app.blueprints["api"])

    @app.errorhandler(RateLimitExceeded)
    def too_many(exc: RateLimitExceeded) -> Response | tuple[str, int, dict[str, str]]:
        wait = _wait()
        headers = {"Retry-After": str(wait)}
        if is_machine_path(request.path):
            response = json_error(429, f"too many requests: try again in {wait} seconds", retry_after=wait)
            response.headers.update(headers)
            return response
        if request.endpoint == "auth.login":
            from web.auth import login_page, login_target

            app.logger.warning("event=sign_in_throttled remote=%s", request.remote_addr)
            error = (f"Too many tries to sign in. Wait {_in_words(wait)}, then try again. If you have "
                     "forgotten your password, ask your administrator.")  # fmt: skip
            page = login_page(login_target(), _username(), error)
            return page, 429, headers
        message = f"Too many requests. Try again in {_in_words(wait)}."
        return render_template("error.html", title="Too many requests", message=message), 429, headers

    return limiter
