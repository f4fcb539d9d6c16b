"""Publishing diagrams: a changed file publishes a new version; an unchanged one does not."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import clock
from engine.bootstrap import Runtime
from engine.bpmn import validation
from engine.bpmn.definition import DiagramInfo, describe
from engine.bpmn.xml import parse_bpmn
from engine.errors import DefinitionInvalid, NotFound
from engine.persistence.models import Definition
from engine.services._common import audit, commit, dependency_closure, spec_for


@dataclass(frozen=True)
class Published:
    key: str
    version: int
    filename: str
    changed: bool


@dataclass
class Candidate:
    filename: str
    content: str
    info: DiagramInfo
    checksum: str


def read_candidate(rt: Runtime, filename: str, content: bytes, library: dict[str, tuple[str, bytes]]) -> Candidate:
    # SpiffWorkflow builds each changed definition once more as it is published (_check_builds).
    info, found = validation.check_diagram(
        content,
        filename,
        rt.bpmn.script_engine.environment,
        None,
        library,
        min_cycle=rt.settings.min_timer_cycle,
    )
    found = validation.blocking(found)  # bpmnlint's warnings are advice: shown in the modeller, never blocking
    if found or info is None:
        texts = [str(p) for p in found]
        raise DefinitionInvalid(f"{filename}: " + "; ".join(texts), problems=texts)
    return Candidate(filename, content.decode("utf-8"), info, hashlib.sha256(content).hexdigest())


def library(session: Session) -> dict[str, tuple[str, bytes]]:
    """Process id -> (filename, XML) of the newest published version of every diagram."""
    found: dict[str, tuple[str, bytes]] = {}
    newest = select(Definition.key, func.max(Definition.version).label("version")).group_by(Definition.key).subquery()
    rows = session.execute(
        select(Definition.filename, Definition.bpmn_xml, Definition.info["processes"])
        .join(newest, (Definition.key == newest.c.key) & (Definition.version == newest.c.version))
    )  # fmt: skip
    for filename, xml, processes in rows:
        for process_id in processes or []:
            found[process_id] = (filename, xml.encode("utf-8"))
    return found


def library_from_files(files: list[tuple[str, bytes]]) -> dict[str, tuple[str, bytes]]:
    found = {}
    for filename, content in files:
        try:
            processes = describe(parse_bpmn(content, filename)).processes
        except DefinitionInvalid:
            continue  # reported when the file itself is checked
        found.update({p: (filename, content) for p in processes})
    return found


def latest(session: Session, key: str) -> Definition | None:
    return session.scalar(select(Definition).where(Definition.key == key).order_by(Definition.version.desc()).limit(1))


def find_definition(session: Session, key: str, version: int | None = None) -> Definition:
    """A published version of pathway ``key`` (the newest unless ``version``), or NotFound."""
    if version is None:
        found = latest(session, key)
    else:
        found = session.scalar(select(Definition).where(Definition.key == key, Definition.version == version))
    if found is None:
        raise NotFound(f"no published pathway '{key}'" + (f" version {version}" if version else ""))
    return found


def publish_files(rt: Runtime, files: list[tuple[str, bytes]], actor: str, reason: str | None = None,
                  approved_by: str | None = None) -> list[Published]:  # fmt: skip
    """Validate every file, then publish the changed ones together (all or nothing).

    The app publishes through a second process owner's approval (engine.services.modelling); the
    CLI loads the files in the repository, which are reviewed there before they are merged."""
    problems: list[str] = []
    candidates: list[Candidate] = []
    with rt.uow() as uow:
        known = {**library(uow.session), **library_from_files(files)}
    for filename, content in files:
        try:
            candidates.append(read_candidate(rt, filename, content, known))
        except DefinitionInvalid as exc:
            problems.append(exc.message)
    keys = [c.info.key for c in candidates]
    problems += [f"process {k} is defined by more than one file" for k in set(keys) if keys.count(k) > 1]
    if problems:
        raise DefinitionInvalid("nothing was loaded: " + " | ".join(problems), problems=problems)
    with rt.uow() as uow:
        results = publish_candidates(rt, uow.session, candidates, actor, reason, approved_by)
        commit(uow, "the workflow definitions")
    return results


def publish_candidates(rt: Runtime, session: Session, candidates: list[Candidate], actor: str,
                       reason: str | None = None, approved_by: str | None = None) -> list[Published]:  # fmt: skip
    results, rows = [], {}
    for cand in candidates:
        current = latest(session, cand.info.key)
        if current is not None and current.checksum == cand.checksum:
            results.append(Published(cand.info.key, current.version, cand.filename, False))
            rows[cand.info.key] = current
            continue
        row = Definition(
            key=cand.info.key, version=(current.version + 1) if current else 1, name=cand.info.name,
            filename=cand.filename, bpmn_xml=cand.content, checksum=cand.checksum, info=cand.info.to_dict(),
            depends_on=[], published_at=clock.utcnow(), published_by=actor, reason=reason, approved_by=approved_by,
            approved_at=clock.utcnow() if approved_by else None,
        )  # fmt: skip
        session.add(row)
        rows[cand.info.key] = row
        results.append(Published(row.key, row.version, cand.filename, True))
    session.flush()
    for result in (r for r in results if r.changed):
        row = rows[result.key]
        row.depends_on = _dependencies(session, row, rows)
        row.info = {**row.info, "called_elements": _called_elements(session, row)}
        _check_builds(rt, session, row)
        audit(session, None, actor, "definition.published", element=row.key,
              detail=f"{row.key} version {row.version} from {row.filename}",
              after={"key": row.key, "version": row.version, "checksum": row.checksum, "reason": reason,
                     "approved_by": approved_by})  # fmt: skip
    return results


def _dependencies(session: Session, row: Definition, batch: dict[str, Definition]) -> list[int]:
    ids = []
    for process_id in row.info["called"]:
        provider = next((d for d in batch.values() if process_id in d.info["processes"]), None)
        provider = provider or _provider(session, process_id)
        if provider is None:
            raise DefinitionInvalid(f"{row.filename}: calls process '{process_id}', which no diagram defines")
        ids.append(provider.id)
    return ids


def _called_elements(session: Session, row: Definition) -> dict:
    """Element metadata of every process this definition calls (steps inside call activities)."""
    found: dict = {}
    for dep_id in dependency_closure(session, row):
        dep = session.get(Definition, dep_id)
        if dep is not None:
            found.update(dep.info["elements"])
    return found


def _provider(session: Session, process_id: str) -> Definition | None:
    for definition in session.scalars(select(Definition).order_by(Definition.id.desc())):
        if process_id in definition.info["processes"]:
            return definition
    return None


def _check_builds(rt: Runtime, session: Session, row: Definition) -> None:
    spec_for(rt, session, row)  # raises DefinitionInvalid when SpiffWorkflow cannot build it


def publish_directory(rt: Runtime, directory: Path, actor: str) -> list[Published]:
    directory = Path(directory)
    if not directory.is_dir():
        raise NotFound(f"no such folder: {directory}")
    files = [(p.name, p.read_bytes()) for p in sorted(directory.glob("*.bpmn"))]
    return publish_files(rt, files, actor) if files else []


def list_definitions(rt: Runtime) -> list[dict]:
    with rt.reading() as uow:
        newest = (
            select(Definition.key, func.max(Definition.version).label("version")).group_by(Definition.key).subquery()
        )
        columns = (Definition.key, Definition.name, Definition.version, Definition.filename, Definition.published_at,
                   Definition.published_by)  # not the parsed diagram: this list is on every inbox page  # fmt: skip
        rows = uow.session.execute(
            select(*columns).join(newest, (Definition.key == newest.c.key) & (Definition.version == newest.c.version))
            .order_by(Definition.key)
        )  # fmt: skip
        return [
            {"key": d.key, "name": d.name, "version": d.version, "filename": d.filename,
             "published_at": d.published_at.isoformat(), "published_by": d.published_by}
            for d in rows
        ]  # fmt: skip
