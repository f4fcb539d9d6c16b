"""Administrators' pages: events received from case-management systems and their senders, and the
subscriptions other systems have to events here, with their delivery logs."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, stream_with_context, url_for
from werkzeug.wrappers import Response

from engine import services
from engine.domain.access import ROLE_STEPS
from engine.errors import FormInvalid, InvalidInput, NotAllowed, NotFound
from engine.services import accounts, audit_export, inbound, sso
from web import forms, inputs, security
from web import sso as web_sso
from web.chrome import role_label
from web.manager import CSV_TYPE, csv_stream
from web.security import login_required

blueprint = Blueprint("admin", __name__)
STATUS_LABELS = {
    "received": "Waiting to be applied", "applied": "Applied", "unmatched": "Unmatched: no case waits for it",
    "parked": "Parked: needs a decision", "ignored": "Ignored: no rule", "failed": "Failed",
}  # fmt: skip


def _admins_only() -> None:
    if "admin" not in security.person().roles:
        raise NotAllowed("only administrators see the events received from case-management systems")


def _page_items(found: dict, endpoint: str, **args: object) -> list[dict]:
    """GOV.UK pagination links for a paged list (none for one page, or too many to list)."""
    pages = -(-found["total"] // found["per_page"])
    if not 1 < pages <= 20:
        return []
    return [{"number": n, "href": url_for(endpoint, **args, page=n), "current": n == found["page"]}
            for n in range(1, pages + 1)]  # fmt: skip


@blueprint.get("/admin/events")
@login_required
def events() -> str:
    _admins_only()
    rt = security.runtime()
    status = request.args.get("status") or None
    status = status if status in inbound.STATUSES else None
    ref = (request.args.get("ref") or "").strip() or None
    page = inputs.page_number(request.args.get("page"))
    found = services.list_events(rt, status=status, child_ref=ref, page=page, per_page=50)
    page_items = _page_items(found, "admin.events", status=status, ref=ref)
    status_items = [{"value": "", "text": "Any status"}] + [
        {"value": k, "text": v, "selected": k == status} for k, v in STATUS_LABELS.items()
    ]
    return render_template("admin_events.html", found=found, status=status, ref=ref or "", labels=STATUS_LABELS,
                           status_items=status_items, page_items=page_items, senders=services.list_senders(rt),
                           oldest=inbound.oldest_waiting(rt))  # fmt: skip


@blueprint.post("/admin/events/<id:event_id>/replay")
@login_required
def replay(event_id: int) -> Response:
    _admins_only()
    shown = services.replay_event(security.runtime(), event_id, security.person().username)
    outcome = shown["action"] or shown["reason"] or ""
    flash(f"Event {shown['event_id']} replayed: {STATUS_LABELS[shown['status']].lower()}. {outcome}", "success")
    return redirect(url_for("admin.events", ref=shown["child_ref"]))


# --- subscriptions: systems told of events here ---------------------------------------------------

TYPE_HINTS = {
    "task.created": "a step opened, with its role and due date",
    "task.overdue": "a step passed its due date",
    "deadline.breached": "a statutory or local deadline passed unmet",
    "escalation.raised": "a rung of the escalation ladder was raised",
    "case.completed": "a pathway finished, with its outcome",
}
DELIVERY_LABELS = {"pending": "Waiting to be sent", "delivered": "Delivered", "dead": "Dead letter: retries used up",
                   "gone": "Gone: the receiver answered 410"}  # fmt: skip


def _type_items(chosen: list[str]) -> list[dict]:
    return [{"value": t, "text": t, "hint": {"text": TYPE_HINTS[t]}, "checked": t in chosen} for t in TYPE_HINTS]


@blueprint.get("/admin/subscriptions")
@login_required
def subscriptions() -> str:
    _admins_only()
    rt = security.runtime()
    return render_template("admin_subscriptions.html", subscriptions=services.list_subscriptions(rt),
                           type_items=_type_items([]), form={}, field_errors={})  # fmt: skip


@blueprint.post("/admin/subscriptions")
@login_required
def add_subscription() -> tuple[str, int] | str:
    _admins_only()
    rt = security.runtime()
    form = {"url": request.form.get("url", ""), "description": request.form.get("description", "")}
    types = request.form.getlist("event_types")
    try:
        made = services.add_subscription(rt, form["url"], types, security.person().username, form["description"])
    except InvalidInput as exc:  # every field's problem at once (FormInvalid), or one about the whole request
        errors = exc.errors if isinstance(exc, FormInvalid) else {"url": exc.message}
        summary = [{"text": text, "href": f"#{name}"} for name, text in errors.items()]  # one box, in the layout
        return render_template("admin_subscriptions.html", subscriptions=services.list_subscriptions(rt),
                               type_items=_type_items(types), form=form, field_errors=errors,
                               errors=summary), 400  # fmt: skip
    # The secret is in this page only (never in a redirect, a flash message or a log).
    return _subscription_page(made["id"], secret=made["secret"], created=True)


@blueprint.get("/admin/subscriptions/<id:subscription_id>")
@login_required
def subscription(subscription_id: int) -> str:
    _admins_only()
    return _subscription_page(subscription_id)


def _subscription_page(subscription_id: int, secret: str | None = None, created: bool = False) -> str:
    rt = security.runtime()
    status = request.args.get("status") or None
    status = status if status in DELIVERY_LABELS else None
    page = inputs.page_number(request.args.get("page"))
    found = services.list_deliveries(rt, subscription_id, status=status, page=page, per_page=25)
    page_items = _page_items(found, "admin.subscription", subscription_id=subscription_id, status=status)
    return render_template("admin_subscription.html", sub=services.show_subscription(rt, subscription_id),
                           found=found, labels=DELIVERY_LABELS, status=status, page_items=page_items, secret=secret,
                           created=created)  # fmt: skip


@blueprint.post("/admin/subscriptions/<id:subscription_id>/active")
@login_required
def set_active(subscription_id: int) -> Response | str:
    _admins_only()
    active = request.form.get("active") == "true"
    if not active and not forms.confirmed():
        sub = services.show_subscription(security.runtime(), subscription_id)
        back = url_for("admin.subscription", subscription_id=subscription_id)
        return forms.confirm_page(
            "Disable this subscription?", "Nothing more is queued or sent to it until it is enabled again; events "
            "in the meantime are not delivered later.", url_for("admin.set_active", subscription_id=subscription_id),
            back, "Yes, disable it", "No, keep it active", rows=[("Address", sub["url"]),
                                                                 ("Description", sub.get("description") or "")],
            fields={"active": "false"})  # fmt: skip
    services.update_subscription(security.runtime(), subscription_id, security.person().username, active=active)
    flash("Subscription enabled: waiting deliveries will be sent." if active else
          "Subscription disabled: nothing more is queued or sent until it is enabled.", "success")  # fmt: skip
    return redirect(url_for("admin.subscription", subscription_id=subscription_id))


@blueprint.post("/admin/subscriptions/<id:subscription_id>/rotate")
@login_required
def rotate(subscription_id: int) -> str:
    _admins_only()
    secret = services.rotate_subscription_secret(security.runtime(), subscription_id, security.person().username)
    return _subscription_page(subscription_id, secret=secret)


@blueprint.post("/admin/deliveries/<id:delivery_id>/redeliver")
@login_required
def redeliver(delivery_id: int) -> Response:
    _admins_only()
    shown = services.redeliver_delivery(security.runtime(), delivery_id, security.person().username)
    flash(f"Delivery {shown['id']} ({shown['type']}) will be sent again on the worker's next sweep.", "success")
    return redirect(url_for("admin.subscription", subscription_id=shown["subscription_id"]))


# --- the bulk audit export ---------------------------------------------------------------------
def _export_fields() -> list[dict[str, Any]]:
    return [f.to_dict() for f in audit_export.EXPORT_FORM]


@blueprint.route("/admin/audit", methods=["GET", "POST"])
@login_required
def audit_trail() -> Response | str | tuple[str, int]:
    """Export the audit trail of a child or a date range (CSV or JSON Lines), streamed; the export is audited."""
    if "admin" not in security.person().roles:
        raise NotAllowed("only administrators export the audit trail")
    fields = _export_fields()
    if request.method == "GET":
        return _render_export(forms.raw_from_values(fields, {}), {})
    raw = forms.raw_from_request(fields, request.form)
    try:
        found, rows = audit_export.export_audit(security.runtime(), security.person(), forms.answers(fields, raw))
    except FormInvalid as exc:
        return _render_export(raw, exc.errors, exc.boxes, status=400)
    name = "audit-" + "-".join(str(v) for k, v in found.items() if k != "format" and v) + "." + found["format"]
    name = re.sub(r"[^A-Za-z0-9._-]", "_", name)
    headers = {"Content-Disposition": f"attachment; filename={name}", "Cache-Control": "no-store"}
    if found["format"] == "jsonl":
        lines = (json.dumps(row, ensure_ascii=False, default=str) + "\n" for row in rows)
        return Response(stream_with_context(lines), mimetype="application/jsonl", headers=headers)
    cells = ([row[c] if c not in ("before", "after") or row[c] is None else json.dumps(row[c], ensure_ascii=False)
              for c in audit_export.COLUMNS] for row in rows)  # fmt: skip
    return Response(stream_with_context(csv_stream(audit_export.COLUMNS, cells)), mimetype=CSV_TYPE, headers=headers)


def _render_export(raw: dict[str, str], errors: dict[str, str], boxes: dict[str, tuple[str, ...]] | None = None,
                   status: int = 200) -> tuple[str, int]:  # fmt: skip
    fields = _export_fields()
    return render_template("admin_audit.html", components=forms.components(fields, raw, errors, boxes),
                           errors=forms.error_list(fields, errors, boxes)), status  # fmt: skip


# --- single sign-on: which directory groups give which roles -----------------------------------
@blueprint.route("/admin/sso", methods=["GET", "POST"])
@login_required
def sso_groups() -> Response | str | tuple[str, int]:
    _admins_only()
    rt, me = security.runtime(), security.person()
    form = {"group_id": "", "role": "", "team": ""}
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = {k: (request.form.get(k) or "").strip() for k in form}
        try:
            sso.map_group(rt, form["group_id"], form["role"], form["team"] or None, me.username)
        except InvalidInput as exc:
            field = "role" if "role" in exc.message else "team" if "team" in exc.message else "group_id"
            errors[field] = exc.message
        else:
            flash(f"Members of {form['group_id']} get {form['role']} at their next sign-in.")
            return redirect(url_for("admin.sso_groups"))
    teams = [t["name"] for t in accounts.list_teams(rt)]
    page = render_template(
        "admin_sso.html", maps=sso.list_group_maps(rt), form=form, sso_on=web_sso.provider() is not None,
        errors=[{"text": m, "href": f"#{k}"} for k, m in errors.items()], field_errors=errors,
        roles=[{"value": "", "text": "Choose a role"}] + [{"value": r, "text": r, "selected": r == form["role"]}
                                                          for r in sorted(ROLE_STEPS)],
        teams=[{"value": "", "text": "No team"}] + [{"value": t, "text": t, "selected": t == form["team"]}
                                                     for t in teams],
    )  # fmt: skip
    return (page, 400) if errors else page


@blueprint.post("/admin/sso/<id:map_id>/remove")
@login_required
def sso_unmap(map_id: int) -> Response | str:
    _admins_only()
    if not forms.confirmed():
        found = next((m for m in sso.list_group_maps(security.runtime()) if m["id"] == map_id), None)
        if found is None:
            raise NotFound(f"there is no group mapping {map_id}")
        return forms.confirm_page(
            "Stop this group giving a role?", "Its members lose the role at their next sign-in (unless another "
            "group gives it).", url_for("admin.sso_unmap", map_id=map_id), url_for("admin.sso_groups"),
            "Yes, remove it", "No, keep it", rows=[("Group", found["group_id"]), ("Role", role_label(found["role"])),
                                                    ("Team", found.get("team") or "No team")])  # fmt: skip
    sso.unmap_group(security.runtime(), map_id, security.person().username)
    flash("The group no longer gives that role: its members lose it at their next sign-in.")
    return redirect(url_for("admin.sso_groups"))
