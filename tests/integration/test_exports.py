"""Exports analysts and information governance can use (issue 19): UTF-8 with a BOM, ISO dates, one
value a cell, and the bulk audit export (CSV and JSON Lines, by child or date range, administrators
only, itself audited)."""

from __future__ import annotations

import codecs
import csv
import io
import json
from datetime import UTC, datetime

from sqlalchemy import select

from engine.persistence.models import AuditEvent, Case
from tests.webclient import Staff, care_plan_step, csv_text


def spreadsheet_reads(raw: bytes) -> str:
    """How Excel opens a CSV: UTF-8 only when the file starts with the byte order mark, else Windows-1252."""
    return raw[3:].decode("utf-8") if raw.startswith(codecs.BOM_UTF8) else raw.decode("cp1252", errors="replace")


def _note(rt, ref: str, detail: str, at: datetime) -> None:  # type: ignore[no-untyped-def]
    with rt.uow() as uow:
        case_id = uow.session.scalar(select(Case.id).where(Case.ref == ref))
        uow.session.add(AuditEvent(case_id=case_id, at=at, actor="sw.alice", action="case.note", detail=detail,
                                   before={"fee": "£4"}, after={"fee": "Café – £5"}))  # fmt: skip
        uow.commit()


def _export(admin: Staff, status: int = 200, **answers: str):  # type: ignore[no-untyped-def]
    data = {"format": "csv", **answers}
    return admin.post("/admin/audit", data, status=status)


def _date(name: str, day: str) -> dict[str, str]:
    year, month, d = day.split("-")
    return {f"{name}-day": d, f"{name}-month": month, f"{name}-year": year}


def test_a_childs_audit_trail_exports_as_csv_that_a_spreadsheet_reads(app, rt, now):
    care_plan_step(rt, "CH-5001")
    care_plan_step(rt, "CH-5002")
    _note(rt, "CH-5001", "Café – £5 agreed", datetime(2026, 12, 18, 11, tzinfo=UTC))
    admin = Staff(app, "admin.ash")
    response = _export(admin, child_ref="CH-5001")
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment; filename=audit-CH-5001.csv" == response.headers["Content-Disposition"]
    assert "Café – £5 agreed" in spreadsheet_reads(response.get_data())
    rows = list(csv.DictReader(io.StringIO(csv_text(response))))
    assert rows and {r["child_ref"] for r in rows} == {"CH-5001"}
    note = next(r for r in rows if r["action"] == "case.note")
    assert note["at"] == "2026-12-18T11:00:00+00:00" and json.loads(note["after"]) == {"fee": "Café – £5"}
    assert list(rows[0]) == ["id", "at", "actor", "action", "child_ref", "pathway", "case_id", "element", "detail",
                             "before", "after"]  # fmt: skip
    with rt.reading() as uow:  # the export itself is in the trail, with who asked and for what
        exported = uow.session.scalars(select(AuditEvent).where(AuditEvent.action == "audit.exported")).all()
    assert [(e.actor, e.after) for e in exported] == [
        ("admin.ash", {"child_ref": "CH-5001", "from_date": None, "to_date": None, "format": "csv"})]  # fmt: skip


def test_a_date_range_exports_as_json_lines(app, rt, now):
    care_plan_step(rt, "CH-5003")
    _note(rt, "CH-5003", "inside", datetime(2026, 12, 20, 23, 30, tzinfo=UTC))  # 20 December in London
    _note(rt, "CH-5003", "after", datetime(2026, 12, 22, 0, 30, tzinfo=UTC))
    admin = Staff(app, "admin.ash")
    response = _export(admin, format="jsonl", **_date("from_date", "2026-12-19"), **_date("to_date", "2026-12-21"))
    assert response.headers["Content-Type"].startswith("application/jsonl")
    lines = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    assert [line["detail"] for line in lines if line["action"] == "case.note"] == ["inside"]
    assert lines[0]["after"] == {"fee": "Café – £5"} and lines[0]["child_ref"] == "CH-5003"


def test_the_export_refuses_on_the_same_page_and_only_for_administrators(app, rt, now):
    admin = Staff(app, "admin.ash")
    page = admin.get("/admin/audit").text
    assert "Export the audit trail" in page and 'name="from_date-day"' in page
    empty = _export(admin, status=400).text
    assert "Enter a child reference, or both dates of a range" in empty and "There is a problem" in empty
    backwards = _export(admin, status=400, **_date("from_date", "2026-12-19"), **_date("to_date", "2026-12-01")).text
    assert "must be the same as or after" in backwards and 'value="19"' in backwards  # the form kept
    impossible = _export(admin, status=400, **_date("from_date", "2027-02-31"), **_date("to_date", "2027-03-01")).text
    assert "real date" in impossible or "must be a real" in impossible
    assert "Sam Smith" not in _export(admin, status=400, child_ref="Sam Smith").text.split("<form")[0]
    Staff(app, "tm.carol").get("/admin/audit", status=403)
    Staff(app, "hos.hana").post("/admin/audit", {"child_ref": "CH-1", "format": "csv"}, status=403)
    with rt.reading() as uow:
        assert uow.session.scalar(select(AuditEvent.id).where(AuditEvent.action == "audit.exported")) is None
