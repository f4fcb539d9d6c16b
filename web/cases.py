"""Case pages: the pathway's timeline, deadlines and diagram; and starting a pathway for a child."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for

from engine import services
from engine.domain.access import Person
from engine.errors import Conflict, FormInvalid, InvalidInput, NotAllowed
from engine.services import accounts, oversight, worklist
from web import forms, security
from web.security import login_required

blueprint = Blueprint("cases", __name__)
_START_FIELDS = [{"id": "ref", "type": "string"}, {"id": "team", "type": "string"}]


@blueprint.get("/cases/<id:case_id>")
@login_required
def show(case_id: int) -> str:
    rt, me = security.runtime(), security.person()
    case = worklist.case_page(rt, case_id, me)
    return render_template("case.html", case=case, manage=oversight.manage_case(rt, me, case_id))


@blueprint.post("/cases/<id:case_id>/siblings")
@login_required
def link_sibling(case_id: int) -> Response:
    """Link a brother or sister (by reference) to the case's child, or (with a reason) take one out."""
    rt, me = security.runtime(), security.person()
    ref = worklist.case_page(rt, case_id, me)["ref"]
    other, reason = request.form.get("sibling_ref", "").strip(), request.form.get("reason", "").strip()
    try:
        if request.form.get("action") == "unlink":
            services.unlink_sibling(rt, other, me.username, reason, person=me)
            flash(f"{other} is no longer planned with {ref}'s brothers and sisters.")
        else:
            services.link_siblings(rt, [ref, other], me.username, person=me)
            flash(f"{other} is linked as a brother or sister of {ref}.")
    except (InvalidInput, NotAllowed) as exc:
        flash(f"Not changed: {exc.message}")
    return redirect(url_for("cases.show", case_id=case_id) + "#siblings")


@blueprint.get("/cases/<id:case_id>/diagram.bpmn")
@login_required
def diagram(case_id: int) -> Response:
    xml = worklist.case_diagram(security.runtime(), case_id, security.person())
    return Response(xml, mimetype="application/xml")


def _may_start(me: Person) -> None:
    if not me.may_start_pathways:
        raise NotAllowed("only social workers and their managers start a pathway for a child")


@blueprint.get("/start")
@login_required
def start_page() -> str:
    me, rt = security.person(), security.runtime()
    _may_start(me)
    key = request.args.get("pathway", "")
    if not key:
        return render_template("start_choose.html", pathways=worklist.startable(rt))
    form = worklist.start_form(rt, key)
    raw = forms.raw_from_values(form["fields"], None)
    return _render_start(form, raw, {}, ref="", team=_default_team(me))[0]


def _default_team(me: Person) -> str:
    return sorted(me.teams)[0] if len(me.teams) == 1 else ""


def _render_start(form: dict, raw: dict[str, str], errors: dict[str, str], ref: str, team: str,
                  status: int = 200, boxes: dict[str, tuple[str, ...]] | None = None,
                  open_case: dict[str, Any] | None = None) -> tuple[str, int]:  # fmt: skip
    me = security.person()
    teams = [t["name"] for t in accounts.list_teams(security.runtime())] if me.all_teams else sorted(me.teams)
    team_items = [{"value": t, "text": t, "selected": t == team} for t in teams]
    return render_template(
        "start.html", form=form, components=forms.components(form["fields"], raw, errors, boxes), ref=ref,
        team=team, team_items=team_items, errors=forms.error_list([*_START_FIELDS, *form["fields"]], errors, boxes),
        field_errors=errors, open_case=open_case,
    ), status  # fmt: skip


@blueprint.post("/start")
@login_required
def start() -> Response | tuple[str, int]:
    me, rt = security.person(), security.runtime()
    _may_start(me)
    form = worklist.start_form(rt, request.form.get("pathway", ""))
    raw = forms.raw_from_request(form["fields"], request.form)
    ref, team = (request.form.get("ref") or "").strip(), request.form.get("team", "")
    errors: dict[str, str] = {}
    if not ref:
        errors["ref"] = "Enter the child's case reference (never their name)"
    if not me.may_see_team(team) or not team:
        errors["team"] = "Select the team holding the case"
    answers = forms.answers(form["fields"], raw)
    try:
        if errors:  # every problem at once: the start form's are checked too, starting nothing
            services.check_start(rt, form["key"], answers)
            raise FormInvalid(errors, {})
        case = services.start_case(rt, form["key"], ref, answers, me.username, team=team)
    except FormInvalid as exc:
        return _render_start(form, raw, {**errors, **exc.errors}, ref, team, status=400, boxes=exc.boxes)
    except InvalidInput as exc:
        return _render_start(form, raw, {"ref": exc.message}, ref, team, status=400)
    except Conflict as exc:  # the child already has this pathway open: say so on the form, link to it
        found = {"id": exc.details.get("case_id"), "ref": ref, "status": exc.details.get("case_status")}
        message = (f"{ref} already has an open {form['name']} pathway: open it from the link above, "
                   "or check the case reference")  # fmt: skip
        return _render_start(form, raw, {"ref": message}, ref, team, status=409, open_case=found)
    flash(f"Started {form['name']} for {case['ref']}.")
    return redirect(url_for("cases.show", case_id=case["id"]))
