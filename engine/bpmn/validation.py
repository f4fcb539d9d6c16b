"""Checks a diagram must pass before it is published. Returns problems; never raises.

The engine core checks what could hurt at run time: unsafe or broken expressions and scripts,
and form fields whose names would clash with case data rules. The process owners' validator
(layout, roles, sources, reachability) builds on this list.
"""

from __future__ import annotations

from lxml import etree

from engine.bpmn.definition import DiagramInfo
from engine.bpmn.scripting import ALLOWED_CALLS, check
from engine.bpmn.xml import NS
from engine.domain.forms import FIELD_TYPES, IDENTIFIER
from engine.errors import UnsafeExpression

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


def _owner(node: etree._Element) -> str:
    while node is not None and not node.get("id"):
        node = node.getparent()
    return node.get("id") if node is not None else "?"


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
                problems += _check(node.text.strip(), "eval", _owner(node))
    for node in root.iterfind(".//bpmn:scriptTask/bpmn:script", NS):
        problems += _check(node.text or "", "exec", _owner(node))
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
