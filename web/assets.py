"""Front-end files from npm (GOV.UK Frontend, bpmn-js), served from node_modules by name only."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, send_from_directory
from werkzeug.wrappers import Response

blueprint = Blueprint("assets", __name__)

# url prefix -> folder under node_modules; nothing else in node_modules is reachable
_FOLDERS = {
    "govuk": "govuk-frontend/dist/govuk",
    "bpmn-js": "bpmn-js/dist",
    "camunda-bpmn-moddle": "camunda-bpmn-moddle/resources",  # camunda.json: the modeller keeps camunda:* extensions
}
_SUFFIXES = (".css", ".js", ".map", ".woff", ".woff2", ".svg", ".png", ".ico", ".json")


def _send(folder: str, filename: str) -> Response:
    if not filename.endswith(_SUFFIXES):
        abort(404)
    root = current_app.config["NODE_MODULES"] / folder
    if not root.is_dir():
        abort(404, description="Front-end packages are missing: run `make run` (or `npm ci`).")
    response = send_from_directory(root, filename, max_age=3600)
    return response


@blueprint.get("/assets/<path:filename>")
def govuk_assets(filename: str) -> Response:
    """Fonts and images, where GOV.UK Frontend's stylesheet expects them."""
    return _send(_FOLDERS["govuk"] + "/assets", filename)


@blueprint.get("/vendor/<package>/<path:filename>")
def vendor(package: str, filename: str) -> Response:
    if package not in _FOLDERS:
        abort(404)
    return _send(_FOLDERS[package], filename)
