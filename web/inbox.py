"""The inbox: tabs, filters, saved filters, paging, notifications; claim, unclaim, assign, bulk reassign."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from engine import services
from engine.domain.access import ROLE_STEPS
from engine.errors import InvalidInput, NotAllowed, NotFound
from engine.services import accounts, worklist
from engine.services.tasks import INBOX_TABS
from web import inputs, security
from web.chrome import role_label
from web.paging import pagination
from web.security import login_required

blueprint = Blueprint("inbox", __name__)
PER_PAGE = 25
TAB_LABELS = {"mine": "My tasks", "team": "My team's tasks", "unassigned": "Unassigned"}


def _filters(default_tab: str = "mine") -> dict[str, str]:
    tab = request.args.get("tab") or default_tab
    return {
        "tab": tab if tab in INBOX_TABS else default_tab,
        "pathway": request.args.get("pathway", ""),
        "role": request.args.get("role", ""),
        "overdue": "1" if request.args.get("overdue") in ("1", "on", "yes") else "",
    }


def _page() -> int:
    return inputs.page_number(request.args.get("page"))


def _link(filters: dict[str, str], **changes: Any) -> str:
    query = {k: v for k, v in {**filters, **changes}.items() if v not in (None, "")}
    return url_for("inbox.index") + ("?" + urlencode(query) if query else "")


def landing(me: Any) -> str | None:
    """Where a person without an inbox starts: process owners on the pathway diagrams, administrators on
    their pages (None: the inbox, whose first tab is a manager's team)."""
    if me.has_inbox:
        return None
    if me.models_pathways:
        return url_for("modeller.index")
    if "admin" in me.roles:
        return url_for("admin.events")
    return None


@blueprint.get("/")
@login_required
def index() -> str | Response:
    """The inbox. Each person lands where their work is: a practitioner on their own steps, a manager on
    the team's (soonest due first, with how many are overdue and unassigned), others on their own pages."""
    rt, me = security.runtime(), security.person()
    elsewhere = landing(me)
    if elsewhere and not request.args:
        return redirect(elsewhere)
    filters, page = _filters("team" if me.oversees else "mine"), _page()
    found = services.inbox(rt, me, tab=filters["tab"], pathway=filters["pathway"] or None,
                           role=filters["role"] or None, overdue_only=bool(filters["overdue"]),
                           page=page, per_page=PER_PAGE)  # fmt: skip
    pages = max(math.ceil(found["total"] / PER_PAGE), 1)
    roles = sorted(set().union(*ROLE_STEPS.values())) if me.oversees else sorted(me.step_roles)
    pathways = {d["key"]: d["name"] for d in services.list_definitions(rt)}
    pathway_items = [{"value": "", "text": "All pathways"}] + [
        {"value": k, "text": v, "selected": k == filters["pathway"]} for k, v in sorted(pathways.items())
    ]
    role_items = [{"value": "", "text": "All roles" if me.oversees else "All my roles"}] + [
        {"value": r, "text": role_label(r), "selected": r == filters["role"]} for r in roles
    ]
    return render_template(
        "inbox.html", found=found, filters=filters, tabs=TAB_LABELS, pages=pages, link=_link,
        pathways=pathways, pathway_items=pathway_items, role_items=role_items,
        pagination=pagination(found["page"], pages, lambda n: _link(filters, page=n)),
        saved=worklist.saved_filters(rt, me),
        notices=worklist.notifications_for(rt, me),
        team_counts=_team_counts(rt, me) if me.oversees and filters["tab"] == "team" else None,
    )  # fmt: skip


def _team_counts(rt: Any, me: Any) -> dict[str, int]:
    """A manager's team at a glance: its overdue steps and the steps nobody holds yet."""
    overdue = services.inbox(rt, me, tab="team", overdue_only=True, page=1, per_page=1)["total"]
    unassigned = services.inbox(rt, me, tab="unassigned", page=1, per_page=1)["total"]
    return {"overdue": overdue, "unassigned": unassigned}


def _back() -> Response:
    return redirect(security.safe_next(request.form.get("back"), url_for("inbox.index")))


@blueprint.post("/tasks/<id:task_id>/claim")
@login_required
def claim(task_id: int) -> Response:
    me = security.person()
    task = services.claim_task(security.runtime(), task_id, me.username, person=me)
    flash(f"You have claimed '{task['title']}' for {task['ref']}. It is in My tasks.")
    return redirect(url_for("tasks.show", task_id=task_id))  # claiming is to do the step: it opens


@blueprint.post("/tasks/<id:task_id>/unclaim")
@login_required
def unclaim(task_id: int) -> Response:
    me = security.person()
    task = services.unclaim_task(security.runtime(), task_id, me.username, person=me)
    flash(f"'{task['title']}' for {task['ref']} is back in the team's unassigned tasks.")
    return _back()


@blueprint.post("/tasks/<id:task_id>/assign")
@login_required
def assign(task_id: int) -> Response:
    me, rt = security.person(), security.runtime()
    username = request.form.get("assignee", "")
    try:
        colleague = accounts.person(rt, username)
    except NotFound:
        raise InvalidInput("choose a colleague to assign the task to") from None
    task = services.assign_task(rt, task_id, username, me.username, person=me, colleague=colleague)
    flash(f"'{task['title']}' for {task['ref']} is now assigned to {username}.")
    return _back()


@blueprint.route("/team/reassign", methods=["GET", "POST"])
@login_required
def reassign() -> str | Response | tuple[str, int]:
    """A team manager moves all of a leaver's or an absent worker's tasks to a colleague in one step."""
    me, rt = security.person(), security.runtime()
    if not me.oversees:
        raise NotAllowed("only team managers, services managers and heads of service can reassign a team's tasks")
    form = {k: request.form.get(k, "") for k in ("from_user", "to_user", "reason")}
    errors = _reassign_errors(form) if request.method == "POST" else {}
    result = None
    if request.method == "POST" and not errors:
        to_user = accounts.person(rt, form["to_user"])
        result = services.reassign_all(rt, form["from_user"], to_user, me, form["reason"])
    people = worklist.colleagues(rt, me)
    items = {key: people_items(people, form[key]) for key in ("from_user", "to_user")}
    order = ["from_user", "to_user", "reason"]
    summary = [{"text": errors[k], "href": f"#{k}"} for k in order if k in errors]
    page = render_template("reassign.html", form=form, field_errors=errors, errors=summary, result=result,
                           from_items=items["from_user"], to_items=items["to_user"])  # fmt: skip
    return (page, 400) if errors else page


def people_items(people: list[dict[str, Any]], chosen: str | None) -> list[dict[str, Any]]:
    """Staff as select options, 'Name (username)', with the chosen one selected."""
    return [{"value": p["username"], "text": f"{p['display_name']} ({p['username']})",
             "selected": p["username"] == chosen} for p in people]  # fmt: skip


def _reassign_errors(form: dict[str, str]) -> dict[str, str]:
    errors = {}
    if not form["from_user"]:
        errors["from_user"] = "Select whose tasks to move"
    if not form["to_user"]:
        errors["to_user"] = "Select the colleague who will take them"
    elif form["to_user"] == form["from_user"]:
        errors["to_user"] = "Select a different colleague from the one whose tasks are moving"
    if not form["reason"].strip():
        errors["reason"] = "Enter the reason, for example 'left the authority' or 'on leave until 3 May'"
    return errors


@blueprint.post("/filters")
@login_required
def save_filter() -> Response:
    me = security.person()
    query = {k: request.form.get(k, "") for k in worklist.FILTER_KEYS}
    saved = worklist.save_filter(security.runtime(), me, request.form.get("name", ""), query)
    flash(f"Saved the filter '{saved['name']}'.")
    return redirect(_link(saved["query"]))


@blueprint.post("/filters/<id:filter_id>/remove")
@login_required
def remove_filter(filter_id: int) -> Response:
    worklist.retire_filter(security.runtime(), security.person(), filter_id)
    flash("Removed the saved filter.")
    return redirect(url_for("inbox.index"))


@blueprint.post("/notifications/read")
@login_required
def read_notifications() -> Response:
    ids = inputs.ids(request.form.getlist("id"))
    worklist.mark_read(security.runtime(), security.person(), ids)
    return _back()
