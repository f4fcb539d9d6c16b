"""Front-end files from npm (GOV.UK Frontend, bpmn-js), served from node_modules by name only."""

from __future__ import annotations

import functools
import io
import os

from flask import Blueprint, abort, current_app, send_file
from werkzeug.security import safe_join
from werkzeug.wrappers import Response

blueprint = Blueprint("assets", __name__)

# url prefix -> folder under node_modules; nothing else in node_modules is reachable
_FOLDERS = {
    "govuk": "govuk-frontend/dist/govuk",
    "bpmn-js": "bpmn-js/dist",
    "camunda-bpmn-moddle": "camunda-bpmn-moddle/resources",  # camunda.json: the modeller keeps camunda:* extensions
    "moj": "@ministryofjustice/frontend/moj",
    # the modeller's properties panel, element templates and live bpmnlint (web/js/modeller-bundle.js)
    "properties-panel": "@bpmn-io/properties-panel/dist/assets",
    "element-templates": "bpmn-js-element-templates/dist/assets",
    "bpmnlint": "bpmn-js-bpmnlint/dist/assets/css",
}
_SUFFIXES = (".css", ".js", ".map", ".woff", ".woff2", ".svg", ".png", ".ico", ".json")


def _send(folder: str, filename: str) -> Response:
    if not filename.endswith(_SUFFIXES):
        abort(404)
    root = current_app.config["NODE_MODULES"] / folder
    if not root.is_dir():
        abort(404, description="Front-end packages are missing: run `make run` (or `npm ci`).")
    path = safe_join(str(root), filename)
    if path is None or not os.path.isfile(path):
        abort(404)
    stat = os.stat(path)
    return send_file(io.BytesIO(_read(path, stat.st_mtime_ns)), download_name=os.path.basename(path), max_age=3600,
                     etag=f"{stat.st_mtime_ns:x}-{stat.st_size:x}", last_modified=stat.st_mtime)  # fmt: skip


@functools.lru_cache(maxsize=64)
def _read(path: str, mtime_ns: int) -> bytes:
    """The file's bytes, read and closed at once (a browser dropping the connection mid-file left an open
    file behind in the development server: a ResourceWarning in the browser tests)."""
    with open(path, "rb") as handle:
        return handle.read()


@blueprint.get("/assets/<path:filename>")
def govuk_assets(filename: str) -> Response:
    """Fonts and images, where the built stylesheet expects them: GOV.UK Frontend's, then MoJ Frontend's."""
    root = current_app.config["NODE_MODULES"]
    ours = safe_join(str(root / _FOLDERS["govuk"] / "assets"), filename)
    theirs = safe_join(str(root / _FOLDERS["moj"] / "assets"), filename)
    if theirs and os.path.isfile(theirs) and not (ours and os.path.isfile(ours)):
        return _send(_FOLDERS["moj"] + "/assets", filename)
    return _send(_FOLDERS["govuk"] + "/assets", filename)


@blueprint.get("/vendor/<package>/<path:filename>")
def vendor(package: str, filename: str) -> Response:
    if package not in _FOLDERS:
        abort(404)
    return _send(_FOLDERS[package], filename)
