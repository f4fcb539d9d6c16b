"""What a diagram says about each element, read from the XML once at publish time.

The engine needs, per element: its title, lane (role), documentation, form fields and the
``camunda:properties`` that carry our conventions (docs/diagram-conventions.md):

- user tasks: ``due`` (date expression), ``due_source``, ``due_status``; a gate ``not_before``
  (date expression) with ``not_before_source``; ``camunda:candidateGroups`` overrides the lane
  as the role;
- any element: ``deadline.<key>.due`` (+ ``.name``, ``.source``, ``.status``, ``.anchor``,
  ``.met_by`` = comma-separated element ids) opens a running deadline when the element is reached;
- end events: ``outcome`` records how the pathway ended.

The result is plain JSON, stored with the definition, so the inbox never re-parses XML.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from engine.bpmn.xml import BPMN_NS, CAMUNDA_NS, NS
from engine.domain.forms import FormField

FLOW_NODES = {
    "userTask", "manualTask", "task", "scriptTask", "serviceTask", "sendTask", "receiveTask",
    "businessRuleTask", "callActivity", "subProcess", "startEvent", "endEvent",
    "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent", "exclusiveGateway",
    "parallelGateway", "inclusiveGateway", "eventBasedGateway",
}  # fmt: skip


@dataclass
class DeadlineSpec:
    key: str
    name: str
    due: str  # expression giving a date
    source: str = ""
    status: str = "OURS"
    anchor: str = ""
    met_by: list[str] = field(default_factory=list)
    kind: str = "deadline"  # or "gate": not before this date
    ends_by: list[str] = field(default_factory=list)  # elements whose completion means it is no longer owed
    expected: str = ""  # the date while its anchor is a future event (else worked out from that event's due date)
    expected_note: str = ""


@dataclass
class ElementInfo:
    id: str
    kind: str
    name: str
    process: str
    lane: str | None = None
    documentation: str = ""
    properties: dict[str, str] = field(default_factory=dict)
    candidate_groups: list[str] = field(default_factory=list)
    form: list[FormField] = field(default_factory=list)
    message: str | None = None  # message events: the name of the message they wait for or send
    attached_to: str | None = None  # boundary events: the step they sit on

    @property
    def role(self) -> str | None:
        return self.candidate_groups[0] if self.candidate_groups else self.lane

    @property
    def event_field(self) -> str | None:
        """The form field holding the date this step's event happened (``event_date``, else its first
        required date): its deadlines are met or breached on that date, not the day it was typed."""
        if self.properties.get("event_date"):
            return self.properties["event_date"].strip()
        dates = [f for f in self.form if f.type == "date" and not f.future]
        chosen = next((f for f in dates if f.required), dates[0] if dates else None)
        return chosen.id if chosen is not None else None

    @property
    def alert_roles(self) -> tuple[str, ...]:
        """Roles told at once when the case passes this element (property ``alert``, comma-separated)."""
        return tuple(r.strip() for r in self.properties.get("alert", "").split(",") if r.strip())

    @property
    def own_event(self) -> bool:
        """A message catch event not on a step, recording the date it happened (``event_date``): the
        case system sends it, or a team manager records it from the case page."""
        return self.kind == "intermediateCatchEvent" and bool(self.form) and self.message is not None

    @property
    def gate_field(self) -> str | None:
        """The date a gate (``not_before``) applies to: ``gate_date``, else the event's date."""
        return (self.properties.get("gate_date") or "").strip() or self.event_field

    def deadlines(self) -> list[DeadlineSpec]:
        """Deadlines this element opens: its own ``due`` (user tasks) and ``deadline.*``."""
        found: list[DeadlineSpec] = []
        if self.kind == "userTask" and self.properties.get("due"):
            found.append(
                DeadlineSpec(
                    key=self.id,
                    name=self.name,
                    due=self.properties["due"],
                    source=self.properties.get("due_source", ""),
                    status=self.properties.get("due_status", "OURS"),
                    anchor=self.properties.get("due_anchor", ""),
                    met_by=[self.id],
                )
            )
        for key in sorted({k.split(".")[1] for k in self.properties if k.count(".") >= 2}):
            found.append(self._declared_deadline(key))
        return found

    def _declared_deadline(self, key: str) -> DeadlineSpec:
        prop = {k.split(".", 2)[2]: v for k, v in self.properties.items() if k.startswith(f"deadline.{key}.")}
        met_by = [m.strip() for m in prop.get("met_by", "").split(",") if m.strip()]
        return DeadlineSpec(
            key=key,
            name=prop.get("name", key),
            due=prop.get("due", ""),
            source=prop.get("source", ""),
            status=prop.get("status", "OURS"),
            anchor=prop.get("anchor", ""),
            met_by=met_by,
            kind="gate" if prop.get("kind", "").strip().lower() == "gate" else "deadline",
            ends_by=[m.strip() for m in prop.get("ends_by", "").split(",") if m.strip()],
            expected=prop.get("expected", ""),
            expected_note=prop.get("expected_note", ""),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "name": self.name,
            "process": self.process,
            "lane": self.lane,
            "documentation": self.documentation,
            "properties": self.properties,
            "candidate_groups": self.candidate_groups,
            "form": [f.to_dict() for f in self.form],
            "message": self.message,
            "attached_to": self.attached_to,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ElementInfo:
        return cls(
            id=raw["id"],
            kind=raw["kind"],
            name=raw["name"],
            process=raw["process"],
            lane=raw.get("lane"),
            documentation=raw.get("documentation", ""),
            properties=dict(raw.get("properties", {})),
            candidate_groups=list(raw.get("candidate_groups", [])),
            form=[FormField.from_dict(f) for f in raw.get("form", [])],
            message=raw.get("message"),
            attached_to=raw.get("attached_to"),
        )


@dataclass
class DiagramInfo:
    """One BPMN file: its main process (the key), every process and element, and its calls."""

    key: str
    name: str
    processes: list[str]
    called: list[str]
    elements: dict[str, ElementInfo]
    has_di: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "processes": self.processes,
            "called": self.called,
            "has_di": self.has_di,
            "elements": {k: v.to_dict() for k, v in self.elements.items()},
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> DiagramInfo:
        return cls(
            key=raw["key"],
            name=raw["name"],
            processes=list(raw["processes"]),
            called=list(raw["called"]),
            has_di=bool(raw.get("has_di")),
            elements={k: ElementInfo.from_dict(v) for k, v in raw["elements"].items()},
        )


class Published:
    """Each published diagram's descriptions, built from its stored JSON once per process.

    A completion looks up some forty elements of its diagram (and the whole diagram for its date
    checks); building them from the JSON every time cost about 0.4 ms of a 7 ms completion (issue
    18). A published version never changes once its called elements are recorded, so its
    descriptions are kept by (row id, checksum). ``bootstrap`` forgets them all: a new runtime may
    be a new database whose ids were used before (the tests' databases are)."""

    LIMIT = 500  # versions kept at once; more, and the cache starts again

    def __init__(self) -> None:
        self._diagrams: dict[tuple[int, str], DiagramInfo] = {}
        self._elements: dict[tuple[int, str], dict[str, ElementInfo | None]] = {}

    def forget(self) -> None:
        self._diagrams.clear()
        self._elements.clear()

    def holds(self, key: tuple[int, str]) -> bool:
        """Whether anything of this version is kept already (it was published when it was first kept)."""
        return key in self._diagrams or key in self._elements

    def diagram(self, key: tuple[int, str] | None, raw: Callable[[], dict[str, Any]]) -> DiagramInfo:
        """``raw``: the stored JSON, read only when this version is not kept yet."""
        if key is None:
            return DiagramInfo.from_dict(raw())
        found = self._diagrams.get(key)
        if found is None:
            if len(self._diagrams) >= self.LIMIT:
                self._diagrams.clear()
            found = self._diagrams[key] = DiagramInfo.from_dict(raw())
        return found

    def element(
        self, key: tuple[int, str] | None, raw: Callable[[], dict[str, Any]], element_id: str
    ) -> ElementInfo | None:
        if key is not None and element_id in self._elements.get(key, {}):
            return self._elements[key][element_id]
        kept = self._diagrams.get(key) if key is not None else None
        if kept is not None and element_id in kept.elements:  # the whole diagram is kept: no JSON to read
            return kept.elements[element_id]
        stored = raw()
        found = stored["elements"].get(element_id) or stored.get("called_elements", {}).get(element_id)
        info = ElementInfo.from_dict(found) if found else None
        if key is not None:
            if key not in self._elements and len(self._elements) >= self.LIMIT:
                self._elements.clear()
            self._elements.setdefault(key, {})[element_id] = info
        return info


PUBLISHED = Published()


def _local(tag: Any) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _text(node: etree._Element, path: str) -> str:
    found = node.find(path, NS)
    return (found.text or "").strip() if found is not None else ""


def properties_of(node: etree._Element) -> dict[str, str]:
    """An element's ``camunda:properties``, by name, as written."""
    props = node.findall("./bpmn:extensionElements/camunda:properties/camunda:property", NS)
    return {p.get("name"): p.get("value", "") for p in props if p.get("name")}


# A due rule in plain words, as the element templates (workflows/templates) write it: an amount, a unit and
# the date it counts from. The engine works it out as the expression it stands for.
UNITS = {"working_days": "add_working_days", "days": "add_days", "weeks": "add_weeks", "months": "add_months"}
RULE_PARTS = ("amount", "unit", "from")


_RULE = re.compile(r"^add_(working_days|days|weeks|months)\((\w+),\s*(-?\d+)\)$")


def rule_in_words(expression: str) -> str:
    """``add_weeks(looked_after_date, 10)`` as '10 weeks after the looked after date'; anything else as written."""
    found = _RULE.match((expression or "").strip())
    if not found:
        return expression or "(none)"
    unit, anchor, amount = found.group(1).replace("_", " "), found.group(2).replace("_", " "), int(found.group(3))
    if abs(amount) == 1:
        unit = unit.rstrip("s")
    return f"{abs(amount)} {unit} {'before' if amount < 0 else 'after'} the {anchor}"


def rule_prefixes(element_id: str) -> tuple[str, ...]:
    """Where a rule in words may stand: a step's due date, its gate, and a deadline the element opens."""
    return ("due", "not_before", f"deadline.{element_id}.due")


def keyed(element_id: str, raw: dict[str, str]) -> dict[str, str]:
    """The properties with a deadline written without a key (``deadline.name``, as a template writes it)
    keyed by the element (``deadline.<element id>.name``)."""
    props = {}
    for name, value in raw.items():
        unkeyed = name.startswith("deadline.") and name.count(".") == 1
        props[f"deadline.{element_id}.{name[9:]}" if unkeyed else name] = value
    return props


def in_words(element_id: str, raw: dict[str, str]) -> dict[str, str]:
    """The properties :func:`keyed`, and each complete rule in words given as its expression (``due``), unless
    the element gives that expression itself (the validator reports the clash)."""
    props = keyed(element_id, raw)
    for prefix in rule_prefixes(element_id):
        amount, unit, start = (props.get(f"{prefix}_{part}", "").strip() for part in RULE_PARTS)
        if prefix not in props and amount and start and unit in UNITS and re.fullmatch(r"-?\d+", amount):
            props[prefix] = f"{UNITS[unit]}({start}, {int(amount)})"
    return props


def _form(node: etree._Element) -> list[FormField]:
    fields = []
    for xml_field in node.findall("./bpmn:extensionElements/camunda:formData/camunda:formField", NS):
        constraints = {
            c.get("name"): c.get("config", "") for c in xml_field.findall("./camunda:validation/camunda:constraint", NS)
        }
        props = {
            p.get("id"): p.get("value", "") for p in xml_field.findall("./camunda:properties/camunda:property", NS)
        }
        options = tuple((v.get("id"), v.get("name") or v.get("id")) for v in xml_field.findall("./camunda:value", NS))
        fields.append(
            FormField(
                id=xml_field.get("id", ""),
                label=xml_field.get("label") or xml_field.get("id", ""),
                type=xml_field.get("type", "string"),
                required="required" in constraints,
                readonly="readonly" in constraints,
                options=options,
                constraints={k: v for k, v in constraints.items() if k not in ("required", "readonly")},
                default=xml_field.get("defaultValue"),
                hint=props.get("hint"),
                future=props.get("future", "").strip().lower() in ("allowed", "true", "yes"),
                on_or_after=tuple(n.strip() for n in props.get("on_or_after", "").split(",") if n.strip()),
                sample_blank=props.get("sample", "").strip().lower() == "blank",
            )
        )
    return fields


def _lanes(process: etree._Element) -> dict[str, str]:
    lanes = {}
    for lane in process.iter(f"{{{BPMN_NS}}}lane"):
        for ref in lane.findall("./bpmn:flowNodeRef", NS):
            lanes[(ref.text or "").strip()] = lane.get("name") or lane.get("id")
    return lanes


def _message_name(node: etree._Element) -> str | None:
    definition = node.find("./bpmn:messageEventDefinition", NS)
    ref = definition.get("messageRef") if definition is not None else node.get("messageRef")
    if not ref:
        return None
    message = node.getroottree().getroot().find(f"./bpmn:message[@id='{ref}']", NS)
    return (message.get("name") or ref) if message is not None else ref


def _event_form(node: etree._Element, props: dict[str, str]) -> list[FormField]:
    """A message catch event that stands on its own (not on a step) records the date it happened:
    its ``event_date`` property names the field, ``event_date_label`` words it. The case system's
    message carries it, or a team manager records it from the case page."""
    name = (props.get("event_date") or "").strip()
    if _local(node.tag) != "intermediateCatchEvent" or not name or _message_name(node) is None:
        return []
    return [FormField(id=name, label=props.get("event_date_label") or "Date it happened", type="date", required=True)]


def _element(node: etree._Element, process_id: str, lanes: dict[str, str]) -> ElementInfo:
    groups = node.get(f"{{{CAMUNDA_NS}}}candidateGroups", "")
    props = in_words(node.get("id", ""), properties_of(node))
    return ElementInfo(
        id=node.get("id", ""),
        kind=_local(node.tag),
        name=" ".join((node.get("name") or node.get("id", "")).split()),
        process=process_id,
        lane=lanes.get(node.get("id", "")),
        documentation=_text(node, "./bpmn:documentation"),
        properties=props,
        candidate_groups=[g.strip() for g in groups.split(",") if g.strip()],
        form=_form(node) or _event_form(node, props),
        message=_message_name(node),
        attached_to=node.get("attachedToRef"),
    )


def describe(root: etree._Element) -> DiagramInfo:
    """Read a parsed diagram into a DiagramInfo (raises nothing: validation reports problems)."""
    processes = root.findall("./bpmn:process", NS)
    elements: dict[str, ElementInfo] = {}
    called: list[str] = []
    for process in processes:
        lanes = _lanes(process)
        for node in process.iter():
            if _local(node.tag) in FLOW_NODES and node.get("id"):
                elements[node.get("id")] = _element(node, process.get("id"), lanes)
            if _local(node.tag) == "callActivity" and node.get("calledElement"):
                called.append(node.get("calledElement"))
    ids = [p.get("id") for p in processes]
    executable = [p for p in processes if p.get("isExecutable", "true") != "false"]
    main = next((p for p in executable if p.get("id") not in called), executable[0] if executable else None)
    return DiagramInfo(
        key=main.get("id") if main is not None else "",
        name=(main.get("name") or main.get("id")) if main is not None else "",
        processes=ids,
        called=sorted(set(called) - set(ids)),
        elements=elements,
        has_di=root.find(".//bpmndi:BPMNDiagram", NS) is not None,
    )
