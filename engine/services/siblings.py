"""Sibling groups: brothers and sisters planned for together (Hertfordshire s4 and s6, Medway).

A group holds children by reference (no names). Linking children who are already in groups merges
those groups into the oldest one; a child leaves a group with a reason. Nothing is deleted: a
link that ends keeps who ended it, when and why, and every change is audited on each child's cases.
Each child's pathways and deadlines stay their own: the group is what a PPM for one of them offers.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import clock
from engine.bootstrap import Runtime
from engine.domain.access import Person
from engine.domain.events import CHILD_REF
from engine.errors import Conflict, InvalidInput, NotAllowed, NotFound
from engine.persistence.models import Case, SiblingGroup, SiblingLink
from engine.services._common import audit


def _check_refs(refs: list[str]) -> list[str]:
    cleaned = list(dict.fromkeys(r.strip() for r in refs if r and r.strip()))
    bad = [r for r in cleaned if not CHILD_REF.match(r)]
    if bad:
        raise InvalidInput(f"not a child reference: {', '.join(bad)} (letters, digits and . _ / - only, no names)")
    if len(cleaned) < 2:
        raise InvalidInput("give at least two different child references to link as brothers and sisters")
    return cleaned


def _may_change(person: Person | None) -> None:
    if person is not None and not (person.may_start_pathways or person.oversees):
        raise NotAllowed(f"{person.username} may not change sibling groups: social workers and managers do")


def _current(session: Session, refs: list[str], lock: bool = False) -> dict[str, SiblingLink]:
    query = select(SiblingLink).where(SiblingLink.child_ref.in_(refs), SiblingLink.removed_at.is_(None))
    return {link.child_ref: link for link in session.scalars(query.with_for_update() if lock else query)}


def _members(session: Session, group_id: int) -> list[SiblingLink]:
    return list(session.scalars(select(SiblingLink).where(
        SiblingLink.group_id == group_id, SiblingLink.removed_at.is_(None)).order_by(SiblingLink.id)))  # fmt: skip


def _audit_child(session: Session, ref: str, actor: str, action: str, detail: str, after: dict[str, Any]) -> None:
    """On each of the child's cases (its history shows it), or once for a child with no case yet."""
    case_ids: list[int | None] = list(session.scalars(select(Case.id).where(Case.ref == ref).order_by(Case.id)))
    for case_id in case_ids or [None]:
        audit(session, case_id, actor, action, detail=detail, after={"child": ref, **after})


def link_siblings(rt: Runtime, refs: list[str], actor: str, person: Person | None = None) -> dict[str, Any]:
    """Put ``refs`` in one sibling group (theirs, merged, or a new one); linking twice changes nothing."""
    refs = _check_refs(refs)
    _may_change(person)
    with rt.uow() as uow:
        session = uow.session
        current = _current(session, refs, lock=True)
        group_ids = sorted({link.group_id for link in current.values()})
        now = clock.utcnow()
        if group_ids:
            target = session.get(SiblingGroup, group_ids[0])
            assert target is not None
        else:
            target = SiblingGroup(created_at=now, created_by=actor)
            session.add(target)
            session.flush()
        moving = {ref: current.get(ref) for ref in refs}
        for other in group_ids[1:]:  # merge: every member of the other groups joins the oldest
            moving.update({link.child_ref: link for link in _members(session, other)})
        joined = []
        for ref, link in moving.items():
            if link is not None and link.group_id == target.id:
                continue
            if link is not None:
                link.removed_at, link.removed_by = now, actor
                link.removed_reason = f"moved into sibling group {target.id}"
                session.flush()
            session.add(SiblingLink(group_id=target.id, child_ref=ref, added_at=now, added_by=actor))
            joined.append(ref)
        try:
            session.flush()
        except IntegrityError:
            uow.rollback()
            raise Conflict(
                "someone else changed these children's sibling group at the same moment: try again"
            ) from None
        members = [link.child_ref for link in _members(session, target.id)]
        for ref in joined:
            others = ", ".join(m for m in members if m != ref)
            _audit_child(session, ref, actor, "siblings.linked", f"brothers and sisters: {others}",
                         {"group": target.id, "members": members})  # fmt: skip
        view = _view(session, target.id, refs[0], person)
        uow.commit()
        return {**view, "joined": joined}


def unlink_sibling(rt: Runtime, ref: str, actor: str, reason: str, person: Person | None = None) -> dict[str, Any]:
    """Take ``ref`` out of its sibling group, saying why (the link is ended, not deleted)."""
    if not (reason or "").strip():
        raise InvalidInput("say why the child is no longer in the sibling group")
    _may_change(person)
    with rt.uow() as uow:
        session = uow.session
        link = _current(session, [ref], lock=True).get(ref)
        if link is None:
            raise NotFound(f"child {ref} is not in a sibling group")
        link.removed_at, link.removed_by, link.removed_reason = clock.utcnow(), actor, reason.strip()
        others = [m.child_ref for m in _members(session, link.group_id) if m.child_ref != ref]
        said = f"no longer planned with {', '.join(others) or 'anyone'}: {reason.strip()}"
        _audit_child(session, ref, actor, "siblings.unlinked", said, {"group": link.group_id, "reason": reason.strip()})
        uow.commit()
        return {"ref": ref, "group_id": link.group_id, "removed_reason": link.removed_reason, "siblings": others}


def siblings_of(rt: Runtime, ref: str, person: Person | None = None) -> dict[str, Any]:
    """The child's sibling group: each brother or sister, with the pathways the person may see."""
    with rt.uow() as uow:
        return sibling_view(uow.session, ref, person)


def sibling_view(session: Session, ref: str, person: Person | None) -> dict[str, Any]:
    link = _current(session, [ref]).get(ref)
    if link is None:
        return {"ref": ref, "group_id": None, "siblings": []}
    return _view(session, link.group_id, ref, person)


def sibling_refs(session: Session, ref: str) -> list[str]:
    """The child's brothers and sisters (references), in the order they joined; none if not in a group."""
    link = _current(session, [ref]).get(ref)
    return [m.child_ref for m in _members(session, link.group_id) if m.child_ref != ref] if link else []


def _view(session: Session, group_id: int, ref: str, person: Person | None) -> dict[str, Any]:
    members = [m for m in _members(session, group_id) if m.child_ref != ref]
    cases = session.scalars(select(Case).where(Case.ref.in_([m.child_ref for m in members])).order_by(Case.id))
    by_ref: dict[str, list[dict[str, Any]]] = {}
    for case in cases:
        visible = person is None or person.may_see_team(case.team)
        by_ref.setdefault(case.ref, []).append({
            "id": case.id if visible else None, "key": case.key, "name": case.definition.name,
            "status": case.status, "team": case.team, "visible": visible})  # fmt: skip
    return {"ref": ref, "group_id": group_id,
            "siblings": [{"ref": m.child_ref, "added_at": m.added_at.isoformat(), "added_by": m.added_by,
                          "cases": by_ref.get(m.child_ref, [])} for m in members]}  # fmt: skip
