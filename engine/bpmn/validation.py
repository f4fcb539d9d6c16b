"""Checks a diagram must pass before it is published. Returns problems; never raises.

Two layers. ``problems`` is what could hurt at run time: unsafe or broken expressions and
scripts, and form fields whose names would break case data rules. ``check_diagram`` is the whole
list a process owner sees before publishing (and ``pathways workflows validate`` prints): the
file parses safely and in SpiffWorkflow; every user task has a known role, a form and a due date;
every date and timer expression works out on a sample case; every deadline cites its source; no
element is unreachable or a dead end; the layout (DI) is there. Each problem names its element,
so the modeller can highlight it. Before those, the standards every file meets (issue 21): the BPMN
2.0 XSD, Camunda 7 compatibility, the platform declarations, and bpmnlint's recommended rules.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from engine.bpmn import definition, lint, preview, standards
from engine.bpmn.definition import FLOW_NODES, DiagramInfo, describe
from engine.bpmn.scripting import ALLOWED_CALLS, RestrictedEnvironment, check
from engine.bpmn.xml import NS, owner_id, parse_bpmn
from engine.domain.access import ROLE_STEPS
from engine.domain.forms import FIELD_TYPES, IDENTIFIER
from engine.errors import DefinitionInvalid, UnsafeExpression

_EXPRESSION_PATHS = (
    ".//bpmn:conditionExpression",
    ".//bpmn:timeDate",
    ".//bpmn:timeDuration",
    ".//bpmn:timeCycle",
    ".//bpmn:completionCondition",
    ".//bpmn:loopCardinality",
)
_EXPRESSION_PROPERTIES = ("due", "not_before")
RESERVED = ALLOWED_CALLS
MIN_CYCLE = timedelta(hours=1)


def _check(source: str, mode: str, where: str) -> list[str]:
    try:
        check(source, mode)
    except UnsafeExpression as exc:
        return [f"{where}: {exc.message}"]
    return []


def expression_problems(root: etree._Element) -> list[str]:
    problems: list[str] = []
    for path in _EXPRESSION_PATHS:
        for node in root.iterfind(path, NS):
            if (node.text or "").strip():
                problems += _check(node.text.strip(), "eval", owner_id(node))
    for node in root.iterfind(".//bpmn:scriptTask/bpmn:script", NS):
        problems += _check(node.text or "", "exec", owner_id(node))
    return problems


def property_problems(info: DiagramInfo) -> list[str]:
    problems: list[str] = []
    for element in info.elements.values():
        for name, value in element.properties.items():
            if (name in _EXPRESSION_PROPERTIES or name.endswith(".due")) and value.strip():
                problems += _check(value, "eval", f"{element.id} property {name}")
        for field in element.form:
            problems += _field_problems(element.id, field.id, field.type)
    return problems


def _field_problems(element_id: str, field_id: str, field_type: str) -> list[str]:
    problems = []
    if not IDENTIFIER.match(field_id or ""):
        problems.append(f"{element_id}: form field '{field_id}' must be a name like review_date")
    elif field_id in RESERVED:
        problems.append(f"{element_id}: form field '{field_id}' clashes with a built-in name")
    if field_type not in FIELD_TYPES:
        problems.append(f"{element_id}: form field '{field_id}' has unknown type '{field_type}'")
    return problems


def problems(root: etree._Element, info: DiagramInfo) -> list[str]:
    found = [] if info.key else ["no executable process found"]
    return found + expression_problems(root) + property_problems(info)


# --- the process owners' validator ---------------------------------------------------------
DIAGRAM_ROLES = frozenset().union(*ROLE_STEPS.values())
SAMPLE_DAY = date(2026, 12, 18)
_ELEMENT_ID = re.compile(r"^[A-Za-z_][\w.-]*$")


@dataclass(frozen=True)
class Problem:
    element: str | None
    message: str
    severity: str = "error"  # "warning": advice (bpmnlint's warnings) shown, never blocking

    def __str__(self) -> str:
        return f"{self.element}: {self.message}" if self.element else self.message

    @property
    def blocks(self) -> bool:
        return self.severity == "error"

    def to_dict(self) -> dict[str, Any]:
        return {"element": self.element, "message": self.message, "text": str(self), "severity": self.severity}


def blocking(found: list[Problem]) -> list[Problem]:
    return [p for p in found if p.blocks]


def _split(found: list[str]) -> list[Problem]:
    """Run-time problems are written 'Element_Id: message' or 'Element_Id property due: message'."""
    result = []
    for text in found:
        head, sep, _ = text.partition(":")
        element = head.split(" ")[0] if sep else ""
        if not _ELEMENT_ID.match(element):
            element = ""
        result.append(Problem(element, text[len(element) :].lstrip(": ")) if element else Problem(None, text))
    return result


def _alert_problems(info: DiagramInfo) -> list[Problem]:
    """An alert (property ``alert``) must name roles someone holds, or nobody would be told."""
    found = []
    for e in info.elements.values():
        unknown = [r for r in e.alert_roles if r not in DIAGRAM_ROLES]
        if unknown:
            found.append(Problem(e.id, f"alert role {', '.join(unknown)} is not a role anyone holds; use one of "
                                       + ", ".join(sorted(DIAGRAM_ROLES))))  # fmt: skip
        if e.properties.get("alert") is not None and not e.alert_roles:
            found.append(Problem(e.id, "the alert names no role to tell"))
    return found


def _user_task_problems(info: DiagramInfo) -> list[Problem]:
    found = []
    for e in info.elements.values():
        if e.kind != "userTask":
            continue
        if not e.role:
            found.append(Problem(e.id, "the step is in no lane and has no candidate group, so nobody would get it"))
        elif e.role not in DIAGRAM_ROLES:
            found.append(Problem(e.id, f"role '{e.role}' is not a role anyone holds; use one of "
                                       + ", ".join(sorted(DIAGRAM_ROLES))))  # fmt: skip
        if not e.form:
            found.append(Problem(e.id, "the step has no form (Forms: generated task form with at least one field)"))
        if not e.properties.get("due", "").strip():
            found.append(Problem(e.id, "the step has no due date (property 'due')"))
    return found


def _rule_problems(root: etree._Element) -> list[Problem]:
    """A due rule in words (a template's amount, unit and counted from) must be whole, and not also given as
    an expression: the owner would not know which one counts."""
    found = []
    for node in root.iter(*(f"{{{NS['bpmn']}}}{kind}" for kind in FLOW_NODES)):
        element_id = node.get("id", "")
        raw = definition.keyed(element_id, definition.properties_of(node))
        for prefix in definition.rule_prefixes(element_id):
            parts = {part: raw.get(f"{prefix}_{part}", "").strip() for part in definition.RULE_PARTS}
            if not (parts["amount"] or parts["from"]):
                continue  # a unit alone is a template's default, not a rule
            what = {"due": "the due date", "not_before": "the earliest date"}.get(prefix, "the deadline")
            if prefix in raw:
                found.append(Problem(element_id, f"{what} is given both in words and as an expression: keep one"))
            missing = [part for part, value in parts.items() if not value]
            if missing:
                found.append(Problem(element_id, f"{what} needs its {' and '.join(_PART_WORDS[m] for m in missing)}"))
            if parts["amount"] and not re.fullmatch(r"-?\d+", parts["amount"]):
                found.append(Problem(element_id, f"{what}: '{parts['amount']}' is not a whole number"))
            if parts["unit"] and parts["unit"] not in definition.UNITS:
                units = ", ".join(u.replace("_", " ") for u in definition.UNITS)
                found.append(Problem(element_id, f"{what}: '{parts['unit']}' is not a unit ({units})"))
    return found


_PART_WORDS = {"amount": "amount", "unit": "unit", "from": "date it counts from"}


def _source_problems(info: DiagramInfo) -> list[Problem]:
    found = []
    for e in info.elements.values():
        for spec in e.deadlines():
            if not spec.source.strip():
                what = "the due date" if spec.key == e.id else f"deadline '{spec.key}'"
                prop = "due_source" if spec.key == e.id else f"deadline.{spec.key}.source"
                found.append(Problem(e.id, f"{what} cites no source (property '{prop}')"))
    return found


def _expression_results(env: RestrictedEnvironment, root: etree._Element, info: DiagramInfo,
                        min_cycle: timedelta) -> list[Problem]:  # fmt: skip
    _, rows = preview.due_dates(env, root, info, SAMPLE_DAY)
    return [
        Problem(r.element, f"{r.kind} '{r.expression}' does not work out on a sample case: {r.error}")
        for r in rows
        if r.error and not r.error.startswith(UnsafeExpression.__name__)  # already reported by ``problems``
    ] + _cycle_problems(root, rows, min_cycle)


def _cycle_problems(root: etree._Element, rows: list[preview.DueDate], minimum: timedelta) -> list[Problem]:
    """A repeating timer must repeat no more often than ``minimum``: R/PT0S fires without end (issue 15)."""
    cycles = {
        (n.getparent().getparent().get("id"), (n.text or "").strip()) for n in root.iterfind(".//bpmn:timeCycle", NS)
    }
    found = []
    for row in rows:
        if (row.element, row.expression) not in cycles or row.error or not row.due:
            continue
        try:
            _, _, every = TimerEventDefinition.parse_iso_recurring_interval(row.due)
        except Exception:  # noqa: BLE001 - any parse failure is the same problem for the owner
            found.append(Problem(row.element, f"timer cycle '{row.due}' is not a repeating interval like R4/P1W"))
            continue
        if every < minimum:
            found.append(Problem(row.element, f"timer cycle '{row.due}' repeats every {every}: the shortest allowed "
                                              f"is {minimum} (a shorter one fires again and again)"))  # fmt: skip
    return found


def _flow_graph(process: etree._Element) -> tuple[dict[str, str], dict[str, list[str]], list[str]]:
    """Flow nodes (id -> kind), edges (sequence flows, boundary events, subprocess starts), and starts."""
    nodes: dict[str, str] = {}
    edges: dict[str, list[str]] = {}
    starts: list[str] = []
    for node in process.iter():
        kind = etree.QName(node).localname if isinstance(node.tag, str) else ""
        node_id = node.get("id")
        if not node_id:
            continue
        if kind == "sequenceFlow":
            edges.setdefault(node.get("sourceRef", ""), []).append(node.get("targetRef", ""))
        elif kind in FLOW_NODES:
            nodes[node_id] = kind
            parent = etree.QName(node.getparent()).localname
            if kind == "startEvent":
                (starts if parent == "process" else edges.setdefault(node.getparent().get("id"), [])).append(node_id)
            if kind == "boundaryEvent":
                edges.setdefault(node.get("attachedToRef", ""), []).append(node_id)
    return nodes, edges, starts


def _reach_problems(root: etree._Element) -> list[Problem]:
    found = []
    for process in root.iterfind("./bpmn:process", NS):
        nodes, edges, starts = _flow_graph(process)
        found += _dangling_flows(process, nodes)
        if not starts:
            found.append(Problem(process.get("id"), "the process has no start event"))
        seen = _reachable(starts, nodes, edges)
        flows_out = {flow.get("sourceRef") for flow in process.iter(f"{{{NS['bpmn']}}}sequenceFlow")}
        for node_id, kind in nodes.items():
            if node_id not in seen:
                found.append(Problem(node_id, "cannot be reached from the start event"))
            elif kind != "endEvent" and node_id not in flows_out:
                found.append(Problem(node_id, "is a dead end: nothing leaves it and it is not an end event"))
    return found


def _dangling_flows(process: etree._Element, nodes: dict[str, str]) -> list[Problem]:
    return [
        Problem(flow.get("id"), f"the flow's {end[:-3]} '{flow.get(end)}' is not in the diagram")
        for flow in process.iter(f"{{{NS['bpmn']}}}sequenceFlow")
        for end in ("sourceRef", "targetRef")
        if flow.get(end) not in nodes
    ]


def _reachable(starts: list[str], nodes: dict[str, str], edges: dict[str, list[str]]) -> set[str]:
    seen, queue = set(starts), list(starts)
    while queue:
        for nxt in edges.get(queue.pop(), []):
            if nxt in nodes and nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


def _layout_problems(root: etree._Element, info: DiagramInfo) -> list[Problem]:
    if not info.has_di:
        return [Problem(None, "the file has no diagram layout (BPMN DI): open and save it in a modeller")]
    drawn = {n.get("bpmnElement") for n in root.iter(f"{{{NS['bpmndi']}}}BPMNShape", f"{{{NS['bpmndi']}}}BPMNEdge")}
    found = []
    for process in root.iterfind("./bpmn:process", NS):
        for node in process.iter():
            kind = etree.QName(node).localname if isinstance(node.tag, str) else ""
            if (kind in FLOW_NODES or kind == "sequenceFlow") and node.get("id") not in drawn:
                found.append(Problem(node.get("id"), "is not drawn on the diagram (no layout for it)"))
    return found


def check_diagram(
    content: bytes | str,
    filename: str,
    env: RestrictedEnvironment,
    build: Callable[[str, list[tuple[str, bytes]]], Any] | None = None,
    library: dict[str, tuple[str, bytes]] | None = None,
    min_cycle: timedelta = MIN_CYCLE,
) -> tuple[DiagramInfo | None, list[Problem]]:
    """Every problem with one diagram file. ``build(key, files)`` parses in SpiffWorkflow;
    ``library`` maps process ids to (filename, content) of the diagrams this one may call."""
    try:
        root = parse_bpmn(content, filename)
    except DefinitionInvalid as exc:
        return None, [Problem(None, exc.message)]
    info = describe(root)
    found = _split(problems(root, info)) + [Problem(e, m) for e, m in standards.problems(root)]
    if not info.key:
        return info, list(dict.fromkeys(found + _lint_problems(content, info, set())))
    found += _build_problems(content, filename, info, build, library or {})
    found += (
        _user_task_problems(info)
        + _rule_problems(root)
        + _alert_problems(info)
        + _source_problems(info)
        + _expression_results(env, root, info, min_cycle)
    )
    layout = _layout_problems(root, info)
    found += _reach_problems(root) + layout + _lint_problems(content, info, {p.element for p in layout})
    return info, list(dict.fromkeys(found))


def _lint_problems(content: bytes | str, info: DiagramInfo, undrawn: set[str | None]) -> list[Problem]:
    """bpmnlint's recommended rules: its errors block, its warnings are advice. Its "missing bpmndi" is left
    out where the layout check above already said so (once for a file with no layout at all)."""
    return [
        Problem(r.element, f"{r.message} (bpmnlint {r.rule})", "error" if r.category == "error" else "warning")
        for r in lint.lint(content) or []
        if not (r.rule == "no-bpmndi" and (not info.has_di or r.element in undrawn))
    ]


def _build_problems(content: bytes | str, filename: str, info: DiagramInfo,
                    build: Callable[[str, list[tuple[str, bytes]]], Any] | None,
                    library: dict[str, tuple[str, bytes]]) -> list[Problem]:  # fmt: skip
    raw = content.encode() if isinstance(content, str) else content
    files, missing = _called_files(info, library)
    if missing:
        return [Problem(None, f"calls process '{p}', which no published diagram defines") for p in missing]
    if build is None:
        return []
    try:
        build(info.key, [(filename, raw), *files])
    except DefinitionInvalid as exc:
        return [Problem(None, f"SpiffWorkflow cannot parse it: {exc.message}")]
    return []


def _called_files(
    info: DiagramInfo, library: dict[str, tuple[str, bytes]]
) -> tuple[list[tuple[str, bytes]], list[str]]:
    """The library files this diagram calls, directly or through them, and the processes nobody defines."""
    files: dict[str, tuple[str, bytes]] = {}
    missing: list[str] = []
    wanted, seen = list(info.called), set(info.processes)
    while wanted:
        process_id = wanted.pop()
        if process_id in seen:
            continue
        seen.add(process_id)
        if process_id not in library:
            missing.append(process_id)
            continue
        name, raw = library[process_id]
        if name not in files:
            files[name] = (name, raw)
            wanted += describe(parse_bpmn(raw, name)).called
    return list(files.values()), sorted(missing)
