"""Process owners' pages: pathways and their versions, the bpmn-js modeller, checks, four-eyes publishing,
version diffs and moving running cases to a new version."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for

from engine import clock, services
from engine.errors import Conflict, InvalidInput, NotAllowed, PathwaysError
from engine.services import approval, modelling, scenarios, versions, worklist
from web import forms, inputs, security
from web.security import login_required

blueprint = Blueprint("modeller", __name__, url_prefix="/modeller")


def _owner() -> None:
    if not security.person().models_pathways:
        raise NotAllowed("only process owners edit and publish pathway diagrams")


@blueprint.get("")
@login_required
def index() -> str:
    _owner()
    rt, me = security.runtime(), security.person()
    return render_template("modeller_index.html", pathways=services.list_definitions(rt),
                           drafts=modelling.list_drafts(rt, me))  # fmt: skip


@blueprint.get("/templates.json")
@login_required
def element_templates() -> Response:
    """The element templates the modeller's properties panel offers (workflows/templates)."""
    _owner()
    return jsonify(modelling.element_templates(security.runtime()))


@blueprint.post("/upload")
@login_required
def upload() -> Response:
    _owner()
    sent = request.files.get("diagram")
    if sent is None or not sent.filename:
        flash("Choose a .bpmn file to upload.")
        return redirect(url_for("modeller.index"))
    rt, content = security.runtime(), sent.read()
    draft = modelling.upload_draft(rt, security.person(), sent.filename, content)
    errors = [p for p in services.validate_diagram(rt, draft["filename"], content) if p.blocks]
    said = f" It has {len(errors)} problem(s) to fix before it can be submitted (listed below)." if errors else ""
    flash(f"Uploaded {sent.filename} as a draft of {draft['key']}.{said}")
    return redirect(url_for("modeller.draft", draft_id=draft["id"]))


@blueprint.get("/pathways/<key>")
@login_required
def pathway(key: str) -> str:
    _owner()
    rt, me = security.runtime(), security.person()
    return render_template("modeller_pathway.html", found=versions.pathway_versions(rt, me, key),
                           running=versions.running_cases(rt, me, key))  # fmt: skip


@blueprint.post("/pathways/<key>/draft")
@login_required
def new_draft(key: str) -> Response:
    _owner()
    version = request.form.get("version", "")
    draft = modelling.start_draft(security.runtime(), security.person(), key,
                                  inputs.whole(version))  # fmt: skip
    return redirect(url_for("modeller.draft", draft_id=draft["id"]))


@blueprint.get("/pathways/<key>/v<id:version>.bpmn")
@login_required
def download_version(key: str, version: int) -> Response:
    _owner()
    xml = worklist.pathway_diagram(security.runtime(), key, version)
    return Response(xml, mimetype="application/xml",
                    headers={"Content-Disposition": f"attachment; filename={key}-v{version}.bpmn"})  # fmt: skip


@blueprint.get("/pathways/<key>/diff")
@login_required
def diff(key: str) -> str:
    _owner()
    old, new = request.args.get("from", ""), request.args.get("to", "")
    old_version, new_version = inputs.whole(old), inputs.whole(new)
    if old_version is None or new_version is None:
        raise NotAllowed("choose two versions to compare")
    found = versions.version_diff(security.runtime(), security.person(), key, old_version, new_version)
    return render_template("modeller_diff.html", diff=found, title=f"Version {old} → {new}")


@blueprint.post("/pathways/<key>/migrate")
@login_required
def migrate(key: str) -> Response | str:
    """Moving cases shows each case's dates before and after first; the move is made from that page."""
    _owner()
    ids = inputs.ids(request.form.getlist("case_id"))
    to, reason = request.form.get("to_version", ""), request.form.get("reason", "")
    rt, me = security.runtime(), security.person()
    if not forms.confirmed():
        preview = versions.preview_migration(rt, me, key, ids, inputs.whole(to) or 0, reason)
        return render_template("modeller_migrate_preview.html", key=key, to_version=to, reason=reason,
                               preview=preview)  # fmt: skip
    result = versions.migrate_cases(rt, me, key, ids, inputs.whole(to) or 0, reason)
    if result["migrated"]:
        flash(f"Moved {len(result['migrated'])} case(s) to version {to}: "
              + ", ".join(m["ref"] for m in result["migrated"]) + ".")  # fmt: skip
    for refused in result["refused"]:
        flash(f"Not moved: {refused['reason']}")
    return redirect(url_for("modeller.pathway", key=key))


# --- a draft in the modeller ------------------------------------------------------------------
@blueprint.get("/drafts/<id:draft_id>")
@login_required
def draft(draft_id: int) -> str:
    _owner()
    rt, me = security.runtime(), security.person()
    found = modelling.get_draft(rt, me, draft_id)
    problems = [p.to_dict() for p in services.validate_diagram(rt, found["filename"], found["xml"].encode())]
    shown = approval.evidence(rt, me, draft_id) if found["status"] == "submitted" else None
    return render_template("modeller_draft.html", draft=found, problems=problems, today=clock.london_today(),
                           evidence=shown)  # fmt: skip


@blueprint.get("/drafts/<id:draft_id>/diagram.bpmn")
@login_required
def draft_xml(draft_id: int) -> Response:
    _owner()
    found = modelling.get_draft(security.runtime(), security.person(), draft_id)
    attachment = (
        {"Content-Disposition": f"attachment; filename={found['filename']}"} if "download" in request.args else {}
    )
    return Response(found["xml"], mimetype="application/xml", headers=attachment)


def _json_error(exc: PathwaysError, status: int) -> tuple[Response, int]:
    problems = exc.details.get("problems") if exc.details else None
    return jsonify({"error": exc.message, "problems": problems or []}), status


@blueprint.post("/drafts/<id:draft_id>/save")
@login_required
def save(draft_id: int) -> Response | tuple[Response, int]:
    _owner()
    body = request.get_json(silent=True) or {}
    xml, revision = body.get("xml"), body.get("revision")
    if not isinstance(xml, str) or not isinstance(revision, int):
        return jsonify({"error": "send the diagram XML and the revision you opened"}), 400
    try:
        saved = modelling.save_draft_xml(security.runtime(), security.person(), draft_id, xml.encode("utf-8"), revision)
    except Conflict as exc:
        return _json_error(exc, 409)
    except NotAllowed as exc:
        return _json_error(exc, 403)
    except PathwaysError as exc:
        return _json_error(exc, 400)
    return jsonify(saved)


def _anchors(raw: Any) -> dict[str, date]:
    found = {}
    for name, value in (raw or {}).items() if isinstance(raw, dict) else []:
        try:
            found[str(name)] = date.fromisoformat(str(value))
        except ValueError:
            continue  # a half-typed date: the preview uses the default day for it
    return found


@blueprint.post("/drafts/<id:draft_id>/check")
@login_required
def check(draft_id: int) -> Response | tuple[Response, int]:
    """Validate and preview the diagram as it is in the editor now (nothing is saved)."""
    _owner()
    rt, me = security.runtime(), security.person()
    found = modelling.get_draft(rt, me, draft_id)
    body = request.get_json(silent=True) or {}
    xml = body.get("xml") if isinstance(body.get("xml"), str) else found["xml"]
    content = xml.encode("utf-8")
    problems = [p.to_dict() for p in services.validate_diagram(rt, found["filename"], content)]
    shown = services.preview_dates(rt, content, _anchors(body.get("anchors")), clock.london_today())
    return jsonify({"problems": problems, **shown})


@blueprint.post("/drafts/<id:draft_id>/scenarios")
@login_required
def run_scenarios(draft_id: int) -> str | tuple[str, int]:
    """The pathway's scenario tests against the saved draft, on a scratch database."""
    _owner()
    rt, me = security.runtime(), security.person()
    found = modelling.get_draft(rt, me, draft_id)
    try:
        result = scenarios.run_for_draft(rt, me, draft_id)
    except PathwaysError as exc:  # the draft does not publish (a problem listed on the draft page)
        return render_template("modeller_scenarios.html", draft=found, result=None, error=exc.message), 400
    return render_template("modeller_scenarios.html", draft=found, result=result, error="")


@blueprint.post("/drafts/<id:draft_id>/scenarios/update")
@login_required
def update_scenario(draft_id: int) -> str | tuple[str, int]:
    """Accept what the draft does now as failing scenarios' expectations (one scenario's, or every one a run
    listed), then run the tests again."""
    _owner()
    rt, me = security.runtime(), security.person()
    try:
        changes = json.loads(request.form.get("changes", ""))
    except ValueError:
        raise InvalidInput("the scenario change was not understood: run the tests again") from None
    if not isinstance(changes, list) or not all(isinstance(c, dict) for c in changes):
        raise InvalidInput("the scenario change was not understood: run the tests again")
    done = scenarios.update_scenarios(rt, me, draft_id, changes)
    found = modelling.get_draft(rt, me, draft_id)
    result = scenarios.run_for_draft(rt, me, draft_id)
    return render_template("modeller_scenarios.html", draft=found, result=result, error="", updated=done)


@blueprint.post("/drafts/<id:draft_id>/<any(submit, approve, return, withdraw):step>")
@login_required
def decide(draft_id: int, step: str) -> Response:
    _owner()
    rt, me = security.runtime(), security.person()
    note = request.form.get("note", "").strip()
    if step == "submit":
        reason, failing_reason = request.form.get("reason", ""), request.form.get("failing_reason", "")
        try:
            modelling.submit_draft(rt, me, draft_id, reason, failing_reason)
        except InvalidInput as exc:  # no reason, or scenario tests that fail with no word on why
            box = "failing_reason" if exc.details.get("failing") else "reason"
            forms.keep({box: exc.message[:1].upper() + exc.message[1:]},
                       {"reason": reason, "failing_reason": failing_reason})  # fmt: skip
            return redirect(url_for("modeller.draft", draft_id=draft_id) + f"#{box}")
        flash("Submitted. A second process owner must approve it before it is published.")
    elif step == "approve":
        done = modelling.approve_draft(rt, me, draft_id, note)
        flash(f"Approved and published as version {done['published_version']}. Running cases stay on their version.")
        return redirect(url_for("modeller.pathway", key=done["key"]))
    elif step == "return":
        modelling.return_draft(rt, me, draft_id, note)
        flash("Sent back to its author with your note.")
    else:
        done = modelling.withdraw_draft(rt, me, draft_id)
        flash("Draft withdrawn. It is kept, and the pathway can be drafted afresh.")
        return redirect(url_for("modeller.pathway", key=done["key"]))
    return redirect(url_for("modeller.draft", draft_id=draft_id))


@blueprint.app_template_filter("version_item")
def version_item(version: str) -> dict[str, str]:
    return {"value": version, "text": f"Version {version}"}
