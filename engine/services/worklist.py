"""What practitioners' pages show: a step with its form and the child's deadlines, drafts, who holds
the work next, a case on its diagram, saved inbox filters, a person's notifications, and starting a
pathway from a form. Every function checks the person's access itself; the web only renders.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import clock
from engine.bootstrap import Runtime
from engine.bpmn.definition import ElementInfo
from engine.domain.access import Person
from engine.domain.states import CaseStatus, TaskStatus
from engine.errors import InvalidInput, NotAllowed, NotFound
from engine.persistence.models import AuditEvent, Case, Deadline, Escalation, HumanTask, Notification, SavedFilter, User
from engine.services._common import audit, commit, diagram, element, form_fields, recorded_answers, spec_for
from engine.services.accounts import as_person
from engine.services.definitions import find_definition, latest, list_definitions
from engine.services.siblings import sibling_refs, sibling_view
from engine.services.views import case_view, deadline_view, history_view, plan_view, task_view

MAX_DRAFT_FIELDS = 100
MAX_DRAFT_VALUE = 20_000


def task_for(session: Session, task_id: int, person: Person) -> HumanTask:
    task = session.get(HumanTask, task_id)
    if task is None:
        raise NotFound(f"there is no step {task_id}")
    if not person.may_view_step(task.role, task.team):
        raise NotAllowed(f"step {task_id} belongs to another role or team")
    return task


def case_for(session: Session, case_id: int, person: Person) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(f"there is no case {case_id}")
    if not (person.may_see_team(case.team) and (person.step_roles or person.oversees or person.all_teams)):
        raise NotAllowed(f"case {case.ref} is held by another team")
    return case


def task_page(rt: Runtime, task_id: int, person: Person) -> dict[str, Any]:
    """A step as its page shows it: purpose, form, draft, the child's deadlines, and who may do it."""
    with rt.uow() as uow:
        session = uow.session
        task = task_for(session, task_id, person)
        case = task.case
        info = element(case.definition, task.element)
        deadlines = session.scalars(select(Deadline).where(Deadline.case_id == case.id).order_by(Deadline.due_date))
        return {
            **task_view(task),
            "documentation": info.documentation if info else "",
            "form": [f.to_dict() for f in info.form] if info else [],
            "draft": task.draft,
            "prefill": _known_answers(session, case, [f.id for f in info.form if f.type != "date"] if info else []),
            "draft_saved_by": task.draft_saved_by,
            "draft_saved_at": task.draft_saved_at.isoformat() if task.draft_saved_at else None,
            "answers": task.data,
            "case": {
                "id": case.id,
                "ref": case.ref,
                "key": case.key,
                "name": case.definition.name,
                "status": case.status,
                "team": case.team,
                "version": case.version,
            },  # fmt: skip
            "deadlines": [{**deadline_view(d), "id": d.id} for d in deadlines],
            "shown_answers": _shown_answers(session, case, info),
            "siblings": _siblings_at(session, case, task.element, person),
            "may_act": person.may_act_on(task.role, task.team),
            "may_assign": person.may_assign_in(task.team),
            "colleagues": _able(session, task.role, task.team) if person.may_assign_in(task.team) else [],
        }


def _known_answers(session: Session, case: Case, fields: list[str]) -> dict[str, Any]:
    """Answers the pathway already holds for these fields (start data, then steps done, the latest winning):
    a later form that asks the same thing starts from them (the permanence option at the second review).
    Dates are left out: each is the date of its own event, never an earlier one's."""
    return {k: v for k, v in recorded_answers(session, case).items() if k in fields}


def _shown_answers(session: Session, case: Case, info: ElementInfo | None) -> list[dict[str, Any]]:
    """Answers an earlier step recorded that this step's holder must see (its ``shows`` property):
    the together or apart analysis on the agency decision maker's step."""
    names = [n.strip() for n in (info.properties.get("shows", "") if info else "").split(",") if n.strip()]
    if not names:
        return []
    fields = form_fields(case.definition)
    answers = recorded_answers(session, case)
    shown = []
    for name in names:
        if name in answers and name in fields:
            value, field = answers[name], fields[name]
            shown.append({"label": field.label, "type": field.type,
                          "value": dict(field.options).get(value, value) if field.options else value})  # fmt: skip
    return shown


def _siblings_at(session: Session, case: Case, element_id: str, person: Person) -> list[dict[str, Any]]:
    """The child's brothers and sisters, each with their own open step of this kind (one PPM for the group)."""
    refs = sibling_refs(session, case.ref)
    if not refs:
        return []
    same = session.scalars(select(HumanTask).join(Case, HumanTask.case_id == Case.id).where(
        Case.ref.in_(refs), HumanTask.element == element_id, HumanTask.status == TaskStatus.OPEN))  # fmt: skip
    by_ref: dict[str, list[dict[str, Any]]] = {}
    for other in same:
        if person.may_see_team(other.team):
            by_ref.setdefault(other.case.ref, []).append({"id": other.id, "title": other.title})
    return [{"ref": ref, "same_step": by_ref.get(ref, [])} for ref in refs]


def _able(session: Session, role: str | None, team: str | None) -> list[dict[str, str]]:
    """Active staff who may do a step of this role in this team (for the assign list)."""
    users = session.scalars(select(User).where(User.active.is_(True)).order_by(User.display_name))
    return [
        {"username": u.username, "display_name": u.display_name} for u in users if as_person(u).may_act_on(role, team)
    ]


def save_draft(rt: Runtime, task_id: int, answers: dict[str, str], user: str, person: Person) -> dict[str, Any]:
    """Keep a step's answers as entered, unchecked, until it is completed. Audited; replaces the last draft."""
    if len(answers) > MAX_DRAFT_FIELDS or any(len(str(v)) > MAX_DRAFT_VALUE for v in answers.values()):
        raise InvalidInput("the draft is too large to save")
    with rt.uow() as uow:
        task = task_for(uow.session, task_id, person)
        if not person.may_act_on(task.role, task.team):
            raise NotAllowed(f"step {task_id} belongs to another role or team")
        if task.status != TaskStatus.OPEN:
            raise NotAllowed(f"step {task_id} is already {task.status}: its draft cannot change")
        if task.assignee and task.assignee != user:
            raise NotAllowed(f"step {task_id} is assigned to {task.assignee}")
        task.draft = {str(k): str(v) for k, v in answers.items()}
        task.draft_saved_by, task.draft_saved_at = user, clock.utcnow()
        audit(uow.session, task.case_id, user, "task.draft_saved", element=task.element, detail=task.title)
        commit(uow, f"step {task_id}")
        return {"id": task.id, "saved_at": task.draft_saved_at.isoformat()}


def next_holders(rt: Runtime, case_id: int, person: Person) -> dict[str, Any]:
    """After a step: the case's status, its open steps and who holds each (a person, or a team's role)."""
    with rt.uow() as uow:
        case = case_for(uow.session, case_id, person)
        tasks = uow.session.scalars(
            select(HumanTask).where(HumanTask.case_id == case.id, HumanTask.status == TaskStatus.OPEN)
            .order_by(HumanTask.due_date, HumanTask.id)
        )  # fmt: skip
        return {"case_id": case.id, "ref": case.ref, "key": case.key, "status": case.status,
                "outcome": case.outcome, "open": [task_view(t) for t in tasks],
                "problem": _problem(uow.session, case)}  # fmt: skip


def case_page(rt: Runtime, case_id: int, person: Person) -> dict[str, Any]:
    """A case: its steps, deadlines, timeline, and where it stands on its diagram."""
    with rt.uow() as uow:
        session = uow.session
        case = case_for(session, case_id, person)
        shown = case_view(session, case)
        waiting: list[str] = []
        recordable: list[dict[str, Any]] = []
        if case.ended_at is None:
            workflow = rt.bpmn.load(spec_for(rt, session, case.definition), case.state)
            waiting = rt.bpmn.waiting_elements(workflow)
            recordable = recordable_events(rt, person, case, workflow)
        passed: list[str] = []
        for event in session.scalars(
            select(AuditEvent).where(AuditEvent.case_id == case.id, AuditEvent.action.in_(
                ("task.completed", "pathway.advanced", "timer.fired"))).order_by(AuditEvent.id)
        ):  # fmt: skip
            passed.extend((event.after or {}).get("elements") or ([event.element] if event.element else []))
        info = diagram(case.definition)
        known = set(info.elements)
        active = [e for e in waiting if e in known]
        completed = list(dict.fromkeys(e for e in passed if e in known and e not in active))
        events = list(session.scalars(select(AuditEvent).where(AuditEvent.case_id == case.id).order_by(AuditEvent.id)))
        names = {e.id: e.name for e in info.elements.values() if e.name and e.name != e.id}
        return {**shown, "name": case.definition.name, "definition_id": case.definition_id,
                "active": active, "completed": completed, "plan": plan_view(shown["deadlines"], shown["gates"]),
                "history": history_view(events, names), "problem": _problem(session, case),
                "recordable": recordable, "siblings": sibling_view(session, case.ref, person),
                "may_link_siblings": person.may_start_pathways or person.oversees}  # fmt: skip


def recordable_events(rt: Runtime, person: Person, case: Case, workflow: Any) -> list[dict[str, Any]]:
    """Events the case waits for that a manager of its team may record by hand (with the date)."""
    if not person.may_assign_in(case.team) or case.status not in (CaseStatus.RUNNING, CaseStatus.WAITING):
        return []
    found = []
    for message, element_id in rt.bpmn.waiting_messages(workflow).items():
        info = element(case.definition, element_id)
        if info is not None and info.own_event:
            found.append({"element": element_id, "name": info.name, "message": message})
    return found


def own_event(case: Case, element_id: str) -> ElementInfo:
    """The case's event ``element_id`` that records its own date (NotFound if it is not one)."""
    info = element(case.definition, element_id)
    if info is None or not info.own_event:
        raise NotFound(f"'{element_id}' is not an event that can be recorded")
    return info


def case_event_page(rt: Runtime, case_id: int, element_id: str, person: Person) -> dict[str, Any]:
    """An event the case waits for, as the page a manager records it on (its date field and purpose)."""
    with rt.uow() as uow:
        session = uow.session
        case = case_for(session, case_id, person)
        info = own_event(case, element_id)
        return {"case_id": case.id, "ref": case.ref, "team": case.team, "title": info.name, "event": True,
                "case": {"ref": case.ref, "name": case.definition.name}, "documentation": info.documentation,
                "role": info.role, "assignee": None, "form": [f.to_dict() for f in info.form]}  # fmt: skip


def _problem(session: Session, case: Case) -> dict[str, Any] | None:
    """A case in error, in plain words: what went wrong where, and who has been told (the team's managers)."""
    if case.status != CaseStatus.ERROR:
        return None
    step = element(case.definition, case.error_element) if case.error_element else None
    return {"step": step.name if step is not None else None, "message": case.error_message,
            "told": "the team manager" + (f" of team {case.team}" if case.team else "") + " and the process owners",
            "since": next((e.at.isoformat() for e in session.scalars(select(AuditEvent).where(
                AuditEvent.case_id == case.id, AuditEvent.action == "case.error").order_by(AuditEvent.id.desc()))),
                None)}  # fmt: skip


def case_diagram(rt: Runtime, case_id: int, person: Person) -> str:
    """The BPMN XML of the version the case runs on (for the viewer)."""
    with rt.uow() as uow:
        return case_for(uow.session, case_id, person).definition.bpmn_xml


def pathway_diagram(rt: Runtime, key: str, version: int | None = None) -> str:
    """The BPMN XML of a published pathway (the newest version unless ``version``), for viewers."""
    with rt.uow() as uow:
        return find_definition(uow.session, key, version).bpmn_xml


def startable(rt: Runtime) -> list[dict[str, Any]]:
    """Published pathways that start from a form (the latest version of each), for the start page."""
    keys = sorted({d["key"] for d in list_definitions(rt)})
    found = []
    for key in keys:
        form = start_form(rt, key)
        if form["fields"]:
            found.append(form)
    return found


def start_form(rt: Runtime, key: str) -> dict[str, Any]:
    with rt.uow() as uow:
        definition = latest(uow.session, key)
        if definition is None:
            raise NotFound(f"no published pathway '{key}'")
        info = diagram(definition)
        starts = [e for e in info.elements.values() if e.kind == "startEvent" and e.process == info.key and e.form]
        return {"key": key, "name": definition.name, "version": definition.version,
                "documentation": starts[0].documentation if starts else "",
                "fields": [f.to_dict() for f in starts[0].form] if starts else []}  # fmt: skip


# Saved inbox filters -------------------------------------------------------------------------

FILTER_KEYS = ("tab", "pathway", "role", "overdue")


def save_filter(rt: Runtime, person: Person, name: str, query: dict[str, str]) -> dict[str, Any]:
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise InvalidInput("give the filter a name of up to 100 characters, e.g. 'Overdue PPM steps'")
    kept = {k: str(v) for k, v in query.items() if k in FILTER_KEYS and v not in (None, "")}
    with rt.uow() as uow:
        row = SavedFilter(username=person.username, name=name, query=kept, created_at=clock.utcnow())
        uow.session.add(row)
        try:
            uow.session.flush()
        except IntegrityError:
            raise InvalidInput(f"you already have a filter called '{name}'") from None
        commit(uow, "the filter")
        return {"id": row.id, "name": row.name, "query": row.query}


def saved_filters(rt: Runtime, person: Person) -> list[dict[str, Any]]:
    with rt.reading() as uow:
        rows = uow.session.scalars(
            select(SavedFilter).where(SavedFilter.username == person.username, SavedFilter.retired_at.is_(None))
            .order_by(SavedFilter.name)
        )  # fmt: skip
        return [{"id": r.id, "name": r.name, "query": r.query} for r in rows]


def retire_filter(rt: Runtime, person: Person, filter_id: int) -> None:
    """Take a saved filter off the inbox; the row stays (renamed, so the name can be used again)."""
    with rt.uow() as uow:
        row = uow.session.get(SavedFilter, filter_id)
        if row is None or row.username != person.username or row.retired_at is not None:
            raise NotFound("that saved filter is not yours or no longer exists")
        row.retired_at = clock.utcnow()
        row.name = f"{row.name[:70]} (removed {row.id})"
        commit(uow, "the filter")


# Notifications ------------------------------------------------------------------------------


NOTICES_READ = 500  # unread notices read to group into the ten shown


def _for_person(person: Person) -> Any:
    roles = person.step_roles | person.roles
    in_team = true() if person.all_teams else (
        Notification.recipient_team.is_(None) | Notification.recipient_team.in_(person.teams))  # fmt: skip
    shared = Notification.recipient_user.is_(None) & Notification.recipient_role.in_(roles) & in_team
    return (Notification.channel == "in_app") & or_(Notification.recipient_user == person.username, shared)


def notifications_for(rt: Runtime, person: Person, limit: int = 10) -> dict[str, Any]:
    """In-app notifications from the worker, the person's own and those to their roles in their teams,
    one notice per child and step: a step and the deadline it serves are one clock, and each rung of
    its ladder replaces the last, so they are one notice showing the latest (issue 20: ten unread for
    four cases). Each notice carries the ids it stands for, to mark it read in one go."""
    with rt.reading() as uow:
        rows = uow.session.execute(
            select(Notification, Escalation.task_id, Escalation.deadline_id, HumanTask.deadline_id)
            .outerjoin(Escalation, Escalation.id == Notification.escalation_id)
            .outerjoin(HumanTask, HumanTask.id == Escalation.task_id)
            .where(_for_person(person), Notification.status == "unread")
            .order_by(Notification.id.desc()).limit(NOTICES_READ)
        ).all()  # fmt: skip
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for note, task_id, deadline_id, served in rows:
        clock_of = ("deadline", served or deadline_id) if (served or deadline_id) else ("task", task_id)
        key = (note.case_id, *clock_of) if clock_of[1] else ("notice", note.id)
        found = groups.get(key)
        if found is None:  # the newest first: it is the one shown
            groups[key] = {"id": note.id, "ids": [note.id], "subject": note.subject, "link": note.link,
                           "created_at": note.created_at.isoformat(), "count": 1}  # fmt: skip
        else:
            found["ids"].append(note.id)
            found["count"] += 1
            if task_id and found["link"] and "/tasks/" not in found["link"]:
                found["link"] = note.link  # the step's page, where it can be done, before the case's
    shown = list(groups.values())
    return {"unread": shown[:limit], "groups": len(shown), "all_ids": [i for g in shown for i in g["ids"]]}


def mark_read(rt: Runtime, person: Person, ids: list[int]) -> int:
    with rt.uow() as uow:
        result = uow.session.execute(
            update(Notification).where(_for_person(person), Notification.id.in_(ids), Notification.status == "unread")
            .values(status="read")
        )  # fmt: skip
        commit(uow, "the notifications")
        return int(getattr(result, "rowcount", 0) or 0)


def colleagues(rt: Runtime, person: Person) -> list[dict[str, Any]]:
    """Active staff in the manager's teams (for bulk reassignment)."""
    if not person.oversees:
        return []
    with rt.uow() as uow:
        users = uow.session.scalars(select(User).where(User.active.is_(True)).order_by(User.display_name))
        return [
            {"username": u.username, "display_name": u.display_name, "roles": list(u.roles), "teams": list(u.teams)}
            for u in users
            if person.all_teams or set(u.teams) & person.teams
        ]
