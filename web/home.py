"""Placeholder home page until the inbox lands: what is published and how many open steps."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template_string

from engine import services

blueprint = Blueprint("home", __name__)

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Permanence Pathways</title>
<style>body{font-family:Arial,sans-serif;margin:2rem;max-width:50rem;color:#0b0c0c}
table{border-collapse:collapse}td,th{border-bottom:1px solid #b1b4b6;padding:.4rem 1rem .4rem 0;text-align:left}</style>
</head><body>
<h1>Permanence Pathways</h1>
<p>The practitioners' inbox is coming soon. The engine is running; published pathways:</p>
<table><thead><tr><th>Pathway</th><th>Key</th><th>Version</th></tr></thead><tbody>
{% for d in definitions %}<tr><td>{{ d.name }}</td><td>{{ d.key }}</td><td>{{ d.version }}</td></tr>
{% else %}<tr><td colspan="3">No pathways published yet.</td></tr>{% endfor %}
</tbody></table>
<p>Open steps: {{ open_tasks }}</p>
</body></html>"""


@blueprint.get("/")
def index() -> str:
    rt = current_app.extensions["pathways"]
    return render_template_string(
        _PAGE, definitions=services.list_definitions(rt), open_tasks=len(services.list_tasks(rt))
    )


@blueprint.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    return jsonify(status="ok")
