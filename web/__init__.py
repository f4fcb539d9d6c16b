"""The web app. ``create_app(config=None)`` builds it; nothing is read at import time."""

from __future__ import annotations

from typing import Any

from flask import Flask

from engine.bootstrap import Runtime, bootstrap


def create_app(config: dict[str, Any] | None = None, runtime: Runtime | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(config or {})
    app.extensions["pathways"] = runtime or bootstrap()

    from web import home

    app.register_blueprint(home.blueprint)
    return app
