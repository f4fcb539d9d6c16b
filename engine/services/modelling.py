"""Process owners' work on diagrams: validate, preview dates, drafts, four-eyes publishing, diffs, migration."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock
from engine.bootstrap import Runtime
from engine.bpmn import preview, validation
from engine.bpmn.definition import describe
from engine.bpmn.validation import Problem
from engine.bpmn.xml import parse_bpmn
from engine.domain.access import Person
from engine.domain.states import DraftStatus
from engine.errors import Conflict, DefinitionInvalid, InvalidInput, NotAllowed, NotFound
from engine.persistence.models import DiagramDraft
from engine.services._common import audit, commit, refresh_calendar
from engine.services.definitions import find_definition, latest, library, publish_candidates, read_candidate


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
    _, found = validation.check_diagram(
        content,
        filename,
        rt.bpmn.script_engine.environment,
        rt.bpmn.build_spec,
        known,
        min_cycle=rt.settings.min_timer_cycle,
    )
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


def element_templates(rt: Runtime) -> list[dict[str, Any]]:
    """The project's element templates (Camunda 7 schema): every ``workflows/templates/*.json``, each a
    template or a list of them, as Camunda Modeler reads them from ``workflows/.camunda/element-templates``."""
    found: list[dict[str, Any]] = []
    for path in sorted((Path(rt.settings.workflows_dir) / "templates").glob("*.json")):
        loaded = json.loads(path.read_text(encoding="utf-8"))
        found += loaded if isinstance(loaded, list) else [loaded]
    return found


# --- drafts and four-eyes publishing ----------------------------------------------------------
def require_modeller(person: Person) -> None:
    if not person.models_pathways:
        raise NotAllowed("only process owners edit and publish pathway diagrams")


def _draft(session: Session, draft_id: int) -> DiagramDraft:
    draft = session.get(DiagramDraft, draft_id)
    if draft is None:
        raise NotFound(f"there is no draft {draft_id}")
    return draft


def draft_view(draft: DiagramDraft, with_xml: bool = False) -> dict[str, Any]:
    shown = {
        "id": draft.id, "key": draft.key, "filename": draft.filename, "based_on_version": draft.based_on_version,
        "status": draft.status, "revision": draft.revision, "created_by": draft.created_by,
        "created_at": draft.created_at.isoformat(), "updated_by": draft.updated_by,
        "updated_at": draft.updated_at.isoformat(), "submitted_by": draft.submitted_by,
        "submitted_at": draft.submitted_at.isoformat() if draft.submitted_at else None, "reason": draft.reason,
        "decided_by": draft.decided_by, "decision_note": draft.decision_note,
        "published_version": draft.published_version,
    }  # fmt: skip
    return {**shown, "xml": draft.bpmn_xml} if with_xml else shown


_OPEN = (DraftStatus.DRAFT, DraftStatus.SUBMITTED)


def list_drafts(rt: Runtime, person: Person) -> list[dict[str, Any]]:
    require_modeller(person)
    with rt.uow() as uow:
        rows = uow.session.scalars(
            select(DiagramDraft).where(DiagramDraft.status.in_(_OPEN)).order_by(DiagramDraft.key)
        )
        return [draft_view(d) for d in rows]


def _open_drafts(session: Session, key: str) -> list[DiagramDraft]:
    return list(session.scalars(select(DiagramDraft).where(DiagramDraft.key == key, DiagramDraft.status.in_(_OPEN))))


def start_draft(rt: Runtime, person: Person, key: str, version: int | None = None) -> dict[str, Any]:
    """A draft copy of a published version (the newest unless ``version``); an open draft of the pathway is reused."""
    require_modeller(person)
    with rt.uow() as uow:
        session = uow.session
        existing = _open_drafts(session, key)
        if existing:
            return draft_view(existing[0])
        source = find_definition(session, key, version)
        draft = _new_draft(session, person, key, source.filename, source.bpmn_xml, source.version)
        commit(uow, "the draft")
        return draft_view(draft)


def _new_draft(
    session: Session, person: Person, key: str, filename: str, xml: str, based_on: int | None
) -> DiagramDraft:
    now, who = clock.utcnow(), person.username
    draft = DiagramDraft(
        key=key, filename=filename, bpmn_xml=xml, based_on_version=based_on, status=DraftStatus.DRAFT,
        created_by=who, created_at=now, updated_by=who, updated_at=now,
    )  # fmt: skip
    session.add(draft)
    session.flush()
    origin = f"from version {based_on}" if based_on else "from an upload"
    audit(session, None, who, "draft.created", element=key, detail=f"draft {draft.id} of {key} {origin}")
    return draft


def _readable(filename: str, content: bytes) -> tuple[str, str]:
    """(key, text) of an uploaded or edited diagram; hostile or broken XML is refused and nothing changes."""
    root = parse_bpmn(content, filename)
    info = describe(root)
    if not info.key:
        raise DefinitionInvalid(f"{filename}: no executable process found")
    try:
        return info.key, content.decode("utf-8")
    except UnicodeDecodeError:
        raise DefinitionInvalid(f"{filename}: the file is not UTF-8 text") from None


def upload_draft(rt: Runtime, person: Person, filename: str, content: bytes) -> dict[str, Any]:
    """A .bpmn file from Camunda Modeler becomes the open draft of its pathway (or a new one)."""
    require_modeller(person)
    if not filename.lower().endswith(".bpmn"):
        raise InvalidInput("upload a .bpmn file saved from Camunda Modeler or bpmn.io")
    key, text = _readable(filename, content)
    with rt.uow() as uow:
        session = uow.session
        existing = _open_drafts(session, key)
        if existing:
            draft = existing[0]
            _replace_xml(session, draft, person, text, f"uploaded {filename}")
        else:
            newest = latest(session, key)
            draft = _new_draft(session, person, key, newest.filename if newest else filename, text,
                               newest.version if newest else None)  # fmt: skip
        commit(uow, "the draft")
        return draft_view(draft)


def _replace_xml(session: Session, draft: DiagramDraft, person: Person, text: str, what: str) -> None:
    if draft.status == DraftStatus.SUBMITTED:  # an approval is for what was submitted: editing withdraws it
        draft.status, draft.submitted_by, draft.submitted_at = DraftStatus.DRAFT, None, None
        audit(session, None, person.username, "draft.returned", element=draft.key,
              detail=f"draft {draft.id} edited after it was submitted: it needs submitting again")  # fmt: skip
    draft.bpmn_xml, draft.updated_by, draft.updated_at = text, person.username, clock.utcnow()
    audit(session, None, person.username, "draft.saved", element=draft.key, detail=f"draft {draft.id}: {what}")


def save_draft_xml(rt: Runtime, person: Person, draft_id: int, content: bytes, revision: int) -> dict[str, Any]:
    """Save the modeller's XML over the draft; ``revision`` is what the editor loaded (no lost updates)."""
    require_modeller(person)
    with rt.uow() as uow:
        draft = _draft(uow.session, draft_id)
        if draft.status not in _OPEN:
            raise NotAllowed(f"draft {draft_id} is {draft.status}: start a new draft to change the pathway")
        if draft.revision != revision:
            raise Conflict(f"{draft.updated_by} saved this draft since you opened it: reload to see their changes "
                           "(download yours first if you need them)")  # fmt: skip
        key, text = _readable(draft.filename, content)
        if key != draft.key:
            raise InvalidInput(f"this draft is for pathway '{draft.key}', but the diagram's process is '{key}'")
        _replace_xml(uow.session, draft, person, text, "edited in the modeller")
        commit(uow, "the draft")
        return draft_view(draft)


def get_draft(rt: Runtime, person: Person, draft_id: int) -> dict[str, Any]:
    require_modeller(person)
    with rt.uow() as uow:
        return draft_view(_draft(uow.session, draft_id), with_xml=True)


def submit_draft(rt: Runtime, person: Person, draft_id: int, reason: str, failing_reason: str = "") -> dict[str, Any]:
    """Ask a second process owner to approve publishing the draft; it must be valid and say why.

    Its scenario tests (and those of every pathway that calls it) run first and are kept with it: if any
    fails, the owner updates it (:func:`engine.services.scenarios.update_scenario`) or says in
    ``failing_reason`` why the pathway should now behave differently. The approver sees both."""
    from engine.services import scenarios  # it builds on this module

    require_modeller(person)
    if not (reason or "").strip():
        raise InvalidInput("say why the pathway is changing (recorded with the new version)")
    checked = get_draft(rt, person, draft_id)  # validated outside the write transaction
    found = validation.blocking(validate_diagram(rt, checked["filename"], checked["xml"].encode("utf-8")))
    if found:
        raise DefinitionInvalid("the draft has problems to fix first: " + "; ".join(map(str, found)),
                                problems=[str(p) for p in found])  # fmt: skip
    run = scenarios.run_for_draft(rt, person, draft_id)
    failing = [o for o in run.outcomes if not o.passed]
    if failing and not (failing_reason or "").strip():
        names = "; ".join(f"{o.pathway}: {o.name}" for o in failing)
        raise InvalidInput(
            f"{len(failing)} scenario test(s) fail against this draft ({names}): update them to what "
            "the pathway should now do, or say why they fail",
            failing=[o.to_dict() for o in failing],
        )
    with rt.uow() as uow:
        draft = _draft(uow.session, draft_id)
        if draft.status != DraftStatus.DRAFT:
            raise NotAllowed(f"draft {draft_id} is {draft.status}, not a draft")
        changed = run.scenarios_seen != scenarios.latest_change(uow.session, draft_id)
        if draft.revision != checked["revision"] or changed:
            raise Conflict("the draft or its scenarios changed while they were being checked: submit it again")
        draft.status, draft.reason = DraftStatus.SUBMITTED, reason.strip()
        draft.submitted_by, draft.submitted_at = person.username, clock.utcnow()
        draft.decided_by = draft.decision_note = None
        draft.failing_reason = failing_reason.strip() if failing else None
        draft.scenario_run = {"revision": checked["revision"], "run_at": clock.utcnow().isoformat(),
                              "pathways": run.pathways, "missing": run.missing,
                              "outcomes": [o.to_dict() for o in run.outcomes]}  # fmt: skip
        audit(uow.session, None, person.username, "draft.submitted", element=draft.key,
              detail=f"draft {draft.id}: {draft.reason}", after={
                  "scenarios_passed": len(run.outcomes) - len(failing), "scenarios_failed": len(failing),
                  "failing_reason": draft.failing_reason})  # fmt: skip
        commit(uow, "the draft")
        return draft_view(draft)


def approve_draft(rt: Runtime, person: Person, draft_id: int, note: str = "") -> dict[str, Any]:
    """A second process owner publishes the submitted draft as a new version (four eyes), with the scenario
    changes made with it."""
    from engine.services import scenarios  # it builds on this module

    require_modeller(person)
    with rt.uow() as uow:
        session = uow.session
        draft = _draft(session, draft_id)
        if draft.status != DraftStatus.SUBMITTED:
            raise NotAllowed(f"draft {draft_id} is {draft.status}: only a submitted draft can be approved")
        if person.username in (draft.submitted_by, draft.updated_by):
            raise NotAllowed("a second process owner must approve: you submitted or last edited this draft")
        content = draft.bpmn_xml.encode("utf-8")
        candidate = read_candidate(rt, draft.filename, content, library(session))
        [published] = publish_candidates(rt, session, [candidate], draft.submitted_by or draft.updated_by,
                                         reason=draft.reason, approved_by=person.username)  # fmt: skip
        if not published.changed:
            raise NotAllowed(f"the draft is the same as version {published.version}: there is nothing to publish")
        draft.status, draft.published_version = DraftStatus.PUBLISHED, published.version
        draft.decided_by, draft.decided_at, draft.decision_note = person.username, clock.utcnow(), note or None
        scenarios.publish_draft_scenarios(session, draft.id, person.username)
        audit(
            session,
            None,
            person.username,
            "draft.approved",
            element=draft.key,
            detail=f"draft {draft.id} published as version {published.version}" + (f": {note}" if note else ""),
        )
        commit(uow, "the pathway")
        return draft_view(draft)


def return_draft(rt: Runtime, person: Person, draft_id: int, note: str) -> dict[str, Any]:
    """The reviewer sends a submitted draft back to its author with a note."""
    require_modeller(person)
    if not (note or "").strip():
        raise InvalidInput("say what needs changing")
    with rt.uow() as uow:
        draft = _draft(uow.session, draft_id)
        if draft.status != DraftStatus.SUBMITTED:
            raise NotAllowed(f"draft {draft_id} is {draft.status}: only a submitted draft can be sent back")
        if person.username == draft.submitted_by:
            raise NotAllowed("you submitted this draft: withdraw it instead, or edit it")
        draft.status, draft.decided_by, draft.decided_at = DraftStatus.DRAFT, person.username, clock.utcnow()
        draft.decision_note = note.strip()
        audit(uow.session, None, person.username, "draft.returned", element=draft.key,
              detail=f"draft {draft.id}: {draft.decision_note}")  # fmt: skip
        commit(uow, "the draft")
        return draft_view(draft)


def withdraw_draft(rt: Runtime, person: Person, draft_id: int) -> dict[str, Any]:
    """Set a draft aside (kept, not deleted); the pathway can then be drafted afresh."""
    require_modeller(person)
    with rt.uow() as uow:
        draft = _draft(uow.session, draft_id)
        if draft.status not in _OPEN:
            raise NotAllowed(f"draft {draft_id} is already {draft.status}")
        draft.status, draft.updated_by, draft.updated_at = DraftStatus.WITHDRAWN, person.username, clock.utcnow()
        audit(uow.session, None, person.username, "draft.withdrawn", element=draft.key, detail=f"draft {draft.id}")
        commit(uow, "the draft")
        return draft_view(draft)
