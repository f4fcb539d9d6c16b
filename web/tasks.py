"""The task page: what the step is for, the child's deadlines, the form; save a draft or complete it."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from engine import services
from engine.errors import Conflict, FormInvalid, NotAllowed
from engine.services import worklist
from web import forms, security
from web.inbox import people_items
from web.security import login_required

blueprint = Blueprint("tasks", __name__)


def _render(page: dict[str, Any], raw: dict[str, str], errors: dict[str, str], problem: str | None = None,
            status: int = 200, boxes: dict[str, tuple[str, ...]] | None = None) -> tuple[str, int]:  # fmt: skip
    summary = forms.error_list(page["form"], errors, boxes)
    if problem:
        summary.insert(0, {"text": problem, "href": "#answers"})
    entered = forms.answers(page["form"], raw)
    assign_items = [{"value": "", "text": "Choose a colleague"}, *people_items(page["colleagues"], page["assignee"])]
    return render_template(
        "task.html", task=page, components=forms.components(page["form"], raw, errors, boxes), errors=summary,
        conflict=status == 409, assign_items=assign_items,
        entered=[(f["label"], entered.get(f["id"], "")) for f in page["form"] if entered.get(f["id"])],
    ), status  # fmt: skip


@blueprint.get("/tasks/<id:task_id>")
@login_required
def show(task_id: int) -> tuple[str, int]:
    page = worklist.task_page(security.runtime(), task_id, security.person())
    raw = page["draft"] if page["draft"] is not None else forms.raw_from_values(page["form"], page["prefill"])
    return _render(page, raw, {})


@blueprint.post("/tasks/<id:task_id>")
@login_required
def submit(task_id: int) -> Response | tuple[str, int]:
    rt, me = security.runtime(), security.person()
    page = worklist.task_page(rt, task_id, me)
    raw = forms.raw_from_request(page["form"], request.form)
    if request.form.get("action") == "save":
        worklist.save_draft(rt, task_id, raw, me.username, me)
        flash("Your answers are saved as a draft. The task is not complete yet.")
        return redirect(url_for("tasks.show", task_id=task_id))
    try:
        expected = int(request.form.get("case_version", ""))
    except ValueError:
        expected = None
    try:
        services.complete_task(rt, task_id, forms.answers(page["form"], raw), me.username,
                               expected_version=expected, person=me)  # fmt: skip
    except FormInvalid as exc:
        return _render(page, raw, exc.errors, status=400, boxes=exc.boxes)
    except Conflict as exc:
        return _render(worklist.task_page(rt, task_id, me), raw, {}, problem=exc.message, status=409)
    except NotAllowed as exc:
        return _render(page, raw, {}, problem=exc.message, status=403)
    return redirect(url_for("tasks.done", task_id=task_id))


@blueprint.get("/tasks/<id:task_id>/done")
@login_required
def done(task_id: int) -> str:
    rt, me = security.runtime(), security.person()
    page = worklist.task_page(rt, task_id, me)
    return render_template("done.html", task=page, after=worklist.next_holders(rt, page["case_id"], me))
