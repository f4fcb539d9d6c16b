"""The bulk audit export: every audit row of a child, or of a date range, for a subject access
request or a security review. Administrators only; the export is itself audited (who, what
filter, which format) before the first row is read, so an export that is cut off is still known.

Rows are read in id order with ``yield_per``, so a whole year's export streams without being held
in memory. Dates are London calendar days: ``from`` and ``to`` both count, whole days.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select

from engine import clock
from engine.bootstrap import Runtime
from engine.domain.access import Person
from engine.domain.events import CHILD_REF
from engine.domain.forms import FormField, validate
from engine.errors import FormInvalid, NotAllowed
from engine.persistence.models import AuditEvent, Case
from engine.services._common import audit, commit

FORMATS = (("csv", "CSV (opens in Excel)"), ("jsonl", "JSON Lines (one event a line)"))
EXPORT_FORM = [
    FormField("child_ref", "Child reference", hint="Every event of the child's pathways, e.g. CH-1001"),
    FormField("from_date", "From", "date", hint="The first day to include, for example 1 4 2026"),
    FormField("to_date", "To", "date", hint="The last day to include", on_or_after=("from_date",)),
    FormField("format", "Format", "enum", required=True, options=FORMATS, default="csv"),
]
COLUMNS = ("id", "at", "actor", "action", "child_ref", "pathway", "case_id", "element", "detail", "before", "after")


def _check(person: Person, answers: dict[str, Any]) -> dict[str, Any]:
    if "admin" not in person.roles:
        raise NotAllowed("only administrators export the audit trail")
    found = validate(EXPORT_FORM, {k: v for k, v in answers.items() if k in {f.id for f in EXPORT_FORM}})
    found["child_ref"] = (found.get("child_ref") or "").strip() or None
    errors: dict[str, str] = {}
    if found["child_ref"] and not CHILD_REF.match(found["child_ref"]):
        errors["child_ref"] = "A child reference is letters, digits and . _ / - (no spaces, no names)"
    elif not found["child_ref"] and not (found.get("from_date") and found.get("to_date")):
        errors["child_ref"] = "Enter a child reference, or both dates of a range (or both)"
    start, end = found.get("from_date"), found.get("to_date")
    if start and end and end < start:
        errors["to_date"] = "The last day must be the same as or after the first day"
    if errors:
        raise FormInvalid(errors, dict(answers))
    return found


def export_audit(
    rt: Runtime, person: Person, answers: dict[str, Any]
) -> tuple[dict[str, Any], Iterator[dict[str, Any]]]:
    """Check the request, record the export in the audit trail, and return (the filter, the rows).

    Nothing is read until the rows are iterated; a refusal is raised here, before any is sent."""
    found = _check(person, answers)
    described = ", ".join(f"{k}={v}" for k, v in found.items() if v not in (None, ""))
    with rt.uow() as uow:
        after = {f.id: found.get(f.id) for f in EXPORT_FORM}
        audit(uow.session, None, person.username, "audit.exported", detail=described,
              after={k: (v.isoformat() if isinstance(v, date) else v) for k, v in after.items()})  # fmt: skip
        commit(uow, "the audit export")
    return found, _rows(rt, found.get("child_ref"), found.get("from_date"), found.get("to_date"))


def _utc(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=clock.LONDON).astimezone(UTC)


def _rows(rt: Runtime, ref: str | None, start: date | None, end: date | None, batch: int = 500
          ) -> Iterator[dict[str, Any]]:  # fmt: skip
    query = (select(AuditEvent.id, AuditEvent.at, AuditEvent.actor, AuditEvent.action, Case.ref, Case.key,
                    AuditEvent.case_id, AuditEvent.element, AuditEvent.detail, AuditEvent.before, AuditEvent.after)
             .outerjoin(Case, Case.id == AuditEvent.case_id).order_by(AuditEvent.id))  # fmt: skip
    if ref:
        query = query.where(Case.ref == ref)
    if start:
        query = query.where(AuditEvent.at >= _utc(start))
    if end:
        query = query.where(AuditEvent.at < _utc(end + timedelta(days=1)))
    # A transaction, not rt.reading(): a server-side cursor (yield_per) lives only inside one on PostgreSQL,
    # and it gives the whole export one snapshot however long the download takes.
    with rt.uow() as uow:
        for chunk in uow.session.execute(query.execution_options(yield_per=batch)).partitions():
            for row in chunk:
                at = row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC)
                yield {"id": row.id, "at": at.astimezone(UTC).isoformat(), "actor": row.actor, "action": row.action,
                       "child_ref": row.ref, "pathway": row.key, "case_id": row.case_id, "element": row.element,
                       "detail": row.detail, "before": row.before, "after": row.after}  # fmt: skip
