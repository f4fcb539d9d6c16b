"""Published versions of a pathway: who made each and why, what changed between two, and moving cases on."""

from __future__ import annotations

from datetime import date
from typing import Any

from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import clock
from engine.bootstrap import Runtime
from engine.bpmn.definition import describe, rule_in_words
from engine.bpmn.xml import NS, parse_bpmn
from engine.domain.access import Person
from engine.domain.states import CaseStatus, DeadlineStatus, TaskStatus
from engine.errors import InvalidInput, NotAllowed, NotFound, PathwaysError
from engine.persistence.models import Case, Deadline, Definition, HumanTask
from engine.services import _steps
from engine.services._common import audit, commit, element, recorded_answers, refresh_calendar, spec_for
from engine.services.definitions import find_definition
from engine.services.modelling import require_modeller

MIGRATABLE = (CaseStatus.RUNNING, CaseStatus.WAITING, CaseStatus.SUSPENDED)


def pathway_versions(rt: Runtime, person: Person, key: str) -> dict[str, Any]:
    """Every version of a pathway with who published it, why, who approved it, and its running cases."""
    require_modeller(person)
    with rt.uow() as uow:
        session = uow.session
        columns = (Definition.id, Definition.version, Definition.name, Definition.filename, Definition.published_at,
                   Definition.published_by, Definition.reason, Definition.approved_by)  # fmt: skip
        rows = session.execute(select(*columns).where(Definition.key == key).order_by(Definition.version.desc())).all()
        if not rows:
            raise NotFound(f"no published pathway '{key}'")
        running = dict(session.execute(
            select(Case.definition_id, func.count()).where(Case.key == key, Case.status.in_(MIGRATABLE))
            .group_by(Case.definition_id)).all())  # fmt: skip
        versions = [{"version": r.version, "name": r.name, "filename": r.filename,
                     "published_at": r.published_at.isoformat(), "published_by": r.published_by, "reason": r.reason,
                     "approved_by": r.approved_by, "running_cases": running.get(r.id, 0)} for r in rows]  # fmt: skip
        return {"key": key, "name": rows[0].name, "latest": rows[0].version, "versions": versions}


# --- what changed ---------------------------------------------------------------------------
def _flows(root: etree._Element) -> dict[str, dict[str, str]]:
    found = {}
    for flow in root.iter(f"{{{NS['bpmn']}}}sequenceFlow"):
        node = flow.find("bpmn:conditionExpression", NS)
        condition = (node.text or "").strip() if node is not None else ""
        found[flow.get("id", "")] = {"name": flow.get("name") or "", "from": flow.get("sourceRef", ""),
                                     "to": flow.get("targetRef", ""), "condition": condition}  # fmt: skip
    return found


_ATTRIBUTES = {"name": "name", "kind": "kind of element", "lane": "lane", "documentation": "guidance",
               "candidate_groups": "role"}  # fmt: skip
_PROPERTY_WORDS = {"due": "due date", "due_source": "citation", "due_status": "status", "due_anchor": "counted from",
                   "not_before": "earliest date", "not_before_source": "earliest date's citation",
                   "alert": "alert", "outcome": "outcome", "event_date": "date it happened"}  # fmt: skip
_DEADLINE_WORDS = {"due": "due", "source": "citation", "status": "status", "name": "name", "met_by": "met by",
                   "anchor": "counted from", "kind": "kind", "ends_by": "ended by"}  # fmt: skip
_FIELD_PARTS = (("label", "question"), ("type", "type"), ("required", "required"), ("options", "choices"),
                ("hint", "hint"), ("constraints", "limits"))  # fmt: skip


def _said(name: str, value: Any) -> str:
    text = "" if value is None else str(value)
    return rule_in_words(text) if (name == "due" or name.endswith(".due") or name == "not_before") else text


def _property_words(name: str, deadlines: dict[str, str]) -> str | None:
    """A property as the owner reads it (None: a part of a rule in words, shown as the rule it gives)."""
    if name.endswith(("_amount", "_unit", "_from")):
        return None
    if name.startswith("deadline.") and name.count(".") >= 2:
        _, key, attr = name.split(".", 2)
        return f"deadline '{deadlines.get(key, key)}' {_DEADLINE_WORDS.get(attr, attr)}"
    return _PROPERTY_WORDS.get(name, f"property {name}")


def _element_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    what = []
    for name, words in _ATTRIBUTES.items():
        if old.get(name) != new.get(name):
            before, after = old.get(name) or "", new.get(name) or ""
            if isinstance(before, list) or isinstance(after, list):
                before, after = ", ".join(before or []), ", ".join(after or [])
            what.append(f"{words}: '{before}' → '{after}'")
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    names = {k.split(".")[1]: v for k, v in {**old_props, **new_props}.items()
             if k.startswith("deadline.") and k.endswith(".name")}  # fmt: skip
    for prop in sorted(set(old_props) | set(new_props)):
        said = _property_words(prop, names)
        if said is not None and old_props.get(prop) != new_props.get(prop):
            what.append(f"{said}: '{_said(prop, old_props.get(prop))}' → '{_said(prop, new_props.get(prop))}'")
    old_form = {f["id"]: f for f in old.get("form", [])}
    new_form = {f["id"]: f for f in new.get("form", [])}
    what += [f"form field '{new_form[f].get('label') or f}' ({f}) added" for f in new_form if f not in old_form]
    what += [f"form field '{old_form[f].get('label') or f}' ({f}) removed" for f in old_form if f not in new_form]
    for f in new_form:
        if f in old_form and new_form[f] != old_form[f]:
            parts = [words for part, words in _FIELD_PARTS if old_form[f].get(part) != new_form[f].get(part)]
            what.append(f"form field '{new_form[f].get('label') or f}' ({f}) changed: {', '.join(parts) or 'details'}")
    return what


def diff_diagrams(old_xml: str, new_xml: str) -> dict[str, list[dict[str, Any]]]:
    """Elements and flows added, removed and changed between two diagrams (layout moves are not changes)."""
    old_root, new_root = parse_bpmn(old_xml), parse_bpmn(new_xml)
    old = {k: v.to_dict() for k, v in describe(old_root).elements.items()}
    new = {k: v.to_dict() for k, v in describe(new_root).elements.items()}
    old.update({k: {"id": k, "kind": "sequenceFlow", **v} for k, v in _flows(old_root).items()})
    new.update({k: {"id": k, "kind": "sequenceFlow", **v} for k, v in _flows(new_root).items()})
    changed = []
    for key in sorted(set(old) & set(new)):
        if old[key]["kind"] == "sequenceFlow":
            what = [f"{n}: '{old[key][n]}' → '{new[key][n]}'" for n in ("name", "from", "to", "condition")
                    if old[key][n] != new[key][n]]  # fmt: skip
        else:
            what = _element_changes(old[key], new[key])
        if what:
            changed.append({"id": key, "kind": new[key]["kind"], "name": new[key].get("name", ""), "what": what})
    return {
        "added": [_brief(new[k]) for k in sorted(set(new) - set(old))],
        "removed": [_brief(old[k]) for k in sorted(set(old) - set(new))],
        "changed": changed,
    }


def _brief(item: dict[str, Any]) -> dict[str, Any]:
    return {"id": item["id"], "kind": item["kind"], "name": item.get("name", "")}


def version_diff(rt: Runtime, person: Person, key: str, old: int, new: int) -> dict[str, Any]:
    require_modeller(person)
    with rt.uow() as uow:
        before, after = find_definition(uow.session, key, old), find_definition(uow.session, key, new)
        return {"key": key, "from": old, "to": new, **diff_diagrams(before.bpmn_xml, after.bpmn_xml)}


# --- migration -------------------------------------------------------------------------------
def running_cases(rt: Runtime, person: Person, key: str, limit: int = 500) -> list[dict[str, Any]]:
    """Running cases of a pathway not on its newest version, with where each waits (for choosing whom to move)."""
    require_modeller(person)
    with rt.uow() as uow:
        session = uow.session
        newest = session.scalar(select(func.max(Definition.version)).where(Definition.key == key))
        rows = session.execute(
            select(Case.id, Case.ref, Case.team, Case.status, Definition.version)
            .join(Definition, Definition.id == Case.definition_id)
            .where(Case.key == key, Case.status.in_(MIGRATABLE), Definition.version != newest)
            .order_by(Case.id).limit(limit)
        ).all()  # fmt: skip
        waiting: dict[int, list[str]] = {}
        for case_id, title in session.execute(select(HumanTask.case_id, HumanTask.title).where(
                HumanTask.case_id.in_([r.id for r in rows]), HumanTask.status == TaskStatus.OPEN)):  # fmt: skip
            waiting.setdefault(case_id, []).append(title)
        return [{"case_id": r.id, "ref": r.ref, "team": r.team, "status": r.status, "version": r.version,
                 "waiting_at": waiting.get(r.id, [])} for r in rows]  # fmt: skip


def migrate_cases(rt: Runtime, person: Person, key: str, case_ids: list[int], to_version: int,
                  reason: str) -> dict[str, Any]:  # fmt: skip
    """Move each selected case onto ``to_version``, each in its own transaction; refusals carry the reason.

    Open steps take the new version's titles, roles and due dates, and running clocks its rules (met and
    breached ones never move); each move is listed with the dates it changed (see :func:`preview_migration`)."""
    _check_move(person, case_ids, reason)
    migrated, refused = [], []
    for case_id in dict.fromkeys(case_ids):
        try:
            migrated.append(_migrate_one(rt, person, key, case_id, to_version, reason.strip()))
        except PathwaysError as exc:
            refused.append({"case_id": case_id, "reason": exc.message})
    return {"migrated": migrated, "refused": refused}


def preview_migration(rt: Runtime, person: Person, key: str, case_ids: list[int], to_version: int,
                      reason: str) -> dict[str, Any]:  # fmt: skip
    """What moving the cases would change, case by case (each move is made and rolled back): the due dates of
    their open steps and their running clocks before and after, and the cases that cannot move and why."""
    _check_move(person, case_ids, reason)
    moving, refused = [], []
    for case_id in dict.fromkeys(case_ids):
        try:
            moving.append(_migrate_one(rt, person, key, case_id, to_version, reason.strip(), dry_run=True))
        except PathwaysError as exc:
            refused.append({"case_id": case_id, "reason": exc.message})
    return {"moving": moving, "refused": refused}


def _check_move(person: Person, case_ids: list[int], reason: str) -> None:
    require_modeller(person)
    if not case_ids:
        raise InvalidInput("select at least one case to move")
    if not (reason or "").strip():
        raise InvalidInput("say why these cases are moving to the new version (recorded on each case)")


def _migrate_one(rt: Runtime, person: Person, key: str, case_id: int, to_version: int, reason: str,
                 dry_run: bool = False) -> dict:  # fmt: skip
    with rt.uow() as uow:
        session = uow.session
        case = session.get(Case, case_id)
        if case is None or case.key != key:
            raise NotFound(f"pathway '{key}' has no case {case_id}")
        if case.status not in MIGRATABLE:
            raise NotAllowed(f"case {case.ref} is {case.status}: only running, waiting or suspended cases move")
        target = find_definition(session, key, to_version)
        before = case.definition
        if before.id == target.id:
            raise NotAllowed(f"case {case.ref} is already on version {to_version}")
        refresh_calendar(rt, session)
        workflow = rt.bpmn.load(spec_for(rt, session, before), case.state)
        known = set(target.info["elements"]) | set(target.info.get("called_elements", {}))
        missing = [e for e in rt.bpmn.waiting_elements(workflow) if e not in known]
        if missing:
            raise NotAllowed(f"case {case.ref} waits at {', '.join(missing)}, which version {to_version} does not have")
        dates_before = _dates_of(session, case)
        new_spec = spec_for(rt, session, target)
        rt.bpmn.migrate(workflow, new_spec)
        case.definition = target
        _refresh_open_steps(rt, session, case, workflow)
        _recompute_clocks(rt, session, case, workflow, person.username)
        if case.status == CaseStatus.SUSPENDED:
            case.state = rt.bpmn.dump(workflow)
        else:
            _steps.sync(rt, session, case, workflow, rt.bpmn.advance(workflow), person.username)
        rt.bpmn.load(new_spec, case.state)  # the saved state must load on the new version, or nothing is saved
        case.updated_at = clock.utcnow()
        session.flush()
        changes = _changed_dates(dates_before, _dates_of(session, case))
        moved = {"case_id": case.id, "ref": case.ref, "from": before.version, "to": target.version, "changes": changes}
        if dry_run:
            uow.rollback()
            return moved
        after = {"version": target.version, "dates_changed": changes}
        audit(session, case.id, person.username, "case.migrated", detail=reason,
              before={"version": before.version}, after=after)  # fmt: skip
        commit(uow, f"case {case.ref}")
        return moved


_UNMOVABLE = (DeadlineStatus.MET, DeadlineStatus.MET_LATE, DeadlineStatus.BREACHED, DeadlineStatus.CANCELLED,
              DeadlineStatus.MOVED)  # fmt: skip


def _recompute_clocks(rt: Runtime, session: Session, case: Case, workflow: Any, actor: str) -> None:
    """The case's running and expected clocks and its gates worked out again under the new version's rules, from
    what the case has recorded. A met or breached clock is a fact about the child's plan: it never moves; a clock
    the new version no longer has keeps its date."""
    rows = _steps.preload(session, [case.id])[case.id]
    recorded = {k: v for k, v in recorded_answers(session, case).items() if v is not None}
    data = {**rt.bpmn.live(workflow).data, **recorded}  # what the case recorded wins over a blank kept by a script
    for row in [d for d in rows.deadlines if d.status not in _UNMOVABLE]:
        spec = _steps.spec_of(case, row)
        if spec is None:
            continue
        try:
            due, note = _steps.plan_date(rt, case, rows, row.element, spec, data)
        except PathwaysError:
            continue  # it cannot be worked out for this case under the new rule: it keeps its date
        if due is None:
            continue
        before = {"due": row.due_date, "name": row.name, "source": row.source, "status": row.rule_status}
        row.name, row.source, row.rule_status, row.met_by, row.anchor = (
            spec.name, spec.source, spec.status, spec.met_by, spec.anchor)  # fmt: skip
        if row.status == DeadlineStatus.EXPECTED or note is not None:
            row.expected_note = note
        row.due_date = due
        after = {"due": row.due_date, "name": row.name, "source": row.source, "status": row.rule_status}
        if before != after:
            audit(session, case.id, actor, "deadline.recomputed", element=row.element, detail=row.name,
                  before=before, after=after)  # fmt: skip


def _dates_of(session: Session, case: Case) -> dict[tuple[str, str], tuple[str, date | None]]:
    """(kind, key) -> (what it is called, its date): open steps' due dates and every clock's date."""
    found: dict[tuple[str, str], tuple[str, date | None]] = {}
    for task in session.scalars(select(HumanTask).where(HumanTask.case_id == case.id,
                                                        HumanTask.status == TaskStatus.OPEN)):  # fmt: skip
        found[("step", task.element)] = (task.title, task.due_date)
    for row in session.scalars(select(Deadline).where(Deadline.case_id == case.id, Deadline.status.not_in(
            (DeadlineStatus.MOVED, DeadlineStatus.CANCELLED)))):  # fmt: skip
        found[("clock", row.key)] = (f"{row.name} ({row.status.replace('_', ' ')})", row.due_date)
    return found


def _changed_dates(before: dict[tuple[str, str], tuple[str, date | None]],
                   after: dict[tuple[str, str], tuple[str, date | None]]) -> list[dict[str, Any]]:  # fmt: skip
    changes = []
    for key in [*before, *(k for k in after if k not in before)]:
        old, new = before.get(key), after.get(key)
        was, now = old[1] if old else None, new[1] if new else None
        if was != now:
            name = new[0] if new else old[0] if old else ""
            changes.append({"kind": key[0], "name": name, "before": was.isoformat() if was else None,
                            "after": now.isoformat() if now else None})  # fmt: skip
    return changes


def _refresh_open_steps(rt: Runtime, session: Session, case: Case, workflow: Any) -> None:
    """Open steps take the new version's title, role and due date (worked out again from the case data)."""
    for task in session.scalars(select(HumanTask).where(HumanTask.case_id == case.id,
                                                        HumanTask.status == TaskStatus.OPEN)):  # fmt: skip
        info = element(case.definition, task.element)
        if info is None:
            continue
        data = dict(rt.bpmn.task(workflow, task.spiff_id).data)
        task.title, task.lane, task.role = info.name, info.lane, info.role
        task.due_date = _steps.evaluate_date(rt, info.id, info.properties.get("due"), data)
        task.not_before = _steps.evaluate_date(rt, info.id, info.properties.get("not_before"), data)
        task.not_before_source = info.properties.get("not_before_source")
