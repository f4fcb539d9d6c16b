"""What an approver decides on (issue 21): what the draft changes against the published version, in words;
the dates it gives a sample case before and after; its scenario test results as they ran at submit (with the
reason for any that fail); and the scenario expectations changed with it."""

from __future__ import annotations

from datetime import date
from typing import Any

from engine import clock
from engine.bootstrap import Runtime
from engine.bpmn.definition import rule_in_words
from engine.domain.access import Person
from engine.services import scenarios, versions
from engine.services.definitions import latest
from engine.services.modelling import _draft, get_draft, preview_dates, require_modeller


def evidence(rt: Runtime, person: Person, draft_id: int, sample: dict[str, date] | None = None) -> dict[str, Any]:
    require_modeller(person)
    draft = get_draft(rt, person, draft_id)
    with rt.uow() as uow:
        published = latest(uow.session, draft["key"])
        before_xml = published.bpmn_xml if published is not None else None
        published_version = published.version if published is not None else None
        row = _draft(uow.session, draft_id)
        run, failing_reason = row.scenario_run, row.failing_reason
        changes = scenarios.scenario_changes(rt, uow.session, draft_id)
    day = clock.london_today()
    after = preview_dates(rt, draft["xml"].encode("utf-8"), sample or {}, day)
    before = preview_dates(rt, before_xml.encode("utf-8"), sample or {}, day) if before_xml else None
    return {
        "draft": draft,
        "published_version": published_version,
        "diff": versions.diff_diagrams(before_xml, draft["xml"]) if before_xml else None,
        "sample": after["sample"],
        "dates": _dates(before["dates"] if before else [], after["dates"]),
        "scenario_run": run,
        "failing": [o for o in (run or {}).get("outcomes", []) if not o["passed"]],
        "failing_reason": failing_reason,
        "scenario_changes": changes,
    }


def _dates(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every date of the sample case, before and after; changed ones first (in the diagram's order)."""

    def key(row: dict[str, Any]) -> tuple[str, str, str]:
        return row["element"], row["kind"], row["label"]

    old = {key(r): r for r in before}
    pairs: list[tuple[dict[str, Any] | None, dict[str, Any] | None]] = [(old.pop(key(row), None), row) for row in after]
    pairs += [(row, None) for row in old.values()]  # dates the draft no longer gives
    rows = []
    for was, now in pairs:
        shown = now or was
        assert shown is not None
        rows.append({"element": shown["element"], "label": shown["label"], "kind": shown["kind"], "before": _due(was),
                     "after": _due(now), "rule_before": _rule(was), "rule_after": _rule(now)})  # fmt: skip
    for row in rows:
        row["changed"] = row["before"] != row["after"]
    return sorted(rows, key=lambda r: not r["changed"])  # stable: the diagram's order within each


def _rule(row: dict[str, Any] | None) -> str | None:
    return rule_in_words(row["expression"]) if row is not None else None


def _due(row: dict[str, Any] | None) -> str | None:
    if row is None:
        return None
    return f"does not work out: {row['error']}" if row.get("error") else row.get("due")
