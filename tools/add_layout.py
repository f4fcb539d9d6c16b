"""Give a hand-written BPMN file a plain diagram layout (BPMN DI) so modellers can open it.

    python tools/add_layout.py FILE...

Columns by distance from the start event, one row per element in a column; boundary events sit
on their activity's lower edge; flows are straight lines. Files that already have a layout are
left alone. Meant for a hand-written or generated file that has none (a test diagram, an export
from a tool without layout); the pathways in workflows/ are laid out and edited in a modeller.
"""

from __future__ import annotations

import sys
from pathlib import Path

from lxml import etree

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"
DI = "http://www.omg.org/spec/DD/20100524/DI"
EVENTS = {"startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent"}
GATEWAYS = {"exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway"}
ACTIVITIES = {"userTask", "manualTask", "task", "scriptTask", "serviceTask", "sendTask", "receiveTask",
              "businessRuleTask", "callActivity", "subProcess"}  # fmt: skip


def _size(kind: str) -> tuple[int, int]:
    return (36, 36) if kind in EVENTS else (50, 50) if kind in GATEWAYS else (110, 80)


def _columns(process: etree._Element, nodes: dict[str, str]) -> dict[str, int]:
    flows = [(f.get("sourceRef"), f.get("targetRef")) for f in process.iter(f"{{{BPMN}}}sequenceFlow")]
    column = {n: 0 for n, kind in nodes.items() if kind == "startEvent"}
    for _ in range(len(nodes)):
        for src, tgt in flows:
            if src in column and tgt not in column:
                column[tgt] = column[src] + 1
    for node_id in nodes:
        column.setdefault(node_id, 0)
    return column


def layout(root: etree._Element) -> etree._Element:
    definitions_di = etree.Element(f"{{{BPMNDI}}}BPMNDiagram", id="BPMNDiagram_1",
                                   nsmap={"bpmndi": BPMNDI, "dc": DC, "di": DI})  # fmt: skip
    for index, process in enumerate(root.iterfind(f"{{{BPMN}}}process")):
        plane = etree.SubElement(definitions_di, f"{{{BPMNDI}}}BPMNPlane", id=f"BPMNPlane_{index + 1}",
                                 bpmnElement=process.get("id"))  # fmt: skip
        nodes = {n.get("id"): etree.QName(n).localname for n in process
                 if isinstance(n.tag, str) and etree.QName(n).localname in EVENTS | GATEWAYS | ACTIVITIES}  # fmt: skip
        columns, rows, boxes = _columns(process, nodes), {}, {}
        for node_id, kind in nodes.items():
            if kind == "boundaryEvent":
                continue
            col = columns[node_id]
            row = rows[col] = rows.get(col, -1) + 1
            width, height = _size(kind)
            boxes[node_id] = (200 + col * 180 + (110 - width) // 2, 100 + row * 140 + (80 - height) // 2, width, height)
        for node in process.iter(f"{{{BPMN}}}boundaryEvent"):
            x, y, w, h = boxes[node.get("attachedToRef")]
            boxes[node.get("id")] = (x + w - 30, y + h - 18, 36, 36)
        for node_id, (x, y, w, h) in boxes.items():
            shape = etree.SubElement(plane, f"{{{BPMNDI}}}BPMNShape", id=f"{node_id}_di", bpmnElement=node_id)
            etree.SubElement(shape, f"{{{DC}}}Bounds", x=str(x), y=str(y), width=str(w), height=str(h))
        for flow in process.iter(f"{{{BPMN}}}sequenceFlow"):
            edge = etree.SubElement(plane, f"{{{BPMNDI}}}BPMNEdge", id=f"{flow.get('id')}_di",
                                    bpmnElement=flow.get("id"))  # fmt: skip
            for end, (x, y, w, h) in ((0, boxes[flow.get("sourceRef")]), (1, boxes[flow.get("targetRef")])):
                etree.SubElement(edge, f"{{{DI}}}waypoint", x=str(x + (w if end == 0 else 0)), y=str(y + h // 2))
    return definitions_di


def main(paths: list[str]) -> None:
    for path in map(Path, paths):
        text = path.read_text(encoding="utf-8")
        root = etree.fromstring(text.encode("utf-8"))
        if root.find(f".//{{{BPMNDI}}}BPMNDiagram") is not None:
            print(f"{path}: already has a layout")
            continue
        drawn = etree.tostring(layout(root), pretty_print=True, encoding="unicode")
        closing = text.rindex("</")  # the file's own text is kept as written; the layout goes at the end
        path.write_text(text[:closing] + "  " + drawn.replace("\n<", "\n  <") + text[closing:], encoding="utf-8")
        print(f"{path}: layout added")


if __name__ == "__main__":
    main(sys.argv[1:])
