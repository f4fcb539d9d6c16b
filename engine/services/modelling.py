"""Process owners' work on diagrams: validate, preview dates, drafts, four-eyes publishing, diffs, migration."""

from __future__ import annotations

from datetime import date
from typing import Any

from engine.bootstrap import Runtime
from engine.bpmn import preview, validation
from engine.bpmn.definition import describe
from engine.bpmn.validation import Problem
from engine.bpmn.xml import parse_bpmn
from engine.errors import DefinitionInvalid
from engine.services._common import refresh_calendar
from engine.services.definitions import library


def validate_diagram(
    rt: Runtime, filename: str, content: bytes, extra: dict[str, tuple[str, bytes]] | None = None,
    use_published: bool = True,
) -> list[Problem]:  # fmt: skip
    """Every problem with one diagram, checked against the published diagrams it may call (and ``extra``)."""
    known: dict[str, tuple[str, bytes]] = {}
    if use_published:
        with rt.uow() as uow:
            refresh_calendar(rt, uow.session)
            known.update(library(uow.session))
    known.update(extra or {})
    _, found = validation.check_diagram(content, filename, rt.bpmn.script_engine.environment, rt.bpmn.build_spec,
                                        known)  # fmt: skip
    return found


def preview_dates(rt: Runtime, content: bytes, anchors: dict[str, date], default_day: date) -> dict[str, Any]:
    """Every due date, gate, deadline and timer of a diagram worked out for a sample case."""
    try:
        root = parse_bpmn(content)
    except DefinitionInvalid as exc:
        return {"error": exc.message, "sample": {}, "dates": [], "anchors": []}
    info = describe(root)
    with rt.uow() as uow:
        refresh_calendar(rt, uow.session)
    sample, rows = preview.due_dates(rt.bpmn.script_engine.environment, root, info, default_day, anchors)
    start_dates = [f.id for e in info.elements.values() if e.kind == "startEvent" and e.process == info.key
                   for f in e.form if f.type == "date"]  # fmt: skip
    return {"error": None, "anchors": start_dates, "sample": {k: sample.get(k) for k in start_dates},
            "dates": [r.to_dict() for r in rows]}  # fmt: skip
