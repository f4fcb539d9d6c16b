"""The permanence tracker pages: figures with charts and CSV, and the tracking meeting's answers per child."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for

from engine import services
from engine.errors import Conflict, FormInvalid, NotAllowed
from engine.services import accounts, tracker
from web import charts, forms, inputs, security
from web.manager import CSV_TYPE, csv_stream
from web.paging import pagination
from web.security import login_required

blueprint = Blueprint("tracker", __name__)
PERIOD_LABELS = {"quarter": "By quarter", "month": "By month"}
YES_NO = {True: "Yes", False: "No", None: "Not recorded"}


def _managers_only() -> None:
    if not security.person().oversees:
        raise NotAllowed("only team managers, services managers and heads of service see the permanence tracker")


def _filters() -> tuple[str, str]:
    period = request.args.get("period", "quarter")
    return (period if period in PERIOD_LABELS else "quarter"), request.args.get("team", "")


def _child_filters() -> dict[str, str]:
    """The children table's option and outcome filters (an unknown outcome is ignored)."""
    outcome = request.args.get("outcome", "")
    known = outcome in tracker.OUTCOMES or outcome in tracker.ROUTES
    return {"option": request.args.get("option", ""), "outcome": outcome if known else ""}


def _charts(found: dict[str, Any]) -> dict[str, Any]:
    figures = found["figures"]
    labels = [f["label"] if found["period"] == "quarter" else f["start"].strftime("%b") for f in figures]
    span = f"{figures[0]['label']} to {figures[-1]['label']}" if found["period"] == "month" else ""
    outcome_rows = [(label, found["by_route"].get(route, 0)) for route, label in found["short_routes"].items()]
    outcome_rows.append((tracker.NOT_YET, found["by_route"].get("", 0)))
    return {
        "outcomes": charts.bars("chart-outcomes", "Children after their second review, by outcome", outcome_rows),
        "progress": charts.columns(
            "chart-progress", f"Second reviews held and permanence achieved {span}".strip(), labels,
            [("Second reviews held", [f["reviewed"] for f in figures]),
             ("Permanence achieved", [f["achieved"] for f in figures])]),
        "panel": charts.columns(
            "chart-panel", f"Agreed at panel {span}".strip(), labels,
            [("SGO support plans", [f["sgo_support_plans"] for f in figures]),
             ("Staying Put agreements", [f["staying_put"] for f in figures])]),
    }  # fmt: skip


@blueprint.get("/manage/tracker")
@login_required
def index() -> str:
    _managers_only()
    rt, me = security.runtime(), security.person()
    period, team = _filters()
    chosen = _child_filters()
    found = tracker.tracker(rt, me, period, team, page=inputs.page_number(request.args.get("page")), **chosen)
    teams = [t["name"] for t in accounts.list_teams(rt)] if me.all_teams else sorted(me.teams)

    def link(endpoint: str = "tracker.index", **changes: Any) -> str:
        values = {"period": period, "team": team, **chosen, "page": found["page"], **changes}
        return url_for(endpoint, **{k: v for k, v in values.items() if v and not (k == "page" and v == 1)})

    outcomes = {"achieved": "Permanence achieved", "not_yet": tracker.NOT_YET, **tracker.SHORT_ROUTES}
    return render_template(
        "tracker.html", found=found, charts=_charts(found), yes_no=YES_NO, period=period, team=team, link=link,
        chosen=chosen, pagination=pagination(found["page"], found["pages"], lambda n: link(page=n)),
        period_items=[{"value": k, "text": v, "selected": k == period} for k, v in PERIOD_LABELS.items()],
        team_items=[{"value": "", "text": "All my teams"}] + [{"value": t, "text": t, "selected": t == team}
                                                              for t in teams],
        option_items=[{"value": "", "text": "Any plan"}] + [
            {"value": k, "text": v, "selected": k == chosen["option"]} for k, v in found["option_labels"].items()],
        outcome_items=[{"value": "", "text": "Any outcome"}] + [
            {"value": k, "text": v, "selected": k == chosen["outcome"]} for k, v in outcomes.items()],
    )  # fmt: skip


@blueprint.post("/manage/tracker/refresh")
@login_required
def refresh() -> Response:
    _managers_only()
    counts = services.refresh_tracker(security.runtime())
    flash(f"Tracker refreshed: {counts['tracker']} child{'ren' if counts['tracker'] != 1 else ''} updated.")
    return redirect(security.safe_next(request.form.get("back"), url_for("tracker.index")))


CHILD_COLUMNS = ("child_ref", "team", "second_review_date", "permanence_option", "contingency_plan", "outcome",
                 "achieved_on", "outcome_source", "assessments_done", "living_with_long_term_carer",
                 "to_secure_it_legally", "last_seen_alone", "notes", "recorded_by")  # fmt: skip


def _child_row(c: dict[str, Any]) -> list[Any]:
    return [c["ref"], c["team"] or "", c["second_review_date"], c["option_label"], c["contingency"] or "",
            c["route_label"], c["achieved_on"] or "", c["source"] or "", YES_NO[c["assessments_done"]],
            YES_NO[c["with_long_term_carer"]], c["legal_security"] or "", c["seen_alone_on"] or "", c["notes"] or "",
            c["recorded_by"] or ""]  # fmt: skip


def _figure_rows(found: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    options, routes = list(found["options"]), list(found["routes"])
    header = ["period_start", "period", "second_reviews", *[f"reviewed_{o}" for o in options], "permanence_achieved",
              *[f"achieved_{r}" for r in routes], "sgo_support_plans_agreed", "staying_put_agreed",
              "panel_approvals"]  # fmt: skip
    rows = [[f["start"], f["label"], f["reviewed"], *[f["reviewed_by_option"].get(o, 0) for o in options],
             f["achieved"], *[f["achieved_by_route"].get(r, 0) for r in routes], f["sgo_support_plans"],
             f["staying_put"], f["approved"]] for f in found["figures"]]  # fmt: skip
    return header, rows


@blueprint.get("/manage/tracker.csv")
@login_required
def download() -> Response:
    _managers_only()
    period, team = _filters()
    rt, me = security.runtime(), security.person()
    what = "figures" if request.args.get("what") == "figures" else "children"
    rows: Iterable[list[Any]]
    if what == "figures":
        header, rows = _figure_rows(tracker.tracker(rt, me, period, team))
    else:  # every child the filters keep, streamed as it is read
        header = list(CHILD_COLUMNS)
        rows = (_child_row(c) for c in tracker.tracker_children(rt, me, team, **_child_filters()))
    name = f"permanence-tracker-{what}{'-by-month' if period == 'month' and what == 'figures' else ''}.csv"
    disposition = {"Content-Disposition": f"attachment; filename={name}"}
    return Response(csv_stream(header, rows), mimetype=CSV_TYPE, headers=disposition)


def _fields() -> list[dict[str, Any]]:
    return [f.to_dict() for f in tracker.TRACKER_FORM]


@blueprint.route("/manage/tracker/children/<ref>", methods=["GET", "POST"])
@login_required
def child(ref: str) -> Response | str | tuple[str, int]:
    _managers_only()
    rt, me = security.runtime(), security.person()
    found = tracker.tracker_child(rt, me, ref)
    fields = _fields()
    if request.method == "GET":
        return _render(found, forms.raw_from_values(fields, found["recorded"]), {}, found["revision"])
    raw = forms.raw_from_request(fields, request.form)
    given = inputs.whole(request.form.get("revision"))
    revision = -1 if given is None else given
    try:
        tracker.record_tracking(rt, me, ref, forms.answers(fields, raw), revision)
    except FormInvalid as exc:
        return _render(found, raw, exc.errors, revision, status=400)
    except Conflict as exc:  # keep what they typed; submitting again replaces the other manager's answers
        latest = tracker.tracker_child(rt, me, ref)
        return _render(latest, raw, {}, latest["revision"], status=409, conflict=exc.message)
    flash(f"{ref}: tracker updated.")
    return redirect(url_for("tracker.index") + f"#child-{ref}")


def _render(found: dict[str, Any], raw: dict[str, str], errors: dict[str, str], revision: int, status: int = 200,
            conflict: str = "") -> tuple[str, int]:  # fmt: skip
    fields = _fields()
    return render_template(
        "tracker_child.html", child=found, components=forms.components(fields, raw, errors),
        errors=forms.error_list(fields, errors), revision=revision, conflict=conflict, yes_no=YES_NO,
    ), status  # fmt: skip
