"""Managers' pages: cases at risk (with CSV), acting on a case, bulk actions, and where cases wait."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, abort, flash, jsonify, redirect, render_template, request, url_for

from engine import clock, services
from engine.errors import FormInvalid, InvalidInput, NotAllowed
from engine.services import accounts, oversight, worklist
from engine.services.oversight import REASONS, StuckQuery
from web import forms, inputs, security
from web.paging import pagination
from web.security import login_required

blueprint = Blueprint("manager", __name__)
SORT_LABELS = {"overdue": "Most overdue first", "waiting": "Waiting longest first", "ref": "Child reference"}
ACTION_LABELS = {"suspend": "Suspend", "resume": "Resume", "cancel": "Cancel the case", "retry": "Retry",
                 "delay_reason": "Record a reason for delay"}  # fmt: skip


def _managers_only() -> None:
    if not security.person().oversees:
        raise NotAllowed("only team managers, services managers and heads of service see this page")


def _query() -> StuckQuery:
    page = inputs.page_number(request.args.get("page"))
    reason = request.args.get("reason", "")
    sort = request.args.get("sort", "overdue")
    return StuckQuery(reason=reason if reason in REASONS else "", key=request.args.get("pathway", ""),
                      team=request.args.get("team", ""), no_delay_reason=request.args.get("no_reason") == "1",
                      sort=sort if sort in SORT_LABELS else "overdue", page=page)  # fmt: skip


def _link(query: StuckQuery, endpoint: str = "manager.at_risk", **changes: Any) -> str:
    values = {"reason": query.reason, "pathway": query.key, "team": query.team,
              "no_reason": "1" if query.no_delay_reason else "", "sort": query.sort, "page": query.page}  # fmt: skip
    values.update(changes)
    clean = {k: v for k, v in values.items() if v not in ("", None, 1) or (k == "page" and v != 1)}
    return url_for(endpoint) + ("?" + urlencode(clean) if clean else "")


def _select(items: dict[str, str], chosen: str, blank: str) -> list[dict[str, Any]]:
    return [{"value": "", "text": blank}] + [{"value": k, "text": v, "selected": k == chosen} for k, v in items.items()]


@blueprint.get("/manage")
@login_required
def at_risk() -> str:
    _managers_only()
    rt, me, query = security.runtime(), security.person(), _query()
    found = oversight.stuck_cases(rt, me, query)
    pathways = {d["key"]: d["name"] for d in services.list_definitions(rt)}
    teams = [t["name"] for t in accounts.list_teams(rt)] if me.all_teams else sorted(me.teams)
    return render_template(
        "at_risk.html", found=found, query=query, link=_link, reasons=REASONS,
        pagination=pagination(found["page"], found["pages"], lambda n: _link(query, page=n)),
        pathway_items=_select(pathways, query.key, "All pathways"),
        team_items=_select({t: t for t in teams}, query.team, "All my teams"),
        reason_items=_select(REASONS, query.reason, "Any reason"),
        sort_items=[{"value": k, "text": v, "selected": k == query.sort} for k, v in SORT_LABELS.items()],
        action_items=[{"value": k, "text": v} for k, v in ACTION_LABELS.items()],
    )  # fmt: skip


CSV_COLUMNS = ("child_ref", "case_id", "pathway", "pathway_key", "version", "team", "status",
               *(f"reason_{r}" for r in REASONS), "waiting_days", "days_overdue", "escalation_level",
               "last_progress", "item", "item_name", "item_held_by", "item_role", "item_due")  # fmt: skip
ITEMS = ("waiting_step", "passed_deadline", "reason_for_delay")


def _csv_rows(row: dict[str, Any]) -> Iterator[list[Any]]:
    """Long format, one value per cell: a case's own columns on each of its rows, then one row per
    step it waits at, per deadline it has passed and per reason for delay (``item`` says which);
    a case with none of these has one row with the item columns empty."""
    case = [row["ref"], row["case_id"], row["pathway"], row["key"], row["version"], row["team"] or "", row["status"],
            *("yes" if r in row["reasons"] else "no" for r in REASONS), row["waiting_days"], row["days_overdue"],
            row["escalation_level"], row["last_progress"]]  # fmt: skip
    items = [
        ["waiting_step", t["title"], t["holder"] or "", t["role"] or "", t["due"] or ""] for t in row["waiting_at"]
    ]
    items += [["passed_deadline", d["name"], "", "", d["due"]] for d in row["deadlines"] if d["breached"]]
    items += [["reason_for_delay", reason, "", "", ""] for reason in row["delay_reasons"]]
    for item in items or [["", "", "", "", ""]]:
        yield case + item


def safe_cell(value: Any) -> Any:
    """Spreadsheets run cells that start with = + - @ as formulas: quote them."""
    return "'" + value if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@blueprint.get("/manage/cases-at-risk.csv")
@login_required
def at_risk_csv() -> Response:
    """Every case at risk, streamed: the download starts at once and no whole file is held in memory."""
    _managers_only()
    today = clock.london_today().isoformat()
    rows = oversight.stuck_cases_csv(security.runtime(), security.person(), _query())
    return Response(
        csv_stream(CSV_COLUMNS, (line for row in rows for line in _csv_rows(row))),
        mimetype=CSV_TYPE,
        headers={"Content-Disposition": f"attachment; filename=cases-at-risk-{today}.csv"},
    )


CSV_TYPE = "text/csv"  # Flask adds "; charset=utf-8"


def csv_stream(header: Sequence[str], rows: Iterable[Sequence[Any]], batch: int = 200) -> Iterator[str]:
    """CSV text in pieces: the header at once (the download starts), then ``batch`` rows at a time,
    every cell made safe for spreadsheets. It starts with a byte order mark, so Excel and other
    readers that do not assume UTF-8 show "Café – £5" as written; dates are ISO (2027-01-06)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    yield "\ufeff" + out.getvalue()
    out.seek(0)
    out.truncate()
    for n, row in enumerate(rows, 1):
        writer.writerow([safe_cell(v.isoformat() if isinstance(v, date) else v) for v in row])
        if n % batch == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


def _back(case_id: int | None = None) -> Response:
    fallback = url_for("cases.show", case_id=case_id) if case_id else url_for("manager.at_risk")
    return redirect(security.safe_next(request.form.get("back"), fallback))


@blueprint.post("/manage/cases/<id:case_id>/action")
@login_required
def case_action(case_id: int) -> Response | str:
    """Suspend, resume, cancel or retry a case. Cancelling asks first, on a page of its own; a refusal
    (no reason given, say) is shown on the case page against the box, with the answers kept."""
    action, reason = request.form.get("action", ""), request.form.get("reason", "").strip()
    rt, me = security.runtime(), security.person()
    case = oversight.managed_case(rt, me, case_id)  # not a manager of its team: refused outright (403)
    if not action:
        return _refused(case_id, {"action-reason": "Select what to do with the case"}, action, reason)
    if action == "cancel" and reason and request.form.get("confirmed") != "yes":
        return render_template("confirm_cancel.html", case=case, reason=reason, back=request.form.get("back", ""))
    try:
        done = oversight.act_on_case(rt, me, case_id, action, reason)
    except (InvalidInput, NotAllowed) as exc:  # no reason, or not possible in the case's state
        return _refused(case_id, {"action-reason": _sentence(exc.message)}, action, reason)
    flash(f"{done['ref']}: {ACTION_LABELS.get(action, action).lower()} done. The case is now {done['status']}.")
    return _back(case_id)


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:]


def _refused(case_id: int, errors: dict[str, str], action: str, reason: str) -> Response:
    forms.keep(errors, {"action": action, "action-reason": reason})
    return redirect(url_for("cases.show", case_id=case_id) + "#manage")


@blueprint.post("/manage/cases/<id:case_id>/delay")
@login_required
def delay_reason(case_id: int) -> Response:
    reason = request.form.get("reason", "").strip()
    task_id, deadline_id = request.form.get("task_id", ""), request.form.get("deadline_id", "")
    rt, me = security.runtime(), security.person()
    box = f"delay-{task_id}" if inputs.whole(task_id) else f"delay-d{deadline_id}" if inputs.whole(deadline_id) else ""
    oversight.managed_case(rt, me, case_id)  # not a manager of its team: refused outright (403)
    try:
        if not reason:
            raise InvalidInput("Enter the reason for the delay")
        if box:
            oversight.record_delay(rt, me, case_id, reason, task_id=inputs.whole(task_id),
                                   deadline_id=inputs.whole(deadline_id))  # fmt: skip
        else:
            oversight.record_delay_for_case(rt, me, case_id, reason)
    except (InvalidInput, NotAllowed) as exc:
        forms.keep({box or "delay-case": _sentence(exc.message)}, {box or "delay-case": reason})
        return redirect(security.safe_next(request.form.get("back"), url_for("cases.show", case_id=case_id))
                        + "#manage")  # fmt: skip
    flash("Reason for delay recorded. Escalation has stopped for that step or deadline.")
    return _back(case_id)


@blueprint.post("/manage/bulk")
@login_required
def bulk() -> Response:
    _managers_only()
    ids = inputs.ids(request.form.getlist("case_id"))
    action, reason = request.form.get("action", ""), request.form.get("reason", "").strip()
    back = security.safe_next(request.form.get("back"), url_for("manager.at_risk"))
    try:
        result = oversight.bulk_act(security.runtime(), security.person(), ids, action, reason)
    except InvalidInput as exc:  # nothing chosen, or no reason: said on the list, the choices kept
        box = "bulk" if not ids else "bulk-reason" if not reason else "bulk-action"
        forms.keep({box: _sentence(exc.message)}, {"bulk-action": action, "bulk-reason": reason,
                                                   "case_ids": ",".join(str(i) for i in ids)})  # fmt: skip
        return redirect(back + "#bulk")
    label = ACTION_LABELS.get(action, action).lower()
    if result["done"]:
        flash(f"{label.capitalize()}: done for {len(result['done'])} case{'s' if len(result['done']) != 1 else ''}.")
    for refused in result["refused"]:
        flash(f"Case {refused['case_id']} not changed: {refused['reason']}")
    return redirect(back)


# --- record a missed event ----------------------------------------------------------------
@blueprint.route("/manage/tasks/<id:task_id>/record", methods=["GET", "POST"])
@login_required
def record_event(task_id: int) -> Response | str | tuple[str, int]:
    _managers_only()
    rt, me = security.runtime(), security.person()
    page = worklist.task_page(rt, task_id, me)
    if not me.may_assign_in(page["team"]):
        abort(403)
    if page["status"] != "open":
        flash("That step is already done.")
        return redirect(url_for("cases.show", case_id=page["case_id"]))
    fields = page["form"]
    if request.method == "GET":
        return _render_record(page, forms.raw_from_values(fields, None), {}, "")
    raw, reason = forms.raw_from_request(fields, request.form), request.form.get("reason", "").strip()
    try:
        if not reason:
            raise FormInvalid({"reason": "Say why you are recording this for the step's holder"}, {})
        oversight.record_missed_event(rt, me, task_id, forms.answers(fields, raw), reason)
    except FormInvalid as exc:
        return _render_record(page, raw, exc.errors, reason, status=400)
    flash(f"Recorded '{page['title']}' for {page['ref']}. The pathway has moved on.")
    return redirect(url_for("cases.show", case_id=page["case_id"]))


@blueprint.route("/manage/cases/<id:case_id>/events/<element_id>/record", methods=["GET", "POST"])
@login_required
def record_case_event(case_id: int, element_id: str) -> Response | str | tuple[str, int]:
    """A manager records an event the case waits for (the case system did not send it)."""
    _managers_only()
    rt, me = security.runtime(), security.person()
    page = worklist.case_event_page(rt, case_id, element_id, me)
    if not me.may_assign_in(page["team"]):
        abort(403)
    fields = page["form"]
    if request.method == "GET":
        return _render_record(page, forms.raw_from_values(fields, None), {}, "")
    raw, reason = forms.raw_from_request(fields, request.form), request.form.get("reason", "").strip()
    try:
        oversight.record_case_event(rt, me, case_id, element_id, forms.answers(fields, raw), reason)
    except FormInvalid as exc:
        return _render_record(page, raw, exc.errors, reason, status=400)
    except NotAllowed as exc:
        flash(exc.message)
        return redirect(url_for("cases.show", case_id=case_id))
    flash(f"Recorded '{page['title']}' for {page['ref']}. The pathway has moved on.")
    return redirect(url_for("cases.show", case_id=case_id))


def _render_record(page: dict, raw: dict[str, str], errors: dict[str, str], reason: str,
                   status: int = 200) -> tuple[str, int]:  # fmt: skip
    return render_template(
        "record_event.html", page=page, components=forms.components(page["form"], raw, errors), reason=reason,
        errors=forms.error_list([*page["form"], {"id": "reason", "type": "string"}], errors), field_errors=errors,
    ), status  # fmt: skip


# --- where cases wait ---------------------------------------------------------------------
@blueprint.get("/manage/where")
@login_required
def where() -> str:
    _managers_only()
    rt, me = security.runtime(), security.person()
    pathways = {d["key"]: d["name"] for d in services.list_definitions(rt) if d["key"] != "permanency_panel"}
    key = request.args.get("pathway") or next(iter(sorted(pathways)), "")
    counts = oversight.where_cases_wait(rt, me, key) if key else None
    return render_template("where.html", counts=counts, key=key,
                           pathway_items=[{"value": k, "text": v, "selected": k == key}
                                          for k, v in sorted(pathways.items())])  # fmt: skip


@blueprint.get("/manage/where/<key>/diagram.bpmn")
@login_required
def where_diagram(key: str) -> Response:
    _managers_only()
    return Response(worklist.pathway_diagram(security.runtime(), key), mimetype="application/xml")


@blueprint.get("/manage/where/<key>/counts.json")
@login_required
def where_counts(key: str) -> Response:
    _managers_only()
    return jsonify(oversight.where_cases_wait(security.runtime(), security.person(), key))


@blueprint.get("/manage/where/<key>/<element_id>")
@login_required
def waiting_at(key: str, element_id: str) -> str:
    _managers_only()
    rt, me = security.runtime(), security.person()
    counts = oversight.where_cases_wait(rt, me, key)
    found = oversight.cases_waiting_at(rt, me, key, element_id, page=inputs.page_number(request.args.get("page")))
    name = counts["names"].get(element_id, element_id)
    return render_template(
        "waiting_at.html", rows=found["rows"], found=found, key=key, counts=counts, element_id=element_id, name=name,
        pagination=pagination(found["page"], found["pages"],
                              lambda n: url_for("manager.waiting_at", key=key, element_id=element_id, page=n)),
    )  # fmt: skip


@blueprint.app_template_filter("checked_if")
def checked_if(item: dict[str, Any], chosen: str) -> dict[str, Any]:
    return {**item, "checked": bool(chosen) and item["value"] == chosen}


@blueprint.app_template_filter("selected_if_checked")
def selected_if_checked(item: dict[str, Any]) -> dict[str, Any]:
    return {**{k: v for k, v in item.items() if k != "checked"}, "selected": item.get("checked", False)}


@blueprint.app_template_filter("action_item")
def action_item(action: str) -> dict[str, str]:
    return {"value": action, "text": ACTION_LABELS.get(action, action)}
