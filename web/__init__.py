"""The web app. ``create_app(config=None)`` builds it; nothing is read at import time.

Production: ``gunicorn -w 4 -b 127.0.0.1:8000 'web:create_app()'`` behind a TLS proxy (README).
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from jinja2 import ChoiceLoader, FileSystemLoader, PackageLoader, PrefixLoader

from engine.bootstrap import Runtime, bootstrap

ROOT = Path(__file__).resolve().parents[1]


def _secret_key(rt: Runtime) -> str:
    """SECRET_KEY from the environment; otherwise one made once and kept in var/ (development only)."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = ROOT / "var" / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def create_app(config: dict[str, Any] | None = None, runtime: Runtime | None = None) -> Flask:
    rt = runtime or bootstrap()
    app = Flask(__name__)
    secure = os.environ.get("SESSION_COOKIE_SECURE", "1" if rt.settings.app_url.startswith("https") else "0")
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure == "1",
        SESSION_COOKIE_NAME="pathways_session",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=int(os.environ.get("SESSION_HOURS", "8"))),
        MAX_CONTENT_LENGTH=3 * 1024 * 1024,  # a diagram may be 2 MB (engine.bpmn.xml), sent as JSON
        NODE_MODULES=ROOT / "node_modules",
    )
    app.config.update(config or {})
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _secret_key(rt)
    app.extensions["pathways"] = rt
    app.jinja_loader = ChoiceLoader([
        FileSystemLoader(str(Path(__file__).parent / "templates")),
        PrefixLoader({"govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja")}),
    ])  # fmt: skip
    app.jinja_env.trim_blocks = app.jinja_env.lstrip_blocks = True

    from web import (
        admin,
        api,
        assets,
        auth,
        calendars,
        cases,
        chrome,
        inbox,
        limits,
        manager,
        modeller,
        pages,
        sso,
        tasks,
        tracker,
    )
    from webhooks import inbound

    chrome.install(app)
    for module in (assets, auth, pages, inbox, tasks, cases, manager, tracker, modeller, admin, calendars, inbound):
        app.register_blueprint(module.blueprint)
    api.install(app)
    sso.install(app, rt.settings.app_url)
    limits.install(app, rt)
    return app
