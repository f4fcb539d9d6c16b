"""The standards a diagram file must meet before anyone relies on it (issue 21, one gate).

- the BPMN 2.0 XML schema (the XSD SpiffWorkflow ships): what any modeller and engine may assume;
- Camunda 7 compatibility of the ``camunda:`` extensions, judged against the Camunda 7 moddle
  descriptor that Camunda Modeler and bpmn-js use (``moddle/camunda.json``, with ``moddle/bpmn.json``
  for the BPMN type hierarchy; both copied from npm, a test keeps them equal to the locked packages):
  every extension attribute and element is one Camunda 7 knows, where it allows it;
- the platform declarations Camunda Modeler needs to lint a file for the right engine: the
  conditions' expression language, ``modeler:executionPlatform`` Camunda Platform 7, and each
  executable process's ``camunda:historyTimeToLive``.

bpmnlint's recommended rules are the fourth part of the gate (engine.bpmn.lint). Each problem names
the element it is about, so the modeller can show it there.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from pathlib import Path
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator

from engine.bpmn.xml import BPMN_NS, BPMNDI_NS, CAMUNDA_NS

MODELER_NS = "http://camunda.org/schema/modeler/1.0"
# Conditions, timer expressions and scripts are Python expressions (SpiffWorkflow's script engine).
EXPRESSION_LANGUAGE = "https://docs.python.org/3/reference/expressions.html"
EXECUTION_PLATFORM = "Camunda Platform"
EXECUTION_PLATFORM_VERSION = "7.24.0"
# Adoption case records are kept at least 100 years (Disclosure of Adoption Information (Post-Commencement
# Adoptions) Regulations 2005); Camunda's history cleanup must never come first. Our engine deletes nothing.
HISTORY_TIME_TO_LIVE = "36500"
_MODDLE = Path(__file__).with_name("moddle")
_SHORT = {BPMN_NS: "bpmn", BPMNDI_NS: "bpmndi", CAMUNDA_NS: "camunda", "http://www.omg.org/spec/DD/20100524/DI": "di",
          "http://www.omg.org/spec/DD/20100524/DC": "dc", MODELER_NS: "modeler"}  # fmt: skip
_QUALIFIED = re.compile(r"\{([^}]*)\}")
_LOCK = threading.Lock()  # one schema object: its error log is per object


def _short(text: str) -> str:
    return _QUALIFIED.sub(lambda m: f"{_SHORT[m.group(1)]}:" if m.group(1) in _SHORT else m.group(0), text)


@functools.cache
def _schema() -> etree.XMLSchema:
    return BpmnValidator().validator


def _about(node: etree._Element) -> str | None:
    """The element a problem is about: the nearest with an id (a drawing: the element it draws)."""
    while node is not None:
        if node.get("bpmnElement"):
            return node.get("bpmnElement")
        if node.get("id") and etree.QName(node).namespace == BPMN_NS:
            return node.get("id")
        node = node.getparent()
    return None


def schema_problems(root: etree._Element) -> list[tuple[str | None, str]]:
    """Every place the file breaks the BPMN 2.0 XSD, as (element id, message)."""
    with _LOCK:
        schema = _schema()
        valid = schema.validate(root)
        errors = [(e.line, e.message) for e in schema.error_log] if not valid else []
    if not errors:
        return []
    at_line: dict[int, etree._Element] = {}
    for node in root.iter():
        if isinstance(node.tag, str):
            at_line.setdefault(node.sourceline or 0, node)
    return [
        (
            _about(at_line[line]) if line in at_line else None,
            f"does not follow the BPMN 2.0 schema (line {line}): {_short(message)}",
        )  # fmt: skip
        for line, message in errors
    ]


# --- Camunda 7 ------------------------------------------------------------------------------
class _Camunda:
    """The Camunda 7 moddle descriptor, read for three questions: which ``camunda:`` attributes a BPMN
    element may carry, which extension elements it may hold, and what a Camunda element may contain."""

    def __init__(self) -> None:
        bpmn = json.loads((_MODDLE / "bpmn.json").read_text())
        camunda = json.loads((_MODDLE / "camunda.json").read_text())
        self.bpmn_super = {t["name"]: [s.removeprefix("bpmn:") for s in t.get("superClass", [])] for t in bpmn["types"]}
        self.types = {t["name"]: t for t in camunda["types"]}

    @functools.cache  # noqa: B019 - one instance for the process's life
    def bpmn_kinds(self, name: str) -> frozenset[str]:
        """``bpmn:UserTask`` and every BPMN type it is a kind of."""
        found = {f"bpmn:{name}"}
        for parent in self.bpmn_super.get(name, []):
            found |= self.bpmn_kinds(parent)
        return frozenset(found)

    @functools.cache  # noqa: B019
    def applies(self, type_name: str, bpmn_type: str) -> bool:
        """Does the Camunda type ``type_name`` (which ``extends`` BPMN types) apply to ``bpmn_type``?"""
        kinds = self.bpmn_kinds(bpmn_type)
        for target in self.types[type_name].get("extends", []):
            if target in kinds or (target.startswith("camunda:") and self.applies(target[8:], bpmn_type)):
                return True
        return False

    def properties(self, type_name: str) -> list[dict[str, Any]]:
        found, kind = [], self.types.get(type_name)
        if kind is None:
            return []
        found += kind.get("properties", [])
        for parent in kind.get("superClass", []):
            found += self.properties(parent.removeprefix("camunda:"))
        return found

    @functools.cache  # noqa: B019
    def attributes_on(self, bpmn_type: str) -> frozenset[str]:
        return frozenset(p["name"] for t in self.types if self.applies(t, bpmn_type)
                         for p in self.properties(t) if p.get("isAttr"))  # fmt: skip

    def allowed_in(self, type_name: str, bpmn_type: str) -> bool:
        places = self.types[type_name].get("meta", {}).get("allowedIn", [])
        kinds = self.bpmn_kinds(bpmn_type)
        return any(p == "*" or p in kinds or (p.startswith("camunda:") and self.applies(p[8:], bpmn_type))
                   for p in places)  # fmt: skip

    def is_kind(self, type_name: str, wanted: str) -> bool:
        if type_name == wanted:
            return True
        parents = self.types.get(type_name, {}).get("superClass", [])
        return any(self.is_kind(p.removeprefix("camunda:"), wanted) for p in parents)

    def may_contain(self, parent: str, child: str) -> bool:
        return any(not p.get("isAttr") and self.is_kind(child, p["type"].removeprefix("camunda:"))
                   for p in self.properties(parent))  # fmt: skip


@functools.cache
def _camunda() -> _Camunda:
    return _Camunda()


def _type_name(node: etree._Element) -> str:
    local = etree.QName(node).localname
    return local[:1].upper() + local[1:]


def camunda_problems(root: etree._Element) -> list[tuple[str | None, str]]:
    """Every ``camunda:`` attribute or element Camunda 7 would not know, or not where it stands."""
    moddle, found = _camunda(), []
    for node in root.iter():
        if not isinstance(node.tag, str):
            continue
        qname = etree.QName(node)
        if qname.namespace == BPMN_NS:
            kind = _type_name(node)
            allowed = moddle.attributes_on(kind)
            for attr in node.attrib:
                name = etree.QName(attr)
                if name.namespace == CAMUNDA_NS and name.localname not in allowed:
                    found.append((_about(node), f"camunda:{name.localname} is not a Camunda 7 attribute of a {kind}"))
        elif qname.namespace == CAMUNDA_NS:
            found += _camunda_element_problems(moddle, node)
    return found


def _camunda_element_problems(moddle: _Camunda, node: etree._Element) -> list[tuple[str | None, str]]:
    kind, parent = _type_name(node), node.getparent()
    where = _about(node)
    if kind not in moddle.types or moddle.types[kind].get("isAbstract"):
        return [(where, f"camunda:{etree.QName(node).localname} is not a Camunda 7 extension element")]
    outer = etree.QName(parent)
    if outer.namespace == BPMN_NS and outer.localname == "extensionElements":
        owner = _type_name(parent.getparent())
        if not moddle.allowed_in(kind, owner):
            return [(where, f"Camunda 7 does not allow camunda:{etree.QName(node).localname} on a {owner}")]
    elif outer.namespace == CAMUNDA_NS:
        if not moddle.may_contain(_type_name(parent), kind):
            return [(where, f"camunda:{outer.localname} cannot hold camunda:{etree.QName(node).localname}")]
    else:
        return [(where, f"camunda:{etree.QName(node).localname} must be inside the element's extensionElements")]
    known = {p["name"] for p in moddle.properties(kind) if p.get("isAttr")}
    return [(where, f"'{attr}' is not a Camunda 7 attribute of camunda:{etree.QName(node).localname}")
            for attr in node.attrib if etree.QName(attr).namespace is None and attr not in known]  # fmt: skip


# --- platform declarations ------------------------------------------------------------------
def platform_problems(root: etree._Element) -> list[tuple[str | None, str]]:
    found: list[tuple[str | None, str]] = []
    language = root.get("expressionLanguage")
    if language != EXPRESSION_LANGUAGE:
        said = f" (it says {language})" if language else " (without one, by the BPMN standard they are XPath)"
        found.append((None, f"the file must declare its conditions' expression language as Python{said}: "
                            f'expressionLanguage="{EXPRESSION_LANGUAGE}" on bpmn:definitions'))  # fmt: skip
    platform = root.get(f"{{{MODELER_NS}}}executionPlatform")
    version = root.get(f"{{{MODELER_NS}}}executionPlatformVersion") or ""
    if platform != EXECUTION_PLATFORM or not version.startswith("7."):
        found.append((None, "the file must name its execution platform, so Camunda Modeler checks it for Camunda 7: "
                            f'modeler:executionPlatform="{EXECUTION_PLATFORM}" and '
                            f'modeler:executionPlatformVersion="{EXECUTION_PLATFORM_VERSION}"'))  # fmt: skip
    for process in root.iterfind(f"{{{BPMN_NS}}}process"):
        if process.get("isExecutable") == "true" and not process.get(f"{{{CAMUNDA_NS}}}historyTimeToLive"):
            found.append((process.get("id"), "the executable process has no camunda:historyTimeToLive "
                                             f"(adoption records are kept {HISTORY_TIME_TO_LIVE} days)"))  # fmt: skip
    return found


def problems(root: etree._Element) -> list[tuple[str | None, str]]:
    return schema_problems(root) + camunda_problems(root) + platform_problems(root)
