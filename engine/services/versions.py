"""Published versions of a pathway: who made each and why, what changed between two, and moving cases on."""

from __future__ import annotations

from typing import Any

from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import clock
from engine.bootstrap import Runtime
from engine.bpmn.definition import describe
from engine.bpmn.xml import NS, parse_bpmn
from engine.domain.access import Person
from engine.domain.states import CaseStatus, TaskStatus
from engine.errors import InvalidInput, NotAllowed, NotFound, PathwaysError
from engine.persistence.models import Case, Definition, HumanTask
from engine.services import _steps
from engine.services._common import audit, commit, element, refresh_calendar, spec_for
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


def _element_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    what = []
    for name in ("name", "kind", "lane", "documentation", "candidate_groups"):
        if old.get(name) != new.get(name):
            what.append(f"{name}: '{old.get(name) or ''}' → '{new.get(name) or ''}'")
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    for prop in sorted(set(old_props) | set(new_props)):
        if old_props.get(prop) != new_props.get(prop):
            what.append(f"property {prop}: '{old_props.get(prop, '')}' → '{new_props.get(prop, '')}'")
    old_form = {f["id"]: f for f in old.get("form", [])}
    new_form = {f["id"]: f for f in new.get("form", [])}
    what += [f"form field {f} added" for f in new_form if f not in old_form]
    what += [f"form field {f} removed" for f in old_form if f not in new_form]
    what += [f"form field {f} changed" for f in new_form if f in old_form and new_form[f] != old_form[f]]
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
    """Move each selected case onto ``to_version``, each in its own transaction; refusals carry the reason."""
    require_modeller(person)
    if not case_ids:
        raise InvalidInput("select at least one case to move")
    if not (reason or "").strip():
        raise InvalidInput("say why these cases are moving to the new version (recorded on each case)")
    migrated, refused = [], []
    for case_id in dict.fromkeys(case_ids):
        try:
            migrated.append(_migrate_one(rt, person, key, case_id, to_version, reason.strip()))
        except PathwaysError as exc:
            refused.append({"case_id": case_id, "reason": exc.message})
    return {"migrated": migrated, "refused": refused}


def _migrate_one(rt: Runtime, person: Person, key: str, case_id: int, to_version: int, reason: str) -> dict:
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
        new_spec = spec_for(rt, session, target)
        rt.bpmn.migrate(workflow, new_spec)
        case.definition = target
        _refresh_open_steps(rt, session, case, workflow)
        if case.status == CaseStatus.SUSPENDED:
            case.state = rt.bpmn.dump(workflow)
        else:
            _steps.sync(rt, session, case, workflow, rt.bpmn.advance(workflow), person.username)
        rt.bpmn.load(new_spec, case.state)  # the saved state must load on the new version, or nothing is saved
        case.updated_at = clock.utcnow()
        audit(session, case.id, person.username, "case.migrated", detail=reason,
              before={"version": before.version}, after={"version": target.version})  # fmt: skip
        commit(uow, f"case {case.ref}")
        return {"case_id": case.id, "ref": case.ref, "from": before.version, "to": target.version}


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
