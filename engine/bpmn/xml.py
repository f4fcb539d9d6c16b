"""Hardened XML parsing for diagrams.

SpiffWorkflow parses with lxml's defaults (internal entities expand; see
shared/research/reliability-security.md, "BPMN upload"). Every diagram enters through
``parse_bpmn`` instead: size cap, no DTD, no entities, no network, any DOCTYPE refused; the
resulting tree is handed to SpiffWorkflow with ``add_bpmn_xml``.
"""

from __future__ import annotations

import re

from lxml import etree

from engine.errors import DefinitionInvalid

MAX_BYTES = 2 * 1024 * 1024
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
NS = {"bpmn": BPMN_NS, "camunda": CAMUNDA_NS, "bpmndi": BPMNDI_NS}
_DOCTYPE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_pis=True,
    )


def owner_id(node: etree._Element) -> str:
    """The id of the nearest element with one (a script's or expression's task or flow)."""
    while node is not None and not node.get("id"):
        node = node.getparent()
    return node.get("id") if node is not None else "?"


def parse_bpmn(content: bytes | str, filename: str = "diagram") -> etree._Element:
    """Parse diagram XML safely, or raise DefinitionInvalid saying why it was refused."""
    raw = content.encode("utf-8") if isinstance(content, str) else content
    if len(raw) > MAX_BYTES:
        raise DefinitionInvalid(
            f"{filename}: the file is {len(raw) // 1024} KB; diagrams may be at most {MAX_BYTES // 1024} KB"
        )
    if _DOCTYPE.search(raw):
        raise DefinitionInvalid(f"{filename}: DOCTYPE and ENTITY declarations are not allowed in diagrams")
    try:
        root = etree.fromstring(raw, _parser())
    except etree.XMLSyntaxError as exc:
        raise DefinitionInvalid(f"{filename}: not well-formed XML ({exc})") from None
    if root.getroottree().docinfo.doctype:
        raise DefinitionInvalid(f"{filename}: DOCTYPE declarations are not allowed in diagrams")
    if any(isinstance(node, etree._Entity) for node in root.iter()):
        raise DefinitionInvalid(f"{filename}: entity references are not allowed in diagrams")
    if root.tag != f"{{{BPMN_NS}}}definitions":
        raise DefinitionInvalid(f"{filename}: not a BPMN 2.0 file (root element is {root.tag})")
    return root
