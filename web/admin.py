"""Administrators' pages: events received from case-management systems, and their senders."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from engine import services
from engine.errors import NotAllowed
from engine.services import inbound
from web import security
from web.security import login_required

blueprint = Blueprint("admin", __name__)
STATUS_LABELS = {
    "received": "Waiting to be applied", "applied": "Applied", "unmatched": "Unmatched: no case waits for it",
    "parked": "Parked: needs a decision", "ignored": "Ignored: no rule", "failed": "Failed",
}  # fmt: skip


def _admins_only() -> None:
    if "admin" not in security.person().roles:
        raise NotAllowed("only administrators see the events received from case-management systems")


@blueprint.get("/admin/events")
@login_required
def events() -> str:
    _admins_only()
    rt = security.runtime()
    status = request.args.get("status") or None
    status = status if status in inbound.STATUSES else None
    ref = (request.args.get("ref") or "").strip() or None
    page = request.args.get("page", 1, type=int) or 1
    found = services.list_events(rt, status=status, child_ref=ref, page=page, per_page=50)
    pages = -(-found["total"] // found["per_page"])
    page_items = [{"number": n, "href": url_for("admin.events", status=status, ref=ref, page=n),
                   "current": n == found["page"]} for n in range(1, pages + 1)] if 1 < pages <= 20 else []  # fmt: skip
    status_items = [{"value": "", "text": "Any status"}] + [
        {"value": k, "text": v, "selected": k == status} for k, v in STATUS_LABELS.items()
    ]
    return render_template("admin_events.html", found=found, status=status, ref=ref or "", labels=STATUS_LABELS,
                           status_items=status_items, page_items=page_items, senders=services.list_senders(rt),
                           oldest=inbound.oldest_waiting(rt))  # fmt: skip


@blueprint.post("/admin/events/<int:event_id>/replay")
@login_required
def replay(event_id: int) -> Response:
    _admins_only()
    shown = services.replay_event(security.runtime(), event_id, security.person().username)
    outcome = shown["action"] or shown["reason"] or ""
    flash(f"Event {shown['event_id']} replayed: {STATUS_LABELS[shown['status']].lower()}. {outcome}", "success")
    return redirect(url_for("admin.events", ref=shown["child_ref"]))
